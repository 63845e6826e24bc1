//! The final error of a retried call: why it stopped, what it tried, and what it got last.

use core::fmt;
use core::time::Duration;

use crate::duration::Human;
use crate::machine::{Stop, StopReason};

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
/// use redial::adapters::{Last, RetryError};
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
}

/// What the last attempt produced.
///
/// ```
/// use redial::adapters::Last;
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
}

/// Why an adapter did not make a retry that the policy would have allowed. The verdict it
/// gave the machine was then "not retryable", so the stop is
/// [`NotRetryable`](StopReason::NotRetryable) and this says why.
///
/// ```
/// use redial::adapters::Refusal;
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
    /// use redial::adapters::{Last, RetryError};
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
            }),
        }
    }

    /// The same error, marked with why the adapter refused a retry.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::adapters::{Last, Refusal, RetryError};
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

    /// Why the call stopped, with its numbers.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::adapters::{Last, RetryError};
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
    /// # use redial::adapters::{Last, RetryError};
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
    /// # use redial::adapters::{Last, RetryError};
    /// # use redial::{Cause, Stop, Transport};
    /// let stop = Stop::AttemptsExhausted { attempts: 3, cause: Cause::transport(Transport::Timeout) };
    /// let err: RetryError<(), ()> = RetryError::new(stop, 3, Duration::ZERO, Default::default(), Last::TimedOut(Duration::from_secs(1)));
    /// assert_eq!(err.attempts(), 3);
    /// ```
    pub fn attempts(&self) -> u32 {
        self.inner.attempts
    }

    /// Time from the first attempt's start to the last attempt's end, on the sleeper's
    /// clock.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::adapters::{Last, RetryError};
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
    /// # use redial::adapters::{Last, RequestIds, RetryError};
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
    /// # use redial::adapters::{Last, RetryError};
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
    /// # use redial::adapters::{Last, RetryError};
    /// # use redial::{Cause, Stop};
    /// let err: RetryError<&str, ()> = RetryError::new(
    ///     Stop::NotRetryable { cause: Cause::caller() }, 1, Duration::ZERO, Default::default(), Last::Error("no"),
    /// );
    /// assert!(matches!(err.into_last(), Last::Error("no")));
    /// ```
    pub fn into_last(self) -> Last<E, T> {
        self.inner.last
    }

    /// The last attempt's error, if it failed with one.
    ///
    /// ```
    /// # use std::time::Duration;
    /// # use redial::adapters::{Last, RetryError};
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
    /// # use redial::adapters::{Last, RetryError};
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
    /// # use redial::adapters::{Last, RetryError};
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
    /// # use redial::adapters::{Last, RetryError};
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
            Human(inner.elapsed)
        )?;
        if let Some(refusal) = inner.refusal {
            write!(f, "; not retried: {refusal}")?;
        }
        if let Last::TimedOut(limit) = inner.last {
            write!(f, "; the last attempt timed out after {}", Human(limit))?;
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

/// At most this many ids are kept.
const SLOTS: usize = 4;
/// The longest request id kept whole; longer ones are cut at a character boundary.
/// Anthropic's ids are 28 bytes, OpenAI's 36, a UUID 36.
const ID_LEN: usize = 64;
/// The bytes the kept ids share: four of Anthropic's, three UUIDs, at least one of any
/// length. Small, because the ids live inline in every retry future, which is moved
/// about whole.
const TEXT: usize = 120;

/// The request ids a call's attempts received, kept inline so that recording one never
/// allocates: the newest ones that fit in 120 bytes between them, at most four, each up to
/// 64 bytes (longer ids are cut short).
///
/// Four covers every attempt of the presets (three attempts) for ids up to 40 bytes, such
/// as Anthropic's (28) and OpenAI's (36); beyond that the oldest are dropped and
/// [`dropped`](Self::dropped) counts them, since the latest attempts are the ones a
/// support ticket asks about.
///
/// ```
/// use redial::adapters::RequestIds;
///
/// let mut ids = RequestIds::new();
/// for id in ["req_1", "req_2", "req_3", "req_4", "req_5"] {
///     ids.push(id);
/// }
/// assert_eq!(ids.iter().collect::<Vec<_>>(), ["req_2", "req_3", "req_4", "req_5"]);
/// assert_eq!((ids.len(), ids.dropped()), (4, 1));
/// ```
#[derive(Clone)]
pub struct RequestIds {
    /// The kept ids, oldest first, back to back.
    text: [u8; TEXT],
    /// Their lengths, oldest first; the first `kept` count.
    lens: [u8; SLOTS],
    kept: u8,
    /// Ids pushed in all.
    seen: u32,
}

impl RequestIds {
    /// No ids.
    ///
    /// ```
    /// assert!(redial::adapters::RequestIds::new().is_empty());
    /// ```
    pub const fn new() -> RequestIds {
        RequestIds {
            text: [0; TEXT],
            lens: [0; SLOTS],
            kept: 0,
            seen: 0,
        }
    }

    /// Records an id, dropping the oldest to make room. Never allocates.
    ///
    /// ```
    /// let mut ids = redial::adapters::RequestIds::new();
    /// ids.push(&"x".repeat(100));
    /// assert_eq!(ids.iter().next().map(str::len), Some(64));
    /// ```
    pub fn push(&mut self, id: &str) {
        let mut len = id.len().min(ID_LEN);
        while !id.is_char_boundary(len) {
            len -= 1;
        }
        let Some(new) = id.as_bytes().get(..len) else {
            return;
        };
        while usize::from(self.kept) == SLOTS || self.used() + len > TEXT {
            self.drop_oldest();
        }
        let used = self.used();
        if let (Some(dst), Some(slot)) = (
            self.text.get_mut(used..used + len),
            self.lens.get_mut(usize::from(self.kept)),
        ) {
            dst.copy_from_slice(new);
            // `len` is at most ID_LEN (64), so it fits in a u8.
            *slot = len as u8;
            self.kept += 1;
            self.seen = self.seen.saturating_add(1);
        }
    }

    /// Bytes the kept ids take.
    fn used(&self) -> usize {
        self.lens()
            .iter()
            .map(|&len| usize::from(len))
            .sum::<usize>()
    }

    fn lens(&self) -> &[u8] {
        self.lens.get(..usize::from(self.kept)).unwrap_or_default()
    }

    fn drop_oldest(&mut self) {
        let Some(&oldest) = self.lens.first() else {
            return;
        };
        let used = self.used();
        self.text.copy_within(usize::from(oldest)..used, 0);
        self.lens.copy_within(1.., 0);
        self.kept = self.kept.saturating_sub(1);
    }

    /// The ids kept, oldest first.
    ///
    /// ```
    /// let mut ids = redial::adapters::RequestIds::new();
    /// ids.push("a");
    /// ids.push("b");
    /// assert_eq!(ids.iter().collect::<String>(), "ab");
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = &str> + '_ {
        let mut at = 0;
        self.lens().iter().map(move |&len| {
            let start = at;
            at += usize::from(len);
            self.text
                .get(start..at)
                .and_then(|b| core::str::from_utf8(b).ok())
                .unwrap_or("")
        })
    }

    /// How many ids are kept.
    ///
    /// ```
    /// assert_eq!(redial::adapters::RequestIds::new().len(), 0);
    /// ```
    pub fn len(&self) -> usize {
        usize::from(self.kept)
    }

    /// Whether no id was recorded.
    ///
    /// ```
    /// assert!(redial::adapters::RequestIds::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.seen == 0
    }

    /// How many ids were recorded but no longer kept.
    ///
    /// ```
    /// assert_eq!(redial::adapters::RequestIds::new().dropped(), 0);
    /// ```
    pub fn dropped(&self) -> usize {
        (self.seen as usize).saturating_sub(self.len())
    }

    /// The newest id, if any.
    ///
    /// ```
    /// let mut ids = redial::adapters::RequestIds::new();
    /// ids.push("req_9");
    /// assert_eq!(ids.last(), Some("req_9"));
    /// ```
    pub fn last(&self) -> Option<&str> {
        self.iter().last()
    }
}

