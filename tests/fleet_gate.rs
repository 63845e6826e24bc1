//! The rate-limit gate through the adapters, in virtual time: a policy with a gate holds a
//! call's first attempt until the reset another call learned (from a 429, or from a
//! response whose quota says 0 left), then lets it go; its retries are never held (they
//! wait for their own hint), and a policy without a gate holds nothing. Each adapter waits
//! where it makes its first attempt: the blocking loop, the future, the stream (its first
//! open) and the tower layer (before it polls its service) are each run here.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use common::clock::Virtual;
use redial::gate::{Gate, GateConfig};
use redial::sleep::Sleeper;
use redial::{BlockingRetryable, Policy, Retryable, Transport};

fn response(status: u16, headers: &[(&str, &str)]) -> Result<http::Response<()>, Transport> {
    let mut r = http::Response::builder().status(status);
    for (k, v) in headers {
        r = r.header(*k, *v);
    }
    Ok(r.body(()).expect("a valid response"))
}

/// When a blocking call's (one, successful) attempt was made on `clock`.
fn made_at(policy: &Policy, clock: &Virtual) -> Duration {
    let mut made_at = None;
    let result = (|| {
        made_at = Some(clock.elapsed());
        response(200, &[])
    })
    .retry(policy)
    .sleeper(clock.clone())
    .call();
    assert!(result.is_ok());
    made_at.expect("the attempt was made")
}

/// A policy whose gate learned, at the start of a fresh virtual clock, that the quota
/// resets in `secs` seconds.
fn held_for(secs: u64) -> (Policy, Virtual) {
    let (policy, clock) = (gated(), Virtual::new());
    let gate = policy.gate().expect("a gate");
    gate.learn(Duration::from_secs(secs), Sleeper::wall(&clock));
    (policy, clock)
}

/// A gate with no ramp: a held attempt goes at the reset plus the usual spread.
fn gated() -> Policy {
    Policy::default().with_gate(Gate::new(GateConfig::new(
        Duration::ZERO,
        Duration::from_secs(60),
    )))
}

const LIMITED: [(&str, &str); 1] = [("retry-after", "2")];

#[test]
fn blocking_a_first_attempt_waits_for_the_reset_a_429_taught() {
    let policy = gated();
    let clock = Virtual::new();
    // A call gets a 429 (reset in 2s), then a 200: the gate learns the reset.
    let mut answers = [response(429, &LIMITED), response(200, &[])].into_iter();
    let first = (|| answers.next().unwrap_or(Err(Transport::Other)))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    assert!(first.is_ok());
    let retry = clock.sleeps()[0];
    assert!(retry >= Duration::from_secs(2), "{retry:?}");

    // A second call starting when the first did, 2s before the reset: held, then made.
    let clock = clock.restarted();
    let made_at = made_at(&policy, &clock);
    assert!(
        made_at >= Duration::from_secs(2) && made_at <= Duration::from_millis(2_200),
        "made at {made_at:?}: the reset plus the usual spread"
    );
}

#[test]
fn blocking_a_spent_quota_on_a_success_holds_the_next_call() {
    let policy = gated();
    let clock = Virtual::new();
    let spent = [
        ("x-ratelimit-remaining-requests", "0"),
        ("x-ratelimit-reset-requests", "1.5s"),
    ];
    let first = (|| response(200, &spent))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    assert!(first.is_ok());
    assert!(clock.sleeps().is_empty(), "the call itself is not held");
    assert!(made_at(&policy, &clock) >= Duration::from_millis(1_500));
}

#[test]
fn without_a_gate_nothing_is_held() {
    let policy = Policy::default();
    let clock = Virtual::new();
    let mut answers = [response(429, &LIMITED), response(200, &[])].into_iter();
    let _ = (|| answers.next().unwrap_or(Err(Transport::Other)))
        .retry(&policy)
        .sleeper(clock.clone())
        .call();
    let before = clock.elapsed();
    assert_eq!(made_at(&policy, &clock), before);
}

