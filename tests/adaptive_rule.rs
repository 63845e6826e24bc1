//! The default (`adaptive`) budget's rule at points where the docs give exact numbers
//! (`src/budget/rule.rs`: the lanes, [`RUN_CLEAN`]/[`RUN_FLAKY`], [`NEW_RETRIES`]), through
//! the public API only. Decisions made at one instant share one fold of the window, so the
//! numbers are exact: no float rounding stands between the rule and the test. The model
//! properties (`tests/machine.rs`, `fuzz/checks.rs`) check the same rule everywhere else,
//! within a hair of its boundaries; these pin the boundaries themselves.
//!
//! [`RUN_CLEAN`]: #run
//! [`RUN_FLAKY`]: #run
//! [`NEW_RETRIES`]: #credit

use std::time::{Duration, Instant};

use redial::budget::{Counts, Throttle};
use redial::hints::{Hint, HintSource};
use redial::machine::{Action, Machine};
use redial::{Cause, ErrorType, Policy, Stop, Transport, Verdict};

/// Every failure kind a real incident produces that does not say the server is overloaded.
fn bad_luck_kinds() -> [Verdict; 7] {
    [
        Verdict::retryable(Cause::status(500)),
        Verdict::retryable(Cause::status(502)),
        Verdict::retryable(Cause::status(504)),
        Verdict::retryable(Cause::status(429)),
        Verdict::retryable(Cause::transport(Transport::Timeout)),
        Verdict::retryable(Cause::transport(Transport::Connect)),
        Verdict::retryable(Cause::transport(Transport::Reset)),
    ]
}

/// The failure kinds that say the server is overloaded.
fn shed_kinds() -> [Verdict; 3] {
    [
        Verdict::retryable(Cause::status(503)),
        Verdict::retryable(Cause::status(529)),
        Verdict::retryable(Cause::status(200).with_error_type(ErrorType::Overloaded)),
    ]
}

fn paced_429() -> Verdict {
    Verdict::Retryable {
        cause: Cause::status(429),
        hint: Some(Hint {
            wait: Duration::from_secs(1),
            source: HintSource::RetryAfter,
        }),
    }
}

/// Runs calls of `verdict` on `policy` at `now` until one is refused; returns the retries
/// made before, and the refusal.
fn retries_until_refused(policy: &Policy, verdict: &Verdict, now: Instant) -> (u32, Stop) {
    let mut rng = fastrand::Rng::with_seed(1);
    let mut retries = 0;
    for _ in 0..100 {
        let mut call = Machine::new(policy, now);
        loop {
            match call.on_outcome(verdict, now, &mut rng) {
                Action::Retry(_) => retries += 1,
                Action::Stop(stop @ Stop::Throttled { .. }) => return (retries, stop),
                Action::Stop(_) => break,
            }
        }
    }
    panic!("{verdict:?}: {retries} retries and none refused");
}

/// Whether `stop` is a refusal in the failing lane.
fn refused_as_failing(stop: &Stop) -> bool {
    matches!(
        stop,
        Stop::Throttled {
            why: Throttle::Failing { .. },
            ..
        }
    )
}

/// A call that fails once with `verdict` and then succeeds; whether the retry was made.
fn fail_once(policy: &Policy, verdict: &Verdict, now: Instant) -> bool {
    let mut rng = fastrand::Rng::with_seed(2);
    let mut call = Machine::new(policy, now);
    let retried = call.on_outcome(verdict, now, &mut rng).retry().is_some();
    if retried {
        assert!(call.on_outcome(&Verdict::Success, now, &mut rng).is_stop());
    }
    retried
}

/// <a id="run"></a>The run: a new process makes `RUN_CLEAN` (3) retries since its last
/// success, whatever the failure says, and then every failure takes the failing lane
/// (`overload_ratio` × 5 first attempts' credit = 0.5: none). With 3 attempts a call, that
/// is its first failed call in full and one more retry: the status-free trigger.
#[test]
fn a_new_process_stops_retrying_bad_luck_after_its_first_failed_call_and_one_more() {
    for kind in bad_luck_kinds() {
        let policy = Policy::default();
        let (retries, stop) = retries_until_refused(&policy, &kind, Instant::now());
        assert_eq!(retries, 3, "{kind:?}");
        assert!(refused_as_failing(&stop), "{kind:?}: {stop:?}");
    }
}

/// <a id="credit"></a>A new budget's credit: `NEW_RETRIES` (3) shed retries before it knows
/// anything (`retries + 1 <= 3` allows the third); the fourth is the run's (`RUN_CLEAN`,
/// 3 retries since the last success) and is refused in the failing lane.
#[test]
fn a_new_process_retries_its_first_three_overload_failures_and_not_a_fourth() {
    for kind in shed_kinds() {
        let policy = Policy::default();
        let (retries, stop) = retries_until_refused(&policy, &kind, Instant::now());
        assert_eq!(retries, 3, "{kind:?}");
        assert_eq!(
            stop,
            Stop::Throttled {
                retries: 3,
                allowed: 0,
                why: Throttle::Failing {
                    retries_since_success: 3
                }
            },
            "{kind:?}"
        );
    }
}

/// `RUN_FLAKY`: a process that recovered lately (a success ended a run of failures) makes
/// 6 retries since its last success before the failing lane. The recovery is read at the
/// next fold, 30 ms (over 1/1024 of the window) later.
#[test]
fn a_process_that_recovered_lately_makes_six_retries_before_the_failing_lane() {
    for kind in bad_luck_kinds() {
        let policy = Policy::default();
        let t0 = Instant::now();
        assert!(fail_once(&policy, &kind, t0), "{kind:?}: a recovery");
        let (retries, stop) = retries_until_refused(&policy, &kind, t0 + Duration::from_millis(30));
        assert_eq!(retries, 6, "{kind:?}");
        assert!(refused_as_failing(&stop), "{kind:?}: {stop:?}");
    }
}

