//! reqwest-middleware (feature `reqwest-middleware`): the retry middleware.

use core::sync::atomic::{AtomicU64, Ordering};
use core::time::Duration;

use fastrand::Rng;
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::classify::Outcome;
use crate::Policy;

use super::classify::{Classify, HttpClassify};
use super::driver::{finish, read, Command, Driver, Event, Pending};
use super::http_outcome::{transport_kind, HttpOutcome};
use super::notify::{NoNotify, Notify};
use super::options::{AttemptOutput, WithSleeper};
use super::retry_error::Refusal;
use super::retrying::Retrying;
use super::sleep::{Sleeper, TokioSleeper};

/// The largest error body read for its error type: an API's JSON error is a few hundred
/// bytes, and a body read here is held in memory whole.
const PEEK_LIMIT: u64 = 64 * 1024;

/// The retry middleware for reqwest-middleware clients (feature `reqwest-middleware`): it
/// replaces reqwest-retry's `RetryTransientMiddleware` in one line.
///
/// ```no_run
/// use redial::reqwest_middleware::RetryMiddleware;
/// use redial::{Policy, Preset};
/// use reqwest_middleware::ClientBuilder;
///
/// # async fn run() -> Result<(), reqwest_middleware::Error> {
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::new(Policy::preset(Preset::Anthropic)))
///     .build();
/// let response = client.post("https://api.anthropic.com/v1/messages").body("{}").send().await?;
/// # let _ = response;
/// # Ok(())
/// # }
/// ```
///
/// What it does that reqwest-retry does not:
///
/// - **Waits what the server asks**: `retry-after-ms`, `Retry-After` (seconds or a date) and
///   the rate-limit reset headers, spread a little so that clients told the same instant
///   do not return together, and capped by the policy's `max_hint`.
/// - **Reads API error types**: the body of a failed response with a
///   `Content-Length` of at most 64 KiB is read (`overloaded_error`, `rate_limit_error`, …)
///   and handed on as it was, so you can still read it. A larger or chunked error body is
///   left unread and its status and headers decide.
/// - **Keeps a retry budget** shared by every clone of the policy, so that a fleet of
///   clients does not multiply the load on a server that is already down.
/// - **Reads idempotency from the request**: a `GET`, `PUT` or `DELETE`, or any request with
///   an `Idempotency-Key` header, is retried on any retryable failure; a `POST` only when
///   the server cannot have acted on it (a refused connection, 429, 503, 529, …), unless
///   the policy says `non_idempotent = "always"`.
/// - **Says why it stopped**: a call that ends in a transport failure returns
///   `reqwest_middleware::Error::Middleware` holding a [`RetryError`](crate::RetryError), which names the
///   stop reason, the attempts, the time taken and every request id the server gave;
///   its [`source`](std::error::Error::source) is the last error. A call that ends with a
///   response returns that response, as reqwest-retry does, so `error_for_status` and
///   your own error handling see what they saw before; if it failed, its extensions hold
///   the [`Stop`](crate::Stop) (why no retry followed) and the
///   [`RequestIds`](crate::RequestIds) of every attempt.
///
/// A request whose body cannot be cloned (a stream) is sent once: it cannot be sent again.
/// A failure the policy would have retried then ends the call as the tower layer's does,
/// with [`Refusal::BodyNotReplayable`](crate::Refusal::BodyNotReplayable) (in the
/// [`RetryError`](crate::RetryError), or in a returned response's extensions).
/// reqwest-retry fails such a request before sending it.
///
/// It is a [`Retrying`] like every other adapter, so it takes the same options
/// (`.sleeper(..)`, `.notify(..)`, `.classify(..)`, `.rng(..)`, `.idempotent()`); each
/// request gets its own copy of them.
///
/// # Migrating from reqwest-retry
///
/// | reqwest-retry | redial |
/// |---|---|
/// | `RetryTransientMiddleware::new_with_policy(policy)` | [`RetryMiddleware::new(policy)`](RetryMiddleware::new) |
/// | `ExponentialBackoff::builder().build_with_max_retries(n)` | `Policy::builder().max_attempts(n + 1).build()?` (attempts count the first) |
/// | `.retry_bounds(min, max)` | `.base(min).cap(max)` |
/// | `.base(b)` (the exponent's base) | `.factor(b)` |
/// | `.jitter(Jitter::Full)`, `Jitter::None` | `.jitter(Jitter::Full)`, `Jitter::None` |
/// | `.jitter(Jitter::Bounded)` | `.jitter(Jitter::Equal)` (half the delay to the delay) or `Jitter::Proportional(r)` |
/// | `.build_with_total_retry_duration(d)` | `.max_elapsed(d)` |
/// | `DefaultRetryableStrategy`: 408, 429, 5xx, transport errors, any method | the policy's table: 408, 425, 429, 500, 502, 503, 504, 529, API error types, `x-should-retry`; a `POST` only when safe, or `.non_idempotent(NonIdempotent::Always)` |
/// | a custom `RetryableStrategy` | `.retry_status([..])`, a policy file, or the [`Classify`](crate::Classify) of the other adapters |
/// | `Retryable::Transient`, `Retryable::Fatal` | [`Verdict::retryable`](crate::Verdict::retryable), [`Verdict::fatal`](crate::Verdict::fatal) |
/// | `RetryError::WithRetries { retries, err }` | [`RetryError`](crate::RetryError): [`reason`](crate::RetryError::reason), [`attempts`](crate::RetryError::attempts), [`elapsed`](crate::RetryError::elapsed), [`request_ids`](crate::RetryError::request_ids), [`error`](crate::RetryError::error) |
/// | `with_retry_log_level(level)` | the `tracing` feature: a span per call, an event per retry |
/// | `Retry-After`: not read | read, with the rate-limit headers |
/// | a streamed body: an error before sending | sent once, and not retried ([`Refusal::BodyNotReplayable`](crate::Refusal::BodyNotReplayable)) |
/// | the runtime: tokio | tokio by default; [`sleeper`](RetryMiddleware::sleeper) for another timer |
///
/// Policies can also come from a file that platform teams check in CI (feature `serde`).
///
/// In a client of its own:
///
/// ```
/// use redial::reqwest_middleware::RetryMiddleware;
/// use redial::Policy;
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::new(Policy::default()))
///     .build();
/// # drop(client);
/// ```
pub type RetryMiddleware<S = TokioSleeper, C = HttpClassify, N = NoNotify> =
    Retrying<MiddlewareAttempts, Policy, S, C, N>;

