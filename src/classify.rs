//! What one attempt produced, decided: success, retryable or fatal.
//!
//! The default table (the design's "Classification"):
//!
//! | input | verdict |
//! |---|---|
//! | 2xx, 3xx | success |
//! | 408, 425, 429, 500, 502, 503, 504, 529 | retryable |
//! | every other 4xx and 5xx | fatal |
//! | 403 with `x-ratelimit-remaining: 0` (GitHub's primary rate limit) | retryable, as a rate limit |
//! | `x-should-retry: true` / `false` on a 4xx or 5xx | overrides the status either way |
//! | error type `rate_limit_error`, `overloaded_error`, `api_error`, `timeout_error` | retryable, whatever the status |
//! | error type `invalid_request_error`, `authentication_error`, `billing_error`, `permission_error`, `not_found_error`, `request_too_large` | fatal |
//! | unknown error type | decided by the status |
//! | transport: connect failure | retryable for every method |
//! | transport: timeout, reset, other | retryable only where a retry is safe |
//!
//! When several rows speak, the most specific wins: `x-should-retry` (the server's own
//! word), then a known error type, then the 403 rate limit, then the status.
//!
//! Then the safety of a retry (RFC 9110 §9.2.2): GET, HEAD, OPTIONS, TRACE, PUT and DELETE,
//! and any request with an `Idempotency-Key`, may always be retried. Others follow
//! [`NonIdempotent`]: by default they are retried only when the server cannot have acted on
//! them (a connect failure, 425, 429, 503, 529, `rate_limit_error`, `overloaded_error`,
//! `x-should-retry: true`). A retryable error type is safe when either its status or the
//! status it stands for is: an `api_error` in a 503 is retried, one in a 500 is not.
//!
//! Finally a retryable response's [hint](crate::hints) is read, if the policy honours hints.
//! A success costs no header lookup at all.
//!
//! ```
//! use std::time::SystemTime;
//! use http::{HeaderMap, Method, StatusCode};
//! use redial::Verdict;
//! use redial::classify::{Classifier, Outcome, RequestFacts};
//!
//! let classifier = Classifier::default();
//! let post = RequestFacts::new(&Method::POST);
//! let headers = HeaderMap::new();
//!
//! let v = classifier.classify(&post, &Outcome::response(StatusCode::SERVICE_UNAVAILABLE, &headers), SystemTime::now());
//! assert!(v.is_retryable(), "503: the server did not act on it");
//! let v = classifier.classify(&post, &Outcome::response(StatusCode::BAD_GATEWAY, &headers), SystemTime::now());
//! assert!(!v.is_retryable(), "502: a POST may have been acted on");
//! ```

use core::fmt;
use std::time::SystemTime;

use http::{HeaderMap, HeaderName, Method, StatusCode};

use crate::hints;
use crate::pacer::PacerKey;
use crate::verdict::{Cause, ErrorType, Transport, Verdict};

// The readers that turn what a client returned into this table's inputs live beside it,
// whichever file defines them: the rule a cause names, the error body, and (adapter side)
// the transport kind behind an error, an error type read into a response, and the
// adapters' default `Classify`, which reads an attempt through this table.
pub use crate::adapters::classify::HttpClassify;
pub use crate::adapters::http_outcome::transport_kind;
#[cfg(feature = "json")]
pub use crate::adapters::http_outcome::with_error_type;
pub use crate::error_body::{read_error_body, ErrorBody};
pub use crate::verdict::Rule;

