//! Async retry on any executor: a hand-written future, no boxing, no runtime in its type.
//!
//! Call `.retry(&policy)` on the operation itself: any `FnMut() -> impl Future<Output =
//! Result<T, E>>`. The chained calls that follow are all optional, then `.await`:
//!
//! ```
//! use std::time::Duration;
//! use redial::adapters::{Retryable, TokioSleeper};
//! use redial::{Policy, Transport};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let policy = Policy::default();
//! let mut refusals = 2;
//! // Stands in for `client.get(url).send()`: refused twice, then a 200.
//! let send = || {
//!     let refused = refusals > 0;
//!     refusals -= 1;
//!     async move {
//!         if refused { Err(Transport::Connect) } else { Ok(http::Response::new("hello")) }
//!     }
//! };
//!
//! let response = send
//!     .retry(&policy)
//!     .sleeper(TokioSleeper)
//!     .notify(|event| println!("{event}"))
//!     .attempt_timeout(Duration::from_secs(10))
//!     .await
//!     .expect("the third attempt succeeds");
//! assert_eq!(*response.body(), "hello");
//! # }
//! ```
//!
//! - `.sleeper(s)`: the timer ([`Sleeper`]); defaults to [`DefaultSleeper`].
//! - `.classify(|result| verdict)`: decide results that are not HTTP; the default reads
//!   them as HTTP outcomes ([`HttpOutcome`](super::HttpOutcome)) through the policy's table.
//! - `.idempotent()` or `.facts(RequestFacts::new(&method))`: what is known about the
//!   request. The adapter cannot see the request inside your closure, so it assumes the
//!   worst, a request that is *not* idempotent (a POST): it is then retried only where the
//!   policy's `non_idempotent` rule allows (by default only when the server cannot have
//!   acted on it). Say `.idempotent()` for a GET, PUT or DELETE, or a request with an
//!   `Idempotency-Key`.
//! - `.notify(|event| ..)`: hears about each retry before its wait ([`Event`]).
//! - `.attempt_timeout(d)`: cuts off an attempt after `d`, on the same sleeper; the attempt
//!   counts as a transport timeout ([`Transport::Timeout`](crate::Transport::Timeout)),
//!   retried where a timeout may be.
//! - `.rng(rng)`: a seeded generator for the jitter, for reproducible schedules.
//!
//! The output is `Result<T, RetryError<E, T>>`: `Ok` only for a result the policy calls a
//! success, otherwise a [`RetryError`] that holds the last error, or the last response (a
//! `400`, or a `529` after the last attempt), with the reason it stopped.
//!
//! # What the future guarantees
//!
//! It is an explicit state machine (idle → attempting → sleeping → … → done) built with
//! `pin-project-lite`. It allocates nothing per attempt (the final error is one box), is
//! `Send` when its parts are, and `Unpin` when the operation's future and the sleep are.
//! Dropping it at any point is fine: mid-attempt it drops the attempt's future, mid-sleep
//! the timer, and nothing is left running. Polling it after it completed returns
//! `Poll::Pending` forever rather than panicking.
//!
//! It reads the sleeper's clocks only when a decision needs them, since a read costs more
//! than the rest of a successful call: none for a call that succeeds at once; the
//! monotonic clock once to start the call, when its first attempt first waits or fails
//! (before that attempt under a `max_elapsed` deadline), then for the deadline and the
//! final error; the wall clock for a failed response only, whose hints may be dates.
//!
//! # Operations that need `&mut` state
//!
//! A future that borrows `&mut` state from its closure cannot be stored beside that
//! closure, so state travels by value: [`RetryableWithContext::retry_with`] hands a context
//! to each attempt and takes it back from its output.
//!
//! ```
//! use redial::adapters::RetryableWithContext;
//! use redial::{Policy, Transport};
//!
//! struct Conn { sent: u32 }
//!
//! # futures_executor::block_on(async {
//! let policy = Policy::builder().base(std::time::Duration::from_millis(1)).build()?;
//! let (conn, result) = (|mut conn: Conn| async move {
//!     conn.sent += 1;
//!     let result = if conn.sent < 2 { Err(Transport::Reset) } else { Ok(http::Response::new(())) };
//!     (conn, result)
//! })
//! .retry_with(&policy, Conn { sent: 0 })
//! .idempotent()
//! .sleeper(|d| futures_timer::Delay::new(d))
//! .await;
//! assert_eq!(conn.sent, 2);
//! assert!(result.is_ok());
//! # Ok::<(), redial::PolicyError>(())
//! # })?;
//! # Ok::<(), redial::PolicyError>(())
//! ```