/// The reqwest-middleware adapter's part of a [`RetryMiddleware`]: each request brings
/// the rest. It counts the requests, so that a seeded generator gives each its own draws.
#[derive(Debug, Default)]
pub struct MiddlewareAttempts {
    requests: AtomicU64,
}

impl AttemptOutput for MiddlewareAttempts {
    type Ok = Response;
    type Err = reqwest_middleware::Error;
}

impl<S> WithSleeper<S> for MiddlewareAttempts {
    type Output = Self;

    fn with_sleeper(self) -> Self {
        self
    }
}

impl Retrying<MiddlewareAttempts, Policy, TokioSleeper, HttpClassify, NoNotify> {
    /// Retries under `policy`, waiting on tokio's timer (reqwest runs on tokio). Clones of
    /// the policy share its budget, so one policy per service is the rule.
    ///
    /// ```
    /// use redial::reqwest_middleware::RetryMiddleware;
    /// use redial::{Policy, Preset};
    /// let retry = RetryMiddleware::new(Policy::preset(Preset::OpenAi));
    /// # drop(retry);
    /// ```
    pub fn new(policy: Policy) -> Self {
        Retrying::start(policy, MiddlewareAttempts::default()).sleeper(TokioSleeper)
    }
}

impl<S, C, N> Retrying<MiddlewareAttempts, Policy, S, C, N> {
    /// The policy it retries under.
    ///
    /// ```
    /// use redial::reqwest_middleware::RetryMiddleware;
    /// let retry = RetryMiddleware::new(redial::Policy::default());
    /// assert_eq!(retry.policy().rules().max_attempts(), 3);
    /// ```
    pub fn policy(&self) -> &Policy {
        &self.options.policy
    }
}

/// Each clone shares the policy's budget and starts from the same options.
impl<S: Clone, C: Clone, N: Clone> Clone for Retrying<MiddlewareAttempts, Policy, S, C, N> {
    fn clone(&self) -> Self {
        Retrying {
            options: self.options.clone(),
            sleeper: self.sleeper.clone(),
            attempts: MiddlewareAttempts::default(),
        }
    }
}

