//! The final error of a retried call: why it stopped, what it tried, and what it got last.

use core::fmt;
use core::time::Duration;

use crate::duration::Rounded;
use crate::{Stop, StopReason};

use super::request_ids::RequestIds;

/// How a retried call failed: the machine's [`Stop`] (with its numbers), the attempts made,
/// the time taken, the request ids the server gave, and the last attempt's error or
/// response, so that "retries ran out" and "not retryable" are never confused and nothing
/// the server sent is lost.
///
/// A call that ends with a response the policy does not call a success (a `400`, or a
/// `529` after the last attempt) ends here too, and the response is handed back with
/// [`response`](Self::response) or [`into_last`](Self::into_last).
///
/// # Design
///
/// The error is one pointer wide: its fields live in a single box, allocated when the
/// call fails and never before, so `Result<T, RetryError<E, T>>` stays small on the happy
/// path (and clippy's `result_large_err` stays quiet in your code). Request ids are
/// collected in a fixed inline buffer ([`RequestIds`]) while the call runs, so attempts
/// allocate nothing; the box takes them over as they are.
///
/// `Display` prints the stop in the shared vocabulary with its numbers, then the attempts,
/// the time and the request ids; [`source`](std::error::Error::source) is the last error.
///
/// ```
/// use std::time::Duration;
/// use redial::{Last, RetryError};
/// use redial::{Cause, Stop, StopReason, Transport};
///
/// let stop = Stop::AttemptsExhausted { attempts: 3, cause: Cause::transport(Transport::Reset) };
/// let err: RetryError<std::io::Error, ()> = RetryError::new(
///     stop,
///     3,
///     Duration::from_millis(1500),
///     Default::default(),
///     Last::Error(std::io::ErrorKind::ConnectionReset.into()),
/// );
/// assert_eq!(err.reason(), StopReason::AttemptsExhausted);
/// assert_eq!(err.attempts(), 3);
/// assert_eq!(
///     err.to_string(),
///     "attempts_exhausted: reset on the last of 3 attempt(s); 3 attempt(s) in 1.5s",
/// );
/// ```
pub struct RetryError<E, T> {
    inner: Box<Inner<E, T>>,
}

struct Inner<E, T> {
    stop: Stop,
    attempts: u32,
    elapsed: Duration,
    ids: RequestIds,
    last: Last<E, T>,
    refusal: Option<Refusal>,
    /// How long the rate-limit gate held the first attempt.
    held: Duration,
    /// How long attempts waited for the rate pacer's slots, and the rate it paced to.
    paced: Paced,
}

/// Time spent waiting for the rate pacer, and its rate as the call ended (`None`: no
/// longer pacing).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Paced {
    waited: Duration,
    per_s: Option<f64>,
}

/// What the last attempt produced.
///
/// ```
/// use redial::Last;
/// let last: Last<std::io::Error, u16> = Last::Response(503);
/// assert!(matches!(last, Last::Response(503)));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Last<E, T> {
    /// The operation failed with this error.
    Error(E),
    /// The operation returned this value (a response), which was not a success.
    Response(T),
    /// The attempt did not finish within the per-attempt timeout, and was dropped.
    TimedOut(Duration),
    /// The rate pacer stopped the call before this attempt was sent
    /// ([`StopReason::RateLimited`]); an earlier attempt's result, if any, was let go
    /// before the wait (a response holds a connection).
    NotSent,
}

/// Why an adapter did not make a retry that the policy would have allowed. The verdict it
/// gave the machine was then "not retryable", so the stop is
/// [`NotRetryable`](StopReason::NotRetryable) and this says why.
///
/// ```
/// use redial::Refusal;
/// assert_eq!(Refusal::AfterOutput.to_string(), "output had already been yielded");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Refusal {
    /// A stream failed after it had yielded committed output: a retry would repeat it.
    AfterOutput,
    /// The request's body could not be replayed, so it could be sent only once.
    BodyNotReplayable,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Refusal::AfterOutput => "output had already been yielded",
            Refusal::BodyNotReplayable => "the request body cannot be replayed",
        })
    }
}

impl<E, T> RetryError<E, T> {
    /// A final error. Adapters build these; the constructor is public for adapters of
    /// your own and for tests.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial::{Last, RetryError};
    /// use redial::{Cause, Stop};
    /// let err: RetryError<(), u16> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) },
    ///     1,
    ///     Duration::ZERO,
    ///     Default::default(),
    ///     Last::Response(400),
    /// );
    /// assert_eq!(err.response(), Some(&400));
    /// ```
    pub fn new(
        stop: Stop,
        attempts: u32,
        elapsed: Duration,
        ids: RequestIds,
        last: Last<E, T>,
    ) -> Self {
        RetryError {
            inner: Box::new(Inner {
                stop,
                attempts,
                elapsed,
                ids,
                last,
                refusal: None,
                held: Duration::ZERO,
                paced: Paced::default(),
            }),
        }
    }

