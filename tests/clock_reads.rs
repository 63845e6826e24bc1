//! The retry future reads its clocks only when a decision needs them: none for a call that
//! succeeds at once (most calls), the monotonic clock once to start the call when it first
//! waits (or at its first failure, for an adaptive budget) and then only for a deadline, the
//! adaptive budget or the final error, and the wall clock only for a failed response (whose
//! hints may be dates). What it reports
//! stays right: the elapsed time of a call counts its slow first attempt, and a deadline is
//! measured from before the first attempt.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::Canned;
use http::{HeaderMap, StatusCode};
use redial::budget::BudgetConfig;
use redial::sleep::{Sleeper, TokioSleeper};
use redial::{Policy, StopReason, Transport};
use redial::{RetryError, Retryable};

/// Tokio's paused timer, counting how often each clock is read.
#[derive(Default)]
struct Reads {
    now: Cell<u32>,
    wall: Cell<u32>,
}

/// The wall clock of these tests: 2026-11-23T10:00:00Z.
const WALL: u64 = 1_795_428_000;

impl Sleeper for &Reads {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, duration: Duration) -> tokio::time::Sleep {
        tokio::time::sleep(duration)
    }

    fn now(&self) -> Instant {
        self.now.set(self.now.get() + 1);
        TokioSleeper.now()
    }

    fn wall(&self) -> SystemTime {
        self.wall.set(self.wall.get() + 1);
        UNIX_EPOCH + Duration::from_secs(WALL)
    }
}

impl Reads {
    fn counts(&self) -> (u32, u32) {
        (self.now.get(), self.wall.get())
    }
}

/// Short waits, and `max_elapsed` if given.
fn policy(max_elapsed: Option<Duration>) -> Policy {
    let builder = Policy::builder().base(Duration::from_millis(100));
    match max_elapsed {
        Some(limit) => builder.max_elapsed(limit),
        None => builder,
    }
    .build()
    .expect("valid policy")
}

/// Runs `op` under `policy` as an idempotent request, on `reads`' clocks.
async fn call<'h, Fut>(
    policy: &Policy,
    reads: &Reads,
    op: impl FnMut() -> Fut,
) -> Result<Canned<'h>, RetryError<Transport, Canned<'h>>>
where
    Fut: Future<Output = Result<Canned<'h>, Transport>>,
{
    op.retry(policy).idempotent().sleeper(reads).await
}

/// The status of each attempt in turn; the last one repeats.
fn statuses<'h>(
    list: &'static [StatusCode],
    headers: &'h HeaderMap,
) -> impl FnMut() -> std::future::Ready<Result<Canned<'h>, Transport>> {
    let mut n = 0;
    move || {
        let status = list[n.min(list.len() - 1)];
        n += 1;
        std::future::ready(Ok(Canned { status, headers }))
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_that_succeeds_at_once_reads_no_clock() {
    let reads = Reads::default();
    let headers = HeaderMap::new();
    let result = call(&policy(None), &reads, statuses(&[StatusCode::OK], &headers)).await;
    assert!(result.is_ok());
    assert_eq!(reads.counts(), (0, 0));
}

#[tokio::test(start_paused = true)]
async fn transport_failures_read_the_monotonic_clock_only() {
    let reads = Reads::default();
    let headers = HeaderMap::new();
    // Two refused connections, then the third attempt's 200.
    let result = call(&policy(None), &reads, refused(2, &headers)).await;
    assert!(result.is_ok());
    // The call's clock starts at the first failure, and that one reading is also the time
    // the adaptive budget weighs the first retry at; with no deadline, only the budget
    // needs the time again, for the second retry (the wall clock is never read).
    assert_eq!(reads.counts(), (2, 0));
}

/// The AWS bucket and no deadline: a retry decision that needs no time.
fn aws_policy(max_attempts: u32) -> Policy {
    Policy::builder()
        .base(Duration::from_millis(100))
        .max_attempts(max_attempts)
        .budget(BudgetConfig::aws())
        .build()
        .expect("valid policy")
}

/// An operation whose first `refusals` attempts are refused connections (no response, so
/// no wall clock), then a `200`.
fn refused<'h>(
    refusals: u32,
    headers: &'h HeaderMap,
) -> impl FnMut() -> std::future::Ready<Result<Canned<'h>, Transport>> {
    let mut n = 0;
    move || {
        n += 1;
        std::future::ready(if n <= refusals {
            Err(Transport::Connect)
        } else {
            Ok(Canned {
                status: StatusCode::OK,
                headers,
            })
        })
    }
}

