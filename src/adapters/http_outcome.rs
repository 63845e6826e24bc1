//! HTTP outcomes read off the types HTTP clients already return.

use std::sync::OnceLock;

use http::HeaderMap;

use crate::classify::{request_id, Outcome};
#[cfg(feature = "json")]
use crate::error_body::read_error_body;
use crate::verdict::{ErrorType, Transport};

/// What one attempt produced, as classification reads it. See the [docs](HttpOutcome).
///
/// Implement it for your client's types in a few lines:
///
/// ```
/// use redial::HttpOutcome;
/// use redial::Transport;
/// use redial::classify::Outcome;
///
/// enum MyClientError { Refused, TimedOut, Broken }
///
/// impl HttpOutcome for MyClientError {
///     fn outcome(&self) -> Outcome<'_> {
///         Outcome::Transport(match self {
///             MyClientError::Refused => Transport::Connect,
///             MyClientError::TimedOut => Transport::Timeout,
///             MyClientError::Broken => Transport::Reset,
///         })
///     }
/// }
/// assert!(matches!(MyClientError::Refused.outcome(), Outcome::Transport(Transport::Connect)));
/// ```
///
/// # Reading outcomes
///
/// HTTP outcomes without boilerplate: what an attempt's result says, read off the types
/// HTTP clients already return.
///
/// [`HttpOutcome`] exposes an attempt's [`Outcome`] (status, headers, error type, or a
/// transport failure) and its request id. It is implemented for `http::Response<B>`, for
/// [`Transport`], [`std::io::Error`] and [`ErrorType`] (an `error` event in a stream), for
/// `Result<T, E>` of any two of those, and with the `reqwest` feature for
/// `reqwest::Response` and `reqwest::Error`. So an operation returning
/// `Result<http::Response<B>, std::io::Error>` is classified by the policy's table, and its
/// waits come from `Retry-After` and the rate-limit headers, with no glue code.
///
/// # Error bodies
///
/// Classification never reads a body: reading one consumes it, and a retry adapter must
/// hand the response back untouched. The error type of a response (`overloaded_error`,
/// `invalid_request_error`, …) is taken from its *extensions*: an [`ErrorType`] stored there
/// is the body's error type. An operation that wants the body to count reads it and marks
/// the response, with [`with_error_type`] for a buffered `http::Response<B>`:
///
/// ```
/// use bytes::Bytes;
/// use redial::HttpOutcome;
/// use redial::classify::with_error_type;
/// use redial::ErrorType;
/// use redial::classify::Outcome;
///
/// let body = Bytes::from_static(br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#);
/// let response = http::Response::builder().status(529).body(body)?;
/// let response = with_error_type(response);
/// assert!(matches!(response.outcome(), Outcome::Response { error_type: Some(ErrorType::Overloaded), .. }));
/// # Ok::<(), http::Error>(())
/// ```
///
/// Without it the status decides, which for the APIs this crate knows gives the same
/// answer: their error types stand for the statuses they come with (`overloaded_error` is a
/// 529, `rate_limit_error` a 429). Bodies matter for errors inside a `200` stream, which the
/// [stream adapter](crate::retry_stream) reads event by event.
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say what an HTTP attempt produced",
    label = "redial cannot read this as a response or a transport failure",
    note = "redial reads `http::Response<B>`, `std::io::Error`, `redial::Transport` and `redial::ErrorType`, and with its features reqwest's and ureq's responses and errors; for another type, either:",
    note = "map a transport error to `std::io::Error` in the operation (its kind decides: refused, timed out, reset), or to a `redial::Transport`;",
    note = "decide each result yourself with `.classify(|result| ..)` on the retried call;",
    note = "or wrap it in a type of your own crate and implement `redial::HttpOutcome` for that type"
)]
pub trait HttpOutcome {
    /// The outcome: a response's status, headers and error type, or a transport failure.
    ///
    /// ```
    /// use redial::HttpOutcome;
    /// use redial::classify::Outcome;
    /// let response = http::Response::builder().status(503).body(())?;
    /// assert!(matches!(response.outcome(), Outcome::Response { status, .. } if status == 503));
    /// # Ok::<(), http::Error>(())
    /// ```
    fn outcome(&self) -> Outcome<'_>;

    /// The request id the server gave this attempt, if any. Defaults to none.
    ///
    /// ```
    /// use redial::HttpOutcome;
    /// let response = http::Response::builder().header("x-request-id", "req_9").body(())?;
    /// assert_eq!(response.request_id(), Some("req_9"));
    /// assert_eq!(redial::Transport::Reset.request_id(), None);
    /// # Ok::<(), http::Error>(())
    /// ```
    fn request_id(&self) -> Option<&str> {
        None
    }
}

