//! The published results, reproduced on the simulation's own numbers, and the engine's
//! bookkeeping. Every run here is sized to finish in well under a second in debug builds.

use super::*;
use redial::{Curve, Jitter, Preset};

/// The blog's clients: they retry until they succeed, with no budget to stop them.
fn contention_policy(jitter: Jitter) -> Policy {
    Policy::builder()
        .max_attempts(1000)
        .base(Duration::from_millis(10))
        .cap(Duration::from_secs(1))
        .jitter(jitter)
        .no_budget()
        .build()
        .unwrap()
}

/// Mean retries per bucket, over the buckets that hold any: how tightly retries bunch.
fn retries_per_busy_bucket(r: &Report) -> f64 {
    let busy: Vec<u64> = r
        .buckets
        .iter()
        .map(|b| b.retries)
        .filter(|&n| n > 0)
        .collect();
    busy.iter().sum::<u64>() as f64 / busy.len().max(1) as f64
}

#[test]
fn aws_blog_no_jitter_retries_in_waves_and_full_jitter_halves_the_work() {
    // "Exponential Backoff and Jitter" (AWS Architecture Blog): 100 clients contending
    // for one resource. See the module docs for the model.
    let s = Scenario::contention(100);
    let none = run(&s, "no jitter", &contention_policy(Jitter::None)).unwrap();
    let full = run(&s, "full jitter", &contention_policy(Jitter::Full)).unwrap();
    for r in [&none, &full] {
        assert_eq!(r.calls, 100);
        assert_eq!(r.call_success_rate(), Some(1.0), "{}", r.label);
    }

    // Waves: without jitter the losers of a round all come back at the same instant, so
    // every bucket that holds a retry holds a whole round of them (99, 98, … 1), and only
    // one client wins per round: N(N+1)/2 attempts.
    assert_eq!(none.attempts(), 100 * 101 / 2);
    let waves = none.buckets.iter().filter(|b| b.retries > 0).count();
    assert_eq!(waves, 99, "one bucket per round");
    assert!(retries_per_busy_bucket(&none) >= 45.0);
    assert!(retries_per_busy_bucket(&full) <= retries_per_busy_bucket(&none) / 5.0);

    // The published result: full jitter cuts the work (total calls) by more than half.
    assert!(
        full.attempts() * 2 < none.attempts(),
        "full jitter {} vs none {}",
        full.attempts(),
        none.attempts()
    );
    // And the fleet is done sooner, too (the blog's other graph).
    assert!(full.end < none.end);
}

/// 100 clients, 100 calls a second, the server down from 10 s to 70 s.
fn long_outage() -> Scenario {
    let mut s = Scenario::outage();
    s.clients = 100;
    s.duration = Duration::from_secs(90);
    s.incidents[0].start = Duration::from_secs(10);
    s.incidents[0].duration = Duration::from_secs(60);
    s
}

#[test]
fn outage_triples_load_without_a_budget_and_stays_near_1_1x_with_one() {
    // Google SRE book, "Handling Overload": 3 attempts per request can triple the load on
    // a failing backend; a 10 % retry budget keeps it near 1.1x.
    let s = long_outage();
    let no_budget = Policy::builder().no_budget().build().unwrap();
    let reports = compare(
        &s,
        [("no budget", &no_budget), ("default", &Policy::default())],
    )
    .unwrap();
    let (none, budget) = (&reports[0], &reports[1]);

    let unbounded = none.incident_amplification().unwrap();
    assert!((2.7..=3.0).contains(&unbounded), "{unbounded}");
    assert_eq!(none.budget_denials(), 0);

    let bounded = budget.incident_amplification().unwrap();
    assert!((1.0..=1.2).contains(&bounded), "{bounded}");
    assert!(budget.budget_denials() > 0);
    // The bucket starts full: 500 tokens pay for 100 retries, then nothing refills it.
    assert!(
        budget.incident_retries <= 110,
        "{}",
        budget.incident_retries
    );
    // A dead server answers at once whatever the load, so it is healthy as soon as it is up.
    assert_eq!(budget.recovery, Recovery::After(Duration::ZERO));
}

