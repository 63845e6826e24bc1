//! The rate pacer through an adapter (issue 18), in virtual time: a process that never
//! sees a throttle is not paced at all; after a 429, attempts wait for their slots; a
//! slot further than `max_wait` stops the call with `rate_limited`, before the attempt is
//! sent, and says so in the error.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant, SystemTime};

use redial::pacer::{Pacer, PacerConfig};
use redial::sleep::BlockingSleeper;
use redial::{BlockingRetryable, Last, Policy, StopReason};

/// A clock that moves only when the call sleeps, recording each sleep.
#[derive(Clone)]
struct Virtual {
    now: Rc<Cell<Instant>>,
    slept: Rc<std::cell::RefCell<Vec<Duration>>>,
}

impl Virtual {
    fn new() -> Virtual {
        Virtual {
            now: Rc::new(Cell::new(Instant::now())),
            slept: Rc::default(),
        }
    }

    fn advance(&self, by: Duration) {
        self.now.set(self.now.get() + by);
    }

    fn slept(&self) -> Vec<Duration> {
        self.slept.borrow().clone()
    }
}

impl BlockingSleeper for Virtual {
    fn sleep(&mut self, duration: Duration) {
        self.slept.borrow_mut().push(duration);
        self.advance(duration);
    }

    fn now(&self) -> Instant {
        self.now.get()
    }

    fn wall(&self) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }
}

/// A response of `status` with no headers.
fn answer(status: u16) -> Result<http::Response<()>, std::io::Error> {
    let mut r = http::Response::new(());
    *r.status_mut() = http::StatusCode::from_u16(status).expect("a status");
    Ok(r)
}

fn paced(max_wait: Duration) -> Policy {
    let mut rate = PacerConfig::default();
    rate.max_wait = max_wait;
    Policy::builder()
        .pace(rate)
        .max_attempts(1)
        .build()
        .expect("a valid policy")
}

#[test]
fn a_process_never_throttled_is_never_paced() {
    let policy = paced(Duration::from_secs(10));
    let clock = Virtual::new();
    for _ in 0..100 {
        let result = (|| answer(200))
            .retry(&policy)
            .sleeper(clock.clone())
            .call();
        assert!(result.is_ok());
        clock.advance(Duration::from_millis(1));
    }
    assert!(clock.slept().is_empty(), "{:?}", clock.slept());
    assert!(!policy.pacer().expect("on").is_active());
}

#[test]
fn after_a_429_attempts_wait_for_their_slots() {
    let policy = paced(Duration::from_secs(10));
    let clock = Virtual::new();
    // Twenty calls a second for a second, then a 429: the rate is cut below twenty.
    for _ in 0..20 {
        let _ = (|| answer(200))
            .retry(&policy)
            .sleeper(clock.clone())
            .call();
        clock.advance(Duration::from_millis(50));
    }
    let throttled = (|| answer(429))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    assert!(throttled.is_err());
    let pacer = policy.pacer().expect("on");
    assert!(pacer.is_active());
    let rate = pacer.rate(clock.now.get()).expect("pacing");
    assert!(rate < 20.0, "cut: {rate}");
    // Ten calls at once: the first goes, the others wait for slots 1/rate apart.
    for _ in 0..10 {
        let result = (|| answer(200))
            .retry(&policy)
            .sleeper(clock.clone())
            .call();
        assert!(result.is_ok());
    }
    let slept = clock.slept();
    assert!(!slept.is_empty(), "paced calls waited");
    let gap = Duration::from_secs_f64(1.0 / rate);
    let total: Duration = slept.iter().sum();
    assert!(
        total + gap * 2 >= gap * 9,
        "ten calls at once spread over about nine slots: {slept:?} at {rate}/s"
    );
}