/// A response: its status and headers, and the [`ErrorType`] in its extensions if the
/// operation stored one (see [`with_error_type`]).
///
/// ```
/// use redial::HttpOutcome;
///
/// let response = http::Response::builder()
///     .status(429)
///     .header("retry-after", "17")
///     .header("request-id", "req_011CSHoEeqs5C35K2UUqR7F8")
///     .body(())?;
/// assert_eq!(response.request_id(), Some("req_011CSHoEeqs5C35K2UUqR7F8"));
/// # Ok::<(), http::Error>(())
/// ```
impl<B> HttpOutcome for http::Response<B> {
    fn outcome(&self) -> Outcome<'_> {
        response_outcome(self.status(), self.headers(), self.extensions())
    }

    fn request_id(&self) -> Option<&str> {
        request_id(self.headers()).or_else(|| body_request_id(self.extensions()))
    }
}

/// A transport failure of this kind.
///
/// ```
/// use redial::HttpOutcome;
/// use redial::Transport;
/// use redial::classify::Outcome;
/// assert!(matches!(Transport::Timeout.outcome(), Outcome::Transport(Transport::Timeout)));
/// ```
impl HttpOutcome for Transport {
    fn outcome(&self) -> Outcome<'_> {
        Outcome::Transport(*self)
    }
}

/// An I/O error, as a transport failure: see [`transport_kind`].
///
/// ```
/// use std::io;
/// use redial::HttpOutcome;
/// use redial::Transport;
/// use redial::classify::Outcome;
/// let refused = io::Error::from(io::ErrorKind::ConnectionRefused);
/// assert!(matches!(refused.outcome(), Outcome::Transport(Transport::Connect)));
/// ```
impl HttpOutcome for std::io::Error {
    fn outcome(&self) -> Outcome<'_> {
        // ureq's `Error::into_io` wraps a status in an I/O error.
        #[cfg(feature = "ureq")]
        if let Some(outcome) = super::ureq::wrapped(self) {
            return outcome;
        }
        Outcome::Transport(io_transport(self.kind()))
    }
}

/// An `error` event of this type in a stream that began with `200`.
///
/// ```
/// use redial::HttpOutcome;
/// use redial::ErrorType;
/// use redial::classify::Outcome;
/// let event = ErrorType::Overloaded;
/// assert!(matches!(event.outcome(), Outcome::Response { error_type: Some(ErrorType::Overloaded), .. }));
/// ```
impl HttpOutcome for ErrorType {
    fn outcome(&self) -> Outcome<'_> {
        Outcome::stream_error(empty_headers(), *self)
    }
}

/// Whichever side the result holds.
///
/// ```
/// use redial::HttpOutcome;
/// use redial::Transport;
/// use redial::classify::Outcome;
/// let result: Result<http::Response<()>, Transport> = Err(Transport::Connect);
/// assert!(matches!(result.outcome(), Outcome::Transport(Transport::Connect)));
/// ```
impl<T: HttpOutcome, E: HttpOutcome> HttpOutcome for Result<T, E> {
    #[inline]
    fn outcome(&self) -> Outcome<'_> {
        match self {
            Ok(t) => t.outcome(),
            Err(e) => e.outcome(),
        }
    }

    fn request_id(&self) -> Option<&str> {
        match self {
            Ok(t) => t.request_id(),
            Err(e) => e.request_id(),
        }
    }
}

/// A boxed outcome reads as what it holds.
///
/// ```
/// use redial::HttpOutcome;
/// use redial::Transport;
/// use redial::classify::Outcome;
/// assert!(matches!(Box::new(Transport::Reset).outcome(), Outcome::Transport(Transport::Reset)));
/// ```
impl<T: HttpOutcome + ?Sized> HttpOutcome for Box<T> {
    fn outcome(&self) -> Outcome<'_> {
        (**self).outcome()
    }

    fn request_id(&self) -> Option<&str> {
        (**self).request_id()
    }
}

/// Reads the error envelope from a buffered response's body and stores its [`ErrorType`]
/// in the response's extensions, where [`HttpOutcome`] finds it. A success, or a body that
/// is not an error envelope, is returned unchanged.
///
/// Feature `json` (on by default): without it this function does not exist, rather than
/// compile and never find an error type.
///
/// ```
/// use redial::classify::with_error_type;
/// use redial::ErrorType;
///
/// let body = r#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"}}"#;
/// let response = with_error_type(http::Response::builder().status(429).body(body)?);
/// assert_eq!(response.extensions().get::<ErrorType>(), Some(&ErrorType::RateLimit));
/// # Ok::<(), http::Error>(())
/// ```
#[cfg(feature = "json")]
pub fn with_error_type<B: AsRef<[u8]>>(mut response: http::Response<B>) -> http::Response<B> {
    if !(response.status().is_success() || response.status().is_redirection()) {
        let (error_type, id) = {
            let read = read_error_body(response.body().as_ref());
            (
                read.error_type,
                read.request_id.map(|id| BodyRequestId(id.into_owned())),
            )
        };
        if let Some(t) = error_type {
            response.extensions_mut().insert(t);
        }
        // The design keeps the body's `request_id` too, for the final error to name.
        if let Some(id) = id {
            response.extensions_mut().insert(id);
        }
    }
    response
}