    /// The same error, marked with why the adapter refused a retry.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, Refusal, RetryError};
    /// # use redial::{Cause, Stop};
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(503) }, 1, Duration::ZERO, Default::default(), Last::Response(()),
    /// ).with_refusal(Refusal::BodyNotReplayable);
    /// assert_eq!(err.refusal(), Some(Refusal::BodyNotReplayable));
    /// ```
    #[must_use]
    pub fn with_refusal(mut self, refusal: Refusal) -> Self {
        self.inner.refusal = Some(refusal);
        self
    }

    /// The same error, saying that the policy's rate-limit [gate](crate::gate) held the
    /// first attempt this long (the key's quota was spent when the call began).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Cause, Last, RetryError, Stop};
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) }, 1, Duration::ZERO, Default::default(), Last::Response(()),
    /// ).with_held(Duration::from_millis(2100));
    /// assert_eq!(err.held(), Duration::from_millis(2100));
    /// assert!(err.to_string().ends_with("; the first attempt was held 2.1s by the rate-limit gate"));
    /// ```
    #[must_use]
    pub fn with_held(mut self, held: Duration) -> Self {
        self.inner.held = held;
        self
    }

    /// The same error, saying that the call's attempts waited this long in all for the
    /// rate [pacer](crate::pacer)'s slots, and the rate it paced to as the call ended
    /// (requests per second; `None` if it no longer paced).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Cause, Last, RetryError, Stop};
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) }, 1, Duration::ZERO, Default::default(), Last::Response(()),
    /// ).with_paced(Duration::from_millis(350), Some(3.14));
    /// assert_eq!(err.paced(), Duration::from_millis(350));
    /// assert!(err.to_string().ends_with(
    ///     "; waited 350ms for the rate pacer: the server allows about 3.1 requests/s"
    /// ));
    /// ```
    #[must_use]
    pub fn with_paced(mut self, waited: Duration, per_s: Option<f64>) -> Self {
        let per_s = per_s.filter(|r| r.is_finite() && *r > 0.0);
        self.inner.paced = Paced { waited, per_s };
        self
    }

    /// How long the call's attempts waited for the rate pacer (zero: not at all).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Cause, Last, RetryError, Stop};
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) }, 1, Duration::ZERO, Default::default(), Last::Response(()),
    /// );
    /// assert_eq!(err.paced(), Duration::ZERO);
    /// ```
    pub fn paced(&self) -> Duration {
        self.inner.paced.waited
    }

    /// How long the rate-limit gate held the first attempt (zero: not at all).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Cause, Last, RetryError, Stop};
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) }, 1, Duration::ZERO, Default::default(), Last::Response(()),
    /// );
    /// assert_eq!(err.held(), Duration::ZERO);
    /// ```
    pub fn held(&self) -> Duration {
        self.inner.held
    }

    /// Why the call stopped, with its numbers.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop};
    /// let stop = Stop::NotRetryable { cause: Cause::status(401) };
    /// let err: RetryError<(), ()> = RetryError::new(stop, 1, Duration::ZERO, Default::default(), Last::Response(()));
    /// assert_eq!(err.stop(), &stop);
    /// ```
    pub fn stop(&self) -> &Stop {
        &self.inner.stop
    }

    /// Why the call stopped, in the shared vocabulary.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop, StopReason};
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::BudgetExhausted { cost: 5, available: 2 }, 1, Duration::ZERO, Default::default(), Last::Response(()),
    /// );
    /// assert_eq!(err.reason(), StopReason::BudgetExhausted);
    /// ```
    pub fn reason(&self) -> StopReason {
        self.inner.stop.reason()
    }

    /// Attempts made, the first included.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop, Transport};
    /// let stop = Stop::AttemptsExhausted { attempts: 3, cause: Cause::transport(Transport::Timeout) };
    /// let err: RetryError<(), ()> = RetryError::new(stop, 3, Duration::ZERO, Default::default(), Last::TimedOut(Duration::from_secs(1)));
    /// assert_eq!(err.attempts(), 3);
    /// ```
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// Time from the call's start to the last attempt's end, on the sleeper's clock. The
    /// call starts when it first waits (its first attempt, or a wait after a failure, does
    /// not end at once), or earlier when a rule needs the time (before the first attempt
    /// under `max_elapsed`, at the first failure for the adaptive budget): time a call
    /// spends running without ever yielding is not counted.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop};
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) }, 1, Duration::from_millis(40), Default::default(), Last::Response(()),
    /// );
    /// assert_eq!(err.elapsed(), Duration::from_millis(40));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.inner.elapsed
    }

    /// The request ids the server gave the attempts, oldest first.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RequestIds, RetryError};
    /// # use redial::{Cause, Stop};
    /// let mut ids = RequestIds::new();
    /// ids.push("req_1");
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) }, 1, Duration::ZERO, ids, Last::Response(()),
    /// );
    /// assert_eq!(err.request_ids().iter().collect::<Vec<_>>(), ["req_1"]);
    /// ```
    pub fn request_ids(&self) -> &RequestIds {
        &self.inner.ids
    }

    /// What the last attempt produced.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop};
    /// let err: RetryError<(), u16> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) }, 1, Duration::ZERO, Default::default(), Last::Response(400),
    /// );
    /// assert!(matches!(err.last(), Last::Response(400)));
    /// ```
    pub fn last(&self) -> &Last<E, T> {
        &self.inner.last
    }

    /// What the last attempt produced, by value.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop};
    /// let err: RetryError<&str, ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::caller() }, 1, Duration::ZERO, Default::default(), Last::Error("no"),
    /// );
    /// assert!(matches!(err.into_last(), Last::Error("no")));
    /// ```
    pub fn into_last(self) -> Last<E, T> {
        self.inner.last
    }

    /// The last attempt's response, by value (to read its body, say), or the error itself
    /// when the last attempt produced none (it failed, or timed out).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Cause, Last, RetryError, Stop};
    /// let err: RetryError<(), String> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) }, 1, Duration::ZERO, Default::default(), Last::Response("{}".into()),
    /// );
    /// assert_eq!(err.into_response().ok().as_deref(), Some("{}"));
    /// ```
    pub fn into_response(self) -> Result<T, Self> {
        self.take_last(|last| match last {
            Last::Response(t) => Ok(t),
            last => Err(last),
        })
    }

    /// The last attempt's error, by value, or the error itself when the last attempt
    /// produced none (it returned a response, or timed out).
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Cause, Last, RetryError, Stop};
    /// let err: RetryError<&str, ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::caller() }, 1, Duration::ZERO, Default::default(), Last::Error("no"),
    /// );
    /// assert_eq!(err.into_error().ok(), Some("no"));
    /// ```
    pub fn into_error(self) -> Result<E, Self> {
        self.take_last(|last| match last {
            Last::Error(e) => Ok(e),
            last => Err(last),
        })
    }

    /// What `take` makes of the last result, or the error whole if it gives it back.
    fn take_last<R>(
        mut self,
        take: impl FnOnce(Last<E, T>) -> Result<R, Last<E, T>>,
    ) -> Result<R, Self> {
        // A timeout stands in for the instant the last result is out.
        let last = core::mem::replace(&mut self.inner.last, Last::TimedOut(Duration::ZERO));
        take(last).map_err(|last| {
            self.inner.last = last;
            self
        })
    }

    /// The last attempt's error, if it failed with one.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop};
    /// let err: RetryError<&str, ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::caller() }, 1, Duration::ZERO, Default::default(), Last::Error("no"),
    /// );
    /// assert_eq!(err.error(), Some(&"no"));
    /// ```
    pub fn error(&self) -> Option<&E> {
        match &self.inner.last {
            Last::Error(e) => Some(e),
            _ => None,
        }
    }

    /// The last attempt's response, if it returned one that was not a success.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop};
    /// let err: RetryError<(), u16> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(404) }, 1, Duration::ZERO, Default::default(), Last::Response(404),
    /// );
    /// assert_eq!(err.response(), Some(&404));
    /// ```
    pub fn response(&self) -> Option<&T> {
        match &self.inner.last {
            Last::Response(t) => Some(t),
            _ => None,
        }
    }

    /// Whether the last attempt was cut off by the per-attempt timeout.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop, Transport};
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::transport(Transport::Timeout) }, 1, Duration::ZERO, Default::default(),
    ///     Last::TimedOut(Duration::from_secs(2)),
    /// );
    /// assert!(err.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        matches!(self.inner.last, Last::TimedOut(_))
    }

    /// Why an adapter refused a retry the policy would have allowed, if it did.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::{Last, RetryError};
    /// # use redial::{Cause, Stop};
    /// let err: RetryError<(), ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::status(400) }, 1, Duration::ZERO, Default::default(), Last::Response(()),
    /// );
    /// assert_eq!(err.refusal(), None);
    /// ```
    pub fn refusal(&self) -> Option<Refusal> {
        self.inner.refusal
    }
}

