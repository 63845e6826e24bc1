//! What every bench shares: the policy all crates are configured to, and criterion's
//! settings.
//!
//! The policy of issue 5: first delay 500 ms, ×2, capped at 8 s, jitter on, 3 retries.

#![allow(dead_code)] // each bench file uses part of this

use std::time::Duration;

use criterion::Criterion;
use redial::Action;

/// The first retry's delay.
pub const BASE: Duration = Duration::from_millis(500);
/// The longest delay.
pub const CAP: Duration = Duration::from_secs(8);
/// The curve's factor.
pub const FACTOR: u32 = 2;
/// Retries per call (so 4 attempts).
pub const RETRIES: u32 = 3;

/// Short, steady runs: the machine has 2 cores shared by several developers, and a whole
/// `cargo bench` should take a few minutes. Flags given on the command line still win.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args()
}

/// What an adapter takes from an action: how long to sleep, or that the call is over.
/// Benches pass this on, like the peers' `Option<Duration>`: keeping the whole 64-byte
/// action alive with `black_box` would time a memory copy that no adapter makes.
pub fn obey(action: Action) -> Option<Duration> {
    match action {
        Action::Retry(retry) => Some(retry.delay),
        Action::Stop(_) => None,
    }
}
