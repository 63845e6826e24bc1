//! The core never allocates per decision (DESIGN.md, "Layers"): classifying a response with
//! its headers, reading the server's hint, picking the delay and charging the budget all
//! run on the stack.
//!
//! A counting global allocator proves it. It counts per thread, so the tests of this file
//! can run in parallel; everything built before the measured region (headers, policy,
//! random generator) may allocate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use redial::budget::BudgetConfig;
use redial::classify::{Outcome, RequestFacts};
use redial::hints::HintSource;
use redial::machine::{Action, Basis};
use redial::{Cause, ErrorType, Policy, Stop, Transport, Verdict};

struct Counting;

thread_local! {
    // `const` and free of `Drop`: reading it never allocates or registers a destructor,
    // so the allocator may use it.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

// SAFETY: every method hands the request to the system allocator unchanged; counting
// touches only a thread-local integer.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap allocations `f` makes on this thread.
fn allocations(f: impl FnOnce()) -> u64 {
    let before = ALLOCATIONS.with(Cell::get);
    f();
    ALLOCATIONS.with(Cell::get) - before
}

/// The default policy with a bucket deep enough for every round: a drained one would
/// stop the decisions early, on another path.
fn deep_policy() -> Policy {
    Policy::builder()
        .budget(BudgetConfig::new(10_000, 5, 10, 1))
        .build()
        .expect("a valid policy")
}

/// The policies every decision is measured on: the AWS bucket, deep enough for every
/// round, and `Policy::default()` (the adaptive budget, on by default).
fn policies() -> [Policy; 2] {
    [deep_policy(), Policy::default()]
}

/// A clock that moves: each reading `step` after the last, so that an adaptive budget
/// folds its window (at most once per 1/1024 of it) as decisions come.
struct Clock {
    now: Instant,
    step: Duration,
}

impl Clock {
    fn new(step: Duration) -> Clock {
        Clock {
            now: Instant::now(),
            step,
        }
    }

    fn tick(&mut self) -> Instant {
        self.now += self.step;
        self.now
    }
}

/// How many decisions each measured region makes: one could hide behind a lucky path.
const ROUNDS: usize = 100;

/// The fixtures' day, 2026-11-23T10:00:00Z, when the 429 was sent.
fn wall() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_795_428_000)
}

/// The 429 of `shared/fixtures/anthropic-errors.jsonl`, header for header
/// (`fixture_headers_match_the_shared_file` keeps them in step).
const FIXTURE_429: [(&str, &str); 9] = [
    ("content-type", "application/json"),
    ("request-id", "req_011CSHoEeqs5C35K2UUqR7F8"),
    ("retry-after", "17"),
    ("anthropic-ratelimit-requests-limit", "50"),
    ("anthropic-ratelimit-requests-remaining", "0"),
    ("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:17Z"),
    ("anthropic-ratelimit-tokens-limit", "30000"),
    ("anthropic-ratelimit-tokens-remaining", "12000"),
    ("anthropic-ratelimit-tokens-reset", "2026-11-23T10:00:05Z"),
];

const FIXTURE_429_BODY: &[u8] = br#"{"type": "error", "error": {"type": "rate_limit_error", "message": "Number of request tokens has exceeded your per-minute rate limit"}, "request_id": "req_011CSHoEeqs5C35K2UUqR7F8"}"#;

fn headers(retry_after: Option<&'static str>) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in FIXTURE_429 {
        let value = match (name, retry_after) {
            ("retry-after", None) => continue,
            ("retry-after", Some(v)) => v,
            _ => value,
        };
        map.insert(
            HeaderName::from_static(name),
            HeaderValue::from_static(value),
        );
    }
    map
}

/// Makes `ROUNDS` full decisions for a POST that got `status` with `headers` (and the
/// fixture's body when `with_body`), on each of [`policies`] with a moving clock, checks
/// each with `expect`, and returns the allocations made.
fn decisions(
    status: StatusCode,
    headers: &HeaderMap,
    with_body: bool,
    expect: impl Fn(&Action),
) -> u64 {
    policies()
        .iter()
        .map(|policy| decisions_on(policy, status, headers, with_body, &expect))
        .sum()
}

