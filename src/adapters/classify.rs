//! How one attempt's result becomes a [`Verdict`]: the classify hook, the context it gets,
//! and the default, which reads HTTP outcomes through the policy's table.

use std::time::SystemTime;

use crate::classify::{Classifier, Outcome, RequestFacts};
use crate::verdict::Verdict;

use super::http_outcome::HttpOutcome;

/// Turns one attempt's result into a [`Verdict`] for the machine.
///
/// You rarely implement this: the default, [`HttpClassify`], reads HTTP outcomes through
/// [`HttpOutcome`] with the policy's table, and `.classify(|result| ..)` takes a closure
/// for everything else (a gRPC status, a database error).
///
/// ```
/// use redial::{Classify, ClassifyContext};
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
    /// use redial::{Classify, ClassifyContext};
    /// use redial::classify::HttpClassify;
    /// use redial::Policy;
    /// use redial::classify::RequestFacts;
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
    /// use redial::Classify;
    /// use redial::classify::HttpClassify;
    /// let response = http::Response::builder().header("request-id", "req_1").body(())?;
    /// let result: Result<_, std::io::Error> = Ok(response);
    /// assert_eq!(HttpClassify.request_id(&result), Some("req_1"));
    /// # Ok::<(), http::Error>(())
    /// ```
    fn request_id<'r>(&self, result: &'r Result<T, E>) -> Option<&'r str> {
        let _ = result;
        None
    }

    /// Whether `result` is a success that needs no context to tell (most results are):
    /// the driver asks this first and skips [`classify`](Self::classify) on a yes. `false`
    /// means "ask `classify`", and is the default.
    ///
    /// ```
    /// use redial::Classify;
    /// use redial::classify::HttpClassify;
    /// let ok: Result<http::Response<()>, std::io::Error> = Ok(http::Response::new(()));
    /// assert!(HttpClassify.is_success(&ok));
    /// ```
    #[inline]
    fn is_success(&mut self, result: &Result<T, E>) -> bool {
        let _ = result;
        false
    }

    /// Whether [`classify`](Self::classify) may read the wall clock
    /// ([`ClassifyContext::wall`]) for this failed `result`: the driver reads the clock
    /// for it only then. Defaults to yes; [`HttpClassify`] says yes for a response only
    /// (its hints may be dates), a closure never.
    ///
    /// ```
    /// use redial::{Classify, Transport};
    /// use redial::classify::HttpClassify;
    /// let refused: Result<http::Response<()>, Transport> = Err(Transport::Connect);
    /// assert!(!HttpClassify.reads_wall(&refused));
    /// ```
    #[inline]
    fn reads_wall(&self, result: &Result<T, E>) -> bool {
        let _ = result;
        true
    }

    /// The status and headers of a response, which the policy's rate-limit
    /// [gate](crate::gate) learns from (a 429's reset, a spent quota's). Defaults to none:
    /// results that are not HTTP teach the gate nothing.
    ///
    /// ```
    /// use redial::Classify;
    /// use redial::classify::HttpClassify;
    /// let limited = http::Response::builder().status(429).header("retry-after", "2").body(())?;
    /// let result: Result<_, std::io::Error> = Ok(limited);
    /// assert_eq!(HttpClassify.response(&result).map(|(status, _)| status), Some(429));
    /// # Ok::<(), http::Error>(())
    /// ```
    #[inline]
    fn response<'r>(&self, result: &'r Result<T, E>) -> Option<(u16, &'r http::HeaderMap)> {
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
/// use redial::ClassifyContext;
/// use redial::{Policy, Transport};
/// use redial::classify::{Outcome, RequestFacts};
///
/// let policy = Policy::default();
/// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::new(&Method::GET), SystemTime::now());
/// assert!(cx.verdict(&Outcome::Transport(Transport::Reset)).is_retryable());
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ClassifyContext<'a> {
    classifier: &'a Classifier,
    request: RequestFacts,
    wall: SystemTime,
}

