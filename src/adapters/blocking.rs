//! Blocking retry: the same loop, policy and final error as the async adapters, waiting
//! with [`std::thread::sleep`].
//!
//! ```
//! use std::time::Duration;
//! use redial::adapters::BlockingRetryable;
//! use redial::{Policy, Transport};
//!
//! let policy = Policy::builder().base(Duration::from_millis(1)).build()?;
//! let mut resets = 1;
//! let response = (|| {
//!     if resets > 0 {
//!         resets -= 1;
//!         return Err(Transport::Reset);
//!     }
//!     Ok(http::Response::new("done"))
//! })
//! .retry(&policy)
//! .idempotent()
//! .notify(|event| eprintln!("{event}"))
//! .call()
//! .expect("the second attempt succeeds");
//! assert_eq!(*response.body(), "done");
//! # Ok::<(), redial::PolicyError>(())
//! ```
//!
//! The options are those of the async builder (see [`future`](super::future)), less the
//! per-attempt timeout: a blocking call cannot be cut off from outside, so give your client
//! its own timeout (and report it as [`Transport::Timeout`](crate::Transport::Timeout)).

use core::borrow::Borrow;
use core::time::Duration;
use std::time::{Instant, SystemTime};

use fastrand::Rng;

use crate::classify::RequestFacts;
use crate::machine::Rules;
use crate::policy::Policy;
use crate::verdict::Verdict;

use super::driver::{Driver, Step};
use super::error::RetryError;
use super::hooks::{Classify, ClassifyFn, Event, HttpClassify, NoNotify, Notify};

/// How a blocking retry waits and tells the time. [`ThreadSleeper`] is the default; any
/// `FnMut(Duration)` is one too (a test can record the waits instead of sleeping).
///
/// ```
/// use std::time::Duration;
/// use redial::adapters::BlockingSleeper;
///
/// let mut waits = Vec::new();
/// let mut record = |d: Duration| waits.push(d);
/// record.sleep(Duration::from_secs(2));
/// assert_eq!(waits, [Duration::from_secs(2)]);
/// ```
pub trait BlockingSleeper {
    /// Blocks for `duration`.
    ///
    /// ```
    /// use redial::adapters::{BlockingSleeper, ThreadSleeper};
    /// ThreadSleeper.sleep(std::time::Duration::ZERO);
    /// ```
    fn sleep(&mut self, duration: Duration);

    /// The monotonic clock. Defaults to [`Instant::now`].
    ///
    /// ```
    /// use redial::adapters::{BlockingSleeper, ThreadSleeper};
    /// assert!(ThreadSleeper.now() <= std::time::Instant::now());
    /// ```
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// The wall clock, for HTTP dates. Defaults to [`SystemTime::now`].
    ///
    /// ```
    /// use redial::adapters::{BlockingSleeper, ThreadSleeper};
    /// assert!(ThreadSleeper.wall() > std::time::SystemTime::UNIX_EPOCH);
    /// ```
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<F: FnMut(Duration)> BlockingSleeper for F {
    fn sleep(&mut self, duration: Duration) {
        self(duration)
    }
}

/// Sleeps the current thread with [`std::thread::sleep`].
///
/// ```
/// use redial::adapters::{BlockingSleeper, ThreadSleeper};
/// ThreadSleeper.sleep(std::time::Duration::from_millis(1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadSleeper;

impl BlockingSleeper for ThreadSleeper {
    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration)
    }
}

/// Adds `.retry(policy)` to every `FnMut() -> Result<T, E>`. See the [module docs](self).
///
/// ```
/// use redial::adapters::BlockingRetryable;
/// let result = (|| Ok::<_, std::io::Error>(http::Response::new(()))).retry(&redial::Policy::default()).call();
/// assert!(result.is_ok());
/// ```
pub trait BlockingRetryable<T, E>: Sized {
    /// Starts building a retried call under `policy` (a `&Policy` or an owned one).
    fn retry<P>(self, policy: P) -> BlockingRetry<P, Self, ThreadSleeper, HttpClassify, NoNotify>
    where
        P: Borrow<Policy> + AsRef<Rules> + Clone;
}

impl<F, T, E> BlockingRetryable<T, E> for F
where
    F: FnMut() -> Result<T, E>,
{
    fn retry<P>(self, policy: P) -> BlockingRetry<P, Self, ThreadSleeper, HttpClassify, NoNotify>
    where
        P: Borrow<Policy> + AsRef<Rules> + Clone,
    {
        BlockingRetry {
            policy,
            op: self,
            sleeper: ThreadSleeper,
            classify: HttpClassify,
            notify: NoNotify,
            // The closure hides the request: assume it is not idempotent until told.
            facts: RequestFacts::idempotent(false),
            rng: None,
        }
    }
}

/// A blocking retried call being set up: chain its options, then [`call`](Self::call) it.
///
/// ```
/// use redial::adapters::BlockingRetryable;
/// use redial::{Cause, Policy, StopReason, Verdict};
///
/// let mut waits = Vec::new();
/// let err = (|| Err::<(), _>("busy"))
///     .retry(&Policy::default())
///     .classify(|r| if r.is_ok() { Verdict::Success } else { Verdict::retryable(Cause::caller()) })
///     .sleeper(|d| waits.push(d))
///     .call()
///     .unwrap_err();
/// assert_eq!(err.reason(), StopReason::AttemptsExhausted);
/// assert_eq!(waits.len(), 2);
/// ```
#[must_use = "a retried call does nothing until it is called"]
#[derive(Debug)]
pub struct BlockingRetry<P, Op, S, C, N> {
    policy: P,
    op: Op,
    sleeper: S,
    classify: C,
    notify: N,
    facts: RequestFacts,
    rng: Option<Rng>,
}

