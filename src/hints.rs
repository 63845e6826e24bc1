//! How long the server asks us to wait.
//!
//! A server that sheds load usually says when to come back. These parsers read every way
//! it may say so, in the design's order; the first header that is present and valid wins:
//!
//! 1. `retry-after-ms`: milliseconds, may be fractional;
//! 2. `retry-after`: delay-seconds or an HTTP-date, relative to the wall clock `wall`;
//! 3. the rate-limit reset families, only on a 429 or when a matching `remaining` is 0:
//!    IETF `RateLimit` (then the older `RateLimit-Reset`), `anthropic-ratelimit-*-reset`,
//!    `x-ratelimit-reset-requests` / `-tokens`, `x-ratelimit-reset`.
//!
//! Every parser is a total function: it returns a value, or says the header is absent or
//! invalid ([`Parsed`]), and never panics or allocates. An invalid header is skipped as if
//! it were absent, so a proxy's garbage never makes a client wait longer.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use http::HeaderMap;
//! use redial::hints::{server_wait, HintSource};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("retry-after", "17".parse()?);
//! headers.insert("anthropic-ratelimit-requests-remaining", "0".parse()?);
//! headers.insert("anthropic-ratelimit-requests-reset", "2026-11-23T10:00:30Z".parse()?);
//!
//! let hint = server_wait(&headers, 429, SystemTime::now()).unwrap();
//! assert_eq!(hint.wait, Duration::from_secs(17));
//! assert_eq!(hint.source, HintSource::RetryAfter);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use core::fmt;
use core::time::Duration;
use std::time::SystemTime;

use http::{header, HeaderMap, HeaderName};

pub(crate) mod number;
mod rate_limit;
mod retry_after;
pub(crate) mod structured_field;

pub use rate_limit::{
    parse_ratelimit, parse_reset_duration, parse_rfc3339_reset, parse_x_ratelimit_reset,
};
pub use retry_after::{parse_retry_after, parse_retry_after_ms};

/// A wait the server asked for, and which header asked.
///
/// ```
/// use std::time::Duration;
/// use redial::hints::{Hint, HintSource};
/// let h = Hint { wait: Duration::from_secs(2), source: HintSource::RetryAfter };
/// assert_eq!(h.to_string(), "server asked 2s (retry-after)");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hint {
    /// How long the server asked us to wait, from the moment the response arrived.
    pub wait: Duration,
    /// The header family that said so.
    pub source: HintSource,
}

impl fmt::Display for Hint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "server asked {} ({})",
            crate::duration::Rounded(self.wait),
            self.source
        )
    }
}

/// The header families a hint can come from, in order of precedence.
///
/// ```
/// use redial::hints::HintSource;
/// assert_eq!(HintSource::ALL[0], HintSource::RetryAfterMs);
/// assert_eq!(HintSource::AnthropicReset.header(), "anthropic-ratelimit-*-reset");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HintSource {
    /// `retry-after-ms`.
    RetryAfterMs,
    /// `retry-after` (RFC 9110 §10.2.3).
    RetryAfter,
    /// The IETF `RateLimit` field.
    RateLimit,
    /// The older IETF draft's `RateLimit-Reset` (with `RateLimit-Remaining`).
    RateLimitReset,
    /// `anthropic-ratelimit-{requests,tokens,input-tokens,output-tokens}-reset`.
    AnthropicReset,
    /// `x-ratelimit-reset-requests` / `x-ratelimit-reset-tokens` (OpenAI).
    OpenAiReset,
    /// `x-ratelimit-reset` (GitHub and others).
    XRateLimitReset,
}

impl HintSource {
    /// Every family, in the order they are consulted.
    pub const ALL: [HintSource; 7] = [
        HintSource::RetryAfterMs,
        HintSource::RetryAfter,
        HintSource::RateLimit,
        HintSource::RateLimitReset,
        HintSource::AnthropicReset,
        HintSource::OpenAiReset,
        HintSource::XRateLimitReset,
    ];

