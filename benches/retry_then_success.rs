//! Group `retry_then_success`: a call whose first two attempts fail with a transport error
//! and whose third succeeds: two retries' worth of machinery.
//!
//! - `retry_then_success/no-op sleeper/*`: every wait is a future that is ready at once, so
//!   only the retry machinery is timed (classify, decide, delay, budget, state changes), on
//!   futures' current-thread executor (`common::block_on`; the bodies are in
//!   `common::calls`). `tokio-retry` and `backoff` sleep with tokio's timer only, so they
//!   are in the second group alone.
//! - `retry_then_success/tokio paused/*`: the same call on a current-thread tokio runtime
//!   whose clock is paused: the 0.5 s and 1 s waits are real tokio timers that the runtime
//!   skips at once. This adds tokio's timer wheel and `block_on` to every crate alike.
//!
//! `hand-written` is `common::hand_written`; every crate is set to the same policy, and
//! redial runs with its default budget (each retry takes tokens, the success gives them
//! back).

mod common;

use std::cell::Cell;
use std::future::IntoFuture;
use std::hint::black_box;

use common::{calls, Canned};
use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use redial::sleep::TokioSleeper;
use redial::Retryable as _;
use tower::ServiceExt as _;

fn no_op_sleeper(c: &mut Criterion) {
    let mut g = c.benchmark_group("retry_then_success/no-op sleeper");
    let headers = HeaderMap::new();
    let n = Cell::new(0);
    let op = common::flaky(&n, Canned::ok(&headers));
    let policy = common::adapter_policy();

    g.bench_function("hand-written", |b| {
        b.iter(|| {
            n.set(0);
            black_box(calls::hand_written(op.clone()))
        })
    });
    g.bench_function("redial/http", |b| {
        b.iter(|| {
            n.set(0);
            black_box(calls::redial_http(&policy, op.clone()))
        })
    });
    // Today's default budget (adaptive) beside the AWS bucket the row above keeps: what
    // the default costs a call with two retries (issue 11: at most 10 ns more).
    let adaptive = common::adaptive_policy();
    g.bench_function("redial/http, adaptive budget", |b| {
        b.iter(|| {
            n.set(0);
            black_box(calls::redial_http(&adaptive, op.clone()))
        })
    });
    g.bench_function("redial/closure", |b| {
        b.iter(|| {
            n.set(0);
            black_box(calls::redial_closure(&policy, op.clone()))
        })
    });
    g.bench_function("backon", |b| {
        b.iter(|| {
            n.set(0);
            black_box(calls::backon(op.clone()))
        })
    });
    g.bench_function("tower", |b| {
        b.iter(|| {
            n.set(0);
            black_box(calls::tower(op.clone()))
        })
    });

    g.finish();
}

fn tokio_paused(c: &mut Criterion) {
    let mut g = c.benchmark_group("retry_then_success/tokio paused");
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("a current-thread runtime: {e}"),
    };
    let headers = HeaderMap::new();
    let n = Cell::new(0);
    let op = common::flaky(&n, Canned::ok(&headers));
    let policy = common::adapter_policy();

    g.bench_function("hand-written", |b| {
        b.iter(|| {
            n.set(0);
            let call = common::hand_written(op.clone(), tokio::time::sleep);
            black_box(rt.block_on(call).is_ok())
        })
    });
    g.bench_function("redial", |b| {
        b.iter(|| {
            n.set(0);
            let call = op.clone().retry(&policy).idempotent().sleeper(TokioSleeper);
            black_box(rt.block_on(call.into_future()).is_ok())
        })
    });
    g.bench_function("backon", |b| {
        b.iter(|| {
            n.set(0);
            let call = backon::Retryable::retry(op.clone(), common::backon_builder())
                .sleep(backon::TokioSleeper);
            black_box(rt.block_on(call).is_ok())
        })
    });
    g.bench_function("backoff", |b| {
        b.iter(|| {
            n.set(0);
            let mut op = op.clone();
            let call = backoff::future::retry(common::backoff_state(), || {
                let attempt = op();
                async { attempt.await.map_err(backoff::Error::transient) }
            });
            black_box(rt.block_on(call).is_ok())
        })
    });
    g.bench_function("tokio-retry", |b| {
        b.iter(|| {
            n.set(0);
            let strategy = common::tokio_retry_strategy().take(common::RETRIES as usize);
            black_box(
                rt.block_on(tokio_retry::Retry::start(strategy, op.clone()))
                    .is_ok(),
            )
        })
    });
    g.bench_function("tower", |b| {
        b.iter(|| {
            n.set(0);
            let policy = common::TowerAttempts {
                left: common::RETRIES,
                sleep: tokio::time::sleep,
            };
            let mut op = op.clone();
            let svc = tower::retry::Retry::new(policy, tower::service_fn(move |()| op()));
            black_box(rt.block_on(svc.oneshot(())).is_ok())
        })
    });

    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = no_op_sleeper, tokio_paused
}
criterion_main!(benches);