use core::borrow::Borrow;
use core::fmt;
use core::future::{Future, IntoFuture};
use core::pin::Pin;
use core::task::{ready, Context, Poll};
use core::time::Duration;

use fastrand::Rng;
use pin_project_lite::pin_project;

use crate::classify::RequestFacts;
use crate::machine::Rules;
use crate::policy::Policy;
use crate::verdict::Verdict;

use super::driver::{Driver, Step};
use super::error::RetryError;
use super::hooks::{Classify, ClassifyFn, Event, HttpClassify, NoNotify, Notify};
use super::sleep::{DefaultSleeper, Sleeper};

/// Adds `.retry(policy)` to every `FnMut() -> impl Future<Output = Result<T, E>>`. See the
/// [module docs](self).
///
/// `policy` is a `&Policy`, or an owned [`Policy`] for a future that must be `'static`
/// (one you spawn); a clone shares the budget, so both draw on the same bucket.
///
/// ```
/// use redial::adapters::Retryable;
/// use redial::Policy;
///
/// # futures_executor::block_on(async {
/// let result = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
///     .retry(Policy::default())
///     .sleeper(|_| std::future::ready(()))
///     .await;
/// assert!(result.is_ok());
/// # });
/// ```
pub trait Retryable<T, E, Fut>: Sized {
    /// Starts building a retried call under `policy`.
    fn retry<P>(self, policy: P) -> RetryCall<P, Self, DefaultSleeper, HttpClassify, NoNotify>
    where
        P: Borrow<Policy> + AsRef<Rules> + Clone;
}

impl<F, Fut, T, E> Retryable<T, E, Fut> for F
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    fn retry<P>(self, policy: P) -> RetryCall<P, Self, DefaultSleeper, HttpClassify, NoNotify>
    where
        P: Borrow<Policy> + AsRef<Rules> + Clone,
    {
        RetryCall {
            common: Common::new(policy),
            op: self,
            timeout: None,
        }
    }
}

/// Adds `.retry_with(policy, context)` to every `FnMut(Ctx) -> impl Future<Output = (Ctx,
/// Result<T, E>)>`: each attempt gets the context by value and gives it back, and the call
/// returns it with the result. See the [module docs](self#operations-that-need-mut-state).
///
/// There is no per-attempt timeout here: cutting an attempt off would drop the context
/// with its future. Put the timeout inside the operation.
///
/// ```
/// use redial::adapters::RetryableWithContext;
/// use redial::Policy;
///
/// # futures_executor::block_on(async {
/// let (buffer, result) = (|mut buffer: Vec<u8>| async move {
///     buffer.push(1);
///     (buffer, Ok::<_, std::io::Error>(http::Response::new(())))
/// })
/// .retry_with(&Policy::default(), Vec::new())
/// .sleeper(|_| std::future::ready(()))
/// .await;
/// assert_eq!((buffer, result.is_ok()), (vec![1], true));
/// # });
/// ```
pub trait RetryableWithContext<Ctx, T, E, Fut>: Sized {
    /// Starts building a retried call under `policy`, with `context` for the first attempt.
    fn retry_with<P>(
        self,
        policy: P,
        context: Ctx,
    ) -> RetryCallWithContext<P, Self, Ctx, DefaultSleeper, HttpClassify, NoNotify>
    where
        P: Borrow<Policy> + AsRef<Rules> + Clone;
}

impl<F, Fut, Ctx, T, E> RetryableWithContext<Ctx, T, E, Fut> for F
where
    F: FnMut(Ctx) -> Fut,
    Fut: Future<Output = (Ctx, Result<T, E>)>,
{
    fn retry_with<P>(
        self,
        policy: P,
        context: Ctx,
    ) -> RetryCallWithContext<P, Self, Ctx, DefaultSleeper, HttpClassify, NoNotify>
    where
        P: Borrow<Policy> + AsRef<Rules> + Clone,
    {
        RetryCallWithContext {
            common: Common::new(policy),
            op: self,
            context,
        }
    }
}

