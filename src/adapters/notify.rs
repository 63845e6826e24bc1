//! Who hears about each retry: the notify hook and the event it gets.

use core::fmt;
use core::time::Duration;

use crate::duration::Rounded;
use crate::machine::Retry;
use crate::verdict::Verdict;

/// Hears about each retry before its wait: a place to log, count retries by error type,
/// or print a timeline. Any `FnMut(&Event<'_>)` is one.
///
/// ```
/// use redial::{Event, Notify};
///
/// let mut retries = 0;
/// let mut count = |_: &Event<'_>| retries += 1;
/// # fn takes(_: impl Notify) {}
/// # takes(&mut count);
/// ```
pub trait Notify {
    /// Called after an attempt failed and before the wait for the next one.
    ///
    /// ```
    /// use std::time::Instant;
    /// use redial::{Event, Notify};
    /// use redial::{Cause, Policy, Verdict};
    ///
    /// let policy = Policy::default();
    /// let verdict = Verdict::retryable(Cause::status(503));
    /// let action = policy.start(Instant::now()).on_outcome(&verdict, Instant::now(), &mut fastrand::Rng::with_seed(1));
    /// let retry = action.retry().copied().unwrap();
    /// let mut lines = Vec::new();
    /// (|event: &Event<'_>| lines.push(event.to_string())).notify(&Event::new(1, &retry, &verdict, None));
    /// assert!(lines[0].starts_with("attempt 1 failed: 503; backoff 1 of 2; retrying in"));
    /// ```
    fn notify(&mut self, event: &Event<'_>);
}

impl<F: FnMut(&Event<'_>)> Notify for F {
    fn notify(&mut self, event: &Event<'_>) {
        self(event)
    }
}

/// The hook that does nothing: the default.
///
/// Sealed on purpose: the default hook, public only because a call's type
/// names it; in a private module, so no user can name it.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoNotify;

impl Notify for NoNotify {
    fn notify(&mut self, _: &Event<'_>) {}
}

/// One retry about to happen: which attempt failed, the verdict on it, the server's request
/// id, and the machine's [`Retry`] (the wait and why).
///
/// Its `Display` is one line for a log:
/// `attempt 1 failed: 529 overloaded_error; server asked 2s (retry-after); retrying in 2.1s`.
#[derive(Clone, Copy, Debug)]
pub struct Event<'a> {
    attempt: u32,
    retry: &'a Retry,
    verdict: &'a Verdict,
    request_id: Option<&'a str>,
}

impl<'a> Event<'a> {
    /// An event. Adapters build these; public for adapters of your own and for tests.
    ///
    /// ```
    /// use std::time::Instant;
    /// use redial::Event;
    /// use redial::{Cause, Policy, Verdict};
    ///
    /// let policy = Policy::default();
    /// let verdict = Verdict::retryable(Cause::status(503));
    /// let action = policy.start(Instant::now()).on_outcome(&verdict, Instant::now(), &mut fastrand::Rng::with_seed(1));
    /// let retry = action.retry().copied().unwrap();
    /// let event = Event::new(1, &retry, &verdict, Some("req_1"));
    /// assert_eq!(event.attempt(), 1);
    /// ```
    pub fn new(
        attempt: u32,
        retry: &'a Retry,
        verdict: &'a Verdict,
        request_id: Option<&'a str>,
    ) -> Self {
        Event {
            attempt,
            retry,
            verdict,
            request_id,
        }
    }

    /// The attempt that just failed, 1 for the first.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use redial::Event;
    /// # use redial::{Cause, Policy, Verdict};
    /// # let policy = Policy::default();
    /// # let verdict = Verdict::retryable(Cause::status(503));
    /// # let retry = *policy.start(Instant::now()).on_outcome(&verdict, Instant::now(), &mut fastrand::Rng::with_seed(1)).retry().unwrap();
    /// assert_eq!(Event::new(2, &retry, &verdict, None).attempt(), 2);
    /// ```
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// How long the adapter will wait before the next attempt.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use redial::Event;
    /// # use redial::{Cause, Policy, Verdict};
    /// # let policy = Policy::default();
    /// # let verdict = Verdict::retryable(Cause::status(503));
    /// # let retry = *policy.start(Instant::now()).on_outcome(&verdict, Instant::now(), &mut fastrand::Rng::with_seed(1)).retry().unwrap();
    /// assert_eq!(Event::new(1, &retry, &verdict, None).delay(), retry.delay);
    /// ```
    pub fn delay(&self) -> Duration {
        self.retry.delay
    }

    /// The machine's decision: the wait, which retry this is, and why.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use redial::Event;
    /// # use redial::{Cause, Policy, Verdict};
    /// # let policy = Policy::default();
    /// # let verdict = Verdict::retryable(Cause::status(503));
    /// # let retry = *policy.start(Instant::now()).on_outcome(&verdict, Instant::now(), &mut fastrand::Rng::with_seed(1)).retry().unwrap();
    /// assert_eq!(Event::new(1, &retry, &verdict, None).retry().retry, 1);
    /// ```
    pub fn retry(&self) -> &'a Retry {
        self.retry
    }

    /// The verdict on the failed attempt.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use redial::Event;
    /// # use redial::{Cause, Policy, Verdict};
    /// # let policy = Policy::default();
    /// # let verdict = Verdict::retryable(Cause::status(503));
    /// # let retry = *policy.start(Instant::now()).on_outcome(&verdict, Instant::now(), &mut fastrand::Rng::with_seed(1)).retry().unwrap();
    /// assert_eq!(Event::new(1, &retry, &verdict, None).verdict().cause().and_then(|c| c.status), Some(503));
    /// ```
    pub fn verdict(&self) -> &'a Verdict {
        self.verdict
    }

    /// The request id the server gave the failed attempt, if any.
    ///
    /// ```
    /// # use std::time::Instant;
    /// # use redial::Event;
    /// # use redial::{Cause, Policy, Verdict};
    /// # let policy = Policy::default();
    /// # let verdict = Verdict::retryable(Cause::status(503));
    /// # let retry = *policy.start(Instant::now()).on_outcome(&verdict, Instant::now(), &mut fastrand::Rng::with_seed(1)).retry().unwrap();
    /// assert_eq!(Event::new(1, &retry, &verdict, Some("req_7")).request_id(), Some("req_7"));
    /// ```
    pub fn request_id(&self) -> Option<&'a str> {
        self.request_id
    }
}

impl fmt::Display for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attempt {} failed: {}; retrying in {}",
            self.attempt,
            self.retry,
            Rounded(self.retry.delay)
        )?;
        if let Some(id) = self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}
