//! Group `next_delay`: how much a jittered backoff delay costs.
//!
//! - `next_delay/steady/*`: the next delay of a long-lived state, past the cap (the state a
//!   retry loop is in after a few failures);
//! - `next_delay/fresh+3/*`: a new per-call state and its first 3 delays (what every failed
//!   call pays).
//!
//! Every crate is set to the same policy (500 ms, ×2, cap 8 s, jitter on, 3 retries), each
//! with its own kind of jitter. `hand-written` is the floor: a counter, a shift, a cap and
//! fastrand's full jitter. redial is measured twice: its `Backoff` alone (the curve and the
//! jitter), and its `Machine` (what an adapter really calls per retry: the attempt count,
//! the limits and the backoff; the budget is off here and measured in `decision`).
//!
//! Differences that are the peers' own design, not the bench's: `backon` and
//! `exponential-backoff` seed a new RNG per state, `backoff` reads the clock on every delay,
//! `retry-policies` reads the clock and the thread RNG on every decision, `tokio-retry`'s
//! jitter uses the thread RNG. redial takes the caller's RNG.

mod common;

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use backoff::backoff::Backoff as _;
use backon::BackoffBuilder as _;
use common::{backoff_state, backon_builder, tokio_retry_strategy, BASE, CAP, FACTOR, RETRIES};
use criterion::{criterion_group, criterion_main, Criterion};
use redial::machine::Machine;
use redial::{Cause, Policy, Verdict};
use retry_policies::RetryPolicy as _;

/// The baseline: what a person writes for full jitter with no library.
struct Hand {
    n: u32,
}

impl Hand {
    fn next(&mut self, rng: &mut fastrand::Rng) -> Duration {
        let raw = common::doubled_ns(self.n);
        self.n = self.n.saturating_add(1);
        Duration::from_nanos(rng.u64(0..=raw))
    }
}

fn policy(max_attempts: u32) -> Policy {
    common::build(
        common::policy_builder()
            .max_attempts(max_attempts)
            .no_budget(),
    )
}

fn retry_policies_policy(retries: u32) -> retry_policies::policies::ExponentialBackoff {
    retry_policies::policies::ExponentialBackoff::builder()
        .retry_bounds(BASE, CAP)
        .base(FACTOR)
        .jitter(retry_policies::Jitter::Full)
        .build_with_max_retries(retries)
}

fn exponential_backoff(attempts: u32) -> exponential_backoff::Backoff {
    let mut b = exponential_backoff::Backoff::new(attempts, BASE, CAP);
    b.set_factor(FACTOR);
    b
}

fn retry_policies_delay(decision: retry_policies::RetryDecision) -> Option<SystemTime> {
    match decision {
        retry_policies::RetryDecision::Retry { execute_after } => Some(execute_after),
        retry_policies::RetryDecision::DoNotRetry => None,
    }
}