fn decisions_on(
    policy: &Policy,
    status: StatusCode,
    headers: &HeaderMap,
    with_body: bool,
    expect: impl Fn(&Action),
) -> u64 {
    let post = RequestFacts::new(&Method::POST);
    let mut rng = fastrand::Rng::with_seed(5);
    // 7 ms a decision: a few decisions share each fold of the default 30 s window.
    let mut clock = Clock::new(Duration::from_millis(7));
    let wall = wall();
    let mut decide = |rng: &mut fastrand::Rng| {
        let now = clock.tick();
        let mut outcome = Outcome::response(status, headers);
        if with_body {
            if let Some(t) =
                redial::classify::read_error_body(black_box(FIXTURE_429_BODY)).error_type
            {
                outcome = outcome.with_error_type(t);
            }
        } else if !status.is_success() {
            outcome = outcome.with_error_type(ErrorType::RateLimit);
        }
        let verdict = policy.classify(&post, black_box(&outcome), wall);
        let mut call = policy.start(now);
        call.on_outcome(&verdict, now, rng)
    };
    // Once outside the region: anything lazily set up on first use is not per decision.
    expect(&decide(&mut rng));
    allocations(|| {
        for _ in 0..ROUNDS {
            let action = decide(&mut rng);
            expect(&action);
            let _ = black_box(action);
        }
    })
}

/// A retry that honours a 17 s hint from `source`.
fn retry_after_hint(source: HintSource) -> impl Fn(&Action) {
    move |action| {
        let Some(retry) = action.retry() else {
            panic!("expected a retry, got {action:?}");
        };
        let Basis::Hint(hint) = retry.basis else {
            panic!("expected the server's hint, got {retry:?}");
        };
        assert_eq!((hint.source, hint.wait), (source, Duration::from_secs(17)));
        assert!(retry.delay >= hint.wait && retry.delay <= hint.wait + Duration::from_secs(1));
    }
}

#[test]
fn a_429_with_delay_seconds_allocates_nothing() {
    let h = headers(Some("17"));
    let n = decisions(
        StatusCode::TOO_MANY_REQUESTS,
        &h,
        false,
        retry_after_hint(HintSource::RetryAfter),
    );
    assert_eq!(n, 0, "allocations in {ROUNDS} decisions");
}

#[test]
fn a_429_with_an_http_date_allocates_nothing() {
    // RFC 9110 §5.6.7's three forms, each 17 s after the wall clock.
    for date in [
        "Mon, 23 Nov 2026 10:00:17 GMT",
        "Monday, 23-Nov-26 10:00:17 GMT",
        "Mon Nov 23 10:00:17 2026",
    ] {
        let h = headers(Some(date));
        let n = decisions(
            StatusCode::TOO_MANY_REQUESTS,
            &h,
            false,
            retry_after_hint(HintSource::RetryAfter),
        );
        assert_eq!(n, 0, "allocations in {ROUNDS} decisions with {date:?}");
    }
}

#[test]
fn a_429_with_only_rate_limit_resets_allocates_nothing() {
    // Without retry-after the exhausted requests bucket's RFC 3339 reset decides.
    let h = headers(None);
    let n = decisions(
        StatusCode::TOO_MANY_REQUESTS,
        &h,
        false,
        retry_after_hint(HintSource::AnthropicReset),
    );
    assert_eq!(n, 0, "allocations in {ROUNDS} decisions");
}

