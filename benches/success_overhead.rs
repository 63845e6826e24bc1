//! Group `success_overhead`: what retrying costs a call that succeeds on its first attempt,
//! the common case, which should cost next to nothing.
//!
//! The operation is an async block that is ready at once with a 200 (a response borrowing
//! headers built once, so every crate gets the same value for free). Each iteration builds
//! the crate's per-call state, runs the call to completion on a current-thread executor
//! (`futures::executor::block_on`, `common::block_on`) and drops it; the bodies are in
//! `common::calls`:
//!
//! - `bare`: the operation awaited once, no retry at all: the floor;
//! - `hand-written`: the loop a person writes (`common::hand_written`);
//! - `redial/http`: `.retry(&policy)` reading the result as an HTTP outcome (status,
//!   `x-should-retry`), with the AWS bucket (`common::adapter_policy`, the budget the
//!   adapters were measured with before issue 11: a full bucket is one load and a
//!   compare); `redial/http, adaptive budget` the same with today's default budget (a
//!   success counts itself on its thread's stripe);
//! - `redial/closure`: the same with `.classify(..)`, a closure that says `Ok` is a success;
//! - the peers, set to the same policy: `backon`, `backoff` (its `future::retry`),
//!   `tokio-retry` (`Retry::start`), `tower` (`tower::retry::Retry` over a `service_fn`).

mod common;

use std::hint::black_box;

use common::{calls, Canned};
use criterion::{criterion_group, criterion_main, Criterion};
use http::HeaderMap;
use redial::Transport;

fn success_overhead(c: &mut Criterion) {
    let mut g = c.benchmark_group("success_overhead");
    let headers = HeaderMap::new();
    let ok = Canned::ok(&headers);
    let op = || async { Ok::<_, Transport>(black_box(ok)) };
    let policy = common::adapter_policy();

    g.bench_function("bare", |b| b.iter(|| black_box(calls::bare(op))));
    g.bench_function("hand-written", |b| {
        b.iter(|| black_box(calls::hand_written(op)))
    });
    g.bench_function("redial/http", |b| {
        b.iter(|| black_box(calls::redial_http(&policy, op)))
    });
    let adaptive = common::adaptive_policy();
    g.bench_function("redial/http, adaptive budget", |b| {
        b.iter(|| black_box(calls::redial_http(&adaptive, op)))
    });
    g.bench_function("redial/closure", |b| {
        b.iter(|| black_box(calls::redial_closure(&policy, op)))
    });
    g.bench_function("backon", |b| b.iter(|| black_box(calls::backon(op))));
    g.bench_function("backoff", |b| b.iter(|| black_box(calls::backoff(op))));
    g.bench_function("tokio-retry", |b| {
        b.iter(|| black_box(calls::tokio_retry(op)))
    });
    g.bench_function("tower", |b| b.iter(|| black_box(calls::tower(op))));

    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = success_overhead
}
criterion_main!(benches);