    /// The header (or header pattern) of this family.
    ///
    /// ```
    /// assert_eq!(redial::hints::HintSource::RetryAfterMs.header(), "retry-after-ms");
    /// ```
    pub const fn header(&self) -> &'static str {
        match self {
            HintSource::RetryAfterMs => "retry-after-ms",
            HintSource::RetryAfter => "retry-after",
            HintSource::RateLimit => "ratelimit",
            HintSource::RateLimitReset => "ratelimit-reset",
            HintSource::AnthropicReset => "anthropic-ratelimit-*-reset",
            HintSource::OpenAiReset => "x-ratelimit-reset-{requests,tokens}",
            HintSource::XRateLimitReset => "x-ratelimit-reset",
        }
    }

    /// Whether this family is a rate-limit reset, read only on a 429 or an exhausted quota.
    ///
    /// ```
    /// use redial::hints::HintSource;
    /// assert!(!HintSource::RetryAfter.is_rate_limit_reset());
    /// assert!(HintSource::XRateLimitReset.is_rate_limit_reset());
    /// ```
    pub const fn is_rate_limit_reset(&self) -> bool {
        !matches!(self, HintSource::RetryAfterMs | HintSource::RetryAfter)
    }
}

impl fmt::Display for HintSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.header())
    }
}

/// What a parser made of a header: absent, present but invalid, or a value.
///
/// Telling "absent" from "invalid" lets `redial explain` say that a header was ignored.
///
/// ```
/// use redial::hints::Parsed;
/// assert_eq!(Parsed::Valid(3).valid(), Some(3));
/// assert_eq!(Parsed::<u8>::Invalid.valid(), None);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The header is not there (or does not apply to this response).
    Absent,
    /// The header is there, but is not of its grammar: it is ignored.
    Invalid,
    /// The header's value.
    Valid(T),
}

impl<T> Parsed<T> {
    /// The value, if valid.
    ///
    /// ```
    /// assert_eq!(redial::hints::Parsed::<u8>::Absent.valid(), None);
    /// ```
    pub fn valid(self) -> Option<T> {
        match self {
            Parsed::Valid(v) => Some(v),
            _ => None,
        }
    }

    fn from_header(
        value: Option<&http::HeaderValue>,
        parse: impl FnOnce(&str) -> Option<T>,
    ) -> Self {
        match value {
            None => Parsed::Absent,
            Some(v) => match v.to_str().ok().and_then(parse) {
                Some(t) => Parsed::Valid(t),
                None => Parsed::Invalid,
            },
        }
    }
}

/// The wait the server asks for: the first family, in precedence order, that is present,
/// applies to this `status`, and is valid. `wall` is the wall clock when the response
/// arrived, for HTTP dates and reset timestamps.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderMap;
/// use redial::hints::server_wait;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after-ms", "250".parse()?);
/// headers.insert("retry-after", "1".parse()?);
/// let hint = server_wait(&headers, 503, SystemTime::now()).unwrap();
/// assert_eq!(hint.wait, Duration::from_millis(250));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn server_wait(headers: &HeaderMap, status: u16, wall: SystemTime) -> Option<Hint> {
    HintSource::ALL.into_iter().find_map(|source| {
        read(source, headers, status, wall)
            .valid()
            .map(|wait| Hint { wait, source })
    })
}

/// What every family says, in precedence order: for `redial explain`, which names the
/// header that decided and the ones it ignored.
///
/// ```
/// use std::time::SystemTime;
/// use http::HeaderMap;
/// use redial::hints::{inspect, HintSource, Parsed};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "later".parse()?);
/// let all = inspect(&headers, 503, SystemTime::now());
/// assert_eq!(all[1], (HintSource::RetryAfter, Parsed::Invalid));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn inspect(
    headers: &HeaderMap,
    status: u16,
    wall: SystemTime,
) -> [(HintSource, Parsed<Duration>); 7] {
    HintSource::ALL.map(|source| (source, read(source, headers, status, wall)))
}

