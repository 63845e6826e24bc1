//! The adapters' two hooks: how a result is classified, and who hears about each retry.

use core::fmt;
use core::time::Duration;
use std::time::SystemTime;

use crate::classify::{Classifier, Outcome, RequestFacts};
use crate::duration::Human;
use crate::machine::Retry;
use crate::verdict::Verdict;

use super::outcome::HttpOutcome;

/// Turns one attempt's result into a [`Verdict`] for the machine.
///
/// You rarely implement this: the default, [`HttpClassify`], reads HTTP outcomes through
/// [`HttpOutcome`] with the policy's table, and `.classify(|result| ..)` takes a closure
/// for everything else (a gRPC status, a database error), wrapped in [`ClassifyFn`].
///
/// ```
/// use redial::adapters::{Classify, ClassifyContext};
/// use redial::{Cause, Verdict};
///
/// /// Retries `Err(Busy)`, gives up on any other error.
/// struct BusyIsRetryable;
/// #[derive(Debug, PartialEq)]
/// enum DbError { Busy, Corrupt }
///
/// impl<T> Classify<T, DbError> for BusyIsRetryable {
///     fn classify(&mut self, _cx: &ClassifyContext<'_>, result: &Result<T, DbError>) -> Verdict {
///         match result {
///             Ok(_) => Verdict::Success,
///             Err(DbError::Busy) => Verdict::retryable(Cause::caller()),
///             Err(DbError::Corrupt) => Verdict::fatal(Cause::caller()),
///         }
///     }
/// }
/// # let _ = DbError::Corrupt;
/// ```
pub trait Classify<T, E> {
    /// The verdict on one attempt's result.
    ///
    /// ```
    /// use std::time::SystemTime;
    /// use redial::adapters::{Classify, ClassifyContext, HttpClassify};
    /// use redial::{Policy, RequestFacts};
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(true), SystemTime::now());
    /// let ok: Result<http::Response<()>, std::io::Error> = Ok(http::Response::new(()));
    /// assert!(HttpClassify.classify(&cx, &ok).is_success());
    /// ```
    fn classify(&mut self, cx: &ClassifyContext<'_>, result: &Result<T, E>) -> Verdict;

    /// The request id the server gave this attempt, kept for the final error. Defaults to
    /// none.
    ///
    /// ```
    /// use redial::adapters::{Classify, HttpClassify};
    /// let response = http::Response::builder().header("request-id", "req_1").body(())?;
    /// let result: Result<_, std::io::Error> = Ok(response);
    /// assert_eq!(HttpClassify.request_id(&result), Some("req_1"));
    /// # Ok::<(), http::Error>(())
    /// ```
    fn request_id<'r>(&self, result: &'r Result<T, E>) -> Option<&'r str> {
        let _ = result;
        None
    }
}

/// What a classifier may need besides the result: the policy's HTTP table, what is known
/// about the request, and the wall clock (read only if asked: most results need no time).
///
/// ```
/// use std::time::SystemTime;
/// use http::Method;
/// use redial::adapters::ClassifyContext;
/// use redial::{Outcome, Policy, RequestFacts, Transport};
///
/// let policy = Policy::default();
/// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::new(&Method::GET), SystemTime::now());
/// assert!(cx.verdict(&Outcome::Transport(Transport::Reset)).is_retryable());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ClassifyContext<'a> {
    classifier: &'a Classifier,
    request: RequestFacts,
    wall: Wall<'a>,
}

/// The wall clock of a context: a given time, or the adapter's clock, read only when asked
/// (most results are successes, which need no time).
#[derive(Clone, Copy)]
enum Wall<'a> {
    At(SystemTime),
    Clock(&'a dyn Fn() -> SystemTime),
}

impl Wall<'_> {
    fn read(self) -> SystemTime {
        match self {
            Wall::At(at) => at,
            Wall::Clock(clock) => clock(),
        }
    }
}

impl fmt::Debug for Wall<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Wall::At(at) => f.debug_tuple("At").field(at).finish(),
            Wall::Clock(_) => f.write_str("Clock"),
        }
    }
}