#[test]
fn shared_retry_after_returns_every_client_at_once_unless_spread() {
    // 500 clients call at the same instant; the quota lets 50 through per 10 s window and
    // answers the others 429 with `retry-after: 10`.
    let mut s = Scenario::rate_limit();
    s.clients = 500;
    s.arrivals = Arrivals::Burst { at: Duration::ZERO };
    s.duration = Duration::from_secs(1);
    s.bucket = Duration::from_millis(100);
    s.incidents = vec![Incident::new(
        Duration::ZERO,
        Duration::from_secs(60),
        IncidentKind::RateLimit {
            limit: 50,
            window: Duration::from_secs(10),
            header: HintHeader::RetryAfter,
        },
    )];
    // A fleet of processes, each with its own budget, so the budget does not hide the spike.
    s.budget = BudgetScope::PerClient;

    // The core always adds the spread to an honoured hint; a client without it is one that
    // ignores the header and waits exactly the same 10 s, with no jitter.
    let exact = Policy::builder()
        .honor_hints(false)
        .curve(Curve::Constant)
        .base(Duration::from_secs(10))
        .cap(Duration::from_secs(10))
        .jitter(Jitter::None)
        .build()
        .unwrap();
    let spread = run(&s, "spread", &Policy::default()).unwrap();
    let exact = run(&s, "no spread", &exact).unwrap();

    assert_eq!(
        spread.retries, exact.retries,
        "the same retries, only their timing differs"
    );
    assert!(exact.peak_retries() >= 450, "{}", exact.peak_retries());
    assert!(
        spread.peak_retries() * 4 <= exact.peak_retries(),
        "spread {} vs exact {}",
        spread.peak_retries(),
        exact.peak_retries()
    );
}

#[test]
fn same_seed_same_report_other_seed_other_report() {
    let mut s = long_outage();
    s.duration = Duration::from_secs(30);
    let a = run(&s, "a", &Policy::default()).unwrap();
    let b = run(&s, "a", &Policy::default()).unwrap();
    assert_eq!(a, b);
    s.seed = 2;
    let c = run(&s, "a", &Policy::default()).unwrap();
    assert_ne!(a.buckets, c.buckets);
}

#[test]
fn every_attempt_is_answered_and_counted_once() {
    for mut s in [
        Scenario::outage(),
        Scenario::brownout(),
        Scenario::rate_limit(),
        Scenario::overload(),
    ] {
        s.clients = 50;
        s.arrivals = Arrivals::Poisson { rate: 100.0 };
        s.duration = Duration::from_secs(40);
        s.incidents[0].start = Duration::from_secs(10);
        s.incidents[0].duration = Duration::from_secs(10);
        let r = run(&s, "default", &Policy::preset(Preset::Anthropic)).unwrap();
        let kind = s.incidents[0].kind.name();
        let answers: u64 = r.buckets.iter().map(|b| b.successes + b.failures).sum();
        let attempts: u64 = r.buckets.iter().map(Bucket::attempts).sum();
        assert_eq!(answers, r.attempts(), "{kind}");
        assert_eq!(attempts, r.attempts(), "{kind}");
        assert_eq!(r.first_attempts, r.calls, "{kind}");
        assert_eq!(r.stops.iter().sum::<u64>(), r.calls, "{kind}");
        assert_eq!(r.latency.count(), r.calls, "{kind}");
        assert!(r.retries > 0, "{kind}: the incident causes retries");
        assert!(
            matches!(r.recovery, Recovery::After(_)),
            "{kind}: {:?}",
            r.recovery
        );
    }
}