/// The settings every async builder shares.
#[derive(Debug)]
struct Common<P, S, C, N> {
    policy: P,
    sleeper: S,
    classify: C,
    notify: N,
    facts: RequestFacts,
    rng: Option<Rng>,
}

impl<P> Common<P, DefaultSleeper, HttpClassify, NoNotify> {
    fn new(policy: P) -> Self {
        Common {
            policy,
            sleeper: DefaultSleeper::default(),
            classify: HttpClassify,
            notify: NoNotify,
            // The closure hides the request: assume the worst, a request that is not
            // idempotent, until told otherwise.
            facts: RequestFacts::idempotent(false),
            rng: None,
        }
    }
}

impl<P, S, C, N> Common<P, S, C, N> {
    fn sleeper<S2>(self, sleeper: S2) -> Common<P, S2, C, N> {
        Common {
            policy: self.policy,
            sleeper,
            classify: self.classify,
            notify: self.notify,
            facts: self.facts,
            rng: self.rng,
        }
    }

    fn classify<C2>(self, classify: C2) -> Common<P, S, C2, N> {
        Common {
            policy: self.policy,
            sleeper: self.sleeper,
            classify,
            notify: self.notify,
            facts: self.facts,
            rng: self.rng,
        }
    }

    fn notify<N2>(self, notify: N2) -> Common<P, S, C, N2> {
        Common {
            policy: self.policy,
            sleeper: self.sleeper,
            classify: self.classify,
            notify,
            facts: self.facts,
            rng: self.rng,
        }
    }

    fn driver(self) -> (Driver<P, C, N>, S)
    where
        P: Borrow<Policy> + AsRef<Rules> + Clone,
    {
        // The adapter owns randomness: the caller's seeded generator, else (at the first
        // retry) a fresh one seeded from fastrand's thread-local one.
        let driver = Driver::new(
            self.policy,
            self.facts,
            self.classify,
            self.notify,
            self.rng,
        );
        (driver, self.sleeper)
    }
}

/// A retried call being set up: chain its options, then `.await` it. Made by
/// [`Retryable::retry`]; see the [module docs](self).
///
/// ```
/// use std::time::Duration;
/// use redial::adapters::{Retryable, RetryError};
/// use redial::{Cause, Policy, StopReason, Verdict};
///
/// # futures_executor::block_on(async {
/// let policy = Policy::builder().base(Duration::from_millis(1)).build()?;
/// let mut calls = 0;
/// let result: Result<u32, RetryError<&str, u32>> = (|| {
///     calls += 1;
///     async { Err::<u32, _>("busy") }
/// })
/// .retry(&policy)
/// .classify(|r: &Result<u32, &str>| match r {
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
#[must_use = "a retried call does nothing until it is awaited"]
#[derive(Debug)]
pub struct RetryCall<P, Op, S, C, N> {
    common: Common<P, S, C, N>,
    op: Op,
    timeout: Option<Duration>,
}

impl<P, Op, S, C, N> RetryCall<P, Op, S, C, N> {
    /// Waits between attempts with this [`Sleeper`] (and reads its clock).
    ///
    /// ```
    /// # use redial::adapters::{Retryable, TokioSleeper};
    /// # let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) }).retry(redial::Policy::default());
    /// let call = call.sleeper(TokioSleeper);
    /// # drop(call);
    /// ```
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> RetryCall<P, Op, S2, C, N> {
        RetryCall {
            common: self.common.sleeper(sleeper),
            op: self.op,
            timeout: self.timeout,
        }
    }

    /// Decides each result with this closure instead of reading it as an HTTP outcome.
    ///
    /// ```
    /// # use redial::adapters::Retryable;
    /// # use redial::{Cause, Verdict};
    /// let call = (|| async { Err::<(), _>("locked") })
    ///     .retry(redial::Policy::default())
    ///     .classify(|r| if r.is_ok() { Verdict::Success } else { Verdict::retryable(Cause::caller()) });
    /// # drop(call);
    /// ```
    pub fn classify<F, T, E, Fut>(self, classify: F) -> RetryCall<P, Op, S, ClassifyFn<F>, N>
    where
        Op: FnMut() -> Fut,
        Fut: Future<Output = Result<T, E>>,
        F: FnMut(&Result<T, E>) -> Verdict,
    {
        RetryCall {
            common: self.common.classify(ClassifyFn(classify)),
            op: self.op,
            timeout: self.timeout,
        }
    }

