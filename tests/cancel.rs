//! Cancel safety: dropping the retry future mid-sleep or mid-attempt stops everything and
//! leaks nothing; and the future's auto traits.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use redial::backoff::Jitter;
use redial::sleep::{FuturesTimerSleeper, Sleeper, TokioSleeper};
use redial::Retryable;
use redial::{Policy, Transport};

/// Counts live sleeps: each one made adds one, each one dropped takes it back.
#[derive(Clone, Default)]
struct Counted {
    live: Arc<AtomicUsize>,
    made: Arc<AtomicUsize>,
}

struct CountedSleep {
    inner: Pin<Box<tokio::time::Sleep>>,
    live: Arc<AtomicUsize>,
}

impl Future for CountedSleep {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.inner.as_mut().poll(cx)
    }
}

impl Drop for CountedSleep {
    fn drop(&mut self) {
        self.live.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Sleeper for Counted {
    type Sleep = CountedSleep;
    fn sleep(&self, d: Duration) -> CountedSleep {
        self.live.fetch_add(1, Ordering::SeqCst);
        self.made.fetch_add(1, Ordering::SeqCst);
        CountedSleep {
            inner: Box::pin(TokioSleeper.sleep(d)),
            live: self.live.clone(),
        }
    }
    fn now(&self) -> std::time::Instant {
        TokioSleeper.now()
    }
}

fn slow_policy() -> Policy {
    Policy::builder()
        .base(Duration::from_secs(10))
        .cap(Duration::from_secs(10))
        .jitter(Jitter::None)
        .build()
        .expect("valid policy")
}

#[tokio::test(start_paused = true)]
async fn dropping_mid_sleep_stops_everything_and_leaks_nothing() {
    let policy = slow_policy();
    let sleeper = Counted::default();
    let attempts = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(());
    let future = {
        let attempts = attempts.clone();
        let held = held.clone();
        (move || {
            let _resource = held.clone();
            attempts.fetch_add(1, Ordering::SeqCst);
            async move { Err::<http::Response<()>, _>(Transport::Connect) }
        })
        .retry(policy.clone())
        .sleeper(sleeper.clone())
        .into_future()
    };
    let mut future = Box::pin(future);
    // One attempt, then a 10 s sleep: still pending after a second.
    let polled = tokio::time::timeout(Duration::from_secs(1), future.as_mut()).await;
    assert!(polled.is_err(), "the retry is asleep");
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(sleeper.live.load(Ordering::SeqCst), 1, "mid-sleep");

    drop(future);
    nothing_is_left(&sleeper, &held, &attempts).await;
    assert_eq!(sleeper.made.load(Ordering::SeqCst), 1);
}

/// After a retry was dropped mid-sleep: its sleep is gone, so is everything that held
/// `held` (the operation, the attempt), and nothing wakes up later to make another attempt.
async fn nothing_is_left(sleeper: &Counted, held: &Arc<()>, attempts: &AtomicUsize) {
    assert_eq!(
        sleeper.live.load(Ordering::SeqCst),
        0,
        "the sleep was dropped"
    );
    assert_eq!(
        Arc::strong_count(held),
        1,
        "the operation was dropped with the future"
    );
    tokio::time::advance(Duration::from_secs(60)).await;
    tokio::task::yield_now().await;
    assert_eq!(
        attempts.load(Ordering::SeqCst),
        1,
        "no attempt after the drop"
    );
}

#[tokio::test(start_paused = true)]
async fn dropping_mid_attempt_drops_the_attempt_and_its_timer() {
    struct Guard(Arc<AtomicUsize>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let policy = slow_policy();
    let sleeper = Counted::default();
    let dropped = Arc::new(AtomicUsize::new(0));
    let future = {
        let dropped = dropped.clone();
        (move || {
            let guard = Guard(dropped.clone());
            async move {
                let _guard = guard;
                std::future::pending::<()>().await;
                Ok::<_, Transport>(http::Response::new(()))
            }
        })
        .retry(&policy)
        .sleeper(sleeper.clone())
        .attempt_timeout(Duration::from_secs(30))
        .into_future()
    };
    let mut future = Box::pin(future);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), future.as_mut())
            .await
            .is_err()
    );
    assert_eq!(
        sleeper.live.load(Ordering::SeqCst),
        1,
        "the attempt's timer"
    );
    drop(future);
    assert_eq!(dropped.load(Ordering::SeqCst), 1, "the attempt was dropped");
    assert_eq!(sleeper.live.load(Ordering::SeqCst), 0, "its timer too");
}

