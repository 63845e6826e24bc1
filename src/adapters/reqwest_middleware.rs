//! reqwest-middleware (feature `reqwest-middleware`): the retry middleware.

use core::fmt;

use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

use crate::classify::{Outcome, RequestFacts};
use crate::policy::Policy;

use super::future::RetryableWithContext;
use super::http_outcome::{transport_kind, HttpOutcome};
use super::sleep::{Sleeper, TokioSleeper};

/// The largest error body read for its error type: an API's JSON error is a few hundred
/// bytes, and a body read here is held in memory whole.
const PEEK_LIMIT: u64 = 64 * 1024;

/// The retry middleware for reqwest-middleware clients (feature `reqwest-middleware`): it
/// replaces reqwest-retry's `RetryTransientMiddleware` in one line.
///
/// ```no_run
/// use redial::RetryMiddleware;
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
/// A request whose body cannot be cloned (a stream) is sent once and its result returned
/// as it is: it cannot be sent again (with the `tracing` feature, a `DEBUG` event says
/// so). reqwest-retry fails such a request before sending it.
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
/// | a streamed body: an error before sending | sent once |
/// | the runtime: tokio | tokio by default; [`sleeper`](RetryMiddleware::sleeper) for another timer |
///
/// Policies can also come from a file that platform teams check in CI (feature `serde`).
///
/// In a client of its own:
///
/// ```
/// use redial::RetryMiddleware;
/// use redial::Policy;
///
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::new(Policy::default()))
///     .build();
/// # drop(client);
/// ```
#[derive(Clone, Debug)]
pub struct RetryMiddleware<S = TokioSleeper> {
    policy: Policy,
    sleeper: S,
}

impl RetryMiddleware {
    /// Retries under `policy`, waiting on tokio's timer (reqwest runs on tokio). Clones of
    /// the policy share its budget, so one policy per service is the rule.
    ///
    /// ```
    /// use redial::RetryMiddleware;
    /// use redial::{Policy, Preset};
    /// let retry = RetryMiddleware::new(Policy::preset(Preset::OpenAi));
    /// # drop(retry);
    /// ```
    pub fn new(policy: Policy) -> Self {
        RetryMiddleware {
            policy,
            sleeper: TokioSleeper,
        }
    }
}

impl<S> RetryMiddleware<S> {
    /// Waits between attempts with this sleeper (and reads its clock) instead of tokio's.
    ///
    /// ```
    /// use redial::{RetryMiddleware, TokioSleeper};
    /// let retry = RetryMiddleware::new(redial::Policy::default()).sleeper(TokioSleeper);
    /// # drop(retry);
    /// ```
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> RetryMiddleware<S2> {
        RetryMiddleware {
            policy: self.policy,
            sleeper,
        }
    }

    /// The policy it retries under.
    ///
    /// ```
    /// use redial::RetryMiddleware;
    /// let retry = RetryMiddleware::new(redial::Policy::default());
    /// assert_eq!(retry.policy().rules().max_attempts(), 3);
    /// ```
    pub fn policy(&self) -> &Policy {
        &self.policy
    }
}

#[async_trait::async_trait]
impl<S> Middleware for RetryMiddleware<S>
where
    S: Sleeper + Clone + Send + Sync + 'static,
    S::Sleep: Send,
{
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        if req.try_clone().is_none() {
            // A streamed body can be sent only once.
            #[cfg(feature = "tracing")]
            tracing::debug!(
                http.request.method = %req.method(),
                "redial: the request body cannot be replayed, so it is sent once and not retried"
            );
            return next.run(req, extensions).await;
        }
        self.retried(req, extensions, next).await
    }
}

impl<S> RetryMiddleware<S>
where
    S: Sleeper + Clone,
{
    /// The retried call, its lifetimes named: the context each attempt borrows and gives
    /// back (the extensions and the rest of the chain) lives as long as the call.
    async fn retried<'a>(
        &self,
        req: Request,
        extensions: &'a mut Extensions,
        next: Next<'a>,
    ) -> reqwest_middleware::Result<Response> {
        let facts = RequestFacts::from_parts(req.method(), req.headers());
        let attempt = |(extensions, next): (&'a mut Extensions, Next<'a>)| {
            let copy = req.try_clone();
            async move {
                let result = match copy {
                    Some(copy) => send(next.clone(), copy, extensions).await,
                    None => Err(reqwest_middleware::Error::middleware(NotReplayable)),
                };
                ((extensions, next), result)
            }
        };
        let (_, result) = attempt
            .retry_with(&self.policy, (extensions, next))
            .facts(facts)
            .sleeper(self.sleeper.clone())
            .await;
        // A response goes back as reqwest-retry returns it, with why the retries stopped
        // and the request ids of every attempt in its extensions.
        result.or_else(|err| {
            let (stop, ids) = (*err.stop(), err.request_ids().clone());
            err.into_response()
                .map(|mut response| {
                    response.extensions_mut().insert(stop);
                    response.extensions_mut().insert(ids);
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
/// use redial::{Outcome, Transport};
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

/// A request body that could be cloned once and then could not: it is not sent again.
#[derive(Debug)]
struct NotReplayable;

impl fmt::Display for NotReplayable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the request body cannot be replayed")
    }
}

impl std::error::Error for NotReplayable {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::Transport;

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