#[test]
fn async_a_first_attempt_waits_for_the_reset_and_retries_are_not_held() {
    let (policy, clock) = held_for(3);
    // Held until the reset; then a 429 that says the same reset again (1ms later): the
    // retry waits for its hint only, not held a second time by the gate.
    let made = RefCell::new(Vec::new());
    let result = futures_executor::block_on(
        (|| {
            made.borrow_mut().push(clock.elapsed());
            let first = made.borrow().len() == 1;
            core::future::ready(if first {
                response(429, &[("retry-after-ms", "1")])
            } else {
                response(200, &[])
            })
        })
        .retry(&policy)
        .sleeper(clock.clone()),
    );
    assert!(result.is_ok());
    let made = made.into_inner();
    assert_eq!(made.len(), 2);
    assert!(made[0] >= Duration::from_secs(3) && made[0] <= Duration::from_millis(3_300));
    assert!(made[1] - made[0] <= Duration::from_millis(2));
}

#[test]
fn the_final_error_says_how_long_the_gate_held_the_call() {
    let (policy, clock) = held_for(2);
    let err = (|| response(400, &[]))
        .retry(&policy)
        .sleeper(clock.clone())
        .call()
        .expect_err("a 400 is final");
    // Kept in tens of milliseconds (rounded up) by the call.
    let slept = clock.elapsed();
    assert!(err.held() >= slept && err.held() < slept + Duration::from_millis(10));
    assert!(err.held() >= Duration::from_secs(2));
    assert!(err.to_string().contains("by the rate-limit gate"), "{err}");
    // A call the gate did not hold says nothing of it.
    let err = (|| response(400, &[]))
        .retry(&policy)
        .sleeper(clock.clone())
        .call()
        .expect_err("a 400 is final");
    assert_eq!(err.held(), Duration::ZERO);
    assert!(!err.to_string().contains("gate"), "{err}");
}

#[test]
fn tower_a_first_attempt_waits_for_the_reset_before_the_service_is_polled() {
    use tower::{Layer, ServiceExt};
    let (policy, clock) = held_for(2);
    let made = Rc::new(RefCell::new(None));
    let (at, seen) = (clock.clone(), made.clone());
    let inner = tower::service_fn(move |_: http::Request<String>| {
        *seen.borrow_mut() = Some(at.elapsed());
        core::future::ready(response(200, &[]))
    });
    let service = redial::tower::RetryLayer::new(policy)
        .sleeper(clock.clone())
        .layer(inner);
    let result = futures_executor::block_on(service.oneshot(http::Request::new(String::new())));
    assert!(result.is_ok());
    let made_at = made.borrow().expect("the request was sent");
    assert!(made_at >= Duration::from_secs(2), "sent at {made_at:?}");
}

/// A stream of these items, all ready.
struct Items(std::vec::IntoIter<Result<&'static str, redial::stream::StreamError<std::io::Error>>>);

impl futures_core::Stream for Items {
    type Item = Result<&'static str, redial::stream::StreamError<std::io::Error>>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}

#[test]
fn stream_a_first_open_waits_for_the_reset() {
    let (policy, clock) = held_for(2);
    let mut opened_at = None;
    let events = redial::retry_stream(
        &policy,
        || {
            opened_at = Some(clock.elapsed());
            core::future::ready(Ok::<_, redial::stream::StreamError<std::io::Error>>(
                http::Response::new(()),
            ))
        },
        |_| Items(vec![Ok("message_start"), Ok("message_stop")].into_iter()),
    )
    .sleeper(clock.clone());
    let seen: Vec<_> = futures_executor::block_on_stream(Box::pin(events)).collect();
    assert_eq!(seen.len(), 2);
    let opened_at = opened_at.expect("opened");
    assert!(
        opened_at >= Duration::from_secs(2),
        "opened at {opened_at:?}"
    );
}