fn assert_send<T: Send>(_: &T) {}
fn assert_unpin<T: Unpin>(_: &T) {}

#[test]
fn the_future_is_send_and_unpin_when_its_parts_are() {
    let policy = Policy::default();
    // tokio's Sleep is !Unpin, but the future is Send, so it can be spawned.
    let on_tokio = (|| async { Ok::<_, Transport>(http::Response::new(())) })
        .retry(&policy)
        .sleeper(TokioSleeper)
        .notify(|_| {})
        .into_future();
    assert_send(&on_tokio);
    // With an Unpin attempt and an Unpin sleep, the retry future is Unpin too.
    let unpin = (|| std::future::ready(Ok::<_, Transport>(http::Response::new(()))))
        .retry(&policy)
        .sleeper(FuturesTimerSleeper)
        .attempt_timeout(Duration::from_secs(1))
        .into_future();
    assert_send(&unpin);
    assert_unpin(&unpin);
}

#[test]
fn a_failed_attempt_is_let_go_before_the_wait_begins() {
    use std::sync::Mutex;

    type Log = Arc<Mutex<Vec<&'static str>>>;

    /// A response that logs its drop.
    struct Logged(Log, http::HeaderMap);
    impl Drop for Logged {
        fn drop(&mut self) {
            self.0.lock().expect("not poisoned").push("result dropped");
        }
    }
    impl redial::HttpOutcome for Logged {
        fn outcome(&self) -> redial::classify::Outcome<'_> {
            redial::classify::Outcome::response(http::StatusCode::SERVICE_UNAVAILABLE, &self.1)
        }
    }
    /// An attempt's future that logs its drop.
    struct Attempt(Log, Option<Logged>);
    impl Future for Attempt {
        type Output = Result<Logged, Transport>;
        fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Self::Output> {
            match self.1.take() {
                Some(r) => Poll::Ready(Ok(r)),
                None => Poll::Pending,
            }
        }
    }
    impl Drop for Attempt {
        fn drop(&mut self) {
            self.0.lock().expect("not poisoned").push("attempt dropped");
        }
    }

    let log: Log = Arc::default();
    let policy = Policy::builder()
        .max_attempts(2)
        .base(Duration::ZERO)
        .build()
        .expect("valid policy");
    let (op_log, sleep_log) = (log.clone(), log.clone());
    let result = futures_executor::block_on(
        (move || {
            Attempt(
                op_log.clone(),
                Some(Logged(op_log.clone(), http::HeaderMap::new())),
            )
        })
        .retry(&policy)
        .idempotent()
        .sleeper(move |_| {
            sleep_log.lock().expect("not poisoned").push("sleep made");
            std::future::ready(())
        })
        .into_future(),
    );
    assert!(result.is_err());
    let log = log.lock().expect("not poisoned").clone();
    assert_eq!(
        log[..3],
        ["result dropped", "attempt dropped", "sleep made"],
        "{log:?}"
    );
}

/// Polls a stream once more, for at most a second of (paused) tokio time.
async fn next_within_a_second<St: futures_core::Stream + Unpin>(
    stream: &mut St,
) -> Option<Option<St::Item>> {
    let next = std::future::poll_fn(|cx| Pin::new(&mut *stream).poll_next(cx));
    tokio::time::timeout(Duration::from_secs(1), next)
        .await
        .ok()
}

