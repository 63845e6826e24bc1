//! What can go wrong inside a stream: the client, an in-band error event, or the parser.

use core::fmt;

use crate::classify::Outcome;
use crate::verdict::{ErrorType, Transport};

use super::http_outcome::{empty_headers, HttpOutcome};

/// The longest error-event message kept, in bytes: enough for any API's sentence, and a
/// bound on what a server can make the final error hold.
const MESSAGE_LEN: usize = 512;

/// An error inside a stream: the client's own error, an in-band `error` event (an SSE
/// `event: error`), or the stream's parser failing on what it read.
///
/// ```
/// use redial::{ErrorType, HttpOutcome};
/// use redial::classify::Outcome;
/// use redial::stream::{ErrorEvent, StreamError};
///
/// let data = br#"{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_7"}"#;
/// let event: StreamError<std::io::Error> = StreamError::Event(ErrorEvent::read(data));
/// assert!(matches!(event.outcome(), Outcome::Response { error_type: Some(ErrorType::Overloaded), .. }));
/// assert_eq!(event.request_id(), Some("req_7"));
/// assert_eq!(
///     event.to_string(),
///     "error event after the stream began: overloaded_error: Overloaded (request id req_7)",
/// );
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError<E> {
    /// The client failed (opening, or reading the stream).
    #[error(transparent)]
    Call(E),
    /// The stream carried an error event.
    #[error("error event after the stream began: {0}")]
    Event(ErrorEvent),
    /// The stream's parser could not read what arrived (a broken SSE frame, say): read as
    /// a transport failure of kind `other`, retried only where a retry is safe.
    #[error("the stream could not be parsed: {0}")]
    Parse(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl<E> StreamError<E> {
    /// A parser's error, as [`StreamError::Parse`].
    ///
    /// ```
    /// let err: redial::stream::StreamError<std::io::Error> = redial::stream::StreamError::parse("no data line");
    /// assert_eq!(err.to_string(), "the stream could not be parsed: no data line");
    /// ```
    pub fn parse(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StreamError::Parse(error.into())
    }
}

impl<E: HttpOutcome> HttpOutcome for StreamError<E> {
    fn outcome(&self) -> Outcome<'_> {
        match self {
            StreamError::Call(e) => e.outcome(),
            StreamError::Event(event) => event.outcome(),
            StreamError::Parse(_) => Outcome::Transport(Transport::Other),
        }
    }

    fn request_id(&self) -> Option<&str> {
        match self {
            StreamError::Call(e) => e.request_id(),
            StreamError::Event(event) => event.request_id(),
            StreamError::Parse(_) => None,
        }
    }
}

/// An `error` event in a stream that began with `200`: its type, and the message and
/// request id it carried, which the final error keeps.
///
/// ```
/// use redial::ErrorType;
/// use redial::stream::ErrorEvent;
/// let event = ErrorEvent::new(ErrorType::RateLimit).with_message("slow down").with_request_id("req_1");
/// assert_eq!(event.to_string(), "rate_limit_error: slow down (request id req_1)");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorEvent {
    /// The API error type; [`ErrorType::Unknown`] for one this crate does not know.
    pub error_type: ErrorType,
    /// The event's message, cut at 512 bytes.
    pub message: Option<String>,
    /// The event's `request_id`.
    pub request_id: Option<String>,
}

impl ErrorEvent {
    /// An event of this type, with no message or request id.
    ///
    /// ```
    /// assert_eq!(redial::stream::ErrorEvent::new(redial::ErrorType::Overloaded).to_string(), "overloaded_error");
    /// ```
    pub fn new(error_type: ErrorType) -> Self {
        ErrorEvent {
            error_type,
            message: None,
            request_id: None,
        }
    }

    /// Reads an event's data, the JSON error envelope (feature `json`, on by default):
    /// its type, message and request id. Data that is not the envelope reads as an event
    /// of unknown type.
    ///
    /// ```
    /// use redial::ErrorType;
    /// use redial::stream::ErrorEvent;
    /// let event = ErrorEvent::read(br#"{"type":"error","error":{"type":"api_error","message":"Internal"}}"#);
    /// assert_eq!((event.error_type, event.message.as_deref()), (ErrorType::Api, Some("Internal")));
    /// assert_eq!(ErrorEvent::read(b"<html>").error_type, ErrorType::Unknown);
    /// ```
    pub fn read(data: &[u8]) -> Self {
        let body = crate::error_body::read_error_body(data);
        ErrorEvent {
            error_type: body.error_type.unwrap_or(ErrorType::Unknown),
            message: message(data),
            request_id: body.request_id.map(|id| cut(&id).to_owned()),
        }
    }

