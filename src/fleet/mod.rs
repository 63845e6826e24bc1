//! Fleet-shared state on Redis (the exchange needs the feature `redis`; the settings do
//! not): processes that name one key share the
//! rate-limit [gate](crate::gate), the budget's counters and, when pacing is on, the rate
//! [pacer](crate::pacer)'s learned rate (each process paces to its share of it).
//!
//! A budget or a gate kept per process protects one process; a fleet of a thousand
//! processes, each making a call every few seconds, never learns anything alone. Naming
//! one key (a service, or one API key) makes them one fleet:
//!
//! - decisions never wait on the network: they read a local view;
//! - a background thread exchanges that view with Redis once per sync interval (default
//!   250 ms), in one round trip (a Lua script): it sends the counts added here since the
//!   last sync and the latest reset this process learned (with its ramp), and its pacer's
//!   latest cut and demand, and reads back the fleet's totals over the budget's window, the
//!   fleet's latest reset and the fleet's latest cut and demand. Counts live in
//!   time-bucketed hashes and every key expires, so nothing outlives the fleet;
//! - a process that learns a new reset shares it at once (at most 5 syncs per interval),
//!   not at its next tick, and while the gate ramps back up (when the quota is most likely
//!   to run out again) each process syncs four times per interval;
//! - Redis down, slow, flushed or unreachable: each sync has a timeout of one interval; a
//!   failure makes decisions fall back to local state at once, is told once to the
//!   [`FleetConfig::on_event`] hook and, with the `tracing` feature, as a `WARN` event
//!   (and again, `INFO`, when the exchange resumes), and is retried
//!   at the next tick. Nothing blocks a call and nothing panics. Counts taken for a sync
//!   that failed are not sent again (the reply may have been lost after Redis applied
//!   them, and counting twice would be worse);
//! - two keys never share state: every Redis key is `redial:{KEY}:…` (the braces keep a
//!   fleet's keys in one Redis Cluster slot).
//!
//! Processes exchange wall-clock instants (the gate's reset), so their clocks should agree
//! to well under the sync interval (NTP does).
//!
//! ```no_run
//! # #[cfg(feature = "redis")]
//! # fn main() -> Result<(), redial::fleet::FleetError> {
//! use std::time::Duration;
//! use redial::fleet::Fleet;
//! use redial::Policy;
//!
//! let fleet = Fleet::connect("redis://127.0.0.1:6379", "billing-api", Duration::from_millis(250))?;
//! let policy = Policy::default().with_fleet(&fleet);
//! # let _ = policy;
//! # Ok(())
//! # }
//! # #[cfg(not(feature = "redis"))]
//! # fn main() {}
//! ```

use core::fmt;
use core::time::Duration;
use std::time::Instant;

use crate::duration::Exact;
use crate::PolicyError;

#[cfg(feature = "redis")]
mod budget;
mod config;
#[cfg(feature = "redis")]
mod exchange;
#[cfg(feature = "redis")]
mod member;

pub use config::FleetConfig;
#[cfg(feature = "redis")]
use member::Shared;
#[cfg(feature = "redis")]
pub use member::{Fleet, FleetStatus};

