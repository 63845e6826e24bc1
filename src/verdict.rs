//! What one attempt produced, reduced to what the retry machine needs to know.
//!
//! A [`Verdict`] is the hand-off between the HTTP-aware layer ([`classify`](crate::classify),
//! [`hints`](crate::hints)) and the generic [`machine`](crate::machine). It is small, `Copy`
//! and free of `http` types, so any caller that can say "success, retryable or fatal" (a gRPC
//! call, a database transaction, a queue publish) can drive the machine with its own verdicts.

use core::fmt;

use crate::hints::Hint;

/// The outcome of one attempt, as the retry machine sees it.
///
/// # Example
///
/// A caller that is not speaking HTTP builds its own verdicts:
///
/// ```
/// use redial::{Cause, Verdict};
///
/// let ok = Verdict::Success;
/// let busy = Verdict::retryable(Cause::caller());
/// let broken = Verdict::fatal(Cause::caller());
/// assert!(busy.is_retryable() && !broken.is_retryable() && ok.is_success());
/// ```
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The attempt succeeded: stop and hand the result to the caller.
    Success,
    /// The attempt failed in a way that another attempt may fix.
    Retryable {
        /// Why it failed.
        cause: Cause,
        /// How long the server asked us to wait, when it said so.
        hint: Option<Hint>,
    },
    /// The attempt failed in a way that no retry can fix.
    Fatal {
        /// Why it failed.
        cause: Cause,
    },
}

impl Verdict {
    /// A retryable failure without a server hint.
    ///
    /// ```
    /// use redial::{Cause, Transport, Verdict};
    /// let v = Verdict::retryable(Cause::transport(Transport::Reset));
    /// assert!(v.is_retryable());
    /// ```
    pub const fn retryable(cause: Cause) -> Verdict {
        Verdict::Retryable { cause, hint: None }
    }

    /// A fatal failure.
    ///
    /// ```
    /// use redial::{Cause, Verdict};
    /// assert!(!Verdict::fatal(Cause::status(404)).is_retryable());
    /// ```
    pub const fn fatal(cause: Cause) -> Verdict {
        Verdict::Fatal { cause }
    }

    /// Whether this is [`Verdict::Success`].
    ///
    /// ```
    /// assert!(redial::Verdict::Success.is_success());
    /// ```
    pub const fn is_success(&self) -> bool {
        matches!(self, Verdict::Success)
    }

    /// Whether this is [`Verdict::Retryable`].
    ///
    /// ```
    /// use redial::{Cause, Verdict};
    /// assert!(Verdict::retryable(Cause::status(503)).is_retryable());
    /// ```
    pub const fn is_retryable(&self) -> bool {
        matches!(self, Verdict::Retryable { .. })
    }

    /// The cause of a failure, `None` for a success.
    ///
    /// ```
    /// use redial::{Cause, Verdict};
    /// assert_eq!(Verdict::fatal(Cause::status(400)).cause().and_then(|c| c.status), Some(400));
    /// ```
    pub const fn cause(&self) -> Option<&Cause> {
        match self {
            Verdict::Success => None,
            Verdict::Retryable { cause, .. } | Verdict::Fatal { cause } => Some(cause),
        }
    }

    /// The server's hint, if this is a retryable failure that carried one.
    ///
    /// ```
    /// use redial::{Cause, Verdict};
    /// assert_eq!(Verdict::retryable(Cause::status(503)).hint(), None);
    /// ```
    pub const fn hint(&self) -> Option<Hint> {
        match self {
            Verdict::Retryable { hint, .. } => *hint,
            _ => None,
        }
    }
}

/// Why an attempt failed: what was observed and which rule decided.
///
/// Every field is optional data the classifier saw; [`Cause::rule`] says which rule of the
/// classification table produced the verdict. Its `Display` is the short phrase used in logs,
/// errors and the command line (`529 overloaded_error`, `timeout`).
///
/// ```
/// use redial::{Cause, ErrorType};
/// use redial::classify::Rule;
/// let c = Cause::status(529).with_error_type(ErrorType::Overloaded).with_rule(Rule::ErrorType);
/// assert_eq!(c.to_string(), "529 overloaded_error");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Cause {
    /// The HTTP status (or any numeric code the caller uses), when there was one.
    pub status: Option<u16>,
    /// The API error type from the body or from a stream's `error` event.
    pub error_type: Option<ErrorType>,
    /// The transport failure, when no response arrived.
    pub transport: Option<Transport>,
    /// Which rule decided the verdict.
    pub rule: Rule,
}