impl<E, T> fmt::Display for RetryError<E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        write!(
            f,
            "{}; {} attempt(s) in {}",
            inner.stop,
            inner.attempts,
            Rounded(inner.elapsed)
        )?;
        if let Some(refusal) = inner.refusal {
            write!(f, "; not retried: {refusal}")?;
        }
        match inner.last {
            Last::TimedOut(limit) => {
                write!(f, "; the last attempt timed out after {}", Rounded(limit))?
            }
            Last::NotSent => f.write_str("; the next attempt was not sent")?,
            Last::Error(_) | Last::Response(_) => {}
        }
        if !inner.ids.is_empty() {
            f.write_str("; request ids: ")?;
            if inner.ids.dropped() > 0 {
                write!(f, "({} earlier) ", inner.ids.dropped())?;
            }
            for (i, id) in inner.ids.iter().enumerate() {
                if i > 0 {
                    f.write_str(", ")?;
                }
                f.write_str(id)?;
            }
        }
        if !inner.held.is_zero() {
            write!(
                f,
                "; the first attempt was held {} by the rate-limit gate",
                Rounded(inner.held)
            )?;
        }
        let paced = inner.paced;
        if !paced.waited.is_zero() {
            write!(f, "; waited {} for the rate pacer", Rounded(paced.waited))?;
            if let Some(rate) = paced.per_s {
                write!(f, ": the server allows about {rate:.1} requests/s")?;
            }
        }
        Ok(())
    }
}