fn steady(c: &mut Criterion) {
    let mut g = c.benchmark_group("next_delay/steady");
    let mut rng = fastrand::Rng::with_seed(7);
    // Past the cap: every state has made 20 delays before it is measured.
    const WARM: u32 = 20;

    let mut hand = Hand { n: WARM };
    g.bench_function("hand-written", |b| {
        b.iter(|| black_box(hand.next(&mut rng)))
    });

    let p = policy(u32::MAX);
    let backoff = p.rules().backoff().clone();
    let (mut n, mut previous) = (WARM, backoff.base());
    g.bench_function("redial/backoff", |b| {
        b.iter(|| {
            n = n.saturating_add(1);
            previous = backoff.delay(black_box(n), previous, &mut rng);
            black_box(previous)
        })
    });

    let now = Instant::now();
    let busy = Verdict::retryable(Cause::status(503));
    let mut call = Machine::new(&p, now);
    for _ in 0..WARM {
        let _ = call.on_outcome(&busy, now, &mut rng);
    }
    g.bench_function("redial/machine", |b| {
        b.iter(|| {
            black_box(common::obey(call.on_outcome(
                black_box(&busy),
                now,
                &mut rng,
            )))
        })
    });

    let mut it = backon_builder().without_max_times().build();
    it.by_ref().take(WARM as usize).for_each(|_| ());
    g.bench_function("backon", |b| b.iter(|| black_box(it.next())));

    let mut state = backoff_state();
    for _ in 0..WARM {
        let _ = state.next_backoff();
    }
    g.bench_function("backoff", |b| b.iter(|| black_box(state.next_backoff())));

    let rp = retry_policies_policy(u32::MAX);
    let start = SystemTime::now();
    g.bench_function("retry-policies", |b| {
        b.iter(|| {
            black_box(retry_policies_delay(
                rp.should_retry(start, black_box(WARM)),
            ))
        })
    });

    let mut tr = tokio_retry_strategy();
    tr.by_ref().take(WARM as usize).for_each(|_| ());
    g.bench_function("tokio-retry", |b| b.iter(|| black_box(tr.next())));

    let eb = exponential_backoff(u32::MAX);
    let mut eb_it = eb.iter();
    eb_it.by_ref().take(WARM as usize).for_each(|_| ());
    g.bench_function("exponential-backoff", |b| {
        b.iter(|| black_box(eb_it.next()))
    });

    g.finish();
}

fn fresh_plus_three(c: &mut Criterion) {
    let mut g = c.benchmark_group("next_delay/fresh+3");
    let mut rng = fastrand::Rng::with_seed(7);

    g.bench_function("hand-written", |b| {
        b.iter(|| {
            let mut hand = Hand { n: 0 };
            black_box([
                hand.next(&mut rng),
                hand.next(&mut rng),
                hand.next(&mut rng),
            ])
        })
    });

    let p = policy(RETRIES + 1);
    let backoff = p.rules().backoff().clone();
    g.bench_function("redial/backoff", |b| {
        b.iter(|| {
            let mut previous = backoff.base();
            let mut delays = [Duration::ZERO; RETRIES as usize];
            for (n, d) in (1..).zip(delays.iter_mut()) {
                previous = backoff.delay(n, previous, &mut rng);
                *d = previous;
            }
            black_box(delays)
        })
    });

    let now = Instant::now();
    let busy = Verdict::retryable(Cause::status(503));
    g.bench_function("redial/machine", |b| {
        b.iter(|| {
            let mut call = Machine::new(&p, now);
            let busy = black_box(&busy);
            black_box([
                common::obey(call.on_outcome(busy, now, &mut rng)),
                common::obey(call.on_outcome(busy, now, &mut rng)),
                common::obey(call.on_outcome(busy, now, &mut rng)),
            ])
        })
    });

    let builder = backon_builder();
    g.bench_function("backon", |b| {
        b.iter(|| {
            let mut it = black_box(&builder).build();
            black_box([it.next(), it.next(), it.next()])
        })
    });

    g.bench_function("backoff", |b| {
        b.iter(|| {
            let mut state = backoff_state();
            black_box([
                state.next_backoff(),
                state.next_backoff(),
                state.next_backoff(),
            ])
        })
    });

    let rp = retry_policies_policy(RETRIES);
    g.bench_function("retry-policies", |b| {
        b.iter(|| {
            // Its per-call state is the call's start time.
            let start = SystemTime::now();
            black_box([0, 1, 2].map(|n| retry_policies_delay(rp.should_retry(start, n))))
        })
    });

    g.bench_function("tokio-retry", |b| {
        b.iter(|| {
            let mut it = tokio_retry_strategy().take(RETRIES as usize);
            black_box([it.next(), it.next(), it.next()])
        })
    });

    // exponential-backoff counts attempts, the last of which has no delay after it.
    let eb = exponential_backoff(RETRIES + 1);
    g.bench_function("exponential-backoff", |b| {
        b.iter(|| {
            let mut it = black_box(&eb).iter();
            black_box([it.next(), it.next(), it.next()])
        })
    });

    g.finish();
}

criterion_group! {
    name = benches;
    config = common::criterion();
    targets = steady, fresh_plus_three
}
criterion_main!(benches);