impl Default for RequestIds {
    fn default() -> Self {
        RequestIds::new()
    }
}

impl fmt::Debug for RequestIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
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
    fn ids_keep_the_latest_in_order() {
        let mut ids = RequestIds::new();
        assert_eq!(ids.iter().count(), 0);
        for n in 0..10 {
            ids.push(&format!("req_{n}"));
        }
        assert_eq!(
            ids.iter().collect::<Vec<_>>(),
            ["req_6", "req_7", "req_8", "req_9"]
        );
        assert_eq!(ids.dropped(), 6);
    }

    #[test]
    fn ids_share_their_bytes_newest_first() {
        // Four of Anthropic's 28-byte ids fit; of 36-byte UUIDs, three.
        let anthropic = |n: u32| format!("req_011CSHoEeqs5C35K2UUqR7F{n}");
        let mut ids = RequestIds::new();
        (1..=4).for_each(|n| ids.push(&anthropic(n)));
        assert_eq!((ids.len(), ids.dropped()), (4, 0));

        let uuid = |n: u32| format!("5f1b2c3d-0000-4000-8000-00000000000{n}");
        let mut ids = RequestIds::new();
        (1..=4).for_each(|n| ids.push(&uuid(n)));
        assert_eq!(ids.iter().collect::<Vec<_>>(), [uuid(2), uuid(3), uuid(4)]);
        assert_eq!(ids.dropped(), 1);

        // A long id pushes out as many as it needs, and short ones fill in again.
        ids.push(&"L".repeat(64));
        assert_eq!(ids.iter().collect::<Vec<_>>(), [uuid(4), "L".repeat(64)]);
        ids.push("x");
        assert_eq!(ids.last(), Some("x"));
        assert_eq!((ids.len(), ids.dropped()), (3, 3));
    }

    #[test]
    fn long_ids_are_cut_at_a_char_boundary() {
        let mut ids = RequestIds::new();
        let id = format!("{}é", "a".repeat(63));
        ids.push(&id);
        assert_eq!(ids.last(), Some("a".repeat(63).as_str()));
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
}
