//! Group `budget_contention`: the shared retry budget charged from 1, 2 and 8 threads at
//! once.
//!
//! Every thread runs the same operation on the same budget; the time reported is CPU time
//! per operation: the wall time until the last thread finished, times the cores the threads
//! could use (`min(threads, available_parallelism)`), divided by the operations of all
//! threads. With more threads than cores it is what one operation costs while every core
//! is busy with the same budget; the `1 thread` case is the same work with no contention.
//!
//! - `aws`: [`redial::budget::Budget`] of the `aws` kind, one atomic integer: a retry's tokens
//!   taken (`try_withdraw`) and given back (`deposit`), as a retry that then succeeded;
//! - `adaptive success`: a call that succeeds at once under the default (`adaptive`)
//!   budget: `Machine::first_success`, one `fetch_add` on the thread's stripe;
//! - `adaptive retry`: a call whose first attempt fails with a 500, is retried (the
//!   decision folds the counts under a `try_lock`), and succeeds;
//! - `hand-written`: the floor for a shared counter, an unbounded `fetch_sub` + `fetch_add`;
//! - `mutex`: the AWS bucket behind a `std::sync::Mutex`;
//! - `tower`: `tower::retry::budget::TpsBudget` (`withdraw` + `deposit`), the only peer with
//!   a retry budget; it reads the clock on every call and rotates its window under a lock.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use redial::budget::{Budget, BudgetConfig};
use redial::machine::Machine;
use redial::{Cause, Policy, Verdict};
use tower::retry::budget::Budget as _;

/// Runs `op` `iters` times on each of `threads` threads, all started together, and returns
/// the CPU time per operation times `iters` (see the module docs).
fn contended(threads: usize, iters: u64, op: &(dyn Fn() + Sync)) -> Duration {
    let start = Barrier::new(threads + 1);
    let wall = std::thread::scope(|s| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    for _ in 0..iters {
                        op();
                    }
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        for w in workers {
            if w.join().is_err() {
                panic!("a bench thread panicked");
            }
        }
        began.elapsed()
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let busy = u32::try_from(threads.min(cores)).unwrap_or(1);
    let all = u32::try_from(threads).unwrap_or(1);
    wall * busy / all
}

fn budget_contention(c: &mut Criterion) {
    let mut g = c.benchmark_group("budget_contention");

    let aws = Budget::new(BudgetConfig::aws());
    let aws_op = || {
        if black_box(&aws).try_withdraw(5) {
            aws.deposit(5);
        }
    };

    let adaptive = Policy::default();
    let success_op = || {
        black_box(Machine::<&Policy>::first_success(
            black_box(&adaptive).rules(),
        ));
    };
    let start = Instant::now();
    let bad_luck = Verdict::retryable(Cause::status(500));
    // Each thread's calls 1µs apart on its own clock, as calls come (the adaptive budget
    // reads the time).
    thread_local! {
        static TICKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let retry_op = || {
        let tick = TICKS.with(|t| {
            t.set(t.get() + 1);
            t.get()
        });
        let now = start + Duration::from_micros(tick);
        let mut rng = fastrand::Rng::with_seed(1);
        let mut call = Machine::new(black_box(&adaptive), now);
        let _ = black_box(call.on_outcome(&bad_luck, now, &mut rng));
        black_box(call.on_success());
    };

    let counter = AtomicU32::new(500);
    let hand_op = || {
        black_box(&counter).fetch_sub(5, Ordering::Relaxed);
        counter.fetch_add(5, Ordering::Relaxed);
    };

    let locked = Mutex::new(500u32);
    let mutex_op = || {
        let mut tokens = match black_box(&locked).lock() {
            Ok(t) => t,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(left) = tokens.checked_sub(5) {
            *tokens = (left + 5).min(500);
        }
    };

    let tower = tower::retry::budget::TpsBudget::new(Duration::from_secs(10), 10, 0.2);
    let tower_op = || {
        if black_box(&tower).withdraw() {
            tower.deposit();
        }
    };

    let ops: [(&str, &(dyn Fn() + Sync)); 6] = [
        ("aws", &aws_op),
        ("adaptive success", &success_op),
        ("adaptive retry", &retry_op),
        ("hand-written", &hand_op),
        ("mutex", &mutex_op),
        ("tower", &tower_op),
    ];
    for threads in [8, 2, 1] {
        for (name, op) in ops {
            let id = format!(
                "{threads} thread{}/{name}",
                if threads > 1 { "s" } else { "" }
            );
            g.bench_function(id, |b| b.iter_custom(|iters| contended(threads, iters, op)));
        }
    }
    assert!(aws.available() <= 500);

    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = budget_contention
}
criterion_main!(benches);
