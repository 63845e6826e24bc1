//! What every bench shares: the policy all crates are configured to, and criterion's
//! settings.
//!
//! The policy of issue 5: first delay 500 ms, ×2, capped at 8 s, jitter on, 3 retries.

#![allow(dead_code)] // each bench file uses part of this

use std::time::Duration;

use criterion::Criterion;
use redial::machine::Action;

/// The first retry's delay.
pub const BASE: Duration = Duration::from_millis(500);
/// The longest delay.
pub const CAP: Duration = Duration::from_secs(8);
/// The curve's factor.
pub const FACTOR: u32 = 2;
/// Retries per call (so 4 attempts).
pub const RETRIES: u32 = 3;

/// Short, steady runs: the machine has 2 cores shared by several developers, and a whole
/// `cargo bench` should take a few minutes. Flags given on the command line still win.
pub fn criterion() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .sample_size(40)
        .configure_from_args()
}

/// What an adapter takes from an action: how long to sleep, or that the call is over.
/// Benches pass this on, like the peers' `Option<Duration>`: keeping the whole 64-byte
/// action alive with `black_box` would time a memory copy that no adapter makes.
pub fn obey(action: Action) -> Option<Duration> {
    match action {
        Action::Retry(retry) => Some(retry.delay),
        Action::Stop(_) => None,
    }
}

/// The un-jittered delay before retry `retries + 1` (0 for the first retry), as a person
/// writes it: ×2 per retry is a shift (past 2^16 the cap has long won), then the cap. The
/// hand-written baselines draw their full jitter in `0..=` this many nanoseconds.
pub fn doubled_ns(retries: u32) -> u64 {
    const BASE_NS: u64 = BASE.as_nanos() as u64;
    const CAP_NS: u64 = CAP.as_nanos() as u64;
    (BASE_NS << retries.min(16)).min(CAP_NS)
}

/// The policy with full jitter, for redial: finish it with attempts and a budget, then
/// [`build`].
pub fn policy_builder() -> redial::PolicyBuilder {
    redial::Policy::builder()
        .base(BASE)
        .cap(CAP)
        .factor(f64::from(FACTOR))
        .jitter(redial::backoff::Jitter::Full)
}

/// Builds a bench policy, which is valid.
pub fn build(builder: redial::PolicyBuilder) -> redial::Policy {
    match builder.build() {
        Ok(p) => p,
        Err(e) => panic!("the bench policy is valid: {e}"),
    }
}

/// backon, set to the policy.
pub fn backon_builder() -> backon::ExponentialBuilder {
    backon::ExponentialBuilder::default()
        .with_min_delay(BASE)
        .with_max_delay(CAP)
        .with_factor(FACTOR as f32)
        .with_jitter()
        .with_max_times(RETRIES as usize)
}

/// backoff, set to the policy (its jitter is a ±50 % randomization factor).
pub fn backoff_state() -> backoff::ExponentialBackoff {
    backoff::ExponentialBackoffBuilder::new()
        .with_initial_interval(BASE)
        .with_multiplier(f64::from(FACTOR))
        .with_max_interval(CAP)
        .with_randomization_factor(0.5)
        .with_max_elapsed_time(None)
        .build()
}

/// tokio-retry's exponential backoff is `base^n × factor` ms: 2^n × 250 ms is 500 ms, ×2.
pub fn tokio_retry_strategy() -> impl Iterator<Item = Duration> {
    tokio_retry::strategy::ExponentialBackoff::from_millis(2)
        .factor(250)
        .max_delay(CAP)
        .map(tokio_retry::strategy::jitter)
}

/// The policy the adapter benches give redial: the one above, with the AWS token bucket
/// (5 tokens a retry, refunded when the call succeeds, so the bucket never runs dry), the
/// budget the adapters were measured with before the adaptive budget became the default
/// (issue 11): these benches time the adapters, and no peer keeps a budget at all.
/// [`adaptive_policy`] is the same with today's default budget.
pub fn adapter_policy() -> redial::Policy {
    build(
        policy_builder()
            .max_attempts(RETRIES + 1)
            .budget(redial::budget::BudgetConfig::aws()),
    )
}

