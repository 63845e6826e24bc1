//! The shared scenarios on tokio, with tokio's timer and its paused clock: the waits are
//! the core's to the nanosecond, and take no real time.

mod common;

use std::future::IntoFuture;
use std::time::Duration;

use redial::sleep::TokioSleeper;
use redial::Retryable;
use redial::{Policy, StopReason, Transport};

#[tokio::test(start_paused = true)]
async fn shared_scenarios_reach_the_cores_decisions() {
    for s in common::scenarios() {
        let started = tokio::time::Instant::now();
        let (run, _) = common::run_async(&s, TokioSleeper).await;
        common::check(&s, &run);
        // In virtual time the call took the waits it asked for, rounded up to tokio's
        // millisecond timer ticks.
        let total: Duration = run.waits.iter().sum();
        let elapsed = started.elapsed();
        let slack = Duration::from_millis(run.waits.len() as u64);
        assert!(
            elapsed >= total && elapsed <= total + slack,
            "{}: {elapsed:?} for {total:?}",
            s.name
        );
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_in_virtual_time() {
    let policy = Policy::default();
    let mut calls = 0;
    let started = tokio::time::Instant::now();
    let result = (|| {
        calls += 1;
        let status = if calls == 1 { 429 } else { 200 };
        async move {
            http::Response::builder()
                .status(status)
                .header("retry-after", "17")
                .body(())
                .map_err(|_| Transport::Other)
        }
    })
    .retry(&policy)
    .sleeper(TokioSleeper)
    .await;
    assert!(result.is_ok());
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(17) && waited <= Duration::from_millis(18_700),
        "{waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn attempt_timeout_cuts_off_a_hung_attempt_as_a_transport_timeout() {
    // Every attempt hangs: each is cut off after 5s and counts as a transport timeout,
    // which the budget charges `timeout_cost` (10), not `retry_cost` (5), and which the
    // final error names. The `aws` bucket, whose level shows each charge.
    let policy = Policy::builder()
        .budget(redial::budget::BudgetConfig::new(500, 5, 10, 1))
        .build()
        .expect("a valid policy");
    let budget = policy
        .rules()
        .budget()
        .expect("the default has a budget")
        .clone();
    let mut calls = 0;
    let started = tokio::time::Instant::now();
    let err = (|| {
        calls += 1;
        async move {
            std::future::pending::<()>().await;
            Ok::<_, Transport>(http::Response::new(()))
        }
    })
    .retry(&policy)
    .idempotent()
    .sleeper(TokioSleeper)
    .attempt_timeout(Duration::from_secs(5))
    .await
    .unwrap_err();
    assert_eq!(calls, 3);
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert!(err.is_timeout(), "{err}");
    assert!(err.to_string().contains("timed out after 5s"), "{err}");
    assert_eq!(
        budget.available(),
        500 - 2 * 10,
        "two retries after timeouts"
    );
    assert!(started.elapsed() >= Duration::from_secs(15));
}

#[tokio::test(start_paused = true)]
async fn a_bodys_request_id_reaches_the_final_error() {
    // The design: "the request-id header, and request_id in the body, are kept for every
    // attempt so a final error can name them". These responses carry no request-id header.
    let policy = Policy::default();
    let mut calls = 0;
    let err = (|| {
        calls += 1;
        let body = format!(
            r#"{{"type":"error","error":{{"type":"overloaded_error","message":"Overloaded"}},"request_id":"req_body_{calls}"}}"#
        );
        async move {
            let response = http::Response::builder()
                .status(529)
                .body(body)
                .map_err(|_| Transport::Other)?;
            Ok::<_, Transport>(redial::classify::with_error_type(response))
        }
    })
    .retry(&policy)
    .sleeper(TokioSleeper)
    .await
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(
        err.request_ids().iter().collect::<Vec<_>>(),
        ["req_body_1", "req_body_2", "req_body_3"]
    );
}

#[tokio::test(start_paused = true)]
async fn a_timed_out_post_is_not_retried_by_default() {
    let policy = Policy::default();
    let err = (|| async {
        std::future::pending::<()>().await;
        Ok::<_, Transport>(http::Response::new(()))
    })
    .retry(&policy)
    .sleeper(TokioSleeper)
    .attempt_timeout(Duration::from_secs(2))
    .await
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::NotRetryable);
    assert!(err.is_timeout());
    assert_eq!(err.attempts(), 1);
    assert!(err.to_string().contains("timed out after 2s"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn an_owned_policy_makes_a_static_future_that_can_be_spawned() {
    let policy = Policy::default();
    let handle = tokio::spawn(
        (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
            .retry(policy.clone())
            .sleeper(TokioSleeper)
            .into_future(),
    );
    assert!(handle.await.expect("task ran").is_ok());
}