/// The `request_id` of an error body, kept in a response's extensions by
/// [`with_error_type`] for responses whose headers carry none.
#[derive(Clone, Debug)]
struct BodyRequestId(String);

/// The error body's `request_id` that [`with_error_type`] kept, if any.
pub(crate) fn body_request_id(extensions: &http::Extensions) -> Option<&str> {
    extensions.get::<BodyRequestId>().map(|id| id.0.as_str())
}

/// The transport failure behind an error: the first [`std::io::Error`] in its
/// [`source`](std::error::Error::source) chain decides (see the table below), and an error
/// with none is [`Transport::Other`].
///
/// | `io::ErrorKind` | transport |
/// |---|---|
/// | `ConnectionRefused`, `AddrNotAvailable`, `NotConnected` | `connect` |
/// | `TimedOut`, `WouldBlock` | `timeout` |
/// | `ConnectionReset`, `ConnectionAborted`, `BrokenPipe`, `UnexpectedEof` | `reset` |
/// | anything else | `other` |
///
/// Useful for clients whose error types this crate does not know (hyper-util's, say):
///
/// ```
/// use std::io;
/// use redial::classify::transport_kind;
/// use redial::Transport;
///
/// let err = io::Error::new(io::ErrorKind::Other, io::Error::from(io::ErrorKind::ConnectionReset));
/// assert_eq!(transport_kind(&err), Transport::Reset);
/// ```
pub fn transport_kind(err: &(dyn std::error::Error + 'static)) -> Transport {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            let kind = io_transport(io.kind());
            match io.get_ref() {
                // An io::Error that only wraps another error says nothing itself: look
                // inside (its `source` would skip the wrapped error).
                Some(inner) if kind == Transport::Other => {
                    next = Some(inner as &(dyn std::error::Error + 'static));
                    continue;
                }
                _ => return kind,
            }
        }
        next = e.source();
    }
    Transport::Other
}

fn io_transport(kind: std::io::ErrorKind) -> Transport {
    use std::io::ErrorKind as K;
    match kind {
        K::ConnectionRefused | K::AddrNotAvailable | K::NotConnected => Transport::Connect,
        K::TimedOut | K::WouldBlock => Transport::Timeout,
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof => {
            Transport::Reset
        }
        _ => Transport::Other,
    }
}

pub(crate) fn response_outcome<'a>(
    status: http::StatusCode,
    headers: &'a HeaderMap,
    extensions: &http::Extensions,
) -> Outcome<'a> {
    let outcome = Outcome::response(status, headers);
    match extensions.get::<ErrorType>() {
        Some(t) => outcome.with_error_type(*t),
        None => outcome,
    }
}

/// Headers for outcomes that have none (an error event, an error that only knows its
/// status). `HeaderMap::new` does not allocate, and this one is made once.
pub(crate) fn empty_headers() -> &'static HeaderMap {
    static EMPTY: OnceLock<HeaderMap> = OnceLock::new();
    EMPTY.get_or_init(HeaderMap::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;

    #[test]
    fn io_kinds_map_to_transport_failures() {
        for (kind, want) in [
            (io::ErrorKind::ConnectionRefused, Transport::Connect),
            (io::ErrorKind::TimedOut, Transport::Timeout),
            (io::ErrorKind::ConnectionReset, Transport::Reset),
            (io::ErrorKind::BrokenPipe, Transport::Reset),
            (io::ErrorKind::PermissionDenied, Transport::Other),
        ] {
            assert_eq!(transport_kind(&io::Error::from(kind)), want, "{kind:?}");
        }
    }

    #[test]
    fn an_error_without_io_inside_is_other() {
        let err = io::Error::other("boom");
        assert_eq!(transport_kind(&err), Transport::Other);
        #[derive(Debug)]
        struct Plain;
        impl core::fmt::Display for Plain {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("plain")
            }
        }
        impl std::error::Error for Plain {}
        assert_eq!(transport_kind(&Plain), Transport::Other);
    }

    #[test]
    #[cfg(feature = "json")]
    fn success_bodies_are_not_read() {
        let body = r#"{"type":"error","error":{"type":"overloaded_error"}}"#;
        let response = with_error_type(http::Response::new(body));
        assert_eq!(response.extensions().get::<ErrorType>(), None);
    }
}
