//! The machine's crate-internal steps, which only the adapters call (found by mutation
//! testing: replaced with nothing, no test of the public API noticed).

use core::time::Duration;
use std::time::Instant;

use super::*;
use crate::{Cause, Policy, Verdict};

#[test]
fn an_unstarted_machine_starts_once_and_its_deadline_runs_from_then() {
    let policy = Policy::builder()
        .max_elapsed(Duration::from_secs(5))
        .build()
        .expect("a valid policy");
    let t = Instant::now();
    let mut m = Machine::unstarted(&policy);
    assert_eq!((m.start(), m.deadline()), (None, None), "no clock yet");
    m.start_at(t);
    m.start_at(t + Duration::from_secs(1));
    assert_eq!(m.start(), Some(t), "the first start is kept");
    assert_eq!(m.deadline(), Some(t + Duration::from_secs(5)));
}

#[test]
fn a_stop_from_outside_is_kept_and_repeated() {
    let policy = Policy::default();
    let t = Instant::now();
    let mut m = Machine::new(&policy, t);
    let limited = Stop::RateLimited {
        wait: Duration::from_secs(12),
        per_1000s: 3100,
    };
    m.stop_with(limited);
    assert_eq!(m.stopped(), Some(&limited));
    m.stop_with(Stop::Succeeded { attempts: 1 });
    assert_eq!(m.stopped(), Some(&limited), "a stop already made is kept");
    let mut rng = fastrand::Rng::with_seed(1);
    let next = m.on_outcome(&Verdict::retryable(Cause::status(503)), t, &mut rng);
    assert_eq!(
        next.stop(),
        Some(&limited),
        "a stopped machine repeats its stop"
    );
}

#[test]
fn a_hint_is_spread_over_a_tenth_of_itself_up_to_a_second() {
    let mut rng = fastrand::Rng::with_seed(7);
    for (hint, most) in [
        (Duration::from_secs(2), Duration::from_millis(200)),
        (Duration::from_secs(30), Duration::from_secs(1)),
    ] {
        let draws: Vec<Duration> = (0..1000).map(|_| spread(hint, &mut rng)).collect();
        let (low, high) = (draws.iter().min(), draws.iter().max());
        let (Some(&low), Some(&high)) = (low, high) else {
            unreachable!("a thousand draws")
        };
        assert!(low >= hint && high <= hint + most, "{low:?}..{high:?}");
        assert!(
            high - low > most * 9 / 10,
            "clients told {hint:?} come back over most of {most:?}: {low:?}..{high:?}"
        );
    }
}