#[test]
fn a_slot_past_max_wait_stops_the_call_before_it_is_sent() {
    let policy = paced(Duration::from_millis(1));
    let clock = Virtual::new();
    let _ = (|| answer(429))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    let mut stopped = None;
    for _ in 0..10 {
        let sent = Cell::new(0);
        let result = (|| {
            sent.set(sent.get() + 1);
            answer(200)
        })
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
        if let Err(e) = result {
            assert_eq!(sent.get(), 0, "the stopped call sent nothing");
            stopped = Some(e);
            break;
        }
    }
    let err = stopped.expect("a call was rate limited");
    assert_eq!(err.reason(), StopReason::RateLimited);
    assert_eq!(err.attempts(), 0, "{err}");
    assert!(matches!(err.last(), Last::NotSent), "{err}");
    let text = err.to_string();
    assert!(
        text.starts_with("rate_limited: the pacer's next slot is") && text.contains("not sent"),
        "{text}"
    );
}

#[test]
fn the_async_adapter_ends_a_rate_limited_call_too() {
    use redial::Retryable;
    let policy = paced(Duration::from_millis(1));
    let call = || async { answer(429) };
    let _ = futures_executor::block_on(call.retry(&policy).sleeper(|_| std::future::ready(())));
    let mut stopped = None;
    for _ in 0..10 {
        let ok = || async { answer(200) };
        let result =
            futures_executor::block_on(ok.retry(&policy).sleeper(|_| std::future::ready(())));
        if let Err(e) = result {
            stopped = Some(e);
            break;
        }
    }
    let err = stopped.expect("a call was rate limited, and the future ended");
    assert_eq!(err.reason(), StopReason::RateLimited);
    assert!(matches!(err.last(), Last::NotSent), "{err}");
}

/// One call of a random script: the time since the last, and what the server answers.
#[derive(Clone, Copy, Debug)]
struct Scripted {
    gap_ms: u64,
    throttled: bool,
}

fn script() -> impl proptest::strategy::Strategy<Value = Vec<Scripted>> {
    use proptest::prelude::*;
    proptest::collection::vec(
        (0u64..300, proptest::bool::weighted(0.2))
            .prop_map(|(gap_ms, throttled)| Scripted { gap_ms, throttled }),
        1..60,
    )
}

proptest::proptest! {
    /// Whatever the server answers and whenever calls come: no call waits for the pacer
    /// before the first 429; no call waits longer than `max_wait` in all; a call the pacer
    /// stops sent nothing and says `rate_limited`; every other call sent exactly once.
    #[test]
    fn prop_the_pacer_holds_within_max_wait_and_stops_before_sending(
        calls in script(),
        max_wait_ms in 1u64..2_000,
    ) {
        let max_wait = Duration::from_millis(max_wait_ms);
        let policy = paced(max_wait);
        let clock = Virtual::new();
        let mut throttled_yet = false;
        for call in calls {
            clock.advance(Duration::from_millis(call.gap_ms));
            let before = clock.slept().len();
            let sent = Cell::new(0);
            let result = (|| {
                sent.set(sent.get() + 1);
                answer(if call.throttled { 429 } else { 200 })
            })
            .retry(&policy)
            .sleeper(clock.clone())
            .call();
            let waited: Duration = clock.slept()[before..].iter().sum();
            if !throttled_yet {
                proptest::prop_assert_eq!(waited, Duration::ZERO, "paced before any 429");
            }
            proptest::prop_assert!(waited <= max_wait, "waited {:?} past max_wait {:?}", waited, max_wait);
            match result.as_ref().err().map(|e| e.reason()) {
                Some(StopReason::RateLimited) => {
                    proptest::prop_assert_eq!(sent.get(), 0, "a stopped call sent");
                    proptest::prop_assert!(matches!(result.as_ref().err().map(|e| e.last()), Some(Last::NotSent)));
                }
                _ => {
                    proptest::prop_assert_eq!(sent.get(), 1);
                    throttled_yet |= call.throttled;
                }
            }
        }
    }
}

/// A 429 with `Retry-After: N` and nothing else.
fn after(secs: &'static str) -> Result<http::Response<()>, std::io::Error> {
    let mut r = answer(429)?;
    r.headers_mut()
        .insert("retry-after", http::HeaderValue::from_static(secs));
    Ok(r)
}