    /// Decides each result with this [`Classify`] implementation.
    ///
    /// ```
    /// # use redial::adapters::{HttpClassify, Retryable};
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .classify_with(HttpClassify);
    /// # drop(call);
    /// ```
    pub fn classify_with<C2>(self, classify: C2) -> RetryCall<P, Op, S, C2, N> {
        RetryCall {
            common: self.common.classify(classify),
            op: self.op,
            timeout: self.timeout,
        }
    }

    /// Calls `notify` after each failed attempt that will be retried, before the wait.
    ///
    /// ```
    /// # use redial::adapters::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .notify(|event| eprintln!("{event}"));
    /// # drop(call);
    /// ```
    pub fn notify<F>(self, notify: F) -> RetryCall<P, Op, S, C, F>
    where
        F: FnMut(&Event<'_>),
    {
        RetryCall {
            common: self.common.notify(notify),
            op: self.op,
            timeout: self.timeout,
        }
    }

    /// What is known about the request, for the safety of retrying it. The default is a
    /// request that is not idempotent.
    ///
    /// ```
    /// # use redial::adapters::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .facts(redial::RequestFacts::new(&http::Method::DELETE));
    /// # drop(call);
    /// ```
    pub fn facts(mut self, facts: RequestFacts) -> Self {
        self.common.facts = facts;
        self
    }

    /// The request is idempotent (a GET, PUT, DELETE, or one with an `Idempotency-Key`):
    /// it may be retried after any retryable failure.
    ///
    /// ```
    /// # use redial::adapters::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .idempotent();
    /// # drop(call);
    /// ```
    pub fn idempotent(self) -> Self {
        self.facts(RequestFacts::idempotent(true))
    }

    /// Cuts off each attempt after `limit`, timed by the sleeper. A cut-off attempt is
    /// classified as a transport timeout.
    ///
    /// ```
    /// # use redial::adapters::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .attempt_timeout(std::time::Duration::from_secs(30));
    /// # drop(call);
    /// ```
    pub fn attempt_timeout(mut self, limit: Duration) -> Self {
        self.timeout = Some(limit);
        self
    }

    /// Draws the jitter from this generator instead of a freshly seeded one.
    ///
    /// ```
    /// # use redial::adapters::Retryable;
    /// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    ///     .retry(redial::Policy::default())
    ///     .rng(fastrand::Rng::with_seed(42));
    /// # drop(call);
    /// ```
    pub fn rng(mut self, rng: Rng) -> Self {
        self.common.rng = Some(rng);
        self
    }
}

impl<P, Op, Fut, T, E, S, C, N> IntoFuture for RetryCall<P, Op, S, C, N>
where
    P: Borrow<Policy> + AsRef<Rules> + Clone,
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    S: Sleeper,
    C: Classify<T, E>,
    N: Notify,
{
    type Output = Result<T, RetryError<E, T>>;
    type IntoFuture = RetryFuture<P, Op, Fut, S, C, N>;

    fn into_future(self) -> Self::IntoFuture {
        let (driver, sleeper) = self.common.driver();
        RetryFuture {
            op: self.op,
            sleeper,
            timeout: self.timeout,
            driver,
            state: State::Idle,
        }
    }
}

pin_project! {
    /// The future of a retried call: see the [module docs](self).
    #[must_use = "futures do nothing unless polled"]
    pub struct RetryFuture<P, Op, Fut, S, C, N>
    where
        S: Sleeper,
    {
        op: Op,
        sleeper: S,
        timeout: Option<Duration>,
        driver: Driver<P, C, N>,
        #[pin]
        state: State<Fut, S::Sleep>,
    }
}

pin_project! {
    /// Where a call is: about to make an attempt, waiting for one (and its timer), waiting
    /// before the next, or over.
    #[project = StateProj]
    enum State<Fut, Sl> {
        // The next attempt is due: the first one, or one whose wait is over.
        Idle,
        // An attempt is running; `timer` cuts it off if a per-attempt timeout is set.
        Attempt {
            #[pin]
            fut: Fut,
            #[pin]
            timer: Option<Sl>,
        },
        // Waiting before the next attempt.
        Sleep {
            #[pin]
            sleep: Sl,
        },
        // The result was handed out.
        Done,
    }
}

impl<Fut, Sl> State<Fut, Sl> {
    fn name(&self) -> &'static str {
        match self {
            State::Idle => "idle",
            State::Attempt { .. } => "attempting",
            State::Sleep { .. } => "sleeping",
            State::Done => "done",
        }
    }
}