/// A 429 that carries a wait is the server pacing: its retry is free (no retry in the
/// counts, a success of the server), it never spends what overload decisions read, and it
/// ends a run of failures (issue 17: after a few paced 429s, the next 529 was refused).
#[test]
fn paced_429s_are_free_and_leave_the_overload_allowance_whole() {
    let policy = Policy::default();
    let budget = policy.rules().budget().expect("on by default");
    let now = Instant::now();
    for _ in 0..20 {
        assert!(fail_once(&policy, &paced_429(), now), "a paced 429 retried");
    }
    let d = budget.take_local_deltas();
    assert_eq!(
        d,
        Counts {
            first_attempts: 20,
            retries: 0,
            successes: 40,
            failures: 0,
            overloaded: 0
        }
    );
    for kind in shed_kinds() {
        let policy = Policy::default();
        for _ in 0..5 {
            assert!(fail_once(&policy, &paced_429(), now));
        }
        let (retries, _) = retries_until_refused(&policy, &kind, now);
        assert_eq!(
            retries, 3,
            "{kind:?}: the new process's shed retries, whole"
        );
    }
    // Between failures, a paced 429 is the server answering: the run starts over.
    let policy = Policy::default();
    let mut rng = fastrand::Rng::with_seed(3);
    let mut retries = 0;
    for _ in 0..10 {
        let mut call = Machine::new(&policy, now);
        let bad = Verdict::retryable(Cause::status(500));
        retries += u32::from(call.on_outcome(&bad, now, &mut rng).retry().is_some());
        assert!(call
            .on_outcome(&paced_429(), now, &mut rng)
            .retry()
            .is_some());
        assert!(call.on_outcome(&Verdict::Success, now, &mut rng).is_stop());
    }
    assert_eq!(
        retries, 10,
        "never three retries since the server last answered"
    );
}

/// A new fleet: an empty fleet view adds to the new process's credit, never replaces it
/// (issue 17: a fresh fleet's first 429 was refused with "at most 0 allowed").
#[test]
fn an_empty_fleet_view_keeps_the_new_process_credit() {
    let kinds = bad_luck_kinds().into_iter().chain(shed_kinds());
    for kind in kinds {
        let policy = Policy::default();
        let budget = policy.rules().budget().expect("on by default");
        let now = Instant::now();
        budget.set_fleet_view(
            Counts::default(),
            Counts::default(),
            now,
            Duration::from_secs(1),
        );
        assert!(fail_once(&policy, &kind, now), "{kind:?}: first failure");
    }
}

/// A process that calls every ten seconds makes a dozen calls in a two-minute outage; the
/// run stops its retries after its first few failures whatever they say: at most
/// `RUN_CLEAN` (3) retries in the whole outage, for every failure kind, after a healthy
/// history or none.
#[test]
fn a_rare_caller_makes_at_most_three_retries_in_a_two_minute_outage_of_any_kind() {
    let kinds = bad_luck_kinds().into_iter().chain(shed_kinds());
    for kind in kinds {
        for healthy_calls in [0u64, 30] {
            let policy = Policy::default();
            let mut rng = fastrand::Rng::with_seed(4);
            let mut now = Instant::now();
            for _ in 0..healthy_calls {
                now += Duration::from_secs(10);
                let mut call = Machine::new(&policy, now);
                assert!(call.on_outcome(&Verdict::Success, now, &mut rng).is_stop());
            }
            let mut retries = 0;
            for _ in 0..12 {
                now += Duration::from_secs(10);
                let mut call = Machine::new(&policy, now);
                while let Action::Retry(r) = call.on_outcome(&kind, now, &mut rng) {
                    retries += 1;
                    now += r.delay;
                }
            }
            assert!(
                (1..=3).contains(&retries),
                "{kind:?} after {healthy_calls} healthy calls: {retries} retries"
            );
        }
    }
}

/// `Throttle::Failing`'s docs: "the retries made since the last success". A new process's
/// first failed call (2 retries) and one more retry: the refusal names 3.
#[test]
fn a_failing_refusal_names_the_retries_since_the_last_success() {
    let policy = Policy::default();
    let (_, stop) = retries_until_refused(
        &policy,
        &Verdict::retryable(Cause::status(500)),
        Instant::now(),
    );
    assert!(
        matches!(
            stop,
            Stop::Throttled {
                why: Throttle::Failing {
                    retries_since_success: 3
                },
                ..
            }
        ),
        "{stop:?}"
    );
}

/// The design: a 429 that carries a wait is the server pacing, not failing. On a call's
/// last attempt (or with a wait past `max_hint`) it is not retried, and the budget counts
/// it as a failure: it starts a run (so the next success is a recovery, and the process
/// looks flaky), and it joins the failures the shed curve reads. Reported to the lead, and
/// mended: it counts as the server answering.
#[test]
fn a_paced_429_on_the_last_attempt_is_no_failure() {
    let policy = Policy::default();
    let budget = policy.rules().budget().expect("on by default");
    let now = Instant::now();
    let mut rng = fastrand::Rng::with_seed(5);
    let mut call = Machine::new(&policy, now);
    while call
        .on_outcome(&paced_429(), now, &mut rng)
        .retry()
        .is_some()
    {}
    let d = budget.take_local_deltas();
    assert_eq!((d.successes, d.failures), (3, 0), "{d:?}");
}