/// What one attempt produced, in the terms classification needs.
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use redial::{ErrorType, Transport};
/// use redial::classify::Outcome;
///
/// let headers = HeaderMap::new();
/// let overloaded = Outcome::response(StatusCode::from_u16(529)?, &headers)
///     .with_error_type(ErrorType::Overloaded);
/// // An `error` event in a stream that began with 200:
/// let mid_stream = Outcome::stream_error(&headers, ErrorType::Overloaded);
/// let lost = Outcome::Transport(Transport::Reset);
/// # let _ = (overloaded, mid_stream, lost);
/// # Ok::<(), http::status::InvalidStatusCode>(())
/// ```
#[derive(Clone, Copy, Debug)]
#[non_exhaustive]
pub enum Outcome<'a> {
    /// A response arrived.
    Response {
        /// Its status.
        status: StatusCode,
        /// Its headers.
        headers: &'a HeaderMap,
        /// The API error type from its body, or from an `error` event when the status is a
        /// success (a stream that failed after it began).
        error_type: Option<ErrorType>,
    },
    /// No response arrived.
    Transport(Transport),
}

impl<'a> Outcome<'a> {
    /// A response with no error type.
    ///
    /// ```
    /// let headers = http::HeaderMap::new();
    /// let _ = redial::classify::Outcome::response(http::StatusCode::OK, &headers);
    /// ```
    #[inline]
    pub fn response(status: StatusCode, headers: &'a HeaderMap) -> Outcome<'a> {
        Outcome::Response {
            status,
            headers,
            error_type: None,
        }
    }

    /// A stream that began with 200 and then carried an `error` event of this type.
    ///
    /// ```
    /// let headers = http::HeaderMap::new();
    /// let _ = redial::classify::Outcome::stream_error(&headers, redial::ErrorType::Overloaded);
    /// ```
    pub fn stream_error(headers: &'a HeaderMap, error_type: ErrorType) -> Outcome<'a> {
        Outcome::Response {
            status: StatusCode::OK,
            headers,
            error_type: Some(error_type),
        }
    }

    /// Whether this is a success under every policy: a 2xx or 3xx with no API error type
    /// (the table's first row). No header is read, so adapters can ask it first.
    ///
    /// ```
    /// let headers = http::HeaderMap::new();
    /// assert!(redial::classify::Outcome::response(http::StatusCode::OK, &headers).is_success());
    /// assert!(!redial::classify::Outcome::stream_error(&headers, redial::ErrorType::Overloaded).is_success());
    /// ```
    #[inline]
    pub fn is_success(&self) -> bool {
        matches!(*self, Outcome::Response { status, error_type: None, .. }
            if (200..400).contains(&status.as_u16()))
    }

    /// The same outcome with an API error type; no effect on a transport failure.
    ///
    /// ```
    /// let headers = http::HeaderMap::new();
    /// let _ = redial::classify::Outcome::response(http::StatusCode::TOO_MANY_REQUESTS, &headers)
    ///     .with_error_type(redial::ErrorType::RateLimit);
    /// ```
    pub fn with_error_type(self, error_type: ErrorType) -> Outcome<'a> {
        match self {
            Outcome::Response {
                status, headers, ..
            } => Outcome::Response {
                status,
                headers,
                error_type: Some(error_type),
            },
            transport => transport,
        }
    }
}

/// What classification needs to know about the request: whether retrying it is safe.
///
/// ```
/// use http::{HeaderMap, Method};
/// use redial::classify::RequestFacts;
///
/// assert!(RequestFacts::new(&Method::PUT).is_idempotent());
/// assert!(!RequestFacts::new(&Method::POST).is_idempotent());
///
/// let mut headers = HeaderMap::new();
/// headers.insert("idempotency-key", "7c4a8d09".parse()?);
/// assert!(RequestFacts::from_parts(&Method::POST, &headers).is_idempotent());
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestFacts {
    idempotent: bool,
    /// What the request's rate limit is for: its host, or a key the caller names.
    scope: Option<PacerKey>,
}

impl RequestFacts {
    /// From the method alone: idempotent for GET, HEAD, OPTIONS, TRACE, PUT, DELETE
    /// (RFC 9110 §9.2.2).
    ///
    /// ```
    /// assert!(redial::classify::RequestFacts::new(&http::Method::DELETE).is_idempotent());
    /// ```
    pub fn new(method: &Method) -> RequestFacts {
        let idempotent = matches!(
            *method,
            Method::GET
                | Method::HEAD
                | Method::OPTIONS
                | Method::TRACE
                | Method::PUT
                | Method::DELETE
        );
        RequestFacts {
            idempotent,
            scope: None,
        }
    }

