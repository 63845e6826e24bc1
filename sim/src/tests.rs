//! The published results, reproduced on the simulation's own numbers, and the engine's
//! bookkeeping. Every run here is sized to finish in well under a second in debug builds.

use super::*;
use redial::backoff::{Curve, Jitter};
use redial::Preset;

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

/// `redial simulate`'s defaults (100 calls/s for the whole fleet, a 200 req/s server, the
/// incident from 1m for 2m, a 5m run) for `clients` clients with `budget`, seed `seed`.
fn fleet(mut s: Scenario, clients: u32, budget: BudgetScope, seed: u64) -> Scenario {
    s.clients = clients;
    s.duration = Duration::from_secs(300);
    s.budget = budget;
    s.seed = seed;
    s
}

fn load(r: &Report) -> f64 {
    r.incident_amplification().unwrap()
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
fn outage_triples_the_load_without_a_budget() {
    // Google SRE book, "Handling Overload": 3 attempts per request can triple the load on
    // a failing backend. A dead server answers at once whatever the load, so it is healthy
    // as soon as it is up.
    let s = fleet(Scenario::outage(), 100, BudgetScope::PerClient, 1);
    let none = run(&s, "off", &Policy::builder().no_budget().build().unwrap()).unwrap();
    assert!((2.7..=3.0).contains(&load(&none)), "{}", load(&none));
    assert_eq!(none.budget_denials(), 0);
    assert_eq!(none.recovery, Recovery::After(Duration::ZERO));
}

// The bounds of DESIGN.md, "Retry storms at fleet scale": one budget per client, default
// preset, every failure kind, fleets of 10, 100 and 1,000 clients, the worst of seeds 1–10.
// The rule's numbers were chosen on seeds 1001–1010 (docs/FLEET.md); these seeds never
// served the tuning.

/// The cells of the table the default does not meet yet, with where it stands (worst of
/// seeds 1–10): a brown-out of a shed status at 100 clients, where the failed share a
/// process measures early in the incident is too noisy to tell an overloaded server from
/// one that fails half its requests at random (docs/FLEET.md). Each is pinned where it
/// stands, so that it can only get better.
const SHORT_OF_THE_TABLE: [(matrix::Section, u16, u32, f64); 2] = [
    (matrix::Section::Brownout, 503, 100, 0.80),
    (matrix::Section::Brownout, 529, 100, 0.80),
];

#[test]
fn the_design_fleet_table_holds_on_seeds_the_tuning_never_used() {
    let m = matrix::run(&matrix::Settings::default(), Policy::preset).unwrap();
    assert_eq!(m.seeds, 1..=10);
    for row in &m.rows {
        let short = SHORT_OF_THE_TABLE
            .iter()
            .find(|(section, status, clients, _)| {
                row.section == *section
                    && row.failure == Failure::Status(*status)
                    && row.clients == *clients
            });
        match short {
            Some((.., at)) => assert!(row.value >= *at, "{row:?}"),
            None => assert!(row.holds, "{row:?}"),
        }
    }
}

#[test]
fn issue_11_the_aws_bucket_per_client_does_not_protect_a_large_fleet() {
    // Why the default changed: 1,000 processes at 0.1 call/s never drain 500 tokens each.
    let aws = Policy::preset(Preset::AwsStandard);
    let s = fleet(Scenario::outage(), 1000, BudgetScope::PerClient, 1);
    let r = run(&s, "aws", &aws).unwrap();
    assert!(load(&r) > 2.5, "{}", load(&r));
    assert_eq!(r.budget_denials(), 0);
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
        // The preset's pacer, engaged by the rate limit's hinted 429s, stops some calls
        // before they send anything; the machine's stops are the others'.
        assert_eq!(r.first_attempts + r.rate_limited_unsent, r.calls, "{kind}");
        assert_eq!(
            r.stops.iter().sum::<u64>() + r.rate_limited,
            r.calls,
            "{kind}"
        );
        if kind != "ratelimit" {
            assert_eq!(r.rate_limited, 0, "{kind}: no hint, no pacing");
        }
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
fn a_post_is_not_retried_after_a_500_unless_the_policy_says_always() {
    let mut s = Scenario::brownout();
    s.clients = 20;
    s.duration = Duration::from_secs(20);
    s.incidents[0].start = Duration::ZERO;
    s.request = redial::classify::RequestFacts::idempotent(false);
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
            |s| {
                s.incidents[0].kind = IncidentKind::Outage {
                    failure: Failure::Status(600),
                }
            },
            "incidents.outage.status",
        ),
        (
            |s| {
                s.incidents[0].kind = IncidentKind::Brownout {
                    fail_fraction: 1.5,
                    failure: Failure::Status(500),
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
    a.stops = [8000, 0, 30, 0, 0, 3970, 0];
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
    b.stops = [0, 0, 5, 0, 0, 0, 0];
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
call success during incident         -             -
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

/// A policy that never retries, with no budget: each call is its first attempt.
fn one_attempt() -> Policy {
    Policy::builder()
        .max_attempts(1)
        .no_budget()
        .build()
        .unwrap()
}

/// 10 clients, 10 calls a second (fixed), 30 s, an incident of `kind` from 10 s to 20 s.
fn small(kind: IncidentKind) -> Scenario {
    let mut s = Scenario::healthy();
    s.clients = 10;
    s.arrivals = Arrivals::Fixed { rate: 10.0 };
    s.duration = Duration::from_secs(30);
    s.budget = BudgetScope::PerClient;
    s.incidents = vec![Incident::new(
        Duration::from_secs(10),
        Duration::from_secs(10),
        kind,
    )];
    s
}

#[test]
fn a_refused_connection_fails_after_the_round_trip() {
    let mut s = small(IncidentKind::Outage {
        failure: Failure::Refused,
    });
    s.incidents[0].start = Duration::ZERO;
    s.incidents[0].duration = s.duration;
    let r = run(&s, "x", &one_attempt()).unwrap();
    assert_eq!(r.incident_calls, 300);
    assert_eq!(r.incident_call_successes, 0);
    // Nothing takes longer than the round trip: the failures come as fast as successes.
    assert_eq!(r.latency.max(), s.rtt);
    // A connect failure is retried, even for a POST under `when_safe`.
    let mut post = s.clone();
    post.request = redial::classify::RequestFacts::idempotent(false);
    let r = run(&post, "x", &Policy::builder().no_budget().build().unwrap()).unwrap();
    assert_eq!(r.stopped(StopReason::NotRetryable), 0);
    assert!(r.retries > 2 * 290, "{}", r.retries);
}

#[test]
fn a_timeout_fails_after_its_time() {
    let mut s = small(IncidentKind::Outage {
        failure: Failure::Timeout,
    });
    s.timeout = Duration::from_secs(3);
    let r = run(&s, "x", &one_attempt()).unwrap();
    assert_eq!(r.incident_call_successes, 0);
    assert_eq!(r.latency.max(), Duration::from_secs(3));
    assert!(r.latency.p50().unwrap() < Duration::from_secs(1));
    // Every attempt is answered once, the timeouts as failures.
    let answers: u64 = r.buckets.iter().map(|b| b.successes + b.failures).sum();
    assert_eq!(answers, r.attempts());
    // A GET is retried after a timeout, a POST under `when_safe` is not (it may have been
    // acted on).
    let retrying = Policy::builder().no_budget().build().unwrap();
    let get = run(&s, "x", &retrying).unwrap();
    assert!(get.latency.max() > Duration::from_secs(9), "three timeouts");
    assert!(get.retries > 100, "{}", get.retries);
    s.request = redial::classify::RequestFacts::idempotent(false);
    let post = run(&s, "x", &retrying).unwrap();
    assert_eq!(post.retries, 0);
    assert_eq!(post.stopped(StopReason::NotRetryable), 100);
}

#[test]
fn refused_and_timed_out_requests_in_a_brownout_use_capacity_as_modelled() {
    // One worker, 10 s per request, no queue: a request that holds the worker makes the
    // next one be shed. A brown-out fails every request from 0 to 1 s.
    let mut s = Scenario::healthy();
    s.server = ServerModel::new(0.1, 1, 0);
    s.clients = 3;
    s.arrivals = Arrivals::Burst { at: Duration::ZERO };
    s.duration = Duration::from_millis(1);
    s.budget = BudgetScope::PerClient;
    s.timeout = Duration::from_secs(30);
    for (failure, shed) in [(Failure::Refused, 0), (Failure::Timeout, 2)] {
        s.incidents = vec![Incident::new(
            Duration::ZERO,
            Duration::from_secs(1),
            IncidentKind::Brownout {
                fail_fraction: 1.0,
                failure,
            },
        )];
        let r = run(&s, "x", &one_attempt()).unwrap();
        assert_eq!(r.calls, 3);
        assert_eq!(r.incident_call_successes, 0);
        // A refused connection never reaches a worker; a request that times out holds
        // one while its client waits, so the two after it are shed (at once).
        let quick = r.latency.quantile(0.6).unwrap();
        if shed == 0 {
            assert_eq!(r.latency.max(), s.rtt, "{failure}");
        } else {
            assert_eq!(r.latency.max(), Duration::from_secs(30), "{failure}");
            assert!(quick < Duration::from_millis(25), "{failure}: shed at once");
        }
    }
}

#[test]
fn the_coin_is_the_same_for_two_policies() {
    // Which attempts fail depends on the call and the attempt alone: a policy that retries
    // once sees its first attempts fail exactly where a policy that never retries does,
    // though its retries came between them.
    let mut s = Scenario::brownout();
    s.clients = 100;
    s.duration = Duration::from_secs(120);
    s.incidents[0].start = Duration::from_secs(10);
    s.incidents[0].duration = Duration::from_secs(100);
    s.budget = BudgetScope::PerClient;
    let once = run(&s, "once", &one_attempt()).unwrap();
    let twice = Policy::builder()
        .max_attempts(2)
        .no_budget()
        .build()
        .unwrap();
    let twice = run(&s, "twice", &twice).unwrap();
    let failed_first = once.calls - once.stopped(StopReason::Succeeded);
    assert!(failed_first > 1000, "{failed_first}");
    assert_eq!(twice.retries, failed_first);
    // And a second attempt has a coin of its own: about half the retries fail too.
    let failed_both = twice.calls - twice.stopped(StopReason::Succeeded);
    let share = failed_both as f64 / twice.retries as f64;
    assert!((0.45..0.55).contains(&share), "{share}");
}

#[test]
fn incident_call_success_counts_the_calls_started_during_the_incident() {
    let mut s = small(IncidentKind::Outage {
        failure: Failure::Status(503),
    });
    // With no network delay a call's attempt reaches the server when the call starts.
    s.rtt = Duration::ZERO;
    let r = run(&s, "x", &one_attempt()).unwrap();
    assert_eq!(r.calls, 300);
    assert_eq!(r.incident_calls, 100);
    assert_eq!(r.incident_call_success_rate(), Some(0.0));
    assert_eq!(r.call_success_rate(), Some(200.0 / 300.0));
    // Without an incident there is no such rate.
    s.incidents.clear();
    let r = run(&s, "x", &one_attempt()).unwrap();
    assert_eq!(r.incident_call_success_rate(), None);
}

#[test]
fn failures_read_and_print_as_the_command_line_spells_them() {
    let throttled = [
        Failure::Throttled { wait_ms: 1000 },
        Failure::Throttled { wait_ms: 20 },
        Failure::Throttled { wait_ms: 0 },
    ];
    for f in Failure::ALL.into_iter().chain(throttled) {
        assert_eq!(f.to_string().parse::<Failure>(), Ok(f));
    }
    assert_eq!("429+1s".parse(), Ok(Failure::Throttled { wait_ms: 1000 }));
    assert_eq!(
        "429+1h".parse(),
        Ok(Failure::Throttled { wait_ms: 3_600_000 })
    );
    for bad in [
        "", "99", "600", "0503", "+503", "Refused", "5 03", "timeout2", "429+", "429+1", "429+2h",
        "429+-1s", "503+1s",
    ] {
        assert!(bad.parse::<Failure>().is_err(), "{bad:?}");
    }
}

mod matrix_table {
    use super::*;
    use crate::matrix::{self, Bound, Matrix, Measure, Row, Section, Settings, Statistic};

    fn row(section: Section, failure: Failure, clients: u32, measure: Measure) -> Row {
        let bound = matrix::bound(section, failure, clients, measure).unwrap();
        Row {
            section,
            failure,
            clients,
            measure,
            statistic: Statistic::Worst,
            value: 0.0,
            no_budget: None,
            gap: None,
            bound,
            holds: false,
        }
    }

    #[test]
    fn markdown_golden_shape() {
        let mut a = row(Section::Outage, Failure::Status(429), 1000, Measure::Load);
        a.value = 1.914;
        let mut b = row(
            Section::Brownout,
            Failure::Timeout,
            10,
            Measure::CallSuccess,
        );
        (b.value, b.no_budget, b.gap, b.holds) = (0.871, Some(0.872), Some(-0.0012), true);
        let mut c = row(Section::Overload, Failure::Status(503), 100, Measure::Load);
        (c.value, c.no_budget, c.holds) = (1.11, Some(2.38), true);
        let mut d = row(
            Section::LoneScript,
            Failure::Status(529),
            1,
            Measure::CallSuccess,
        );
        (d.statistic, d.value, d.no_budget, d.gap) =
            (Statistic::Median, 0.763, Some(0.976), Some(-0.232));
        let m = Matrix {
            seeds: 1..=10,
            rows: vec![a, b, c, d],
        };
        let expected = "\
| scenario | failure | clients | measure (seeds 1–10) | policy | no budget | worst gap | required | holds |
|---|---|---:|---|---:|---:|---:|---|---|
| outage | 429 (no hint) | 1000 | load during incident, worst | 1.91× |  |  | ≤ 1.30× | **no** |
| brown-out 50 % | timeout | 10 | call success during incident, worst | 87.1 % | 87.2 % | -0.1 pts | ≥ no budget − 2 pts | yes |
| overload 25 % | sheds 503 | 100 | load during incident, worst | 1.11× | 2.38× |  | ≤ 1.30× | yes |
| one script | 529 | 1 | call success during incident, median | 76.3 % | 97.6 % | -23.2 pts | ≥ 96.5 % | **no** |
";
        assert_eq!(m.to_string(), expected);
        assert!(!m.holds());
        assert_eq!(m.failing().count(), 2);
    }

    #[test]
    fn the_bounds_are_the_designs() {
        use Bound::*;
        let b = matrix::bound;
        for f in Failure::ALL {
            for clients in matrix::FLEETS {
                assert_eq!(
                    b(Section::Outage, f, clients, Measure::Load),
                    Some(AtMost(1.3))
                );
            }
            assert_eq!(
                b(Section::Redis, f, 1000, Measure::Load),
                Some(AtMost(1.15))
            );
            let shed = matches!(f, Failure::Status(503 | 529));
            let brownout = |clients| b(Section::Brownout, f, clients, Measure::CallSuccess);
            assert_eq!(brownout(10), Some(BelowNoBudget { points: 2.0 }));
            for (clients, at_least) in [(100, 0.83), (1000, 0.65)] {
                let want = if shed {
                    AtLeast(at_least)
                } else {
                    BelowNoBudget { points: 2.0 }
                };
                assert_eq!(brownout(clients), Some(want), "{f} {clients}");
            }
        }
        let overload = Failure::Status(529);
        assert_eq!(
            b(Section::Overload, overload, 10, Measure::Load),
            Some(AtMost(1.3))
        );
        assert_eq!(
            b(Section::Overload, overload, 10, Measure::CallSuccess),
            Some(BelowNoBudget { points: 1.0 })
        );
        assert_eq!(
            b(Section::LoneScript, overload, 1, Measure::CallSuccess),
            Some(AtLeast(0.965))
        );
        assert_eq!(b(Section::Outage, overload, 10, Measure::CallSuccess), None);
    }

    #[test]
    fn the_scenarios_are_the_designs() {
        let s = matrix::scenario(Section::LoneScript, Failure::Status(500), 1000, 4);
        assert_eq!(s.clients, 1);
        assert_eq!(s.arrivals, Arrivals::Poisson { rate: 1.0 });
        assert_eq!(s.incidents[0].duration, Duration::from_secs(1200));
        assert_eq!(
            s.incidents[0].kind,
            IncidentKind::Brownout {
                fail_fraction: 0.3,
                failure: Failure::Status(529)
            }
        );
        assert!(s.duration > s.incidents[0].end());
        assert_eq!(matrix::preset(Section::LoneScript), Preset::Anthropic);
        let s = matrix::scenario(Section::Redis, Failure::Refused, 1000, 2);
        assert_eq!(
            s.budget,
            BudgetScope::Redis {
                sync: Duration::from_millis(250)
            }
        );
        assert_eq!(
            s.incidents[0].kind,
            IncidentKind::Outage {
                failure: Failure::Refused
            }
        );
        for section in [Section::Outage, Section::Brownout, Section::Overload] {
            let s = matrix::scenario(section, Failure::Status(503), 100, 7);
            assert_eq!((s.clients, s.seed), (100, 7));
            assert_eq!(s.budget, BudgetScope::PerClient);
            assert_eq!(s.duration, Duration::from_secs(300));
            assert_eq!(s.arrivals, Arrivals::Poisson { rate: 100.0 });
            assert_eq!(s.server.capacity, 200.0);
            assert_eq!(s.incidents[0].start, Duration::from_secs(60));
            assert_eq!(s.incidents[0].duration, Duration::from_secs(120));
        }
    }

    fn small() -> Settings {
        Settings {
            seeds: 1..=3,
            fleets: vec![10],
            failures: vec![Failure::Status(503), Failure::Timeout],
            shed: vec![503],
            sections: vec![Section::Brownout, Section::Overload, Section::Outage],
            threads: 1,
        }
    }

    #[test]
    fn rows_come_in_the_designs_order_whatever_the_threads() {
        let one = matrix::run(&small(), Policy::preset).unwrap();
        let two = matrix::run(
            &Settings {
                threads: 2,
                ..small()
            },
            Policy::preset,
        )
        .unwrap();
        assert_eq!(one, two);
        let sections: Vec<Section> = one.rows.iter().map(|r| r.section).collect();
        use Section::*;
        assert_eq!(
            sections,
            [Outage, Outage, Brownout, Brownout, Overload, Overload]
        );
    }

    #[test]
    fn worst_is_the_worst_seed_and_gaps_are_paired() {
        let m = matrix::run(&small(), Policy::preset).unwrap();
        let none = Policy::builder().no_budget().build().unwrap();
        for r in &m.rows {
            let runs = |p: &Policy| -> Vec<Report> {
                (1..=3)
                    .map(|seed| {
                        let s = matrix::scenario(r.section, r.failure, r.clients, seed);
                        run(&s, "x", p).unwrap()
                    })
                    .collect()
            };
            let pick = |rep: &Report| match r.measure {
                Measure::Load => rep.incident_amplification().unwrap(),
                Measure::CallSuccess => rep.incident_call_success_rate().unwrap(),
            };
            let mine: Vec<f64> = runs(&Policy::default()).iter().map(pick).collect();
            let worst = match r.measure {
                Measure::Load => mine.iter().copied().fold(f64::MIN, f64::max),
                Measure::CallSuccess => mine.iter().copied().fold(f64::MAX, f64::min),
            };
            assert_eq!(r.value, worst, "{r:?}");
            if let Some(gap) = r.gap {
                let theirs: Vec<f64> = runs(&none).iter().map(pick).collect();
                let paired = mine
                    .iter()
                    .zip(&theirs)
                    .map(|(a, b)| a - b)
                    .fold(f64::MAX, f64::min);
                assert_eq!(gap, paired, "{r:?}");
                assert_eq!(r.holds, r.bound.holds(r.value, Some(gap)));
            }
        }
    }

    #[test]
    fn an_empty_or_huge_seed_range_is_an_error_that_names_it() {
        #[allow(clippy::reversed_empty_ranges)]
        let settings = Settings {
            seeds: 5..=4,
            ..small()
        };
        match matrix::run(&settings, Policy::preset) {
            Err(SimulateError::Invalid { field, .. }) => assert_eq!(field, "seeds"),
            other => panic!("{other:?}"),
        }
        // A run's own error, from whichever thread met it.
        let settings = Settings {
            fleets: vec![10, 0],
            threads: 2,
            ..small()
        };
        match matrix::run(&settings, Policy::preset) {
            Err(SimulateError::Invalid { field, .. }) => assert_eq!(field, "clients"),
            other => panic!("{other:?}"),
        }
        let settings = Settings {
            seeds: 0..=u64::MAX,
            ..small()
        };
        match matrix::run(&settings, Policy::preset) {
            Err(e) => assert_eq!(
                e.to_string(),
                format!(
                    "seeds: must be a range of 1 to 1,000 seeds, got 0-{}",
                    u64::MAX
                )
            ),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn seed_table_golden_shape() {
    // Three seeds of one policy: the worst and the median of each measure.
    let seed = |calls: u64, retries: u64, ok: u64, during: (u64, u64), recovery| {
        let mut r = Report::new("default", Duration::from_secs(1));
        r.calls = calls;
        r.first_attempts = calls;
        r.retries = retries;
        r.server_successes = ok;
        r.stops = [ok, 0, calls - ok, 0, 0, 0, 0];
        r.incident = Some((Duration::from_secs(60), Duration::from_secs(180)));
        r.incident_first_attempts = calls;
        r.incident_retries = retries;
        (r.incident_calls, r.incident_call_successes) = during;
        r.recovery = recovery;
        r.latency.record(Duration::from_millis(20 * calls / 100));
        r
    };
    let runs = vec![vec![
        seed(100, 10, 90, (50, 40), Recovery::After(Duration::ZERO)),
        seed(
            200,
            60,
            150,
            (50, 30),
            Recovery::After(Duration::from_secs(2)),
        ),
        seed(300, 30, 290, (50, 45), Recovery::NotInRun),
    ]];
    let text = SeedTable::new(&runs).to_string();
    let expected = "\
measure                        default worst  default median
calls                                      -             200
attempts                                 330             260
amplification (attempts/call)          1.30x           1.10x
load during incident                   1.30x           1.10x
peak load (attempts/s)                     0               0
server success                         57.7%           81.8%
call success                           75.0%           90.0%
call success during incident           60.0%           80.0%
call latency p50                        60ms            40ms
call latency p99                        60ms            40ms
recovery after incident           not in run           2.00s
budget denials                             0               0
gave up (attempts_exhausted)              50              10
";
    assert_eq!(text, expected);
    let widths: Vec<usize> = text.lines().map(|l| l.chars().count()).collect();
    assert!(widths.iter().all(|&w| w == widths[0]), "{widths:?}");
}

/// The pacer against nginx's `limit_req` (issue 18): a client that paces draws far fewer
/// 429s than one that waits out each, and is served as much. The bucket's 429s say
/// `Retry-After: 1` and state no quota, which does not engage the presets' pacer: a
/// `[rate]` table paces it.
#[test]
fn a_pacer_stops_the_leaky_bucket_from_answering_429() {
    let mut s = Scenario::leaky_bucket();
    s.duration = Duration::from_secs(40);
    let policy = Policy::default();
    let off = run(&s, "off", &Policy::builder().no_pacing().build().unwrap()).unwrap();
    let preset = run(&s, "default", &policy).unwrap();
    s.pacer = Some(redial::pacer::PacerConfig::default());
    let on = run(&s, "on", &policy).unwrap();
    let per_served = |r: &Report| r.throttled as f64 / r.server_successes.max(1) as f64;
    assert_eq!(
        (
            preset.throttled,
            preset.server_successes,
            preset.rate_limited
        ),
        (off.throttled, off.server_successes, 0),
        "the presets' pacer is not engaged"
    );
    assert!(per_served(&off) > 3.0, "{}", per_served(&off));
    assert!(per_served(&on) < 0.2, "{}", per_served(&on));
    assert!(on.server_successes as f64 >= 0.95 * off.server_successes as f64);
    assert!(on.rate_limited > 0 && off.rate_limited == 0);
}

/// The acceleration limit (issue 18): one client at 30 calls/s against a server whose
/// allowance grows by a set slope each second. With the presets' pacer (engaged by the
/// quota its 429s state, far from spent) and with a `[rate]` table's, it draws at least
/// 5× fewer 429s per served call than without a pacer, and is served nearly as much, on
/// every seed of 21–30 (no setting was chosen on them). On +5/s, most 429s come after the ramp, from
/// seconds of Poisson demand that rise past the last one's plus 5: the pacer's
/// `THROTTLE_HOLD` keeps the rest of such a second from being sent (4.7× on seed 17
/// without it, the `[rate]` pacer; 2.8× on the worst seed with the presets'). On +1/s
/// each pacer serves at least 90 % as much as no pacer: CUBIC's linear floor
/// (`CubicConfig::linear`) climbs through the curve's plateau, where the limiter, which
/// lets through what was sent the second before plus one, allows no more than is sent
/// (85-87 % on seeds 21 and 27 without it, the `[rate]` pacer). The gentler slopes
/// between (+0.5, +2 and +3 a second) hold too; steeper ones than +5 do not, and are not
/// asserted: there no pacer draws few 429s, half in the first seconds, and a pacer draws
/// its own before it has learned anything (docs/PACER.md, "Other slopes").
#[test]
fn a_pacer_follows_an_acceleration_limit_with_few_429s() {
    let (policy, unpaced) = (
        Policy::default(),
        Policy::builder().no_pacing().build().unwrap(),
    );
    let config = redial::pacer::PacerConfig::default();
    for (slope, served) in [(0.5, 0.9), (1.0, 0.9), (2.0, 0.9), (3.0, 0.9), (5.0, 0.97)] {
        for seed in 21..=30 {
            let both = crate::acceleration::versus(slope, seed, &policy, &unpaced, config).unwrap();
            for (name, v) in ["presets'", "[rate]"].into_iter().zip(both) {
                assert!(
                    v.fewer_429s >= 5.0,
                    "+{slope}/s seed {seed}, the {name} pacer: {:.1}x fewer 429s",
                    v.fewer_429s
                );
                assert!(
                    v.served >= served,
                    "+{slope}/s seed {seed}, the {name} pacer: served {:.3} of the default",
                    v.served
                );
            }
        }
    }
}

/// A fixed-window quota whose 429s say only `Retry-After` (the seconds left in the
/// window): the presets' pacer, which checks a wait longer than a second with one attempt
/// (`Pacer::CHECK_AFTER`), finds the window spent and holds every attempt until it
/// resets, serves more calls than no pacer at a lower load, from one client to a
/// thousand, on every seed of 21-23 (no setting was chosen on them). Over the scenario's
/// full five minutes, seeds 1-5: 70 % of calls against 38 % at 1.0x the load against
/// 2.4x for up to 100 clients, 54 % against 38 % at 1.9x against 2.4x for 1,000; here two
/// minutes, for a debug build.
#[test]
fn the_presets_pacer_holds_for_a_fixed_windows_reset() {
    let unpaced = Policy::builder().no_pacing().build().unwrap();
    for clients in [1, 10, 100, 1000] {
        for seed in 21..=23 {
            let mut s = Scenario::rate_limit();
            s.clients = clients;
            s.budget = BudgetScope::PerClient;
            s.seed = seed;
            // Ten windows of the quota, in two minutes: short enough for a debug build,
            // long enough that the first window's check (one call more for each process
            // that calls once in ten seconds) weighs as little as in a real incident (a
            // 40 s incident: 0.90-0.92 at 1,000 clients).
            s.duration = Duration::from_secs(120);
            s.incidents[0].start = Duration::from_secs(10);
            s.incidents[0].duration = Duration::from_secs(100);
            let paced = run(&s, "default", &Policy::default()).unwrap();
            let off = run(&s, "off", &unpaced).unwrap();
            let ok = |r: &Report| r.incident_call_success_rate().unwrap_or(0.0);
            let load = |r: &Report| r.incident_amplification().unwrap_or(0.0);
            assert!(
                ok(&paced) >= ok(&off) + 0.1,
                "{clients} clients, seed {seed}: {} against {}",
                ok(&paced),
                ok(&off)
            );
            // A thousand processes each learn the window on their own: less to gain.
            let most = if clients < 1000 { 0.8 } else { 0.9 };
            assert!(
                load(&paced) <= most * load(&off),
                "{clients} clients, seed {seed}: {} against {}",
                load(&paced),
                load(&off)
            );
        }
    }
}

/// A brown-out of 429s that say how long to wait (`Retry-After`), sent at random whatever
/// the clients' rate, as a server that sheds with 429, or a quota that others spend,
/// sends them: the presets' pacer, engaged only by a stated quota and checking a wait
/// before it holds for it, serves as many calls as no pacer (within a point), from one
/// client calling once a second to a hundred, whatever the wait, on seeds 21-22 (no
/// setting was chosen on them). Engaged by the hint instead, it served 6 to 26 % of the
/// calls where no pacer served 87 to 99 % (10 clients, `Retry-After: 1`; PACER.md).
#[test]
fn a_brown_out_of_429s_that_say_how_long_to_wait_never_slows_the_presets() {
    let unpaced = Policy::builder().no_pacing().build().unwrap();
    let policy = Policy::default();
    for (clients, rate) in [(1, 1.0), (10, 100.0), (100, 100.0)] {
        for wait_ms in [1_000, 5_000, 30_000] {
            for fail_fraction in [0.2, 0.5] {
                for seed in 21..=22 {
                    let mut s = Scenario::brownout();
                    s.clients = clients;
                    s.arrivals = Arrivals::Poisson { rate };
                    s.budget = BudgetScope::PerClient;
                    s.seed = seed;
                    s.duration = Duration::from_secs(150);
                    s.incidents[0].start = Duration::from_secs(20);
                    s.incidents[0].duration = Duration::from_secs(100);
                    s.incidents[0].kind = IncidentKind::Brownout {
                        fail_fraction,
                        failure: Failure::Throttled { wait_ms },
                    };
                    let ok = |p: &Policy| {
                        let r = run(&s, "x", p).unwrap();
                        r.incident_call_success_rate().unwrap_or(0.0)
                    };
                    let (paced, off) = (ok(&policy), ok(&unpaced));
                    assert!(
                        paced >= off - 0.01,
                        "{clients} clients, 429+{wait_ms}ms at {fail_fraction}, seed {seed}: \
                         {paced:.3} against {off:.3}"
                    );
                }
            }
        }
    }
}