impl Cause {
    /// A cause the caller decided on its own (no HTTP involved).
    ///
    /// ```
    /// assert_eq!(redial::Cause::caller().to_string(), "failure");
    /// ```
    pub const fn caller() -> Cause {
        Cause {
            status: None,
            error_type: None,
            transport: None,
            rule: Rule::Caller,
        }
    }

    /// A cause decided by a status code.
    ///
    /// ```
    /// assert_eq!(redial::Cause::status(503).to_string(), "503");
    /// ```
    pub const fn status(status: u16) -> Cause {
        Cause {
            status: Some(status),
            error_type: None,
            transport: None,
            rule: Rule::Status,
        }
    }

    /// A cause decided by a transport failure.
    ///
    /// ```
    /// use redial::{Cause, Transport};
    /// assert_eq!(Cause::transport(Transport::Timeout).to_string(), "timeout");
    /// ```
    pub const fn transport(kind: Transport) -> Cause {
        Cause {
            status: None,
            error_type: None,
            transport: Some(kind),
            rule: Rule::Transport,
        }
    }

    /// The same cause with an API error type attached.
    ///
    /// ```
    /// use redial::{Cause, ErrorType};
    /// let c = Cause::status(429).with_error_type(ErrorType::RateLimit);
    /// assert_eq!(c.error_type, Some(ErrorType::RateLimit));
    /// ```
    pub const fn with_error_type(mut self, error_type: ErrorType) -> Cause {
        self.error_type = Some(error_type);
        self
    }

    /// The same cause, decided by another rule.
    ///
    /// ```
    /// use redial::Cause;
    /// use redial::classify::Rule;
    /// assert_eq!(Cause::status(429).with_rule(Rule::ShouldRetryHeader).rule, Rule::ShouldRetryHeader);
    /// ```
    pub const fn with_rule(mut self, rule: Rule) -> Cause {
        self.rule = rule;
        self
    }

    /// Whether a retry after this failure costs the budget's `timeout_cost` rather than its
    /// `retry_cost`: only a transport timeout does.
    ///
    /// ```
    /// use redial::{Cause, Transport};
    /// assert!(Cause::transport(Transport::Timeout).is_timeout());
    /// assert!(!Cause::status(504).is_timeout());
    /// ```
    pub const fn is_timeout(&self) -> bool {
        matches!(self.transport, Some(Transport::Timeout))
    }

    /// Whether the failure says the server is overloaded (a 503, a 529 or an
    /// `overloaded_error`), so that more load will not help: the `adaptive` budget retries
    /// these sparingly, and other failures (a 500 may be bad luck) freely.
    ///
    /// ```
    /// use redial::{Cause, ErrorType};
    /// assert!(Cause::status(529).signals_overload());
    /// assert!(Cause::status(200).with_error_type(ErrorType::Overloaded).signals_overload());
    /// assert!(!Cause::status(500).signals_overload());
    /// ```
    pub const fn signals_overload(&self) -> bool {
        matches!(self.status, Some(503 | 529))
            || matches!(self.error_type, Some(ErrorType::Overloaded))
    }

    /// Whether the failure is a rate limit: a 429, a `rate_limit_error`, or GitHub's 403
    /// with no requests remaining. With a hint, the server is pacing its clients, not failing.
    ///
    /// ```
    /// use redial::{Cause, ErrorType};
    /// assert!(Cause::status(429).is_rate_limit());
    /// assert!(Cause::status(200).with_error_type(ErrorType::RateLimit).is_rate_limit());
    /// assert!(!Cause::status(503).is_rate_limit());
    /// ```
    pub const fn is_rate_limit(&self) -> bool {
        matches!(self.status, Some(429))
            || matches!(self.error_type, Some(ErrorType::RateLimit))
            || matches!(self.rule, Rule::RateLimit403)
    }