    /// From the method and the request's headers: an `Idempotency-Key` header makes any
    /// request idempotent (draft-ietf-httpapi-idempotency-key-header).
    ///
    /// ```
    /// let headers = http::HeaderMap::new();
    /// assert!(!redial::classify::RequestFacts::from_parts(&http::Method::PATCH, &headers).is_idempotent());
    /// ```
    pub fn from_parts(method: &Method, headers: &HeaderMap) -> RequestFacts {
        let facts = RequestFacts::new(method);
        if facts.idempotent {
            return facts;
        }
        RequestFacts {
            idempotent: headers.contains_key(&IDEMPOTENCY_KEY),
            scope: None,
        }
    }

    /// Facts for a request the caller knows to be idempotent (or not).
    ///
    /// ```
    /// assert!(redial::classify::RequestFacts::idempotent(true).is_idempotent());
    /// ```
    pub fn idempotent(idempotent: bool) -> RequestFacts {
        RequestFacts {
            idempotent,
            scope: None,
        }
    }

    /// The same facts, with the scope of the request's rate limit: its host
    /// ([`PacerKey::host`]) or a key the caller names. A policy's [pacer](crate::pacer)
    /// keeps one learned rate per scope, so that a throttle on one host never slows calls
    /// to another; the `reqwest-middleware` and `tower` adapters set the request's host
    /// themselves. Without a scope, a call shares the policy's own pacer.
    ///
    /// ```
    /// use redial::classify::RequestFacts;
    /// use redial::pacer::PacerKey;
    /// let facts = RequestFacts::new(&http::Method::GET).with_scope(PacerKey::host("api.example.com"));
    /// assert_eq!(facts.scope(), Some(PacerKey::host("api.example.com")));
    /// ```
    #[must_use]
    pub fn with_scope(mut self, scope: PacerKey) -> RequestFacts {
        self.scope = Some(scope);
        self
    }

    /// The scope of the request's rate limit, if one was given.
    ///
    /// ```
    /// assert_eq!(redial::classify::RequestFacts::idempotent(true).scope(), None);
    /// ```
    pub fn scope(&self) -> Option<PacerKey> {
        self.scope
    }

    /// Whether the request may always be retried.
    ///
    /// ```
    /// assert!(!redial::classify::RequestFacts::new(&http::Method::POST).is_idempotent());
    /// ```
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }
}

/// When a request that is not idempotent (POST, PATCH, …) may be retried.
///
/// ```
/// use redial::classify::NonIdempotent;
/// assert_eq!("always".parse::<NonIdempotent>()?, NonIdempotent::Always);
/// assert_eq!(NonIdempotent::default(), NonIdempotent::WhenSafe);
/// # Ok::<(), redial::UnknownName>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NonIdempotent {
    /// Only when the server cannot have acted on it: a connect failure, 425, 429, 503,
    /// 529, `rate_limit_error`, `overloaded_error`, or `x-should-retry: true`.
    #[default]
    WhenSafe,
    /// Like an idempotent request (the LLM-API presets, as the official SDKs do).
    Always,
    /// Never, not even after a connect failure.
    Never,
}

impl NonIdempotent {
    /// Every choice, in the order the docs list them.
    ///
    /// ```
    /// assert_eq!(redial::classify::NonIdempotent::ALL[0], redial::classify::NonIdempotent::WhenSafe);
    /// ```
    pub const ALL: [NonIdempotent; 3] = [
        NonIdempotent::WhenSafe,
        NonIdempotent::Always,
        NonIdempotent::Never,
    ];

    /// The name used in policy files.
    ///
    /// ```
    /// assert_eq!(redial::classify::NonIdempotent::WhenSafe.as_str(), "when_safe");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            NonIdempotent::WhenSafe => "when_safe",
            NonIdempotent::Always => "always",
            NonIdempotent::Never => "never",
        }
    }
}

