//! [`Retrying`], the one builder every adapter returns.
//!
//! `.retry(&policy)`, `BlockingRetryable::retry`, `retry_stream` and `RetryLayer::new` all
//! return a [`Retrying`]: the policy, the sleeper, the classify and notify hooks, the
//! request's facts and the generator ([`Options`]), plus the adapter's own part (`A`: the
//! operation and where its attempt stands). Its setters are written once, here, for every
//! adapter.

use fastrand::Rng;
use pin_project_lite::pin_project;

use crate::classify::RequestFacts;
use crate::verdict::Verdict;

use super::classify::{ClassifyFn, HttpClassify};
use super::notify::{Event, NoNotify};
use super::options::{AttemptOutput, Options, WithSleeper};

pin_project! {
    /// A retried call: the options every adapter shares (policy, sleeper, hooks, request
    /// facts, generator) and the adapter's own part `A`. Chain the options, then:
    ///
    /// | made by | `A` | then |
    /// |---|---|---|
    /// | [`Retryable::retry`](crate::Retryable::retry) | [`Attempts`](crate::Attempts) | `.await` it (it is a `Future`) |
    /// | [`RetryableWithContext::retry_with`](crate::RetryableWithContext::retry_with) | [`Attempts`](crate::Attempts) | `.await` it, for `(context, result)` |
    /// | [`BlockingRetryable::retry`](crate::BlockingRetryable::retry) | [`BlockingAttempts`](crate::BlockingAttempts) | `.call()` |
    /// | [`retry_stream`](crate::retry_stream) | [`StreamAttempts`](crate::StreamAttempts) | poll it (it is a `Stream`) |
    /// | `RetryLayer::new` (feature `tower`) | `TowerLayer` | `.layer(service)` |
    ///
    /// The output is `Result<T, RetryError<E, T>>`: `Ok` only for a result the policy
    /// calls a success, otherwise a [`RetryError`](crate::RetryError) that holds the last
    /// error or response with the reason it stopped.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial::{Cause, Policy, RetryError, Retryable, StopReason, Verdict};
    ///
    /// # futures_executor::block_on(async {
    /// let policy = Policy::builder().base(Duration::from_millis(1)).build()?;
    /// let mut calls = 0;
    /// let result: Result<u32, RetryError<&str, u32>> = (|| {
    ///     calls += 1;
    ///     async { Err::<u32, _>("busy") }
    /// })
    /// .retry(&policy)
    /// .classify(|r| match r {
    ///     Ok(_) => Verdict::Success,
    ///     Err(_) => Verdict::retryable(Cause::caller()),
    /// })
    /// .sleeper(|d| futures_timer::Delay::new(d))
    /// .rng(fastrand::Rng::with_seed(7))
    /// .await;
    /// let err = result.unwrap_err();
    /// assert_eq!((err.reason(), err.attempts(), calls), (StopReason::AttemptsExhausted, 3, 3));
    /// # Ok::<(), redial::PolicyError>(())
    /// # })?;
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    #[must_use = "a retried call does nothing until it is awaited, called or polled"]
    #[derive(Debug)]
    pub struct Retrying<A, P, S, C, N> {
        pub(crate) options: Options<P, C, N>,
        pub(crate) sleeper: S,
        #[pin]
        pub(crate) attempts: A,
    }
}

/// A call with the default options: what the entry points return.
pub(crate) type Fresh<A, P> = Retrying<A, P, super::sleep::DefaultSleeper, HttpClassify, NoNotify>;

impl<A, P> Retrying<A, P, super::sleep::DefaultSleeper, HttpClassify, NoNotify> {
    /// A call with the default options: the HTTP classifier, no notify hook, a request
    /// not known to be idempotent, a generator made at the first draw.
    #[inline(always)]
    pub(crate) fn start(policy: P, attempts: A) -> Self {
        Retrying {
            options: Options {
                policy,
                classify: HttpClassify,
                notify: NoNotify,
                facts: RequestFacts::idempotent(false),
                rng: None,
            },
            sleeper: super::sleep::DefaultSleeper::default(),
            attempts,
        }
    }
}