impl<'a> ClassifyContext<'a> {
    /// A context.
    ///
    /// ```
    /// # use std::time::SystemTime;
    /// # use redial::adapters::ClassifyContext;
    /// # use redial::{Policy, RequestFacts};
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(true), SystemTime::now());
    /// assert!(cx.request().is_idempotent());
    /// ```
    pub fn new(classifier: &'a Classifier, request: RequestFacts, wall: SystemTime) -> Self {
        ClassifyContext {
            classifier,
            request,
            wall: Wall::At(wall),
        }
    }

    /// A context whose wall clock is read from `clock` when a classifier asks for it.
    #[inline]
    pub(crate) fn with_clock(
        classifier: &'a Classifier,
        request: RequestFacts,
        clock: &'a dyn Fn() -> SystemTime,
    ) -> Self {
        ClassifyContext {
            classifier,
            request,
            wall: Wall::Clock(clock),
        }
    }

    /// The policy's HTTP table.
    ///
    /// ```
    /// # use std::time::SystemTime;
    /// # use redial::adapters::ClassifyContext;
    /// # use redial::{Policy, RequestFacts};
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(true), SystemTime::now());
    /// assert!(cx.classifier().honor_hints());
    /// ```
    pub fn classifier(&self) -> &'a Classifier {
        self.classifier
    }

    /// What is known about the request.
    ///
    /// ```
    /// # use std::time::SystemTime;
    /// # use redial::adapters::ClassifyContext;
    /// # use redial::{Policy, RequestFacts};
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(false), SystemTime::now());
    /// assert!(!cx.request().is_idempotent());
    /// ```
    pub fn request(&self) -> RequestFacts {
        self.request
    }

    /// The wall clock, for HTTP dates and reset timestamps in the result. An adapter reads
    /// its clock here, on each call, so a classifier that needs no time pays for none.
    ///
    /// ```
    /// # use std::time::SystemTime;
    /// # use redial::adapters::ClassifyContext;
    /// # use redial::{Policy, RequestFacts};
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(true), SystemTime::UNIX_EPOCH);
    /// assert_eq!(cx.wall(), SystemTime::UNIX_EPOCH);
    /// ```
    pub fn wall(&self) -> SystemTime {
        self.wall.read()
    }

    /// The policy's verdict on an HTTP outcome.
    ///
    /// ```
    /// # use std::time::SystemTime;
    /// # use redial::adapters::ClassifyContext;
    /// # use redial::{Outcome, Policy, RequestFacts};
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(true), SystemTime::now());
    /// let headers = http::HeaderMap::new();
    /// assert!(!cx.verdict(&Outcome::response(http::StatusCode::BAD_REQUEST, &headers)).is_retryable());
    /// ```
    #[inline]
    pub fn verdict(&self, outcome: &Outcome<'_>) -> Verdict {
        self.classifier
            .classify_at(&self.request, outcome, || self.wall.read())
    }
}

/// The default classification: the result's [`HttpOutcome`] through the policy's table,
/// its request id kept for the final error.
///
/// ```
/// use std::time::SystemTime;
/// use redial::adapters::{Classify, ClassifyContext, HttpClassify};
/// use redial::{Policy, RequestFacts, Transport};
///
/// let policy = Policy::default();
/// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(false), SystemTime::now());
/// let refused: Result<http::Response<()>, Transport> = Err(Transport::Connect);
/// assert!(HttpClassify.classify(&cx, &refused).is_retryable());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpClassify;

impl<T: HttpOutcome, E: HttpOutcome> Classify<T, E> for HttpClassify {
    fn classify(&mut self, cx: &ClassifyContext<'_>, result: &Result<T, E>) -> Verdict {
        cx.verdict(&result.outcome())
    }

    fn request_id<'r>(&self, result: &'r Result<T, E>) -> Option<&'r str> {
        result.request_id()
    }
}

/// A closure that decides each result, for results that are not HTTP.
///
/// ```
/// use std::time::SystemTime;
/// use redial::adapters::{Classify, ClassifyContext, ClassifyFn};
/// use redial::{Cause, Policy, RequestFacts, Verdict};
///
/// let mut c = ClassifyFn(|r: &Result<u32, String>| match r {
///     Ok(_) => Verdict::Success,
///     Err(_) => Verdict::retryable(Cause::caller()),
/// });
/// let policy = Policy::default();
/// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(true), SystemTime::now());
/// assert!(c.classify(&cx, &Err("busy".to_string())).is_retryable());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ClassifyFn<F>(pub F);

impl<T, E, F> Classify<T, E> for ClassifyFn<F>
where
    F: FnMut(&Result<T, E>) -> Verdict,
{
    fn classify(&mut self, _cx: &ClassifyContext<'_>, result: &Result<T, E>) -> Verdict {
        (self.0)(result)
    }
}

/// Hears about each retry before its wait: a place to log, count retries by error type,
/// or print a timeline. Any `FnMut(&Event<'_>)` is one.
///
/// ```
/// use redial::adapters::{Event, Notify};
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
    /// use redial::adapters::{Event, Notify};
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
/// ```
/// use redial::adapters::{NoNotify, Notify};
/// # fn takes(_: impl Notify) {}
/// takes(NoNotify);
/// ```
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
    /// use redial::adapters::Event;
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
    /// # use redial::adapters::Event;
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
    /// # use redial::adapters::Event;
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
    /// # use redial::adapters::Event;
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
    /// # use redial::adapters::Event;
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
    /// # use redial::adapters::Event;
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
            Human(self.retry.delay)
        )?;
        if let Some(id) = self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}
