//! Group `budget_contention`: the shared retry budget charged from 2 threads at once.
//!
//! Every iteration, each of 2 threads takes a retry's tokens from the same bucket and puts
//! them back (a retry that then succeeded), so the bucket never drains and every charge
//! takes the same path. The time is per iteration, both threads running together: what a
//! retry costs when another call of the same policy is retrying on the other core. The
//! `1 thread` cases are the same work with no contention.
//!
//! - `redial`: [`redial::Budget`], one atomic integer (`try_withdraw` + `deposit`);
//! - `hand-written`: the floor for a shared counter, an unbounded `fetch_sub` + `fetch_add`;
//! - `mutex`: the same bucket behind a `std::sync::Mutex`;
//! - `tower`: `tower::retry::budget::TpsBudget` (`withdraw` + `deposit`), the only peer with
//!   a retry budget; it reads the clock on every call and rotates its window under a lock.

mod common;

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use redial::{Budget, BudgetConfig};
use tower::retry::budget::Budget as _;

/// Runs `op` `iters` times on each of `threads` threads, all started together, and returns
/// the time until the last one finished.
fn contended(threads: usize, iters: u64, op: &(dyn Fn() + Sync)) -> Duration {
    let start = Barrier::new(threads + 1);
    std::thread::scope(|s| {
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
    })
}

fn budget_contention(c: &mut Criterion) {
    let mut g = c.benchmark_group("budget_contention");

    let redial = Budget::new(BudgetConfig::default());
    let redial_op = || {
        if black_box(&redial).try_withdraw(5) {
            redial.deposit(5);
        }
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

    let ops: [(&str, &(dyn Fn() + Sync)); 4] = [
        ("redial", &redial_op),
        ("hand-written", &hand_op),
        ("mutex", &mutex_op),
        ("tower", &tower_op),
    ];
    for threads in [2, 1] {
        for (name, op) in ops {
            let id = format!(
                "{threads} thread{}/{name}",
                if threads > 1 { "s" } else { "" }
            );
            g.bench_function(id, |b| b.iter_custom(|iters| contended(threads, iters, op)));
        }
    }
    assert!(redial.available() <= 500);

    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = budget_contention
}
criterion_main!(benches);