/// A 429 with `Retry-After: 1` that states a quota: `remaining` requests left, reset in
/// `reset` seconds.
fn stating(
    remaining: &'static str,
    reset: &'static str,
) -> Result<http::Response<()>, std::io::Error> {
    let mut r = after("1")?;
    let headers = r.headers_mut();
    headers.insert(
        "x-ratelimit-remaining",
        http::HeaderValue::from_static(remaining),
    );
    headers.insert("x-ratelimit-reset", http::HeaderValue::from_static(reset));
    Ok(r)
}

/// A 429 with `Retry-After: 1` and, if `spent`, a quota of 0 left that resets in 5 s.
fn throttled(spent: bool) -> Result<http::Response<()>, std::io::Error> {
    if spent {
        stating("0", "5")
    } else {
        after("1")
    }
}

#[test]
fn with_a_pacer_a_429_teaches_the_pacer_and_only_a_spent_quota_the_gate() {
    let gate = redial::gate::Gate::new(Default::default());
    let policy = paced(Duration::from_secs(10)).with_gate(gate.clone());
    let clock = Virtual::new();
    let _ = (|| throttled(false))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    assert!(policy.pacer().expect("on").is_active(), "the pacer cut");
    assert_eq!(
        gate.reset(),
        None,
        "a leaky bucket's Retry-After holds no one"
    );
    let _ = (|| throttled(true))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    assert!(gate.reset().is_some(), "a spent quota holds the fleet");
    // With the presets' pacer, which this 429 only now engages, the gate learns from the
    // 429's hint, as without a pacer.
    let plain = Policy::builder()
        .max_attempts(1)
        .build()
        .expect("valid")
        .with_gate(redial::gate::Gate::new(Default::default()));
    let _ = (|| throttled(false))
        .retry(&plain)
        .sleeper(clock.clone())
        .call();
    assert!(plain.gate().expect("set").reset().is_some());
}

#[test]
fn a_call_that_waited_for_the_pacer_says_how_long_and_at_what_rate() {
    let policy = paced(Duration::from_secs(10));
    let clock = Virtual::new();
    let _ = (|| answer(429))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    // Once the throttle's hold is over, the first call after the cut takes the free slot;
    // the next waits for its own.
    clock.advance(redial::pacer::Pacer::THROTTLE_HOLD);
    assert!((|| answer(200))
        .retry(&policy)
        .sleeper(clock.clone())
        .call()
        .is_ok());
    assert!(clock.slept().is_empty());
    let err = (|| answer(500))
        .retry(&policy)
        .sleeper(clock.clone())
        .call()
        .expect_err("a 500 with one attempt allowed");
    let slept: Duration = clock.slept().iter().sum();
    assert!(!slept.is_zero(), "the call waited for a slot");
    // Kept in milliseconds, each sleep rounded up: never less than the wait.
    let waited = err.paced();
    assert!(
        waited >= slept && waited < slept + Duration::from_millis(10),
        "{waited:?} for {slept:?}"
    );
    let rate = policy
        .pacer()
        .and_then(|p| p.rate(clock.now.get()))
        .expect("pacing");
    let text = err.to_string();
    let said = format!(
        "; waited {} for the rate pacer: the server allows about {rate:.1} requests/s",
        redial::duration::Rounded(waited)
    );
    assert!(text.ends_with(&said), "{text}\nwants the end {said}");
    // A call that never waited says nothing of the pacer.
    let unpaced = (|| answer(500))
        .retry(&paced(Duration::from_secs(10)))
        .sleeper(Virtual::new())
        .call()
        .expect_err("a 500");
    assert_eq!(unpaced.paced(), Duration::ZERO);
    assert!(!unpaced.to_string().contains("pacer"), "{unpaced}");
}