/// Additive counters over time buckets that a fleet sums: what a budget shares.
///
/// The exchange calls these from its thread, once per sync. A fixed number of `u64`
/// counters, each a count added since the last sync (`take_local_deltas`); the fleet's
/// totals over the last `window` buckets of `bucket` each, this process's included, come
/// back as the view the budget decides from (`set_fleet_view`). [`Budget`](crate::budget::Budget)
/// implements it with its [`Counts`](crate::budget::Counts); `Policy::with_fleet` (feature `redis`) shares the
/// policy's budget.
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use std::time::{Duration, Instant};
/// use redial::fleet::FleetCounters;
///
/// /// Attempts made and refused: the smallest budget a fleet can share.
/// #[derive(Default)]
/// struct Tally { local: [AtomicU64; 2], fleet: [AtomicU64; 2] }
///
/// impl FleetCounters for Tally {
///     fn len(&self) -> usize { 2 }
///     fn bucket(&self) -> Duration { Duration::from_secs(1) }
///     fn window(&self) -> u32 { 10 }
///     fn take_local_deltas(&self, out: &mut [u64]) {
///         for (o, c) in out.iter_mut().zip(&self.local) { *o = c.swap(0, Ordering::Relaxed); }
///     }
///     fn set_fleet_view(&self, totals: &[u64], _latest: &[u64], _at: Instant, _fresh_for: Duration) {
///         for (t, f) in totals.iter().zip(&self.fleet) { f.store(*t, Ordering::Relaxed); }
///     }
///     fn fall_back_to_local(&self) {
///         for f in &self.fleet { f.store(0, Ordering::Relaxed); }
///     }
/// }
/// # let _ = Tally::default();
/// ```
pub trait FleetCounters: Send + Sync + 'static {
    /// How many counters (the same for the life of the value).
    fn len(&self) -> usize;
    /// Whether there are no counters (then only the gate is shared).
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The length of one time bucket.
    fn bucket(&self) -> Duration;
    /// How many of the latest buckets the fleet's totals sum (the current one included).
    fn window(&self) -> u32;
    /// Writes the counts added here since the last call into `out` (`len()` entries) and
    /// starts counting afresh.
    fn take_local_deltas(&self, out: &mut [u64]);
    /// The fleet's totals over the window, this process's counts included, and those of its
    /// latest bucket alone (`len()` entries each), as they stood at `at`; good until
    /// `at + fresh_for` ([`FleetConfig::VIEW_FRESH_SYNCS`] sync intervals), when the next
    /// view should have come.
    fn set_fleet_view(&self, totals: &[u64], latest: &[u64], at: Instant, fresh_for: Duration);
    /// Redis is out of reach: decide from local counts alone until the next view.
    fn fall_back_to_local(&self);
}

/// What the exchange tells the [`FleetConfig::on_event`] hook: once when Redis goes out
/// of reach, once when it is back.
///
/// ```
/// use std::time::Duration;
/// use redial::fleet::FleetEvent;
/// let back = FleetEvent::Resumed { key: "svc", failures: 3, after: Duration::from_millis(750) };
/// assert_eq!(back.to_string(), "fleet key \"svc\": Redis is back after 3 failed syncs (750ms); sharing again");
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum FleetEvent<'a> {
    /// A sync failed (connection refused, timeout, an error reply): decisions use local
    /// state until one succeeds. Told once per outage.
    Unreachable {
        /// The fleet key.
        key: &'a str,
        /// What failed.
        error: &'a (dyn std::error::Error + 'static),
    },
    /// A sync succeeded after an outage: decisions read the fleet's view again.
    Resumed {
        /// The fleet key.
        key: &'a str,
        /// Syncs that failed in the outage.
        failures: u64,
        /// How long the outage lasted.
        after: Duration,
    },
}

impl fmt::Display for FleetEvent<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FleetEvent::Unreachable { key, error } => write!(
                f,
                "fleet key {key:?}: Redis is out of reach ({error}); deciding from local state"
            ),
            FleetEvent::Resumed {
                key,
                failures,
                after,
            } => write!(
                f,
                "fleet key {key:?}: Redis is back after {failures} failed syncs ({}); sharing again",
                Exact(*after)
            ),
        }
    }
}

/// Why a fleet could not start.
///
/// ```
/// let err = redial::fleet::FleetError::from(redial::fleet::FleetConfig::new("redis://127.0.0.1", "").validate().unwrap_err());
/// assert_eq!(err.to_string(), "fleet.key: must be 1 to 128 printable ASCII characters without braces, got \"\"");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FleetError {
    /// A setting breaks a rule (the error names the key of the `[fleet]` table).
    #[error(transparent)]
    Invalid(#[from] PolicyError),
    /// The exchange's thread could not be started.
    #[error("fleet: cannot start the exchange thread: {0}")]
    Thread(#[source] std::io::Error),
}
