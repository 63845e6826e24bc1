//! Blocking retry: the same driver, waiting with `std::thread::sleep`.

use core::time::Duration;
use std::time::{Instant, SystemTime};

use super::classify::{Classify, HttpClassify};
use super::driver::{finish, read, Command, Driver, Event, Pending};
use super::notify::{NoNotify, Notify};
use super::options::{AsPolicy, AttemptOutput, WithSleeper};
use super::retry_error::RetryError;
use super::retrying::Retrying;

/// How a blocking retry waits and tells the time. [`ThreadSleeper`] is the default; any
/// `FnMut(Duration)` is one too (a test can record the waits instead of sleeping).
///
/// ```
/// use std::time::Duration;
/// use redial::sleep::BlockingSleeper;
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
    /// use redial::sleep::{BlockingSleeper, ThreadSleeper};
    /// ThreadSleeper.sleep(std::time::Duration::ZERO);
    /// ```
    fn sleep(&mut self, duration: Duration);

    /// The monotonic clock. Defaults to [`Instant::now`].
    ///
    /// ```
    /// use redial::sleep::{BlockingSleeper, ThreadSleeper};
    /// assert!(ThreadSleeper.now() <= std::time::Instant::now());
    /// ```
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// The wall clock, for HTTP dates. Defaults to [`SystemTime::now`].
    ///
    /// ```
    /// use redial::sleep::{BlockingSleeper, ThreadSleeper};
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
/// use redial::sleep::{BlockingSleeper, ThreadSleeper};
/// ThreadSleeper.sleep(std::time::Duration::from_millis(1));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ThreadSleeper;

impl BlockingSleeper for ThreadSleeper {
    fn sleep(&mut self, duration: Duration) {
        std::thread::sleep(duration)
    }
}

/// Blocking retry: the same loop, policy and final error as the async adapters, waiting
/// with [`std::thread::sleep`].
///
/// ```
/// use std::time::Duration;
/// use redial::BlockingRetryable;
/// use redial::{Policy, Transport};
///
/// let policy = Policy::builder().base(Duration::from_millis(1)).build()?;
/// let mut resets = 1;
/// let response = (|| {
///     if resets > 0 {
///         resets -= 1;
///         return Err(Transport::Reset);
///     }
///     Ok(http::Response::new("done"))
/// })
/// .retry(&policy)
/// .idempotent()
/// .notify(|event| eprintln!("{event}"))
/// .call()
/// .expect("the second attempt succeeds");
/// assert_eq!(*response.body(), "done");
/// # Ok::<(), redial::PolicyError>(())
/// ```
///
/// The options are those of the async builder (see [`Retryable`](crate::Retryable)), less the
/// per-attempt timeout: a blocking call cannot be cut off from outside, so give your client
/// its own timeout (and report it as [`Transport::Timeout`](crate::Transport::Timeout)).
///
/// Adds `.retry(policy)` to every `FnMut() -> Result<T, E>`.
///
/// ```
/// use redial::BlockingRetryable;
/// let result = (|| Ok::<_, std::io::Error>(http::Response::new(()))).retry(&redial::Policy::default()).call();
/// assert!(result.is_ok());
/// ```
pub trait BlockingRetryable<T, E>: Sized {
    /// Starts building a retried call under `policy` (a `&Policy` or an owned one).
    fn retry<P: AsPolicy>(
        self,
        policy: P,
    ) -> Retrying<BlockingAttempts<Self>, P, ThreadSleeper, HttpClassify, NoNotify>;
}

impl<F, T, E> BlockingRetryable<T, E> for F
where
    F: FnMut() -> Result<T, E>,
{
    #[inline(always)]
    fn retry<P: AsPolicy>(
        self,
        policy: P,
    ) -> Retrying<BlockingAttempts<Self>, P, ThreadSleeper, HttpClassify, NoNotify> {
        Retrying::start(policy, BlockingAttempts { op: self }).sleeper(ThreadSleeper)
    }
}

/// The blocking adapter's part of a [`Retrying`] call: the operation. Chain the options,
/// then [`call`](Retrying::call) it.
///
/// ```
/// use redial::{BlockingRetryable, Cause, Policy, StopReason, Verdict};
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
#[derive(Debug)]
pub struct BlockingAttempts<Op> {
    op: Op,
}

impl<Op, T, E> AttemptOutput for BlockingAttempts<Op>
where
    Op: FnMut() -> Result<T, E>,
{
    type Ok = T;
    type Err = E;
}

impl<Op, S> WithSleeper<S> for BlockingAttempts<Op> {
    type Output = Self;

    #[inline(always)]
    fn with_sleeper(self) -> Self {
        self
    }
}

impl<Op, P, S, C, N> Retrying<BlockingAttempts<Op>, P, S, C, N> {
    /// Runs the call: attempts until the policy stops, sleeping between them.
    ///
    /// ```
    /// # use redial::BlockingRetryable;
    /// let response = (|| Ok::<_, std::io::Error>(http::Response::new(7))).retry(redial::Policy::default()).call();
    /// assert_eq!(response.ok().map(|r| *r.body()), Some(7));
    /// ```
    pub fn call<T, E>(self) -> Result<T, RetryError<E, T>>
    where
        P: AsPolicy,
        Op: FnMut() -> Result<T, E>,
        S: BlockingSleeper,
        C: Classify<T, E>,
        N: Notify,
    {
        let Retrying {
            mut options,
            mut sleeper,
            attempts: BlockingAttempts { mut op },
        } = self;
        let mut driver = Driver::default();
        macro_rules! step {
            ($event:expr) => {
                read(
                    &mut driver,
                    &mut options,
                    $event,
                    || sleeper.now(),
                    || sleeper.wall(),
                )
            };
        }
        let mut command = step!(Event::Due);
        loop {
            // The driver answers `Due` with an attempt, or first with a sleep (the gate
            // holding a first attempt), and a failed attempt with the sleep before the next.
            while let Command::Sleep(delay) = command {
                sleeper.sleep(delay);
                command = step!(Event::Due);
            }
            if let Command::Done(end) = command {
                // The rate pacer stopped the call before this attempt.
                return finish(&mut driver, &options, end, None, Duration::ZERO, || {
                    sleeper.now()
                });
            }
            // A blocking attempt takes its time inside `op`: it never ends at once.
            let _ = step!(Event::Pending(Pending::Attempt));
            let result = op();
            command = step!(Event::Finished(Some(&result), None));
            if let Command::Done(end) = command {
                // A blocking call has no per-attempt timeout: no attempt is cut off.
                let last = Some(result);
                return finish(&mut driver, &options, end, last, Duration::ZERO, || {
                    sleeper.now()
                });
            }
            // Let go of the failed attempt (a response holds a connection) before the wait.
            drop(result);
        }
    }
}