#[async_trait::async_trait]
impl<S, C, N> Middleware for Retrying<MiddlewareAttempts, Policy, S, C, N>
where
    S: Sleeper + Send + Sync + 'static,
    S::Sleep: Send,
    C: Classify<Response, reqwest_middleware::Error> + Clone + Send + Sync + 'static,
    N: Notify + Clone + Send + Sync + 'static,
{
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        let mut options = self.options.clone();
        options.read_request(req.method(), req.headers(), req.url().host_str());
        // A seeded generator gives each request its own draws, in the order they come.
        if let Some(rng) = &mut options.rng {
            let n = self.attempts.requests.fetch_add(1, Ordering::Relaxed);
            *rng = Rng::with_seed(rng.get_seed() ^ n.wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
        let (now, wall) = (|| self.sleeper.now(), || self.sleeper.wall());
        let mut driver = Driver::default();
        macro_rules! step {
            ($event:expr) => {
                read(&mut driver, &mut options, $event, now, wall)
            };
        }
        let (mut req, mut command) = (req, step!(Event::Due));
        let result = loop {
            while let Command::Sleep(delay) = command {
                let _ = step!(Event::Pending(Pending::Sleep));
                self.sleeper.sleep(delay).await;
                command = step!(Event::Due);
            }
            if let Command::Done(end) = command {
                // The rate pacer stopped the call before this attempt.
                break finish(&mut driver, &options, end, None, Duration::ZERO, now);
            }
            // A copy for the next attempt, made before this one consumes the body; without
            // one (a streamed body) the driver refuses a retry, as the tower layer's does.
            let spare = req.try_clone();
            let _ = step!(Event::Pending(Pending::Attempt));
            let result = send(next.clone(), req, extensions).await;
            let refuse = spare.is_none().then_some(Refusal::BodyNotReplayable);
            match (step!(Event::Finished(Some(&result), refuse)), spare) {
                (Command::Sleep(delay), Some(spare)) => {
                    // Let go of the failed response (it holds a connection) before the wait.
                    drop(result);
                    (req, command) = (spare, Command::Sleep(delay));
                }
                (command, _) => {
                    let (end, last) = (command.end(), Some(result));
                    break finish(&mut driver, &options, end, last, Duration::ZERO, now);
                }
            }
        };
        // A response goes back as reqwest-retry returns it, with why the retries stopped
        // and the request ids of every attempt in its extensions.
        result.or_else(|err| {
            let (stop, ids, refusal) = (*err.stop(), err.request_ids().clone(), err.refusal());
            err.into_response()
                .map(|mut response| {
                    response.extensions_mut().insert(stop);
                    response.extensions_mut().insert(ids);
                    if let Some(refusal) = refusal {
                        response.extensions_mut().insert(refusal);
                    }
                    response
                })
                .map_err(reqwest_middleware::Error::middleware)
        })
    }
}

/// One attempt through the rest of the chain, with the error type of a failed response
/// read from its body when the body is small enough to hold.
async fn send(
    next: Next<'_>,
    req: Request,
    extensions: &mut Extensions,
) -> reqwest_middleware::Result<Response> {
    let response = next.run(req, extensions).await?;
    let status = response.status();
    let small = response
        .content_length()
        .is_some_and(|len| len <= PEEK_LIMIT);
    if status.is_success() || status.is_redirection() || !small {
        return Ok(response);
    }
    Ok(super::reqwest::read_error_type(response).await?)
}

/// A `reqwest_middleware::Error`: reqwest's own errors as in the `reqwest` adapter, an
/// error from another middleware by the I/O error inside it, if any.
///
/// ```
/// use redial::HttpOutcome;
/// use redial::Transport;
/// use redial::classify::Outcome;
/// let err = reqwest_middleware::Error::middleware(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
/// assert!(matches!(err.outcome(), Outcome::Transport(Transport::Reset)));
/// ```
impl HttpOutcome for reqwest_middleware::Error {
    fn outcome(&self) -> Outcome<'_> {
        match self {
            reqwest_middleware::Error::Reqwest(e) => e.outcome(),
            reqwest_middleware::Error::Middleware(e) => {
                Outcome::Transport(transport_kind(e.as_ref()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Transport;
    use core::fmt;

    /// An error of another middleware, with no I/O error inside.
    #[derive(Debug)]
    struct NotReplayable;

    impl fmt::Display for NotReplayable {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("the request body cannot be replayed")
        }
    }

    impl std::error::Error for NotReplayable {}

    #[test]
    fn a_middleware_error_reads_by_the_io_error_inside() {
        let err = reqwest_middleware::Error::middleware(std::io::Error::from(
            std::io::ErrorKind::ConnectionRefused,
        ));
        assert!(matches!(
            err.outcome(),
            Outcome::Transport(Transport::Connect)
        ));
        let err = reqwest_middleware::Error::middleware(NotReplayable);
        assert!(matches!(
            err.outcome(),
            Outcome::Transport(Transport::Other)
        ));
    }
}
