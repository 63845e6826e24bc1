//! The default budget's evidence, failure kind by failure kind, through the machine as an
//! adapter drives it: a process turns strict after the failures the rule states, whatever
//! the status (or the transport failure), and not before.

use std::time::{Duration, Instant};

use redial::budget::rule::{NEW_RETRIES, RUN_CLEAN, RUN_FLAKY};
use redial::budget::{Budget, BudgetConfig, Counts, Throttle};
use redial::hints::{Hint, HintSource};
use redial::machine::{Action, Machine};
use redial::{Cause, Policy, Stop, Transport, Verdict};

/// Every failure kind a real incident produces, as the classifier gives it.
fn kinds() -> Vec<(&'static str, Verdict)> {
    let mut all = bad_luck_kinds();
    let status = |s| Verdict::retryable(Cause::status(s));
    all.extend([("503", status(503)), ("529", status(529))]);
    all
}

/// The kinds that say nothing of overload: their retries are limited by the run alone
/// (and the lenient ratio) until the run turns strict.
fn bad_luck_kinds() -> Vec<(&'static str, Verdict)> {
    let status = |s| Verdict::retryable(Cause::status(s));
    vec![
        ("500", status(500)),
        ("502", status(502)),
        ("504", status(504)),
        ("429 without a hint", status(429)),
        (
            "refused",
            Verdict::retryable(Cause::transport(Transport::Connect)),
        ),
        (
            "timeout",
            Verdict::retryable(Cause::transport(Transport::Timeout)),
        ),
    ]
}

/// One call whose every attempt gets `verdict`, from `at`: the retries the machine made.
fn failing_call(policy: &Policy, verdict: &Verdict, at: Instant) -> (u32, Stop) {
    let mut rng = fastrand::Rng::with_seed(1);
    let mut call = Machine::new(policy, at);
    let mut now = at;
    let mut retries = 0;
    loop {
        match call.on_outcome(verdict, now, &mut rng) {
            Action::Retry(r) => {
                retries += 1;
                now += r.delay;
            }
            Action::Stop(stop) => return (retries, stop),
        }
    }
}

/// A policy whose process has made `n` calls that succeeded at once (so it is not new).
fn seasoned(n: u32) -> Policy {
    let policy = Policy::default();
    for _ in 0..n {
        let _ = Machine::<&Policy>::first_success(policy.rules());
    }
    policy
}

#[test]
fn every_failure_kind_turns_strict_after_the_run_the_rule_allows() {
    // A process that calls every ten seconds, in an outage of each kind: its first failed
    // call is retried in full, the next one once (RUN_CLEAN retries in all), and no retry
    // follows until an attempt succeeds.
    assert_eq!(RUN_CLEAN, 3, "the counts below are for three");
    for (name, verdict) in bad_luck_kinds() {
        let policy = seasoned(30);
        let t0 = Instant::now();
        let mut per_call = Vec::new();
        for i in 0..12u64 {
            let (retries, stop) = failing_call(&policy, &verdict, t0 + Duration::from_secs(10 * i));
            per_call.push(retries);
            if i >= 2 {
                assert!(
                    matches!(
                        stop,
                        Stop::Throttled {
                            why: Throttle::Failing { .. },
                            ..
                        }
                    ),
                    "{name}: call {i} stopped by {stop}"
                );
            }
        }
        assert_eq!(per_call[..3], [2, 1, 0], "{name}: {per_call:?}");
        assert_eq!(per_call.iter().sum::<u32>(), 3, "{name}: {per_call:?}");
    }
}

#[test]
fn shed_answers_turn_strict_no_later_than_the_run() {
    // A 503 or a 529 is held by the shed ratio too: never more than the run allows, and
    // the first failed call is still retried.
    for (name, verdict) in kinds() {
        let policy = seasoned(30);
        let t0 = Instant::now();
        let per_call: Vec<u32> = (0..12u64)
            .map(|i| failing_call(&policy, &verdict, t0 + Duration::from_secs(10 * i)).0)
            .collect();
        assert!(per_call[0] >= 1, "{name}: {per_call:?}");
        assert!(
            u64::from(per_call.iter().sum::<u32>()) <= RUN_CLEAN,
            "{name}: {per_call:?}"
        );
        assert!(
            per_call[3..].iter().all(|&r| r == 0),
            "{name}: {per_call:?}"
        );
    }
}

#[test]
fn a_success_ends_the_run_and_recoveries_lengthen_the_next() {
    for (name, verdict) in bad_luck_kinds() {
        let policy = seasoned(30);
        let t0 = Instant::now();
        // A run spent, then one success: the next failed call is retried again.
        for i in 0..3u64 {
            let _ = failing_call(&policy, &verdict, t0 + Duration::from_secs(10 * i));
        }
        let _ = Machine::<&Policy>::first_success(policy.rules());
        let (retries, _) = failing_call(&policy, &verdict, t0 + Duration::from_secs(30));
        assert_eq!(retries, 2, "{name}: a success ends the run");
        // That success ended a run of failures: the server is flaky, so the run may now be
        // as long as RUN_FLAKY before the lane turns strict.
        let mut total = retries;
        for i in 4..12u64 {
            total += failing_call(&policy, &verdict, t0 + Duration::from_secs(10 * i)).0;
        }
        assert_eq!(u64::from(total), RUN_FLAKY, "{name}");
    }
}