/// What one family says about this response.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use http::HeaderMap;
/// use redial::hints::{read, HintSource, Parsed};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-ratelimit-reset", "30".parse()?);
/// // A reset time on a response with quota left says nothing about this request…
/// assert_eq!(read(HintSource::XRateLimitReset, &headers, 503, SystemTime::now()), Parsed::Absent);
/// // …but on a 429 it does.
/// assert_eq!(
///     read(HintSource::XRateLimitReset, &headers, 429, SystemTime::now()),
///     Parsed::Valid(Duration::from_secs(30))
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read(
    source: HintSource,
    headers: &HeaderMap,
    status: u16,
    wall: SystemTime,
) -> Parsed<Duration> {
    let on_429 = status == 429;
    match source {
        HintSource::RetryAfterMs => {
            Parsed::from_header(headers.get(&RETRY_AFTER_MS), parse_retry_after_ms)
        }
        HintSource::RetryAfter => Parsed::from_header(headers.get(header::RETRY_AFTER), |v| {
            parse_retry_after(v, wall)
        }),
        HintSource::RateLimit => rate_limit::ratelimit_field(headers, on_429),
        HintSource::RateLimitReset => rate_limit::buckets(headers, &IETF_OLD, on_429, |v| {
            number::decimal(number::trim_ows(v), 1_000_000_000, false)
        }),
        HintSource::AnthropicReset => rate_limit::buckets(headers, &ANTHROPIC, on_429, |v| {
            parse_rfc3339_reset(v, wall)
        }),
        HintSource::OpenAiReset => {
            rate_limit::buckets(headers, &OPENAI, on_429, parse_reset_duration)
        }
        HintSource::XRateLimitReset => rate_limit::buckets(headers, &XRATELIMIT, on_429, |v| {
            parse_x_ratelimit_reset(v, wall)
        }),
    }
}

static RETRY_AFTER_MS: HeaderName = HeaderName::from_static("retry-after-ms");

/// `x-ratelimit-remaining`, which GitHub sets to 0 on its primary rate limit's 403.
pub(crate) static X_RATELIMIT_REMAINING: HeaderName =
    HeaderName::from_static("x-ratelimit-remaining");

static IETF_OLD: [(HeaderName, HeaderName); 1] = [(
    HeaderName::from_static("ratelimit-remaining"),
    HeaderName::from_static("ratelimit-reset"),
)];

static ANTHROPIC: [(HeaderName, HeaderName); 4] = [
    (
        HeaderName::from_static("anthropic-ratelimit-requests-remaining"),
        HeaderName::from_static("anthropic-ratelimit-requests-reset"),
    ),
    (
        HeaderName::from_static("anthropic-ratelimit-tokens-remaining"),
        HeaderName::from_static("anthropic-ratelimit-tokens-reset"),
    ),
    (
        HeaderName::from_static("anthropic-ratelimit-input-tokens-remaining"),
        HeaderName::from_static("anthropic-ratelimit-input-tokens-reset"),
    ),
    (
        HeaderName::from_static("anthropic-ratelimit-output-tokens-remaining"),
        HeaderName::from_static("anthropic-ratelimit-output-tokens-reset"),
    ),
];

static OPENAI: [(HeaderName, HeaderName); 2] = [
    (
        HeaderName::from_static("x-ratelimit-remaining-requests"),
        HeaderName::from_static("x-ratelimit-reset-requests"),
    ),
    (
        HeaderName::from_static("x-ratelimit-remaining-tokens"),
        HeaderName::from_static("x-ratelimit-reset-tokens"),
    ),
];

static XRATELIMIT: [(HeaderName, HeaderName); 1] = [(
    HeaderName::from_static("x-ratelimit-remaining"),
    HeaderName::from_static("x-ratelimit-reset"),
)];