impl fmt::Display for NonIdempotent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for NonIdempotent {
    type Err = crate::UnknownName;
    fn from_str(s: &str) -> Result<NonIdempotent, crate::UnknownName> {
        crate::names::find(NonIdempotent::ALL, s, NonIdempotent::as_str).ok_or(
            crate::UnknownName::new(
                "non-idempotent rule",
                crate::names::names_of!(NonIdempotent),
            ),
        )
    }
}

/// A set of status codes, 100 to 599: a fixed bit set, so lookups cost nothing and it can
/// be copied freely.
///
/// ```
/// use redial::classify::StatusSet;
/// let table = StatusSet::DEFAULT_RETRYABLE;
/// assert!(table.contains(529) && !table.contains(501));
/// assert_eq!(table.iter().collect::<Vec<_>>(), [408, 425, 429, 500, 502, 503, 504, 529]);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct StatusSet {
    bits: [u64; 10],
}

impl StatusSet {
    /// The design's retryable statuses: 408, 425, 429, 500, 502, 503, 504, 529.
    pub const DEFAULT_RETRYABLE: StatusSet =
        StatusSet::EMPTY.with_all(&[408, 425, 429, 500, 502, 503, 504, 529]);

    /// No status.
    pub const EMPTY: StatusSet = StatusSet { bits: [0; 10] };

    /// The set with these codes added; codes outside 100 to 599 are ignored.
    ///
    /// ```
    /// let s = redial::classify::StatusSet::EMPTY.with_all(&[409, 700]);
    /// assert_eq!(s.iter().collect::<Vec<_>>(), [409]);
    /// ```
    pub const fn with_all(mut self, codes: &[u16]) -> StatusSet {
        let mut i = 0;
        while i < codes.len() {
            self = self.with(codes[i]);
            i += 1;
        }
        self
    }

    /// The set with `code` added; a code outside 100 to 599 is ignored.
    ///
    /// ```
    /// assert!(redial::classify::StatusSet::EMPTY.with(418).contains(418));
    /// ```
    pub const fn with(mut self, code: u16) -> StatusSet {
        if Self::in_range(code) {
            self.bits[(code / 64) as usize] |= 1 << (code % 64);
        }
        self
    }

    /// The set with every code from `low` to `high` (inclusive) added.
    ///
    /// ```
    /// let five_xx = redial::classify::StatusSet::EMPTY.with_range(500, 599);
    /// assert!(five_xx.contains(501) && !five_xx.contains(499));
    /// ```
    pub const fn with_range(mut self, low: u16, high: u16) -> StatusSet {
        let mut code = low;
        while code <= high && code < 600 {
            self = self.with(code);
            code += 1;
        }
        self
    }

    /// Whether `code` is in the set.
    ///
    /// ```
    /// assert!(!redial::classify::StatusSet::EMPTY.contains(500));
    /// ```
    pub const fn contains(&self, code: u16) -> bool {
        Self::in_range(code) && self.bits[(code / 64) as usize] & (1 << (code % 64)) != 0
    }

    /// The codes, in increasing order.
    ///
    /// ```
    /// assert_eq!(redial::classify::StatusSet::EMPTY.with(503).iter().count(), 1);
    /// ```
    pub fn iter(&self) -> impl Iterator<Item = u16> + '_ {
        (100..600).filter(|&c| self.contains(c))
    }

    /// Whether `code` can be held: 100 to 599.
    ///
    /// ```
    /// assert!(redial::classify::StatusSet::in_range(599) && !redial::classify::StatusSet::in_range(600));
    /// ```
    pub const fn in_range(code: u16) -> bool {
        100 <= code && code < 600
    }
}

impl fmt::Debug for StatusSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl FromIterator<u16> for StatusSet {
    fn from_iter<I: IntoIterator<Item = u16>>(iter: I) -> StatusSet {
        iter.into_iter().fold(StatusSet::EMPTY, StatusSet::with)
    }
}