#[test]
fn a_scope_named_by_the_caller_keeps_its_own_rate_across_calls() {
    use redial::classify::RequestFacts;
    use redial::pacer::PacerKey;
    let policy = paced(Duration::from_secs(10));
    let clock = Virtual::new();
    let facts = |key: u64| RequestFacts::new(&http::Method::GET).with_scope(PacerKey::new(key));
    let _ = (|| answer(429))
        .retry(&policy)
        .facts(facts(1))
        .sleeper(clock.clone())
        .call();
    // Scope 2 and calls naming none are not paced; scope 1 is, call after call.
    for scope in [Some(2), None] {
        for _ in 0..10 {
            let call = (|| answer(200)).retry(&policy).sleeper(clock.clone());
            let call = match scope {
                Some(key) => call.facts(facts(key)),
                None => call,
            };
            assert!(call.call().is_ok());
        }
    }
    assert!(clock.slept().is_empty(), "{:?}", clock.slept());
    for _ in 0..3 {
        let result = (|| answer(200))
            .retry(&policy)
            .facts(facts(1))
            .sleeper(clock.clone())
            .call();
        assert!(result.is_ok());
    }
    assert!(!clock.slept().is_empty(), "scope 1 still paces");
}

/// The presets' pacer (`Engage::Quota`) at `max_attempts = 1`.
fn preset() -> Policy {
    Policy::builder()
        .max_attempts(1)
        .build()
        .expect("a valid policy")
}

/// Calls made `gap` apart for `n` calls, each answered by `answer(i)`.
fn calls(
    policy: &Policy,
    clock: &Virtual,
    n: usize,
    gap: Duration,
    answer: impl Fn(usize) -> Result<http::Response<()>, std::io::Error>,
) {
    for i in 0..n {
        let _ = (|| answer(i)).retry(policy).sleeper(clock.clone()).call();
        clock.advance(gap);
    }
}

#[test]
fn the_presets_pacer_is_never_engaged_by_429s_that_say_no_wait() {
    let policy = preset();
    let clock = Virtual::new();
    // A brown-out of bare 429s: half of 600 calls at 20 a second.
    calls(&policy, &clock, 600, Duration::from_millis(50), |i| {
        answer(if i % 2 == 0 { 429 } else { 200 })
    });
    let pacer = policy.pacer().expect("every preset paces");
    assert!(!pacer.listens() && !pacer.is_active());
    assert!(
        clock.slept().is_empty(),
        "no call waited: {:?}",
        clock.slept()
    );
}

/// A 429 with `Retry-After: 1` that states a quota far from spent: 5,000 requests left
/// for a minute.
fn stating_a_quota() -> Result<http::Response<()>, std::io::Error> {
    stating("5000", "60")
}

#[test]
fn the_presets_pacer_is_never_engaged_by_429s_that_say_retry_after_1() {
    // nginx's `limit_req`, or a brown-out whose 429s say `Retry-After: 1`: a quarter of
    // 600 calls at 20 a second. Only a [rate] table paces such a limiter.
    let policy = preset();
    let clock = Virtual::new();
    calls(&policy, &clock, 600, Duration::from_millis(50), |i| {
        if i % 4 == 0 {
            after("1")
        } else {
            answer(200)
        }
    });
    let pacer = policy.pacer().expect("every preset paces");
    assert!(!pacer.is_active());
    assert!(clock.slept().is_empty(), "{:?}", clock.slept());
}