/// [`adapter_policy`] with the default budget's kind (adaptive), for the rows that show
/// what it costs. Its ratios are raised to the most a policy allows (10 retries per first
/// attempt), so that it lets the retry benches' calls (every one retries twice) retry as
/// the AWS rows do: at the default ratios the budget rightly throttles such a stream of
/// calls, and the rows timed refusals and the errors they end in, not the same call.
pub fn adaptive_policy() -> redial::Policy {
    let mut budget = redial::budget::BudgetConfig::adaptive();
    budget.overload_ratio = 10.0;
    budget.retry_ratio = 10.0;
    build(policy_builder().max_attempts(RETRIES + 1).budget(budget))
}

/// A 200 or any other response, borrowing headers built once, so that making an attempt
/// costs the same for every crate and allocates nothing.
#[derive(Clone, Copy, Debug)]
pub struct Canned<'a> {
    pub status: http::StatusCode,
    pub headers: &'a http::HeaderMap,
}

impl<'a> Canned<'a> {
    /// A 200 with these headers.
    pub fn ok(headers: &'a http::HeaderMap) -> Self {
        Canned {
            status: http::StatusCode::OK,
            headers,
        }
    }
}

/// Attempts of each call that fail before one succeeds, in the retry benches.
pub const FAILURES: u32 = 2;

/// An operation that refuses the connection on the first [`FAILURES`] attempts of each
/// call (counted in `n`, which each call's iteration resets), then answers `ok`.
pub fn flaky<'a>(
    n: &'a std::cell::Cell<u32>,
    ok: Canned<'a>,
) -> impl FnMut() -> std::future::Ready<Result<Canned<'a>, redial::Transport>> + Clone + 'a {
    move || {
        let attempt = n.get();
        n.set(attempt + 1);
        std::future::ready(if attempt < FAILURES {
            Err(redial::Transport::Connect)
        } else {
            Ok(std::hint::black_box(ok))
        })
    }
}

impl redial::HttpOutcome for Canned<'_> {
    fn outcome(&self) -> redial::classify::Outcome<'_> {
        redial::classify::Outcome::response(self.status, self.headers)
    }
}

/// The executor of the async benches: futures' current-thread `block_on`, which polls on
/// this thread and parks it between wake-ups. Every future measured is ready on its first
/// poll or after its no-op sleeps, so it never parks; what it adds is the same for every
/// crate.
pub fn block_on<F: std::future::Future>(fut: F) -> F::Output {
    futures_executor::block_on(fut)
}

/// The baseline of the async benches: the retry loop a person writes with no library:
/// retry any error, full jitter on a doubling delay, `sleep` between attempts.
pub async fn hand_written<T, E, Fut, S, SF>(mut op: impl FnMut() -> Fut, sleep: S) -> Result<T, E>
where
    Fut: std::future::Future<Output = Result<T, E>>,
    S: Fn(Duration) -> SF,
    SF: std::future::Future<Output = ()>,
{
    let mut retries = 0;
    loop {
        match op().await {
            Ok(v) => return Ok(v),
            Err(e) if retries == RETRIES => return Err(e),
            Err(_) => {
                let raw = doubled_ns(retries);
                retries += 1;
                sleep(Duration::from_nanos(fastrand::u64(0..=raw))).await;
            }
        }
    }
}

/// tower's retry, as a tower user writes it: a policy that counts attempts, here with a
/// wait that `sleep` makes (tower has no backoff of its own outside tokio).
#[derive(Clone, Copy, Debug)]
pub struct TowerAttempts<S> {
    pub left: u32,
    pub sleep: S,
}

impl<Req, Res, E, S, SF> tower::retry::Policy<Req, Res, E> for TowerAttempts<S>
where
    Req: Clone,
    S: Fn(Duration) -> SF,
    SF: std::future::Future<Output = ()>,
{
    type Future = SF;

    fn retry(&mut self, _req: &mut Req, result: &mut Result<Res, E>) -> Option<SF> {
        match result {
            Ok(_) => None,
            Err(_) if self.left == 0 => None,
            Err(_) => {
                let raw = doubled_ns(RETRIES - self.left);
                self.left -= 1;
                Some((self.sleep)(Duration::from_nanos(fastrand::u64(0..=raw))))
            }
        }
    }

    fn clone_request(&mut self, req: &Req) -> Option<Req> {
        Some(req.clone())
    }
}