/// The HTTP half of a policy: which outcomes are retryable, and whether to read hints.
///
/// ```
/// use std::time::SystemTime;
/// use http::{HeaderMap, Method, StatusCode};
/// use redial::classify::{Classifier, Outcome, RequestFacts};
///
/// let c = Classifier::default();
/// let get = RequestFacts::new(&Method::GET);
/// let headers = HeaderMap::new();
/// let v = c.classify(&get, &Outcome::response(StatusCode::NOT_FOUND, &headers), SystemTime::now());
/// assert!(!v.is_retryable());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Classifier {
    pub(crate) retry_status: StatusSet,
    pub(crate) non_idempotent: NonIdempotent,
    pub(crate) honor_hints: bool,
}

impl Default for Classifier {
    fn default() -> Self {
        Classifier {
            retry_status: StatusSet::DEFAULT_RETRYABLE,
            non_idempotent: NonIdempotent::WhenSafe,
            honor_hints: true,
        }
    }
}

impl Classifier {
    /// The statuses retried by the status rule.
    ///
    /// ```
    /// assert!(redial::classify::Classifier::default().retry_status().contains(429));
    /// ```
    pub fn retry_status(&self) -> &StatusSet {
        &self.retry_status
    }

    /// When non-idempotent requests are retried.
    ///
    /// ```
    /// assert_eq!(redial::classify::Classifier::default().non_idempotent(), redial::classify::NonIdempotent::WhenSafe);
    /// ```
    pub fn non_idempotent(&self) -> NonIdempotent {
        self.non_idempotent
    }

    /// Whether server hints are read.
    ///
    /// ```
    /// assert!(redial::classify::Classifier::default().honor_hints());
    /// ```
    pub fn honor_hints(&self) -> bool {
        self.honor_hints
    }

    /// Classifies one attempt's outcome. `wall` is the wall clock when it arrived, for
    /// HTTP dates and reset timestamps in hints.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use http::{HeaderMap, Method, StatusCode};
    /// use redial::classify::{Classifier, Outcome, RequestFacts};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", "17".parse()?);
    /// let v = Classifier::default().classify(
    ///     &RequestFacts::new(&Method::POST),
    ///     &Outcome::response(StatusCode::TOO_MANY_REQUESTS, &headers),
    ///     SystemTime::now(),
    /// );
    /// assert_eq!(v.hint().map(|h| h.wait), Some(Duration::from_secs(17)));
    /// # Ok::<(), http::header::InvalidHeaderValue>(())
    /// ```
    #[inline]
    pub fn classify(
        &self,
        request: &RequestFacts,
        outcome: &Outcome<'_>,
        wall: SystemTime,
    ) -> Verdict {
        let request = *request;
        // Most attempts succeed: answer them here, inlined into the caller, before the
        // call into the whole table (which reads no header for them either).
        if outcome.is_success() {
            return Verdict::Success;
        }
        self.classify_failure(request, outcome, wall)
    }

    #[inline]
    fn classify_failure(
        &self,
        request: RequestFacts,
        outcome: &Outcome<'_>,
        wall: SystemTime,
    ) -> Verdict {
        match *outcome {
            Outcome::Transport(kind) => {
                let cause = Cause::transport(kind);
                // A connect failure never reached the server; anything later may have.
                self.if_safe(request, cause, kind == Transport::Connect, None)
            }
            Outcome::Response {
                status,
                headers,
                error_type,
            } => self.response(request, status.as_u16(), headers, error_type, wall),
        }
    }