#[test]
fn retries_rescue_calls_in_a_brownout_until_the_budget_runs_low() {
    let mut s = Scenario::brownout();
    s.clients = 50;
    s.duration = Duration::from_secs(30);
    s.incidents[0].start = Duration::ZERO;
    let no_budget = Policy::builder().no_budget().build().unwrap();
    let reports = compare(
        &s,
        [("no budget", &no_budget), ("default", &Policy::default())],
    )
    .unwrap();
    let (none, budget) = (&reports[0], &reports[1]);
    for r in [none, budget] {
        let server = r.server_success_rate().unwrap();
        assert!((0.45..0.60).contains(&server), "{}: {server}", r.label);
    }
    // Half the attempts fail; a call of 3 attempts fails only if all 3 do (1/8).
    assert!(none.call_success_rate().unwrap() > 0.85);
    // The AWS quota loses 0.75 tokens per call on average at a 50 % failure rate
    // (+1 × 1/2 for a first-try success, −10 × 1/8 for a call that fails to the end), so
    // it drains, and retries stop rescuing calls: by design, the budget gives up on a
    // server that fails half its requests.
    assert!(budget.budget_denials() > 0);
    let rescued = budget.call_success_rate().unwrap() - budget.server_success_rate().unwrap();
    assert!(rescued > 0.1, "{rescued}");
    assert!(budget.call_success_rate() < none.call_success_rate());
}

#[test]
fn a_post_is_not_retried_after_a_500_unless_the_policy_says_always() {
    let mut s = Scenario::brownout();
    s.clients = 20;
    s.duration = Duration::from_secs(20);
    s.incidents[0].start = Duration::ZERO;
    s.request = redial::RequestFacts::idempotent(false);
    let default = run(&s, "default", &Policy::default()).unwrap();
    let anthropic = run(&s, "anthropic", &Policy::preset(Preset::Anthropic)).unwrap();
    assert_eq!(default.retries, 0);
    assert!(default.stopped(StopReason::NotRetryable) > 0);
    assert!(anthropic.retries > 0);
}

#[test]
fn rate_limit_headers_reach_the_classifier() {
    // A hint longer than max_hint stops the call at once: proof that the header was read.
    let short_hints = Policy::builder()
        .max_hint(Duration::from_secs(1))
        .build()
        .unwrap();
    for (header, read) in [
        (HintHeader::RetryAfter, true),
        (HintHeader::RateLimit, true),
        (HintHeader::None, false),
    ] {
        let mut s = Scenario::rate_limit();
        s.clients = 50;
        s.duration = Duration::from_secs(30);
        s.incidents = vec![Incident::new(
            Duration::ZERO,
            Duration::from_secs(30),
            IncidentKind::RateLimit {
                limit: 100,
                window: Duration::from_secs(10),
                header,
            },
        )];
        let r = run(&s, header.name(), &short_hints).unwrap();
        assert_eq!(
            r.stopped(StopReason::HintTooLong) > 0,
            read,
            "{}",
            header.name()
        );
    }
}

#[test]
fn per_client_budgets_allow_more_retries_than_a_shared_one() {
    let mut s = long_outage();
    s.clients = 50;
    let shared = run(&s, "shared", &Policy::default()).unwrap();
    s.budget = BudgetScope::PerClient;
    let own = run(&s, "per client", &Policy::default()).unwrap();
    // 50 buckets of 100 retries each, against one.
    assert!(
        own.retries > 10 * shared.retries,
        "{} vs {}",
        own.retries,
        shared.retries
    );
}