    /// Whether the server handled the request on purpose (any status below 500 that is not
    /// an overload signal: a 404 is an answer, not a failure of the server). The `adaptive`
    /// budget counts such an attempt as a success of the server, as the SRE book's
    /// client-side throttling counts accepts.
    pub(crate) const fn server_answered(&self) -> bool {
        match self.status {
            Some(s) => s < 500 && !self.signals_overload() && s != 429,
            None => false,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An error event in a stream that began well: the status did not fail.
        if let (Some(status @ 200..=399), Some(t)) = (self.status, self.error_type) {
            return write!(f, "{} event after {status}", t.as_str());
        }
        let mut wrote = false;
        if let Some(status) = self.status {
            write!(f, "{status}")?;
            wrote = true;
        }
        if let Some(t) = self.error_type {
            if wrote {
                f.write_str(" ")?;
            }
            f.write_str(t.as_str())?;
            wrote = true;
        }
        if let Some(t) = self.transport {
            if wrote {
                f.write_str(" ")?;
            }
            f.write_str(t.as_str())?;
            wrote = true;
        }
        if !wrote {
            f.write_str("failure")?;
        }
        Ok(())
    }
}

/// Which rule of the classification table decided a verdict.
///
/// ```
/// assert_eq!(redial::classify::Rule::ShouldRetryHeader.to_string(), "x-should-retry header");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Rule {
    /// The status code, through the policy's retryable set.
    Status,
    /// The `x-should-retry` response header.
    ShouldRetryHeader,
    /// The API error type from the body or a stream `error` event.
    ErrorType,
    /// A 403 with `x-ratelimit-remaining: 0` (GitHub's primary rate limit).
    RateLimit403,
    /// The kind of transport failure.
    Transport,
    /// The failure was retryable, but the request is not idempotent and the server may
    /// have acted on it (RFC 9110 §9.2.2).
    NotIdempotent,
    /// The caller's own classifier.
    Caller,
}

impl Rule {
    /// A short phrase for logs and the command line.
    ///
    /// ```
    /// assert_eq!(redial::classify::Rule::Status.as_str(), "status");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            Rule::Status => "status",
            Rule::ShouldRetryHeader => "x-should-retry header",
            Rule::ErrorType => "error type",
            Rule::RateLimit403 => "403 with x-ratelimit-remaining: 0",
            Rule::Transport => "transport failure",
            Rule::NotIdempotent => "request not idempotent",
            Rule::Caller => "caller",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An API error type, as carried in the JSON error envelope
/// `{"type":"error","error":{"type":"…"}}` or in a stream's `error` event.
///
/// Unknown types are kept as [`ErrorType::Unknown`]; the status decides for them.
///
/// ```
/// use redial::ErrorType;
/// assert_eq!(ErrorType::from_name("overloaded_error"), ErrorType::Overloaded);
/// assert_eq!(ErrorType::from_name("brand_new_error"), ErrorType::Unknown);
/// assert_eq!(ErrorType::Overloaded.as_str(), "overloaded_error");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorType {
    /// `rate_limit_error` (stands for a 429).
    RateLimit,
    /// `overloaded_error` (stands for a 529).
    Overloaded,
    /// `api_error` (stands for a 500).
    Api,
    /// `timeout_error` (stands for a 504).
    Timeout,
    /// `invalid_request_error`.
    InvalidRequest,
    /// `authentication_error`.
    Authentication,
    /// `billing_error`.
    Billing,
    /// `permission_error`.
    Permission,
    /// `not_found_error`.
    NotFound,
    /// `request_too_large`.
    RequestTooLarge,
    /// Any other type: the status decides.
    Unknown,
}

impl ErrorType {
    /// Every known type, in the order of the design's table.
    pub const KNOWN: [ErrorType; 10] = [
        ErrorType::RateLimit,
        ErrorType::Overloaded,
        ErrorType::Api,
        ErrorType::Timeout,
        ErrorType::InvalidRequest,
        ErrorType::Authentication,
        ErrorType::Billing,
        ErrorType::Permission,
        ErrorType::NotFound,
        ErrorType::RequestTooLarge,
    ];