/// One call through each crate with a no-op sleeper, run to completion on [`block_on`]:
/// the bodies that `success_overhead`, `retry_then_success` and `instructions` time, so
/// that all three measure the same code. Each says whether the call succeeded.
pub mod calls {
    use std::future::{ready, Future, IntoFuture};
    use std::time::Duration;

    use redial::Retryable as _;
    use redial::{Cause, Policy, Transport, Verdict};
    use tower::ServiceExt as _;

    use super::{block_on, Canned};

    /// The sleeper that never waits.
    pub fn no_sleep(_: Duration) -> std::future::Ready<()> {
        ready(())
    }

    pub fn bare<'a, Fut>(op: impl FnOnce() -> Fut) -> bool
    where
        Fut: Future<Output = Result<Canned<'a>, Transport>>,
    {
        block_on(op()).is_ok()
    }

    pub fn hand_written<'a, Fut>(op: impl FnMut() -> Fut) -> bool
    where
        Fut: Future<Output = Result<Canned<'a>, Transport>>,
    {
        block_on(super::hand_written(op, no_sleep)).is_ok()
    }

    /// redial reading each result as an HTTP outcome, for an idempotent request.
    pub fn redial_http<'a, Fut>(policy: &Policy, op: impl FnMut() -> Fut) -> bool
    where
        Fut: Future<Output = Result<Canned<'a>, Transport>>,
    {
        let call = op.retry(policy).idempotent().sleeper(no_sleep);
        block_on(call.into_future()).is_ok()
    }

    /// redial with a closure that calls `Ok` a success and any error retryable.
    pub fn redial_closure<'a, Fut>(policy: &Policy, op: impl FnMut() -> Fut) -> bool
    where
        Fut: Future<Output = Result<Canned<'a>, Transport>>,
    {
        let call = op.retry(policy).idempotent().sleeper(no_sleep).classify(
            |r: &Result<Canned<'a>, Transport>| match r {
                Ok(_) => Verdict::Success,
                Err(_) => Verdict::retryable(Cause::caller()),
            },
        );
        block_on(call.into_future()).is_ok()
    }

    pub fn backon<'a, Fut>(op: impl FnMut() -> Fut) -> bool
    where
        Fut: Future<Output = Result<Canned<'a>, Transport>>,
    {
        let call = backon::Retryable::retry(op, super::backon_builder()).sleep(no_sleep);
        block_on(call).is_ok()
    }

    pub fn tower<'a, Fut>(op: impl FnMut() -> Fut + Clone) -> bool
    where
        Fut: Future<Output = Result<Canned<'a>, Transport>>,
    {
        let policy = super::TowerAttempts {
            left: super::RETRIES,
            sleep: no_sleep,
        };
        let mut op = op;
        let svc = tower::retry::Retry::new(policy, tower::service_fn(move |()| op()));
        block_on(svc.oneshot(())).is_ok()
    }

    /// backoff's `future::retry`; it sleeps with tokio's timer, so it may only fail inside
    /// a tokio runtime.
    pub fn backoff<'a, Fut>(mut op: impl FnMut() -> Fut) -> bool
    where
        Fut: Future<Output = Result<Canned<'a>, Transport>>,
    {
        let call = ::backoff::future::retry(super::backoff_state(), || {
            let attempt = op();
            async { attempt.await.map_err(::backoff::Error::transient) }
        });
        block_on(call).is_ok()
    }

    /// tokio-retry's `Retry::start`; it sleeps with tokio's timer, so it may only fail
    /// inside a tokio runtime.
    pub fn tokio_retry<'a, Fut>(op: impl FnMut() -> Fut) -> bool
    where
        Fut: Future<Output = Result<Canned<'a>, Transport>>,
    {
        let strategy = super::tokio_retry_strategy().take(super::RETRIES as usize);
        block_on(tokio_retry::Retry::start(strategy, op)).is_ok()
    }
}