    /// The same event with this message (cut at 512 bytes).
    ///
    /// ```
    /// let event = redial::stream::ErrorEvent::new(redial::ErrorType::Api).with_message("x".repeat(600));
    /// assert_eq!(event.message.map(|m| m.len()), Some(512));
    /// ```
    #[must_use]
    pub fn with_message(mut self, message: impl AsRef<str>) -> Self {
        self.message = Some(cut(message.as_ref()).to_owned());
        self
    }

    /// The same event with this request id (cut at 512 bytes).
    ///
    /// ```
    /// let event = redial::stream::ErrorEvent::new(redial::ErrorType::Api).with_request_id("req_2");
    /// assert_eq!(event.request_id.as_deref(), Some("req_2"));
    /// ```
    #[must_use]
    pub fn with_request_id(mut self, request_id: impl AsRef<str>) -> Self {
        self.request_id = Some(cut(request_id.as_ref()).to_owned());
        self
    }
}

impl From<ErrorType> for ErrorEvent {
    fn from(error_type: ErrorType) -> Self {
        ErrorEvent::new(error_type)
    }
}

/// An event of a known type is read like a `200` carrying that type. One of unknown type
/// says only that the stream broke: a transport failure of kind `other`, since the
/// status, `200`, cannot decide.
impl HttpOutcome for ErrorEvent {
    fn outcome(&self) -> Outcome<'_> {
        match self.error_type {
            ErrorType::Unknown => Outcome::Transport(Transport::Other),
            t => Outcome::stream_error(empty_headers(), t),
        }
    }

    fn request_id(&self) -> Option<&str> {
        self.request_id.as_deref()
    }
}

impl fmt::Display for ErrorEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_type.as_str())?;
        if let Some(message) = &self.message {
            write!(f, ": {message}")?;
        }
        if let Some(id) = &self.request_id {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

/// At most [`MESSAGE_LEN`] bytes, cut at a character boundary.
fn cut(s: &str) -> &str {
    let mut len = s.len().min(MESSAGE_LEN);
    while !s.is_char_boundary(len) {
        len -= 1;
    }
    s.get(..len).unwrap_or_default()
}

/// The envelope's `error.message`.
#[cfg(feature = "json")]
fn message(data: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(data).ok()?;
    let message = value.pointer("/error/message")?.as_str()?;
    Some(cut(message).to_owned())
}

/// Without `json`, no message is read.
#[cfg(not(feature = "json"))]
fn message(_: &[u8]) -> Option<String> {
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::RequestFacts;
    use crate::Policy;
    use std::time::SystemTime;

    fn verdict(event: &ErrorEvent) -> crate::verdict::Verdict {
        let policy = Policy::preset(crate::Preset::Anthropic);
        policy.classifier().classify(
            &RequestFacts::idempotent(false),
            &event.outcome(),
            SystemTime::UNIX_EPOCH,
        )
    }

    /// Issue 12, item 8: the cause of an error event after a 200 does not read as if the
    /// 200 failed, and an event of unknown type is a broken stream, not a success.
    #[test]
    fn issue_12_error_events_after_a_200() {
        let overloaded = verdict(&ErrorEvent::new(ErrorType::Overloaded));
        assert!(overloaded.is_retryable());
        let cause = overloaded.cause().map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("overloaded_error event after 200"));

        let unknown = verdict(&ErrorEvent::read(
            br#"{"type":"error","error":{"type":"new_error"}}"#,
        ));
        assert!(!unknown.is_success(), "{unknown:?}");
        let parse: StreamError<std::io::Error> = StreamError::parse("bad frame");
        assert!(matches!(
            parse.outcome(),
            Outcome::Transport(Transport::Other)
        ));
    }

    #[test]
    fn messages_are_cut_at_a_char_boundary() {
        let long = format!("{}é", "a".repeat(511));
        assert_eq!(
            ErrorEvent::new(ErrorType::Api)
                .with_message(&long)
                .message
                .map(|m| m.len()),
            Some(511)
        );
    }
}
