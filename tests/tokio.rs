//! The shared scenarios on tokio, with tokio's timer and its paused clock: the waits are
//! the core's to the nanosecond, and take no real time.

mod common;

use std::future::IntoFuture;
use std::time::Duration;

use redial::{Policy, StopReason, Transport};
use redial::{Retryable, TokioSleeper};

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
    let policy = Policy::default();
    let mut calls = 0;
    let started = tokio::time::Instant::now();
    let result = (|| {
        calls += 1;
        let hang = calls < 3;
        async move {
            if hang {
                std::future::pending::<()>().await;
            }
            Ok::<_, Transport>(http::Response::new(()))
        }
    })
    .retry(&policy)
    .idempotent()
    .sleeper(TokioSleeper)
    .attempt_timeout(Duration::from_secs(5))
    .await;
    assert!(result.is_ok());
    assert_eq!(calls, 3);
    assert!(started.elapsed() >= Duration::from_secs(10));
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