impl<'a> ClassifyContext<'a> {
    /// A context.
    ///
    /// ```
    /// # use std::time::SystemTime;
    /// # use redial::ClassifyContext;
    /// # use redial::Policy;
    /// # use redial::classify::RequestFacts;
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(true), SystemTime::now());
    /// assert!(cx.request().is_idempotent());
    /// ```
    pub fn new(classifier: &'a Classifier, request: RequestFacts, wall: SystemTime) -> Self {
        ClassifyContext {
            classifier,
            request,
            wall,
        }
    }

    /// The policy's HTTP table.
    ///
    /// ```
    /// # use std::time::SystemTime;
    /// # use redial::ClassifyContext;
    /// # use redial::Policy;
    /// # use redial::classify::RequestFacts;
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
    /// # use redial::ClassifyContext;
    /// # use redial::Policy;
    /// # use redial::classify::RequestFacts;
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(false), SystemTime::now());
    /// assert!(!cx.request().is_idempotent());
    /// ```
    pub fn request(&self) -> RequestFacts {
        self.request
    }

    /// The wall clock, for HTTP dates and reset timestamps in the result. An adapter reads
    /// it before classifying a failure that [`Classify::reads_wall`] says may need it.
    ///
    /// ```
    /// # use std::time::SystemTime;
    /// # use redial::ClassifyContext;
    /// # use redial::Policy;
    /// # use redial::classify::RequestFacts;
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(true), SystemTime::UNIX_EPOCH);
    /// assert_eq!(cx.wall(), SystemTime::UNIX_EPOCH);
    /// ```
    pub fn wall(&self) -> SystemTime {
        self.wall
    }

    /// The policy's verdict on an HTTP outcome.
    ///
    /// ```
    /// # use std::time::SystemTime;
    /// # use redial::ClassifyContext;
    /// # use redial::Policy;
    /// # use redial::classify::{Outcome, RequestFacts};
    /// let policy = Policy::default();
    /// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(true), SystemTime::now());
    /// let headers = http::HeaderMap::new();
    /// assert!(!cx.verdict(&Outcome::response(http::StatusCode::BAD_REQUEST, &headers)).is_retryable());
    /// ```
    #[inline]
    pub fn verdict(&self, outcome: &Outcome<'_>) -> Verdict {
        self.classifier.classify(&self.request, outcome, self.wall)
    }
}

/// The default classification: the result's [`HttpOutcome`] through the policy's table,
/// its request id kept for the final error.
///
/// ```
/// use std::time::SystemTime;
/// use redial::{Classify, ClassifyContext};
/// use redial::classify::HttpClassify;
/// use redial::{Policy, Transport};
/// use redial::classify::RequestFacts;
///
/// let policy = Policy::default();
/// let cx = ClassifyContext::new(policy.classifier(), RequestFacts::idempotent(false), SystemTime::now());
/// let refused: Result<http::Response<()>, Transport> = Err(Transport::Connect);
/// assert!(HttpClassify.classify(&cx, &refused).is_retryable());
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct HttpClassify;

impl<T: HttpOutcome, E: HttpOutcome> Classify<T, E> for HttpClassify {
    #[inline]
    fn classify(&mut self, cx: &ClassifyContext<'_>, result: &Result<T, E>) -> Verdict {
        cx.verdict(&result.outcome())
    }

    fn request_id<'r>(&self, result: &'r Result<T, E>) -> Option<&'r str> {
        result.request_id()
    }

    #[inline]
    fn reads_wall(&self, result: &Result<T, E>) -> bool {
        matches!(result.outcome(), Outcome::Response { .. })
    }

    #[inline]
    fn is_success(&mut self, result: &Result<T, E>) -> bool {
        result.outcome().is_success()
    }

    #[inline]
    fn response<'r>(&self, result: &'r Result<T, E>) -> Option<(u16, &'r http::HeaderMap)> {
        match result.outcome() {
            Outcome::Response {
                status, headers, ..
            } => Some((status.as_u16(), headers)),
            Outcome::Transport(_) => None,
        }
    }
}

/// A closure that decides each result, for results that are not HTTP.
///
/// Sealed on purpose: what `.classify(..)` wraps a closure in, public only
/// because the call's type names it; in a private module, so no user can name it.
#[derive(Clone, Copy, Debug)]
pub struct ClassifyFn<F>(pub F);

impl<T, E, F> Classify<T, E> for ClassifyFn<F>
where
    F: FnMut(&Result<T, E>) -> Verdict,
{
    fn classify(&mut self, _cx: &ClassifyContext<'_>, result: &Result<T, E>) -> Verdict {
        (self.0)(result)
    }

    #[inline]
    fn reads_wall(&self, _: &Result<T, E>) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::{Classify, ClassifyContext, ClassifyFn};
    use crate::classify::RequestFacts;
    use crate::{Cause, Policy, Verdict};

    #[test]
    fn a_closure_decides_each_result() {
        let mut c = ClassifyFn(|r: &Result<u32, String>| match r {
            Ok(_) => Verdict::Success,
            Err(_) => Verdict::retryable(Cause::caller()),
        });
        let policy = Policy::default();
        let cx = ClassifyContext::new(
            policy.classifier(),
            RequestFacts::idempotent(true),
            SystemTime::now(),
        );
        assert!(c.classify(&cx, &Err("busy".to_string())).is_retryable());
    }
}