#[tokio::test(start_paused = true)]
async fn dropping_the_stream_mid_sleep_stops_everything_and_leaks_nothing() {
    use redial::retry_stream;
    use redial::stream::StreamError;
    struct Failing(Option<Arc<()>>);
    impl futures_core::Stream for Failing {
        type Item = Result<(), StreamError<std::io::Error>>;
        fn poll_next(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<Option<Self::Item>> {
            // Fails at once, before any item: a re-open after the backoff.
            Poll::Ready(
                self.0
                    .take()
                    .map(|_| Err(StreamError::Event(redial::ErrorType::Overloaded.into()))),
            )
        }
    }
    let policy = slow_policy();
    let sleeper = Counted::default();
    let opened = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(());
    let stream = {
        let (opened, held) = (opened.clone(), held.clone());
        retry_stream(
            policy.clone(),
            move || {
                opened.fetch_add(1, Ordering::SeqCst);
                std::future::ready(Ok::<_, StreamError<std::io::Error>>(http::Response::new(
                    held.clone(),
                )))
            },
            |response: http::Response<Arc<()>>| Failing(Some(response.into_body())),
        )
        .idempotent()
        .sleeper(sleeper.clone())
    };
    let mut stream = Box::pin(stream);
    assert!(
        next_within_a_second(&mut stream).await.is_none(),
        "asleep before the re-open"
    );
    assert_eq!(opened.load(Ordering::SeqCst), 1);
    assert_eq!(sleeper.live.load(Ordering::SeqCst), 1, "mid-sleep");

    drop(stream);
    nothing_is_left(&sleeper, &held, &opened).await;
}

#[tokio::test(start_paused = true)]
async fn dropping_the_tower_future_mid_sleep_stops_everything_and_leaks_nothing() {
    use redial::tower::RetryLayer;
    use tower::{Layer, Service, ServiceExt};
    let calls = Arc::new(AtomicUsize::new(0));
    let held = Arc::new(());
    let sleeper = Counted::default();
    let inner = {
        let (calls, held) = (calls.clone(), held.clone());
        tower::service_fn(move |_: http::Request<String>| {
            calls.fetch_add(1, Ordering::SeqCst);
            let _resource = held.clone();
            async move {
                let _resource = _resource;
                http::Response::builder()
                    .status(503)
                    .body(())
                    .map_err(|_| Transport::Other)
            }
        })
    };
    let mut service = RetryLayer::new(slow_policy())
        .sleeper(sleeper.clone())
        .layer(inner);
    let request = http::Request::get("http://localhost/")
        .body(String::new())
        .expect("a request");
    let future = service.ready().await.expect("always ready").call(request);
    let mut future = Box::pin(future);
    assert!(
        tokio::time::timeout(Duration::from_secs(1), future.as_mut())
            .await
            .is_err()
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(sleeper.live.load(Ordering::SeqCst), 1, "mid-sleep");

    drop(future);
    drop(service);
    nothing_is_left(&sleeper, &held, &calls).await;
}

/// A sleeper that never wakes, recording how long each sleep was meant to be.
#[derive(Clone, Default)]
struct Never {
    asked: Arc<std::sync::Mutex<Vec<Duration>>>,
}

impl Sleeper for Never {
    type Sleep = std::future::Pending<()>;
    fn sleep(&self, d: Duration) -> Self::Sleep {
        self.asked.lock().expect("not poisoned").push(d);
        std::future::pending()
    }
}

/// Polls `fut` once.
fn poll_once<F: Future>(fut: Pin<&mut F>) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(std::task::Waker::noop()))
}

#[test]
fn a_call_dropped_while_it_waits_for_the_pacer_gives_its_place_back() {
    let policy = Policy::builder()
        .pace(redial::pacer::PacerConfig::default())
        .build()
        .expect("a valid policy");
    let pacer = policy.pacer().expect("pacing is on");
    let now = std::time::Instant::now();
    // One attempt a second from now on: the first place goes at once.
    pacer.set_fleet_rate(1.0, now, Duration::from_secs(600));
    assert_eq!(pacer.acquire(now, None), redial::pacer::Acquire::Go);
    let never = Never::default();
    let mut waiting = Box::pin(
        (|| async { Ok::<_, Transport>(http::Response::new(())) })
            .retry(&policy)
            .sleeper(never.clone())
            .into_future(),
    );
    assert!(poll_once(waiting.as_mut()).is_pending());
    let asked = never.asked.lock().expect("not poisoned").clone();
    assert_eq!(asked.len(), 1, "it waits for the second place: {asked:?}");
    // Let go while it waits: the next caller gets the second place, not the third.
    drop(waiting);
    let next = pacer.acquire(std::time::Instant::now(), None).wait();
    assert!(
        next <= Duration::from_secs(1),
        "the next call waits {next:?}"
    );
}