#[test]
fn a_429_that_states_a_quota_engages_the_presets_pacer() {
    let policy = preset();
    let clock = Virtual::new();
    let pacer = policy.pacer().expect("every preset paces");
    // Twenty calls a second, all served, then a 429 that states the server's quota: the
    // pacer listens from there, and measures before it cuts.
    calls(&policy, &clock, 40, Duration::from_millis(50), |_| {
        answer(200)
    });
    assert!(!pacer.listens());
    calls(&policy, &clock, 1, Duration::from_millis(50), |_| {
        stating_a_quota()
    });
    assert!(pacer.listens() && !pacer.is_active(), "measuring first");
    // A second of twenty calls a second, every fourth throttled: still measuring.
    calls(&policy, &clock, 19, Duration::from_millis(50), |i| {
        if i % 4 == 3 {
            stating_a_quota()
        } else {
            answer(200)
        }
    });
    assert!(
        !pacer.is_active(),
        "throttles within a second of the first do not cut"
    );
    assert!(clock.slept().is_empty());
    // A 429 that states nothing does not cut, even now.
    calls(&policy, &clock, 1, Duration::ZERO, |_| after("1"));
    assert!(!pacer.is_active(), "a bare 429 teaches nothing");
    // The next one that states the quota cuts from the rate measured, twenty a second.
    calls(&policy, &clock, 1, Duration::ZERO, |_| stating_a_quota());
    let rate = pacer.rate(clock.now.get()).expect("pacing");
    assert!(
        rate > 10.0 && rate < 16.0,
        "cut to about 70 % of 20/s: {rate}"
    );
    // Now calls made at once wait for their slots.
    calls(&policy, &clock, 5, Duration::ZERO, |_| answer(200));
    assert!(!clock.slept().is_empty(), "paced calls waited");
}

/// The presets' policy after twenty calls 50 ms apart that succeed, then one whose 429
/// says `Retry-After: secs`.
fn after_a_429_saying(secs: &'static str) -> (Policy, Virtual) {
    let policy = preset();
    let clock = Virtual::new();
    calls(&policy, &clock, 20, Duration::from_millis(50), |_| {
        answer(200)
    });
    calls(&policy, &clock, 1, Duration::ZERO, |_| after(secs));
    (policy, clock)
}

/// How long the calls have slept in all.
fn slept(clock: &Virtual) -> Duration {
    clock.slept().iter().sum()
}

#[test]
fn a_wait_that_states_no_quota_holds_until_one_call_checks_it() {
    // A 429 saying `Retry-After: 5` and no quota: a window's reset, or a brown-out's
    // wait. The next call is the check: it waits `CHECK_AFTER`, is made, and succeeds.
    let (policy, clock) = after_a_429_saying("5");
    let made = Cell::new(0);
    let result = (|| {
        made.set(made.get() + 1);
        answer(200)
    })
    .retry(&policy)
    .sleeper(clock.clone())
    .call();
    assert!(result.is_ok() && made.get() == 1);
    assert!(
        slept(&clock) >= Pacer::CHECK_AFTER
            && slept(&clock) <= Pacer::CHECK_AFTER + Duration::from_millis(300),
        "held until the check: {:?}",
        clock.slept()
    );
    // Nothing was spent: such a wait now holds nothing, for `CHECKED_FOR`.
    let before = slept(&clock);
    calls(&policy, &clock, 1, Duration::ZERO, |_| after("5"));
    calls(&policy, &clock, 1, Duration::ZERO, |_| answer(200));
    assert_eq!(slept(&clock), before, "{:?}", clock.slept());
}

#[test]
fn a_check_refused_with_the_windows_end_holds_until_it() {
    // A fixed window's 429: open again in 5 s. The check, 2 s later, is refused with
    // the window's own end (3 s left): the window is spent.
    let (policy, clock) = after_a_429_saying("5");
    let check = (|| after("3")).retry(&policy).sleeper(clock.clone()).call();
    assert!(check.is_err());
    // The next call waits for the window to open, in the pacer, instead of drawing
    // another 429.
    let before = slept(&clock);
    let result = (|| answer(200))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    assert!(result.is_ok());
    let waited = slept(&clock) - before;
    assert!(
        waited >= Duration::from_millis(2800) && waited <= Duration::from_millis(3300),
        "held until the window opened: {:?}",
        clock.slept()
    );
}

#[test]
fn a_429_that_says_wait_a_second_does_not_hold_it() {
    // nginx's `limit_req`: `Retry-After: 1` names its next slot, not a window.
    let (policy, clock) = after_a_429_saying("1");
    let result = (|| answer(200))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    assert!(result.is_ok());
    assert!(clock.slept().is_empty(), "{:?}", clock.slept());
}