impl<E: fmt::Debug, T: fmt::Debug> fmt::Debug for RetryError<E, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let inner = &self.inner;
        f.debug_struct("RetryError")
            .field("stop", &inner.stop)
            .field("attempts", &inner.attempts)
            .field("elapsed", &inner.elapsed)
            .field("request_ids", &inner.ids)
            .field("refusal", &inner.refusal)
            .field("held", &inner.held)
            .field("paced", &inner.paced.waited)
            .field("last", &inner.last)
            .finish()
    }
}

/// The last error is the source; a response or a timeout has none.
impl<E, T> std::error::Error for RetryError<E, T>
where
    E: std::error::Error + 'static,
    T: fmt::Debug,
{
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.last {
            Last::Error(e) => Some(e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::{Cause, Transport};

    #[test]
    fn error_is_one_pointer_wide() {
        assert_eq!(
            core::mem::size_of::<RetryError<std::io::Error, http::Response<()>>>(),
            core::mem::size_of::<usize>()
        );
    }

    #[test]
    fn display_names_the_stop_the_numbers_and_the_ids() {
        let mut ids = RequestIds::new();
        ids.push("req_a");
        ids.push("req_b");
        let err: RetryError<std::io::Error, ()> = RetryError::new(
            Stop::AttemptsExhausted {
                attempts: 2,
                cause: Cause::transport(Transport::Timeout),
            },
            2,
            Duration::from_secs(3),
            ids,
            Last::TimedOut(Duration::from_secs(1)),
        );
        assert_eq!(
            err.to_string(),
            "attempts_exhausted: timeout on the last of 2 attempt(s); \
             2 attempt(s) in 3s; the last attempt timed out after 1s; request ids: req_a, req_b"
        );
        assert!(std::error::Error::source(&err).is_none());
    }

    /// Issue 12, item 6: durations print the human way, never as raw nanoseconds.
    #[test]
    fn issue_12_durations_print_the_human_way() {
        let err: RetryError<std::io::Error, ()> = RetryError::new(
            Stop::AttemptsExhausted {
                attempts: 3,
                cause: Cause::transport(Transport::Reset),
            },
            3,
            Duration::from_nanos(960_006_738),
            RequestIds::new(),
            Last::TimedOut(Duration::from_nanos(1_999_999_999)),
        );
        let text = err.to_string();
        assert!(text.contains("3 attempt(s) in 960ms"), "{text}");
        assert!(text.contains("timed out after 2s"), "{text}");

        let verdict = crate::verdict::Verdict::retryable(Cause::status(503));
        let mut machine =
            crate::machine::Machine::new(crate::Policy::default(), std::time::Instant::now());
        let action = machine.on_outcome(
            &verdict,
            std::time::Instant::now(),
            &mut fastrand::Rng::with_seed(3),
        );
        let mut retry = *action.retry().expect("a 503 is retried");
        retry.delay = Duration::from_nanos(484_905_666);
        let line = crate::Event::new(1, &retry, &verdict, None).to_string();
        assert!(line.ends_with("retrying in 485ms"), "{line}");
    }
}