impl<P, Op, Fut, T, E, S, C, N> Future for RetryFuture<P, Op, Fut, S, C, N>
where
    P: Borrow<Policy> + AsRef<Rules> + Clone,
    Op: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    S: Sleeper,
    C: Classify<T, E>,
    N: Notify,
{
    type Output = Result<T, RetryError<E, T>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Idle => {
                    this.driver.before_attempt(|| this.sleeper.now());
                    let fut = (this.op)();
                    let timer = this.timeout.map(|limit| this.sleeper.sleep(limit));
                    this.state.set(State::Attempt { fut, timer });
                }
                StateProj::Attempt { fut, timer } => {
                    let result = match fut.poll(cx) {
                        Poll::Ready(result) => Some(result),
                        // The attempt is still running: has its time run out?
                        Poll::Pending => {
                            this.driver.begin(|| this.sleeper.now());
                            match timer.as_pin_mut().map(|t| t.poll(cx)) {
                                Some(Poll::Ready(())) => None,
                                _ => return Poll::Pending,
                            }
                        }
                    };
                    let sleeper = &*this.sleeper;
                    match this
                        .driver
                        .decide(result.as_ref(), || sleeper.now(), &|| sleeper.wall())
                    {
                        Step::Retry(delay) => {
                            // Let go of everything the failed attempt holds before the
                            // wait begins, in a fixed order: its result (a response holds
                            // a connection), then its future (a timed-out one is cancelled
                            // here) and timer.
                            drop(result);
                            this.state.set(State::Done);
                            let sleep = this.sleeper.sleep(delay);
                            this.state.set(State::Sleep { sleep });
                        }
                        Step::Stop(stop) => {
                            this.state.set(State::Done);
                            let limit = this.timeout.unwrap_or_default();
                            let result = this.driver.finish(stop, result, limit, || sleeper.now());
                            return Poll::Ready(result);
                        }
                    }
                }
                StateProj::Sleep { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Idle);
                }
                StateProj::Done => return Poll::Pending,
            }
        }
    }
}