impl<P, Op, S, C, N> BlockingRetry<P, Op, S, C, N> {
    /// Waits between attempts with this sleeper (and reads its clock).
    ///
    /// ```
    /// # use redial::adapters::{BlockingRetryable, ThreadSleeper};
    /// let call = (|| Ok::<_, std::io::Error>(http::Response::new(()))).retry(redial::Policy::default()).sleeper(ThreadSleeper);
    /// # drop(call);
    /// ```
    pub fn sleeper<S2: BlockingSleeper>(self, sleeper: S2) -> BlockingRetry<P, Op, S2, C, N> {
        BlockingRetry {
            policy: self.policy,
            op: self.op,
            sleeper,
            classify: self.classify,
            notify: self.notify,
            facts: self.facts,
            rng: self.rng,
        }
    }

    /// Decides each result with this closure instead of reading it as an HTTP outcome.
    ///
    /// ```
    /// # use redial::adapters::BlockingRetryable;
    /// # use redial::{Cause, Verdict};
    /// let call = (|| Err::<(), _>("no"))
    ///     .retry(redial::Policy::default())
    ///     .classify(|_| Verdict::fatal(Cause::caller()));
    /// # drop(call);
    /// ```
    pub fn classify<F, T, E>(self, classify: F) -> BlockingRetry<P, Op, S, ClassifyFn<F>, N>
    where
        Op: FnMut() -> Result<T, E>,
        F: FnMut(&Result<T, E>) -> Verdict,
    {
        self.classify_with(ClassifyFn(classify))
    }

    /// Decides each result with this [`Classify`] implementation.
    ///
    /// ```
    /// # use redial::adapters::{BlockingRetryable, HttpClassify};
    /// let call = (|| Ok::<_, std::io::Error>(http::Response::new(()))).retry(redial::Policy::default()).classify_with(HttpClassify);
    /// # drop(call);
    /// ```
    pub fn classify_with<C2>(self, classify: C2) -> BlockingRetry<P, Op, S, C2, N> {
        BlockingRetry {
            policy: self.policy,
            op: self.op,
            sleeper: self.sleeper,
            classify,
            notify: self.notify,
            facts: self.facts,
            rng: self.rng,
        }
    }

    /// Calls `notify` after each failed attempt that will be retried, before the wait.
    ///
    /// ```
    /// # use redial::adapters::BlockingRetryable;
    /// let call = (|| Ok::<_, std::io::Error>(http::Response::new(()))).retry(redial::Policy::default()).notify(|e| eprintln!("{e}"));
    /// # drop(call);
    /// ```
    pub fn notify<F>(self, notify: F) -> BlockingRetry<P, Op, S, C, F>
    where
        F: FnMut(&Event<'_>),
    {
        BlockingRetry {
            policy: self.policy,
            op: self.op,
            sleeper: self.sleeper,
            classify: self.classify,
            notify,
            facts: self.facts,
            rng: self.rng,
        }
    }

    /// What is known about the request; the default is a request that is not idempotent.
    ///
    /// ```
    /// # use redial::adapters::BlockingRetryable;
    /// let call = (|| Ok::<_, std::io::Error>(http::Response::new(())))
    ///     .retry(redial::Policy::default())
    ///     .facts(redial::RequestFacts::new(&http::Method::PUT));
    /// # drop(call);
    /// ```
    pub fn facts(mut self, facts: RequestFacts) -> Self {
        self.facts = facts;
        self
    }

    /// The request is idempotent: it may be retried after any retryable failure.
    ///
    /// ```
    /// # use redial::adapters::BlockingRetryable;
    /// let call = (|| Ok::<_, std::io::Error>(http::Response::new(()))).retry(redial::Policy::default()).idempotent();
    /// # drop(call);
    /// ```
    pub fn idempotent(self) -> Self {
        self.facts(RequestFacts::idempotent(true))
    }

    /// Draws the jitter from this generator instead of a freshly seeded one.
    ///
    /// ```
    /// # use redial::adapters::BlockingRetryable;
    /// let call = (|| Ok::<_, std::io::Error>(http::Response::new(()))).retry(redial::Policy::default()).rng(fastrand::Rng::with_seed(3));
    /// # drop(call);
    /// ```
    pub fn rng(mut self, rng: Rng) -> Self {
        self.rng = Some(rng);
        self
    }

    /// Runs the call: attempts until the policy stops, sleeping between them.
    ///
    /// ```
    /// # use redial::adapters::BlockingRetryable;
    /// let response = (|| Ok::<_, std::io::Error>(http::Response::new(7))).retry(redial::Policy::default()).call();
    /// assert_eq!(response.ok().map(|r| *r.body()), Some(7));
    /// ```
    pub fn call<T, E>(self) -> Result<T, RetryError<E, T>>
    where
        P: Borrow<Policy> + AsRef<Rules> + Clone,
        Op: FnMut() -> Result<T, E>,
        S: BlockingSleeper,
        C: Classify<T, E>,
        N: Notify,
    {
        let BlockingRetry {
            policy,
            mut op,
            mut sleeper,
            classify,
            notify,
            facts,
            rng,
        } = self;
        let mut driver = Driver::new(policy, facts, classify, notify, rng);
        // A blocking attempt takes its time inside `op`: the clock starts before it.
        driver.begin(|| sleeper.now());
        loop {
            let result = op();
            match driver.decide(Some(&result), || sleeper.now(), &|| sleeper.wall()) {
                Step::Retry(delay) => {
                    // Let go of the failed attempt (a response holds a connection) first.
                    drop(result);
                    sleeper.sleep(delay);
                }
                Step::Stop(stop) => {
                    return driver.finish(stop, Some(result), Duration::ZERO, || sleeper.now())
                }
            }
        }
    }
}