#[test]
fn a_429_with_an_ietf_ratelimit_field_allocates_nothing() {
    // The RFC 9651 reader validates a byte sequence, an escaped string and a display
    // string in place (`sfv` would allocate for each), over two field lines.
    let mut h = HeaderMap::new();
    h.append(
        "ratelimit",
        HeaderValue::from_static(r#""default";r=0;t=17;pk=:dHJpYWwxMjEzMjM=:;burst"#),
    );
    h.append(
        "ratelimit",
        HeaderValue::from_static(r#""a\"b";r=5;t=3;note=%"f%c3%bc""#),
    );
    let n = decisions(
        StatusCode::TOO_MANY_REQUESTS,
        &h,
        false,
        retry_after_hint(HintSource::RateLimit),
    );
    assert_eq!(n, 0, "allocations in {ROUNDS} decisions");
}

#[cfg(feature = "json")]
#[test]
fn a_429_with_its_body_read_allocates_nothing() {
    // The error type and request id borrow from the body.
    let h = headers(Some("17"));
    let n = decisions(
        StatusCode::TOO_MANY_REQUESTS,
        &h,
        true,
        retry_after_hint(HintSource::RetryAfter),
    );
    assert_eq!(n, 0, "allocations in {ROUNDS} decisions");
}

#[test]
fn the_200_path_allocates_nothing() {
    let h = headers(Some("17"));
    let n = decisions(StatusCode::OK, &h, false, |action| {
        assert_eq!(action, &Action::Stop(Stop::Succeeded { attempts: 1 }));
    });
    assert_eq!(n, 0, "allocations in {ROUNDS} decisions");
}

#[test]
fn a_whole_call_allocates_nothing() {
    // Failures until the attempts run out, then a call that succeeds after a transport
    // timeout (its tokens go back to the budget): every branch of the machine but the
    // rarer stops.
    let policy = deep_policy();
    let mut rng = fastrand::Rng::with_seed(9);
    let now = Instant::now();
    let busy = Verdict::retryable(Cause::status(503));
    let timeout = Verdict::retryable(Cause::transport(Transport::Timeout));
    let n = allocations(|| {
        for _ in 0..ROUNDS {
            let mut call = policy.start(now);
            assert!(call.on_outcome(&busy, now, &mut rng).retry().is_some());
            assert!(call.on_outcome(&busy, now, &mut rng).retry().is_some());
            let stop = call.on_outcome(&busy, now, &mut rng);
            assert!(matches!(stop, Action::Stop(Stop::AttemptsExhausted { .. })));
            assert_eq!(
                call.on_outcome(&busy, now, &mut rng),
                stop,
                "it stays stopped"
            );

            let mut call = policy.start(now);
            assert!(call.on_outcome(&timeout, now, &mut rng).retry().is_some());
            let done = call.on_outcome(&Verdict::Success, now, &mut rng);
            assert_eq!(done, Action::Stop(Stop::Succeeded { attempts: 2 }));
        }
    });
    assert_eq!(n, 0, "allocations in {ROUNDS} calls");
    assert_eq!(
        policy.rules().budget().map(|b| b.available()),
        Some(10_000 - 10 * ROUNDS as u32),
        "each exhausted call kept its 10 tokens; each timeout retry gave its 10 back"
    );
}

#[test]
fn a_whole_call_on_the_default_budget_allocates_nothing() {
    // `Policy::default()`'s adaptive budget on a clock that moves 50 ms an attempt, so that
    // every decision folds the 30 s window: healthy calls, bad luck retried, a paced 429
    // (its retry free), then an outage of 503s whose retries the budget first allows and
    // then refuses. Every path of the budget's decision, on the stack.
    let policy = Policy::default();
    let mut rng = fastrand::Rng::with_seed(9);
    let mut clock = Clock::new(Duration::from_millis(50));
    let busy = Verdict::retryable(Cause::status(503));
    let bad_luck = Verdict::retryable(Cause::status(500));
    let paced = Verdict::Retryable {
        cause: Cause::status(429),
        hint: Some(redial::hints::Hint {
            wait: Duration::from_secs(1),
            source: HintSource::RetryAfter,
        }),
    };
    // Outside the region: the first decision claims this thread's stripe.
    let mut call = policy.start(clock.tick());
    assert!(call
        .on_outcome(&bad_luck, clock.tick(), &mut rng)
        .retry()
        .is_some());
    let (mut retried, mut refused) = (0u32, 0u32);
    let n = allocations(|| {
        for round in 0..ROUNDS {
            if round < ROUNDS / 2 {
                for verdict in [&Verdict::Success, &bad_luck, &paced] {
                    let mut call = policy.start(clock.tick());
                    let first = call.on_outcome(verdict, clock.tick(), &mut rng);
                    let done = call.on_outcome(&Verdict::Success, clock.tick(), &mut rng);
                    assert!(first.is_stop() || done.is_stop(), "{first:?} then {done:?}");
                    retried += u32::from(first.retry().is_some());
                }
                continue;
            }
            let mut call = policy.start(clock.tick());
            loop {
                match call.on_outcome(&busy, clock.tick(), &mut rng) {
                    Action::Retry(_) => retried += 1,
                    Action::Stop(Stop::Throttled { .. }) => {
                        refused += 1;
                        break;
                    }
                    Action::Stop(_) => break,
                }
            }
        }
    });
    assert_eq!(n, 0, "allocations in {ROUNDS} rounds");
    assert!(retried > ROUNDS as u32, "retries allowed: {retried}");
    assert!(
        refused > 0,
        "no retry refused: the outage never reached the limit"
    );
}

#[test]
fn the_counter_sees_allocations() {
    // Without this, a counter that never counts would pass every test above.
    let n = allocations(|| drop(black_box(vec![1u8; 16])));
    assert_eq!(n, 1);
}

#[cfg(feature = "json")]
#[test]
fn fixture_headers_match_the_shared_file() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/anthropic-errors.jsonl"
    );
    let text = std::fs::read_to_string(path).expect("the fixtures are in the repository");
    let response = text
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"))
        .find(|r| r["status"] == 429)
        .expect("the fixtures have a 429");
    let mut sent: Vec<(String, String)> = response["headers"]
        .as_object()
        .expect("headers")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().expect("a string").to_owned()))
        .collect();
    let mut copied: Vec<(String, String)> = FIXTURE_429
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    sent.sort();
    copied.sort();
    assert_eq!(copied, sent);
    assert_eq!(
        FIXTURE_429_BODY,
        response["body"].as_str().expect("a body").as_bytes()
    );
}

