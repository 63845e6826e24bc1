//! A whole retry loop through the future allocates nothing per attempt: a counting global
//! allocator (this binary's own) counts what building and running a call allocates.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::{Future, IntoFuture};
use std::pin::pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use common::Canned;
use http::{HeaderMap, StatusCode};
use redial::sleep::Sleeper;
use redial::Retryable;
use redial::{Policy, StopReason, Transport};

struct Counting;

thread_local! {
    // Only this thread's allocations count: the test harness allocates on its own.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = COUNTING.try_with(|on| {
            if on.get() {
                let _ = COUNT.try_with(|c| c.set(c.get() + 1));
            }
        });
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn counted<R>(f: impl FnOnce() -> R) -> (R, usize) {
    COUNT.with(|c| c.set(0));
    COUNTING.with(|on| on.set(true));
    let r = f();
    COUNTING.with(|on| on.set(false));
    (r, COUNT.with(Cell::get))
}

struct NoopWake;
impl Wake for NoopWake {
    fn wake(self: Arc<Self>) {}
}

/// A clock that moves: each attempt takes `latency`, each sleep its whole duration, and
/// nothing waits for real. An adaptive budget folds its window as the decisions come.
/// (Not `common::clock::Virtual`: that one records every sleep in a `Vec`, an allocation
/// this test would count.)
#[derive(Clone)]
struct Virtual {
    start: Instant,
    nanos: Arc<AtomicU64>,
    latency: Duration,
}

impl Virtual {
    fn new(latency: Duration) -> Virtual {
        Virtual {
            start: Instant::now(),
            nanos: Arc::new(AtomicU64::new(0)),
            latency,
        }
    }

    fn advance(&self, by: Duration) {
        let by = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        self.nanos.fetch_add(by, Ordering::Relaxed);
    }
}

impl Sleeper for Virtual {
    type Sleep = std::future::Ready<()>;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        self.advance(duration);
        std::future::ready(())
    }

    fn now(&self) -> Instant {
        self.start + Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }
}

/// Builds and runs a call whose first `failures` attempts get a 503 with a hint and a
/// request id; returns how it ended and the allocations counted.
fn run(policy: &Policy, failures: u32, waker: &Waker) -> (Option<Result<(), StopReason>>, usize) {
    run_on(policy, failures, waker, &Virtual::new(Duration::ZERO))
}

/// [`run`] on `clock`, which each attempt moves on by its latency.
fn run_on(
    policy: &Policy,
    failures: u32,
    waker: &Waker,
    clock: &Virtual,
) -> (Option<Result<(), StopReason>>, usize) {
    let mut busy = HeaderMap::new();
    busy.insert("retry-after-ms", "0".parse().expect("valid"));
    busy.insert(
        "request-id",
        "req_011CSHoEeqs5C35K2UUqR7F8".parse().expect("valid"),
    );
    let ok = HeaderMap::new();
    counted(|| {
        let mut calls = 0;
        let future = (|| {
            calls += 1;
            clock.advance(clock.latency);
            let canned = if calls <= failures {
                Canned {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    headers: &busy,
                }
            } else {
                Canned {
                    status: StatusCode::OK,
                    headers: &ok,
                }
            };
            std::future::ready(Ok::<_, Transport>(canned))
        })
        .retry(policy)
        .idempotent()
        .sleeper(clock.clone())
        .notify(|event| {
            let _ = event.request_id();
        })
        .into_future();
        let mut future = pin!(future);
        let mut cx = Context::from_waker(waker);
        // Every attempt and sleep is ready at once, so one poll runs the whole loop.
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(Ok(_)) => Some(Ok(())),
            Poll::Ready(Err(e)) => Some(Err(e.reason())),
            Poll::Pending => None,
        }
    })
}

#[test]
fn a_retry_loop_allocates_nothing_per_attempt() {
    let waker = Waker::from(Arc::new(NoopWake));
    // The default budget (a bucket big enough for the 40-attempt calls) and the default
    // generator, seeded at the first retry from fastrand's thread-local one.
    let policy = |attempts| {
        Policy::builder()
            .max_attempts(attempts)
            .base(Duration::ZERO)
            .budget(redial::budget::BudgetConfig::new(10_000, 5, 10, 1))
            .build()
            .expect("valid policy")
    };
    let (few, many) = (policy(3), policy(40));
    // Warm up lazily initialised statics (the empty header map, thread-locals).
    let _ = run(&few, 1, &waker);

    // A success at once, and successes after 2 and after 39 failures: nothing at all is
    // allocated.
    let (end, allocs_now) = run(&few, 0, &waker);
    assert_eq!((end, allocs_now), (Some(Ok(())), 0));
    let (end, allocs_few) = run(&few, 2, &waker);
    assert_eq!(end, Some(Ok(())));
    let (end, allocs_many) = run(&many, 39, &waker);
    assert_eq!(end, Some(Ok(())));
    assert_eq!((allocs_few, allocs_many), (0, 0));

    // Failures after 3 and after 40 attempts: one allocation, the final error's box.
    let (end, allocs_few) = run(&few, 100, &waker);
    assert_eq!(end, Some(Err(StopReason::AttemptsExhausted)));
    let (end, allocs_many) = run(&many, 100, &waker);
    assert_eq!(end, Some(Err(StopReason::AttemptsExhausted)));
    assert_eq!((allocs_few, allocs_many), (1, 1));
}

#[test]
fn the_default_budget_allocates_nothing_per_attempt_on_a_moving_clock() {
    // `Policy::default()`: the adaptive budget, 3 attempts. Each attempt takes 40 ms of a
    // virtual clock (more than 1/1024 of the 30 s window), so that every decision folds.
    let waker = Waker::from(Arc::new(NoopWake));
    let policy = Policy::default();
    let clock = Virtual::new(Duration::from_millis(40));
    let _ = run_on(&policy, 1, &waker, &clock);
    // A healthy stretch with a 503 now and then: successes at once and after a failure
    // (the budget allows that retry), with nothing allocated.
    for round in 0..60 {
        let (end, allocs) = run_on(&policy, u32::from(round % 4 == 3), &waker, &clock);
        assert_eq!((end, allocs), (Some(Ok(())), 0), "round {round}");
    }
    // An outage: every attempt fails. A failed call allocates one thing, the final
    // error's box, whether its attempts ran out or the budget refused its retry.
    let mut refused = 0;
    for round in 0..60 {
        let (end, allocs) = run_on(&policy, u32::MAX, &waker, &clock);
        match end {
            Some(Err(StopReason::BudgetExhausted)) => refused += 1,
            Some(Err(StopReason::AttemptsExhausted)) => {}
            other => panic!("round {round}: {other:?}"),
        }
        assert_eq!(allocs, 1, "round {round}");
    }
    assert!(refused > 0, "the budget never refused a retry");
}