/// [`Reads`]' clocks with waits that end at once, as a no-op sleeper's do.
struct NoWait<'r>(&'r Reads);

impl Sleeper for NoWait<'_> {
    type Sleep = std::future::Ready<()>;

    fn sleep(&self, _: Duration) -> std::future::Ready<()> {
        std::future::ready(())
    }

    fn now(&self) -> Instant {
        (&self.0).now()
    }

    fn wall(&self) -> SystemTime {
        (&self.0).wall()
    }
}

#[tokio::test(start_paused = true)]
async fn under_the_aws_bucket_the_clock_starts_when_the_first_wait_pends() {
    let reads = Reads::default();
    let headers = HeaderMap::new();
    let result = call(&aws_policy(3), &reads, refused(2, &headers)).await;
    assert!(result.is_ok());
    // Nothing needs the time at a failure: the clock is read once, as the first wait
    // begins on the timer, and not again.
    assert_eq!(reads.counts(), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn under_the_aws_bucket_the_elapsed_time_runs_from_the_first_wait() {
    let reads = Reads::default();
    let headers = HeaderMap::new();
    let began = tokio::time::Instant::now();
    let result = call(&aws_policy(3), &reads, refused(u32::MAX, &headers)).await;
    let err = result.expect_err("every attempt is refused");
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    // The attempts take no time on the paused clock, so the first wait begins when the
    // call does: the elapsed time is all of it, the two waits.
    assert_eq!(err.elapsed(), began.elapsed());
    assert!(err.elapsed() > Duration::ZERO);
    // The start, as the first wait begins, and the end.
    assert_eq!(reads.counts(), (2, 0));
}

#[tokio::test(start_paused = true)]
async fn a_call_that_never_waits_reads_no_clock_until_it_fails() {
    let reads = Reads::default();
    let headers = HeaderMap::new();
    let ok = refused(2, &headers)
        .retry(&aws_policy(3))
        .idempotent()
        .sleeper(NoWait(&reads))
        .await;
    assert!(ok.is_ok());
    assert_eq!(
        reads.counts(),
        (0, 0),
        "attempts and waits all ready at once"
    );

    let err = refused(u32::MAX, &headers)
        .retry(&aws_policy(3))
        .idempotent()
        .sleeper(NoWait(&reads))
        .await
        .expect_err("every attempt is refused");
    assert_eq!(err.attempts(), 3);
    // It ran without ever yielding: no time passed on its clock, read once at the end.
    assert_eq!(err.elapsed(), Duration::ZERO);
    assert_eq!(reads.counts(), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_failed_response_with_an_http_date_reads_the_wall_clock() {
    let reads = Reads::default();
    let mut busy = HeaderMap::new();
    // 7 s after the wall clock above.
    busy.insert(
        "retry-after",
        "Mon, 23 Nov 2026 10:00:07 GMT".parse().expect("valid"),
    );
    let started = tokio::time::Instant::now();
    let op = statuses(&[StatusCode::SERVICE_UNAVAILABLE, StatusCode::OK], &busy);
    assert!(call(&policy(None), &reads, op).await.is_ok());
    assert_eq!(
        reads.counts().1,
        1,
        "one failed response, one wall clock read"
    );
    // The date's 7 s, plus the design's spread of at most a tenth.
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_secs(7) && waited <= Duration::from_millis(7_700),
        "waited {waited:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_elapsed_time_counts_a_slow_first_attempt() {
    let reads = Reads::default();
    let headers = HeaderMap::new();
    let result = call(&policy(None), &reads, || async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(Canned {
            status: StatusCode::BAD_REQUEST,
            headers: &headers,
        })
    })
    .await;
    let err = result.expect_err("a 400 is not retried");
    assert_eq!(err.reason(), StopReason::NotRetryable);
    assert_eq!(err.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_starts_the_clock_before_the_first_attempt() {
    let reads = Reads::default();
    let headers = HeaderMap::new();
    let policy = policy(Some(Duration::from_secs(30)));
    let result = call(&policy, &reads, statuses(&[StatusCode::OK], &headers)).await;
    assert!(result.is_ok());
    assert_eq!(reads.counts(), (1, 0));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_is_checked_on_the_clock_at_each_failure() {
    let reads = Reads::default();
    let headers = HeaderMap::new();
    let policy = policy(Some(Duration::from_secs(30)));
    let op = statuses(&[StatusCode::SERVICE_UNAVAILABLE, StatusCode::OK], &headers);
    assert!(call(&policy, &reads, op).await.is_ok());
    // The start, then the failure's check against the deadline.
    assert_eq!(reads.counts(), (2, 1));
}

/// A stream's items, ready at once.
struct Items(std::vec::IntoIter<Result<u8, Transport>>);

impl futures_core::Stream for Items {
    type Item = Result<u8, Transport>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}

/// Issue 9: no adapter reads a clock of its own. A stream that opens and ends cleanly, and
/// a tower call that succeeds at once, read none, as the future does.
#[tokio::test(start_paused = true)]
async fn the_stream_and_the_tower_layer_read_no_clock_on_a_success() {
    use tower::{Layer, ServiceExt};

    let reads = Reads::default();
    let headers = HeaderMap::new();
    let policy = policy(None);
    let ok = Canned {
        status: StatusCode::OK,
        headers: &headers,
    };
    let stream = redial::retry_stream(
        &policy,
        || std::future::ready(Ok::<_, Transport>(ok)),
        |_| Items(vec![Ok(1), Ok(2)].into_iter()),
    )
    .sleeper(&reads);
    let items: Vec<_> = common::sse::collect(std::pin::pin!(stream))
        .await
        .into_iter()
        .map(|item| item.map_err(|e| e.reason()))
        .collect();
    assert_eq!(items, [Ok(1), Ok(2)]);
    assert_eq!(reads.counts(), (0, 0), "the stream");

    let service = redial::tower::RetryLayer::new(policy.clone())
        .sleeper(&reads)
        .layer(tower::service_fn(|_: http::Request<String>| {
            std::future::ready(Ok::<_, Transport>(http::Response::new(())))
        }));
    let response = service.oneshot(http::Request::new(String::new())).await;
    assert!(response.is_ok());
    assert_eq!(reads.counts(), (0, 0), "the tower layer");
}

/// Under the AWS bucket, a stream that is opened again after a refused connection, and a
/// tower call retried after one, start their clock as their wait begins on the timer, as
/// the future does: once, and not at the failure.
#[tokio::test(start_paused = true)]
async fn the_stream_and_the_tower_layer_start_the_clock_at_their_first_wait() {
    use tower::{Layer, ServiceExt};

    let reads = Reads::default();
    let headers = HeaderMap::new();
    let policy = aws_policy(3);
    let stream = redial::retry_stream(&policy, refused(1, &headers), |_| {
        Items(vec![Ok(1)].into_iter())
    })
    .idempotent()
    .sleeper(&reads);
    let items: Vec<_> = common::sse::collect(std::pin::pin!(stream))
        .await
        .into_iter()
        .map(|item| item.map_err(|e| e.reason()))
        .collect();
    assert_eq!(items, [Ok(1)]);
    assert_eq!(reads.counts(), (1, 0), "the stream");

    let mut calls = 0;
    let service = redial::tower::RetryLayer::new(policy.clone())
        .sleeper(&reads)
        .layer(tower::service_fn(move |_: http::Request<String>| {
            calls += 1;
            std::future::ready(if calls == 1 {
                Err(Transport::Connect)
            } else {
                Ok(http::Response::new(()))
            })
        }));
    let request = http::Request::builder()
        .method(http::Method::PUT)
        .body(String::new())
        .expect("a request");
    let response = service.oneshot(request).await;
    assert!(response.is_ok());
    assert_eq!(reads.counts(), (2, 0), "the tower layer");
}