#[test]
fn the_pacer_allocates_nothing_per_attempt() {
    use redial::pacer::{PacerKey, Pacers, Quota};
    let pacers = Pacers::default();
    let key = PacerKey::host("api.example.com");
    let t0 = Instant::now();
    // A key's pacer is made when the key first claims its slot: once per host, not per
    // attempt (a table of 64 made at once would cost every policy 65 pacers).
    assert_eq!(
        allocations(|| {
            black_box(pacers.get(key));
        }),
        1
    );
    assert_eq!(
        allocations(|| {
            black_box(pacers.get(key));
        }),
        0
    );
    let other = PacerKey::host("other.example.com");
    assert_eq!(
        allocations(|| {
            black_box(pacers.get(other));
        }),
        1
    );
    // Inactive (no throttle seen), then active, then a claimed slot asked again.
    let n = allocations(|| {
        let p = pacers.get(key);
        for i in 0..100 {
            let now = t0 + Duration::from_millis(i);
            black_box(p.acquire(now, None));
            p.on_response(now, false, false, None);
        }
        p.on_response(t0 + Duration::from_millis(100), true, false, None);
        let q = Quota {
            remaining: 3,
            reset: Duration::from_secs(1),
            limit: None,
        };
        for i in 100..200 {
            let now = t0 + Duration::from_millis(i);
            if let redial::pacer::Acquire::Wait { ticket, .. } = black_box(p.acquire(now, None)) {
                black_box(p.ready(now, ticket, None));
                p.release(now);
            }
            p.on_response(now, i % 50 == 0, false, Some(q));
        }
        black_box(pacers.get(other).acquire(t0, None));
    });
    assert_eq!(n, 0);
}