#[test]
fn overload_recovers_once_the_queue_drains() {
    let mut s = Scenario::overload();
    s.clients = 50;
    s.duration = Duration::from_secs(60);
    s.incidents[0].start = Duration::from_secs(10);
    s.incidents[0].duration = Duration::from_secs(20);
    let r = run(&s, "default", &Policy::default()).unwrap();
    assert!(r.stopped(StopReason::Succeeded) < r.calls);
    match r.recovery {
        Recovery::After(d) => assert!(d < Duration::from_secs(10), "{d:?}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_runaway_run_fails_fast() {
    let mut s = long_outage();
    s.max_events = 1000;
    assert_eq!(
        run(&s, "x", &Policy::default()),
        Err(SimulateError::TooManyEvents { limit: 1000 })
    );
}

#[test]
fn invalid_scenarios_name_the_field() {
    let policy = Policy::default();
    type Breaks = fn(&mut Scenario);
    let cases: Vec<(Breaks, &str)> = vec![
        (|s| s.clients = 0, "clients"),
        (
            |s| s.arrivals = Arrivals::Poisson { rate: f64::NAN },
            "arrivals.rate",
        ),
        (|s| s.bucket = Duration::ZERO, "bucket"),
        (|s| s.bucket = Duration::from_nanos(1), "bucket"),
        (|s| s.server.capacity = 0.0, "server.capacity"),
        (|s| s.server.concurrency = 0, "server.concurrency"),
        (|s| s.server.shed_status = 99, "server.shed_status"),
        (
            |s| s.incidents[0].kind = IncidentKind::Outage { status: 600 },
            "incidents.outage.status",
        ),
        (
            |s| {
                s.incidents[0].kind = IncidentKind::Brownout {
                    fail_fraction: 1.5,
                    status: 500,
                }
            },
            "incidents.brownout.fail_fraction",
        ),
        (
            |s| {
                s.incidents[0].kind = IncidentKind::Overload {
                    capacity_factor: 0.0,
                }
            },
            "incidents.overload.capacity_factor",
        ),
        (
            |s| {
                s.incidents[0].kind = IncidentKind::RateLimit {
                    limit: 1,
                    window: Duration::ZERO,
                    header: HintHeader::RetryAfter,
                }
            },
            "incidents.ratelimit.window",
        ),
    ];
    for (break_it, field) in cases {
        let mut s = Scenario::outage();
        break_it(&mut s);
        match run(&s, "x", &policy) {
            Err(SimulateError::Invalid { field: f, .. }) => assert_eq!(f, field),
            other => panic!("{field}: {other:?}"),
        }
    }
}

#[test]
fn fixed_arrivals_are_evenly_spaced() {
    let mut s = Scenario::healthy();
    s.clients = 4;
    s.arrivals = Arrivals::Fixed { rate: 8.0 };
    s.duration = Duration::from_secs(10);
    let r = run(&s, "x", &Policy::default()).unwrap();
    assert_eq!(r.calls, 80);
    assert!(r.buckets.iter().take(10).all(|b| b.first_attempts == 8));
}

#[test]
fn table_golden_shape() {
    let mut a = Report::new("default", Duration::from_secs(1));
    a.calls = 12000;
    a.first_attempts = 12000;
    a.retries = 240;
    a.server_successes = 8000;
    a.stops = [8000, 0, 30, 0, 0, 3970];
    a.buckets = vec![Bucket {
        first_attempts: 100,
        retries: 20,
        successes: 60,
        failures: 60,
    }];
    a.latency.record(Duration::from_millis(20));
    a.latency.record(Duration::from_millis(1500));
    a.incident = Some((Duration::from_secs(60), Duration::from_secs(180)));
    a.incident_first_attempts = 12000;
    a.incident_retries = 240;
    a.recovery = Recovery::After(Duration::from_millis(2500));
    let mut b = Report::new("aws-standard", Duration::from_secs(1));
    b.calls = 5;
    b.first_attempts = 5;
    b.retries = 10;
    b.server_successes = 0;
    b.stops = [0, 0, 5, 0, 0, 0];
    b.recovery = Recovery::NotInRun;
    let text = Table::new(&[a, b]).to_string();
    let expected = "\
measure                        default  aws-standard
calls                            12000             5
attempts                         12240            15
amplification (attempts/call)    1.02x         3.00x
load during incident             1.02x             -
peak load (attempts/s)             120             0
server success                   65.4%          0.0%
call success                     66.7%          0.0%
call latency p50                  20ms             -
call latency p99                 1.50s             -
recovery after incident          2.50s    not in run
budget denials                    3970             0
gave up (attempts_exhausted)        30             5
";
    assert_eq!(text, expected);
    // Every line is as wide as the header: the columns line up.
    let widths: Vec<usize> = text.lines().map(|l| l.chars().count()).collect();
    assert!(widths.iter().all(|&w| w == widths[0]), "{widths:?}");
}