    fn response(
        &self,
        request: RequestFacts,
        status: u16,
        headers: &HeaderMap,
        error_type: Option<ErrorType>,
        wall: SystemTime,
    ) -> Verdict {
        let success_status = (200..400).contains(&status);
        if success_status && error_type.is_none() {
            return Verdict::Success;
        }
        let mut cause = Cause::status(status);
        if let Some(t) = error_type {
            cause = cause.with_error_type(t);
        }
        // Returns (retryable, safe for a non-idempotent request).
        let (retryable, safe) = if let Some(vouched) = should_retry(status, headers) {
            cause = cause.with_rule(Rule::ShouldRetryHeader);
            (vouched, vouched)
        } else if let Some(retryable) = error_type.and_then(|t| t.retryable()) {
            cause = cause.with_rule(Rule::ErrorType);
            // Safe when the status or the status the type stands for says the server did
            // not act (an `api_error` on a 503 is still a 503); never for an error event
            // after a 200, since the server had begun to act.
            let standing = error_type.and_then(|t| t.stands_for()).unwrap_or(0);
            let safe = is_safe_status(status) || is_safe_status(standing);
            (retryable, !success_status && safe)
        } else if success_status {
            // An unknown error event mid-stream is still a failure, and no status says
            // more about it.
            return Verdict::fatal(cause.with_rule(Rule::ErrorType));
        } else if status == 403 && rate_limited_403(headers) {
            cause = cause.with_rule(Rule::RateLimit403);
            (true, true)
        } else {
            (self.retry_status.contains(status), is_safe_status(status))
        };
        if !retryable {
            return Verdict::fatal(cause);
        }
        let hint = if self.honor_hints {
            Some((headers, status, wall))
        } else {
            None
        };
        self.if_safe(request, cause, safe, hint)
    }

    /// Applies the safety rule to a retryable failure, then reads its hint.
    #[inline]
    fn if_safe(
        &self,
        request: RequestFacts,
        cause: Cause,
        safe: bool,
        hint_from: Option<(&HeaderMap, u16, SystemTime)>,
    ) -> Verdict {
        let allowed = request.idempotent
            || match self.non_idempotent {
                NonIdempotent::Always => true,
                NonIdempotent::Never => false,
                NonIdempotent::WhenSafe => safe,
            };
        if !allowed {
            return Verdict::fatal(cause.with_rule(Rule::NotIdempotent));
        }
        let hint =
            hint_from.and_then(|(headers, status, wall)| hints::server_wait(headers, status, wall));
        Verdict::Retryable { cause, hint }
    }
}

/// Statuses at which the server has not acted on the request: 425 Too Early, 429, 503
/// (RFC 9110 §15.6.4: the server is not handling it) and 529.
fn is_safe_status(status: u16) -> bool {
    matches!(status, 425 | 429 | 503 | 529)
}

/// `x-should-retry: true|false` on a 4xx or 5xx; any other value is ignored.
fn should_retry(status: u16, headers: &HeaderMap) -> Option<bool> {
    if status < 400 {
        return None;
    }
    let value = hints::number::trim_ows(headers.get(&X_SHOULD_RETRY)?.to_str().ok()?);
    if value.eq_ignore_ascii_case("true") {
        Some(true)
    } else if value.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// GitHub answers its primary rate limit with 403 and `x-ratelimit-remaining: 0`.
fn rate_limited_403(headers: &HeaderMap) -> bool {
    headers
        .get(&hints::X_RATELIMIT_REMAINING)
        .and_then(|v| v.to_str().ok())
        .and_then(|s| hints::number::integer(hints::number::trim_ows(s).as_bytes()))
        == Some(0)
}

/// The request id of a response: `request-id` (Anthropic) or `x-request-id` (OpenAI and
/// most proxies).
///
/// ```
/// let mut headers = http::HeaderMap::new();
/// headers.insert("request-id", "req_011CSHoEeqs5C35K2UUqR7F8".parse()?);
/// assert_eq!(redial::classify::request_id(&headers), Some("req_011CSHoEeqs5C35K2UUqR7F8"));
/// # Ok::<(), http::header::InvalidHeaderValue>(())
/// ```
pub fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(&REQUEST_ID)
        .or_else(|| headers.get(&X_REQUEST_ID))
        .and_then(|v| v.to_str().ok())
}

static X_SHOULD_RETRY: HeaderName = HeaderName::from_static("x-should-retry");
static IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
static REQUEST_ID: HeaderName = HeaderName::from_static("request-id");
static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