impl<A, P, S, C, N> Retrying<A, P, S, C, N> {
    /// The same call with other hooks: the one place a setter rebuilds it.
    #[inline(always)]
    fn map<C2, N2>(self, f: impl FnOnce(C, N) -> (C2, N2)) -> Retrying<A, P, S, C2, N2> {
        Retrying {
            options: self.options.map(f),
            sleeper: self.sleeper,
            attempts: self.attempts,
        }
    }

    /// Waits between attempts with this sleeper (and reads its clocks): a
    /// [`Sleeper`](crate::sleep::Sleeper) for the async adapters, a
    /// [`BlockingSleeper`](crate::sleep::BlockingSleeper) for the blocking one. Without it,
    /// the async adapters use [`DefaultSleeper`](crate::sleep::DefaultSleeper), the
    /// blocking one [`ThreadSleeper`](crate::sleep::ThreadSleeper).
    ///
    /// ```
    /// # use redial::Retryable;
    /// # use redial::sleep::TokioSleeper;
    /// # let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) }).retry(redial::Policy::default());
    /// let call = call.sleeper(TokioSleeper);
    /// # drop(call);
    /// ```
    #[inline(always)]
    pub fn sleeper<S2>(self, sleeper: S2) -> Retrying<A::Output, P, S2, C, N>
    where
        A: WithSleeper<S2>,
    {
        Retrying {
            options: self.options,
            sleeper,
            attempts: self.attempts.with_sleeper(),
        }
    }

    /// Decides each result with this closure instead of reading it as an HTTP outcome
    /// (for results that are not HTTP: a gRPC status, a database error).
    ///
    /// ```
    /// # use redial::{Cause, Retryable, Verdict};
    /// let call = (|| async { Err::<(), _>("locked") })
    ///     .retry(redial::Policy::default())
    ///     .classify(|r| if r.is_ok() { Verdict::Success } else { Verdict::retryable(Cause::caller()) });
    /// # drop(call);
    /// ```
    #[inline(always)]
    pub fn classify<F>(self, classify: F) -> Retrying<A, P, S, ClassifyFn<F>, N>
    where
        A: AttemptOutput,
        F: FnMut(&Result<A::Ok, A::Err>) -> Verdict,
    {
        self.classify_with(ClassifyFn(classify))
    }

    /// Decides each result with this [`Classify`](crate::Classify) implementation.
    ///
    /// ```
    /// # use redial::Retryable;
    /// # use redial::classify::HttpClassify;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .classify_with(HttpClassify);
    /// # drop(call);
    /// ```
    #[inline(always)]
    pub fn classify_with<C2>(self, classify: C2) -> Retrying<A, P, S, C2, N> {
        self.map(|_, notify| (classify, notify))
    }

    /// Calls `notify` after each failed attempt that will be retried, before the wait
    /// (a tower layer gives each request a clone of it).
    ///
    /// ```
    /// # use redial::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .notify(|event| eprintln!("{event}"));
    /// # drop(call);
    /// ```
    #[inline(always)]
    pub fn notify<F>(self, notify: F) -> Retrying<A, P, S, C, F>
    where
        F: FnMut(&Event<'_>),
    {
        self.map(|classify, _| (classify, notify))
    }

    /// What is known about the request, for the safety of retrying it. The default is a
    /// request that is not idempotent (the closure hides it); a tower layer reads each
    /// request's method and `Idempotency-Key` itself, and this only adds to them.
    ///
    /// ```
    /// # use redial::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .facts(redial::classify::RequestFacts::new(&http::Method::DELETE));
    /// # drop(call);
    /// ```
    #[inline(always)]
    pub fn facts(mut self, facts: RequestFacts) -> Self {
        self.options.facts = facts;
        self
    }

    /// The request is idempotent (a GET, PUT, DELETE, or one with an `Idempotency-Key`):
    /// it may be retried after any retryable failure.
    ///
    /// ```
    /// # use redial::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .idempotent();
    /// # drop(call);
    /// ```
    #[inline(always)]
    pub fn idempotent(self) -> Self {
        self.facts(RequestFacts::idempotent(true))
    }

    /// Draws the jitter from this generator instead of a freshly seeded one, for
    /// reproducible schedules (a tower layer forks it for each request).
    ///
    /// ```
    /// # use redial::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .rng(fastrand::Rng::with_seed(1));
    /// # drop(call);
    /// ```
    #[inline(always)]
    pub fn rng(mut self, rng: Rng) -> Self {
        self.options.rng = Some(rng);
        self
    }
}