    /// The type named `name`, or [`ErrorType::Unknown`]. Never fails.
    ///
    /// ```
    /// assert_eq!(redial::ErrorType::from_name("api_error"), redial::ErrorType::Api);
    /// ```
    pub fn from_name(name: &str) -> ErrorType {
        match name {
            "rate_limit_error" => ErrorType::RateLimit,
            "overloaded_error" => ErrorType::Overloaded,
            "api_error" => ErrorType::Api,
            "timeout_error" => ErrorType::Timeout,
            "invalid_request_error" => ErrorType::InvalidRequest,
            "authentication_error" => ErrorType::Authentication,
            "billing_error" => ErrorType::Billing,
            "permission_error" => ErrorType::Permission,
            "not_found_error" => ErrorType::NotFound,
            "request_too_large" => ErrorType::RequestTooLarge,
            _ => ErrorType::Unknown,
        }
    }

    /// The wire name (`unknown` for [`ErrorType::Unknown`]).
    ///
    /// ```
    /// assert_eq!(redial::ErrorType::RateLimit.as_str(), "rate_limit_error");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            ErrorType::RateLimit => "rate_limit_error",
            ErrorType::Overloaded => "overloaded_error",
            ErrorType::Api => "api_error",
            ErrorType::Timeout => "timeout_error",
            ErrorType::InvalidRequest => "invalid_request_error",
            ErrorType::Authentication => "authentication_error",
            ErrorType::Billing => "billing_error",
            ErrorType::Permission => "permission_error",
            ErrorType::NotFound => "not_found_error",
            ErrorType::RequestTooLarge => "request_too_large",
            ErrorType::Unknown => "unknown",
        }
    }

    /// Whether this type is retryable whatever the status: `Some(true)` for rate limit,
    /// overload, api and timeout errors, `Some(false)` for the client's mistakes, `None` for
    /// an unknown type (the status decides).
    ///
    /// ```
    /// use redial::ErrorType;
    /// assert_eq!(ErrorType::Overloaded.retryable(), Some(true));
    /// assert_eq!(ErrorType::Billing.retryable(), Some(false));
    /// assert_eq!(ErrorType::Unknown.retryable(), None);
    /// ```
    pub const fn retryable(&self) -> Option<bool> {
        match self {
            ErrorType::RateLimit | ErrorType::Overloaded | ErrorType::Api | ErrorType::Timeout => {
                Some(true)
            }
            ErrorType::Unknown => None,
            _ => Some(false),
        }
    }

    /// The status this type stands for, which decides whether a non-idempotent request may
    /// be retried: 429, 529, 500 and 504 for the four retryable types.
    ///
    /// ```
    /// assert_eq!(redial::ErrorType::Overloaded.stands_for(), Some(529));
    /// ```
    pub const fn stands_for(&self) -> Option<u16> {
        match self {
            ErrorType::RateLimit => Some(429),
            ErrorType::Overloaded => Some(529),
            ErrorType::Api => Some(500),
            ErrorType::Timeout => Some(504),
            _ => None,
        }
    }
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure below HTTP: no response arrived.
///
/// ```
/// use redial::Transport;
/// assert_eq!("reset".parse::<Transport>(), Ok(Transport::Reset));
/// assert_eq!(Transport::Connect.as_str(), "connect");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// The connection could not be made: the request was never sent.
    Connect,
    /// No answer in time (the request may have been acted on).
    Timeout,
    /// The connection was reset or closed after the request was sent.
    Reset,
    /// Any other transport failure.
    Other,
}

impl Transport {
    /// The name used in the policy file and the command line.
    ///
    /// ```
    /// assert_eq!(redial::Transport::Timeout.as_str(), "timeout");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            Transport::Connect => "connect",
            Transport::Timeout => "timeout",
            Transport::Reset => "reset",
            Transport::Other => "other",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for Transport {
    type Err = crate::UnknownName;
    fn from_str(s: &str) -> Result<Transport, crate::UnknownName> {
        match s {
            "connect" => Ok(Transport::Connect),
            "timeout" => Ok(Transport::Timeout),
            "reset" => Ok(Transport::Reset),
            "other" => Ok(Transport::Other),
            _ => Err(crate::UnknownName::new(
                "transport kind",
                &["connect", "timeout", "reset", "other"],
            )),
        }
    }
}