impl<P, Op, Fut, S: Sleeper, C, N> fmt::Debug for RetryFuture<P, Op, Fut, S, C, N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryFuture")
            .field("state", &self.state.name())
            .field("attempt_timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// A retried call with a context, being set up: chain its options, then `.await` it.
/// Made by [`RetryableWithContext::retry_with`].
///
/// ```
/// use redial::adapters::RetryableWithContext;
/// use redial::Policy;
///
/// # futures_executor::block_on(async {
/// let (n, result) = (|n: u32| async move { (n + 1, Ok::<_, std::io::Error>(http::Response::new(()))) })
///     .retry_with(&Policy::default(), 0)
///     .sleeper(|_| std::future::ready(()))
///     .await;
/// assert_eq!(n, 1);
/// # let _ = result;
/// # });
/// ```
#[must_use = "a retried call does nothing until it is awaited"]
#[derive(Debug)]
pub struct RetryCallWithContext<P, Op, Ctx, S, C, N> {
    common: Common<P, S, C, N>,
    op: Op,
    context: Ctx,
}

impl<P, Op, Ctx, S, C, N> RetryCallWithContext<P, Op, Ctx, S, C, N> {
    /// Waits between attempts with this [`Sleeper`] (and reads its clock).
    ///
    /// ```
    /// # use redial::adapters::{RetryableWithContext, TokioSleeper};
    /// # let call = (|c: ()| async move { (c, Ok::<_, std::io::Error>(http::Response::new(()))) }).retry_with(redial::Policy::default(), ());
    /// let call = call.sleeper(TokioSleeper);
    /// # drop(call);
    /// ```
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> RetryCallWithContext<P, Op, Ctx, S2, C, N> {
        RetryCallWithContext {
            common: self.common.sleeper(sleeper),
            op: self.op,
            context: self.context,
        }
    }

    /// Decides each result with this closure instead of reading it as an HTTP outcome.
    ///
    /// ```
    /// # use redial::adapters::RetryableWithContext;
    /// # use redial::{Cause, Verdict};
    /// let call = (|c: u8| async move { (c, Err::<(), _>("locked")) })
    ///     .retry_with(redial::Policy::default(), 0)
    ///     .classify(|r| if r.is_ok() { Verdict::Success } else { Verdict::fatal(Cause::caller()) });
    /// # drop(call);
    /// ```
    pub fn classify<F, T, E, Fut>(
        self,
        classify: F,
    ) -> RetryCallWithContext<P, Op, Ctx, S, ClassifyFn<F>, N>
    where
        Op: FnMut(Ctx) -> Fut,
        Fut: Future<Output = (Ctx, Result<T, E>)>,
        F: FnMut(&Result<T, E>) -> Verdict,
    {
        RetryCallWithContext {
            common: self.common.classify(ClassifyFn(classify)),
            op: self.op,
            context: self.context,
        }
    }

    /// Decides each result with this [`Classify`] implementation.
    ///
    /// ```
    /// # use redial::adapters::{HttpClassify, RetryableWithContext};
    /// let call = (|c: ()| async move { (c, Ok::<_, std::io::Error>(http::Response::new(()))) })
    ///     .retry_with(redial::Policy::default(), ())
    ///     .classify_with(HttpClassify);
    /// # drop(call);
    /// ```
    pub fn classify_with<C2>(self, classify: C2) -> RetryCallWithContext<P, Op, Ctx, S, C2, N> {
        RetryCallWithContext {
            common: self.common.classify(classify),
            op: self.op,
            context: self.context,
        }
    }

    /// Calls `notify` after each failed attempt that will be retried, before the wait.
    ///
    /// ```
    /// # use redial::adapters::RetryableWithContext;
    /// let call = (|c: ()| async move { (c, Ok::<_, std::io::Error>(http::Response::new(()))) })
    ///     .retry_with(redial::Policy::default(), ())
    ///     .notify(|event| eprintln!("{event}"));
    /// # drop(call);
    /// ```
    pub fn notify<F>(self, notify: F) -> RetryCallWithContext<P, Op, Ctx, S, C, F>
    where
        F: FnMut(&Event<'_>),
    {
        RetryCallWithContext {
            common: self.common.notify(notify),
            op: self.op,
            context: self.context,
        }
    }

    /// What is known about the request; the default is a request that is not idempotent.
    ///
    /// ```
    /// # use redial::adapters::RetryableWithContext;
    /// let call = (|c: ()| async move { (c, Ok::<_, std::io::Error>(http::Response::new(()))) })
    ///     .retry_with(redial::Policy::default(), ())
    ///     .facts(redial::RequestFacts::new(&http::Method::GET));
    /// # drop(call);
    /// ```
    pub fn facts(mut self, facts: RequestFacts) -> Self {
        self.common.facts = facts;
        self
    }

    /// The request is idempotent: it may be retried after any retryable failure.
    ///
    /// ```
    /// # use redial::adapters::RetryableWithContext;
    /// let call = (|c: ()| async move { (c, Ok::<_, std::io::Error>(http::Response::new(()))) })
    ///     .retry_with(redial::Policy::default(), ())
    ///     .idempotent();
    /// # drop(call);
    /// ```
    pub fn idempotent(self) -> Self {
        self.facts(RequestFacts::idempotent(true))
    }

    /// Draws the jitter from this generator instead of a freshly seeded one.
    ///
    /// ```
    /// # use redial::adapters::RetryableWithContext;
    /// let call = (|c: ()| async move { (c, Ok::<_, std::io::Error>(http::Response::new(()))) })
    ///     .retry_with(redial::Policy::default(), ())
    ///     .rng(fastrand::Rng::with_seed(1));
    /// # drop(call);
    /// ```
    pub fn rng(mut self, rng: Rng) -> Self {
        self.common.rng = Some(rng);
        self
    }
}

impl<P, Op, Ctx, Fut, T, E, S, C, N> IntoFuture for RetryCallWithContext<P, Op, Ctx, S, C, N>
where
    P: Borrow<Policy> + AsRef<Rules> + Clone,
    Op: FnMut(Ctx) -> Fut,
    Fut: Future<Output = (Ctx, Result<T, E>)>,
    S: Sleeper,
    C: Classify<T, E>,
    N: Notify,
{
    type Output = (Ctx, Result<T, RetryError<E, T>>);
    type IntoFuture = RetryFutureWithContext<P, Op, Ctx, Fut, S, C, N>;

    fn into_future(self) -> Self::IntoFuture {
        let (driver, sleeper) = self.common.driver();
        RetryFutureWithContext {
            op: self.op,
            sleeper,
            driver,
            state: CtxState::Idle {
                context: self.context,
            },
        }
    }
}

pin_project! {
    /// The future of a retried call with a context.
    #[must_use = "futures do nothing unless polled"]
    pub struct RetryFutureWithContext<P, Op, Ctx, Fut, S, C, N>
    where
        S: Sleeper,
    {
        op: Op,
        sleeper: S,
        driver: Driver<P, C, N>,
        #[pin]
        state: CtxState<Ctx, Fut, S::Sleep>,
    }
}

pin_project! {
    /// As [`State`], with the context held wherever no attempt holds it.
    #[project = CtxStateProj]
    #[project_replace = CtxStateReplace]
    enum CtxState<Ctx, Fut, Sl> {
        Idle { context: Ctx },
        Attempt { #[pin] fut: Fut },
        Sleep { #[pin] sleep: Sl, context: Ctx },
        Done,
    }
}

impl<P, Op, Ctx, Fut, T, E, S, C, N> Future for RetryFutureWithContext<P, Op, Ctx, Fut, S, C, N>
where
    P: Borrow<Policy> + AsRef<Rules> + Clone,
    Op: FnMut(Ctx) -> Fut,
    Fut: Future<Output = (Ctx, Result<T, E>)>,
    S: Sleeper,
    C: Classify<T, E>,
    N: Notify,
{
    type Output = (Ctx, Result<T, RetryError<E, T>>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                CtxStateProj::Idle { .. } => {
                    this.driver.before_attempt(|| this.sleeper.now());
                    // Takes the context out; `Done` stands in for the instant until the
                    // attempt holds it.
                    if let CtxStateReplace::Idle { context } =
                        this.state.as_mut().project_replace(CtxState::Done)
                    {
                        let fut = (this.op)(context);
                        this.state.set(CtxState::Attempt { fut });
                    }
                }
                CtxStateProj::Attempt { fut } => {
                    let (context, result) = match fut.poll(cx) {
                        Poll::Ready(output) => output,
                        Poll::Pending => {
                            this.driver.begin(|| this.sleeper.now());
                            return Poll::Pending;
                        }
                    };
                    let sleeper = &*this.sleeper;
                    match this
                        .driver
                        .decide(Some(&result), || sleeper.now(), &|| sleeper.wall())
                    {
                        Step::Retry(delay) => {
                            // The failed attempt's result, then its future, before the wait.
                            drop(result);
                            this.state.set(CtxState::Done);
                            let sleep = this.sleeper.sleep(delay);
                            this.state.set(CtxState::Sleep { sleep, context });
                        }
                        Step::Stop(stop) => {
                            this.state.set(CtxState::Done);
                            let result =
                                this.driver
                                    .finish(stop, Some(result), Duration::ZERO, || sleeper.now());
                            return Poll::Ready((context, result));
                        }
                    }
                }
                CtxStateProj::Sleep { sleep, .. } => {
                    ready!(sleep.poll(cx));
                    if let CtxStateReplace::Sleep { context, .. } =
                        this.state.as_mut().project_replace(CtxState::Done)
                    {
                        this.state.set(CtxState::Idle { context });
                    }
                }
                CtxStateProj::Done => return Poll::Pending,
            }
        }
    }
}

impl<P, Op, Ctx, Fut, S: Sleeper, C, N> fmt::Debug
    for RetryFutureWithContext<P, Op, Ctx, Fut, S, C, N>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            CtxState::Idle { .. } => "idle",
            CtxState::Attempt { .. } => "attempting",
            CtxState::Sleep { .. } => "sleeping",
            CtxState::Done => "done",
        };
        f.debug_struct("RetryFutureWithContext")
            .field("state", &state)
            .finish_non_exhaustive()
    }
}