#[test]
fn a_new_process_retries_its_first_failures_of_every_kind() {
    // No call made yet: the first failed call is retried in full (for shed answers, on
    // the new process's credit of NEW_RETRIES).
    const { assert!(NEW_RETRIES >= 2.0) };
    for (name, verdict) in kinds() {
        let (retries, stop) = failing_call(&Policy::default(), &verdict, Instant::now());
        assert_eq!(retries, 2, "{name}: {stop}");
    }
}

#[test]
fn an_empty_fleet_view_adds_to_a_new_process_allowance() {
    // A new fleet: its view is empty, and a process's first failures are still retried.
    for (name, verdict) in kinds() {
        let policy = Policy::default();
        let now = Instant::now();
        let budget = policy.rules().budget().expect("on by default");
        let none = Counts::default();
        budget.set_fleet_view(none, none, now, Duration::from_secs(1));
        let (retries, stop) = failing_call(&policy, &verdict, now);
        assert_eq!(retries, 2, "{name}: {stop}");
    }
}

#[test]
fn a_fleet_whose_latest_bucket_only_fails_holds_every_process() {
    // The fleet has already made a tenth of its first attempts (and of this process's 30)
    // in retries. Its last seconds
    // hold failures and no success: a process that has not failed yet itself takes the
    // strict lane at once (the run is the fleet's), where the tenth is spent.
    let fleet = Counts {
        first_attempts: 3_000,
        retries: 310,
        successes: 2_500,
        failures: 800,
        ..Counts::default()
    };
    let failing = Counts {
        first_attempts: 300,
        failures: 300,
        ..Counts::default()
    };
    for (name, verdict) in bad_luck_kinds() {
        for (latest, expect) in [
            (failing, 0),
            (
                Counts {
                    successes: 1,
                    ..failing
                },
                2,
            ),
        ] {
            let policy = seasoned(30);
            let now = Instant::now();
            let budget = policy.rules().budget().expect("on by default");
            budget.set_fleet_view(fleet, latest, now, Duration::from_secs(1));
            let (retries, stop) = failing_call(&policy, &verdict, now);
            // With one success in the bucket, the process's own run decides again.
            assert_eq!(retries, expect, "{name}, latest {latest:?}: {stop}");
        }
    }
}

#[test]
fn a_429_that_says_how_long_never_spends_the_allowance() {
    // The server pacing its clients: every retry after a hinted 429 is free, and the
    // outage that follows still gets the run the rule allows.
    let policy = seasoned(30);
    let t0 = Instant::now();
    let paced = Verdict::Retryable {
        cause: Cause::status(429),
        hint: Some(Hint {
            wait: Duration::from_secs(1),
            source: HintSource::RetryAfter,
        }),
    };
    for i in 0..20u64 {
        let (retries, stop) = failing_call(&policy, &paced, t0 + Duration::from_secs(i));
        assert_eq!(retries, 2, "429 #{i}: {stop}");
    }
    // The 429s ended no run and began none: a failure after them starts afresh.
    let down = Verdict::retryable(Cause::status(500));
    let (retries, stop) = failing_call(&policy, &down, t0 + Duration::from_secs(30));
    assert_eq!(retries, 2, "{stop}");
}

#[test]
fn counts_attempts_are_the_outcomes_and_add_up_field_by_field() {
    // `attempts` is what the exchange and its users read of a fleet's load: every
    // outcome, and neither the first attempts nor the retries again.
    let a = Counts {
        first_attempts: 7,
        retries: 4,
        successes: 2,
        failures: 3,
        overloaded: 6,
    };
    assert_eq!(a.attempts(), 11);
    assert_eq!(Counts::default().attempts(), 0);
    let b = Counts {
        first_attempts: 1,
        retries: 2,
        successes: u64::MAX - 1,
        failures: 4,
        overloaded: 5,
    };
    assert_eq!(b.attempts(), u64::MAX, "saturating");
    assert_eq!(
        a.saturating_add(b),
        Counts {
            first_attempts: 8,
            retries: 6,
            successes: u64::MAX,
            failures: 7,
            overloaded: 11,
        }
    );
}

#[test]
fn the_aws_bucket_takes_and_puts_back_through_the_budget() {
    // `Budget::deposit` and `try_withdraw` are public: an adapter of its own may charge
    // the bucket directly. A refund fills it back, never above capacity.
    let budget = Budget::new(BudgetConfig::new(10, 5, 10, 1));
    assert!(budget.try_withdraw(5));
    assert!(budget.try_withdraw(4));
    assert_eq!(budget.available(), 1);
    budget.deposit(3);
    assert_eq!(budget.available(), 4);
    budget.deposit(u32::MAX);
    assert_eq!(budget.available(), 10);
    // The adaptive kind holds no tokens: nothing to take or put back.
    let adaptive = Budget::new(BudgetConfig::default());
    assert!(adaptive.try_withdraw(u32::MAX));
    adaptive.deposit(5);
    assert_eq!(adaptive.available(), 0);
}
