//! Reads the API error envelope from a response body or a stream's `error` event:
//!
//! ```text
//! {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_…"}
//! ```
//!
//! A body that is not that envelope (HTML from a proxy, an empty 502, a body cut short) is
//! never an error: it reads as "no error type", and the status decides.
//!
//! ```
//! use redial::ErrorType;
//! use redial::classify::read_error_body;
//!
//! let body = br#"{"type":"error","error":{"type":"rate_limit_error","message":"slow down"},"request_id":"req_1"}"#;
//! let read = read_error_body(body);
//! assert_eq!(read.error_type, Some(ErrorType::RateLimit));
//! assert_eq!(read.request_id.as_deref(), Some("req_1"));
//!
//! assert_eq!(read_error_body(b"<html>502 Bad Gateway</html>").error_type, None);
//! ```

use std::borrow::Cow;

use crate::verdict::ErrorType;

/// What an error body says: its error type and request id, each when present.
///
/// The request id borrows from the body unless it held escapes.
///
/// ```
/// let read = redial::classify::read_error_body(br#"{"error":{"type":"api_error"},"request_id":"req_9"}"#);
/// assert_eq!(read.request_id.as_deref(), Some("req_9"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ErrorBody<'a> {
    /// The error type, [`ErrorType::Unknown`] for a type this crate does not know.
    pub error_type: Option<ErrorType>,
    /// The `request_id` field.
    pub request_id: Option<Cow<'a, str>>,
}

/// Reads the error envelope from a body (or an SSE `error` event's data). Never fails:
/// anything that is not the envelope reads as empty.
///
/// ```
/// use redial::ErrorType;
/// use redial::classify::read_error_body;
/// let event = br#"{"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}"#;
/// assert_eq!(read_error_body(event).error_type, Some(ErrorType::Overloaded));
/// assert_eq!(read_error_body(b"").error_type, None);
/// assert_eq!(read_error_body(br#"{"type":"error","error":{"type":"api_er"#).error_type, None);
/// ```
pub fn read_error_body(body: &[u8]) -> ErrorBody<'_> {
    imp::read(body)
}

#[cfg(feature = "json")]
mod imp {
    use std::borrow::Cow;
    use std::fmt;
    use std::marker::PhantomData;

    use serde::de::{self, IgnoredAny, MapAccess, Visitor};
    use serde::{Deserialize, Deserializer};

    use super::ErrorBody;
    use crate::verdict::ErrorType;

    #[derive(Deserialize)]
    struct Envelope<'a> {
        #[serde(borrow, default)]
        error: Option<Inner<'a>>,
        // Not `Option<Cow<str>>`: serde borrows a `Cow` only when it is the field's whole
        // type, and inside an `Option` it always allocated a copy.
        #[serde(borrow, default)]
        request_id: Option<Text<'a>>,
    }

    /// The `error` object, read for its `type`.
    ///
    /// Written by hand because serde's derived impl also accepts an array and fills the
    /// fields by position, so `{"error":["rate_limit_error"]}` read as a rate limit. That
    /// is not the envelope, and for anything else the status must decide (issue 5, found
    /// by the `error_body` fuzz target).
    struct Inner<'a> {
        kind: Option<Cow<'a, str>>,
    }

    impl<'de: 'a, 'a> Deserialize<'de> for Inner<'a> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Object<'a>(PhantomData<&'a ()>);
            impl<'de: 'a, 'a> Visitor<'de> for Object<'a> {
                type Value = Inner<'a>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an error object")
                }
                fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Inner<'a>, M::Error> {
                    let mut kind = None;
                    while let Some(Text(key)) = map.next_key::<Text<'a>>()? {
                        if key != "type" {
                            map.next_value::<IgnoredAny>()?;
                        } else if kind.is_some() {
                            // As the derived impl did: a repeated key is not the envelope.
                            return Err(de::Error::duplicate_field("type"));
                        } else {
                            kind = Some(map.next_value::<Option<Text<'a>>>()?.map(|t| t.0));
                        }
                    }
                    Ok(Inner {
                        kind: kind.flatten(),
                    })
                }
            }
            deserializer.deserialize_map(Object(PhantomData))
        }
    }

    /// A string that borrows from the body unless it holds escapes, as `#[serde(borrow)]`
    /// gives a derived field.
    struct Text<'a>(Cow<'a, str>);

    impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            struct Str<'a>(PhantomData<&'a ()>);
            impl<'de: 'a, 'a> Visitor<'de> for Str<'a> {
                type Value = Text<'a>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a string")
                }
                fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Text<'a>, E> {
                    Ok(Text(Cow::Borrowed(s)))
                }
                fn visit_str<E: de::Error>(self, s: &str) -> Result<Text<'a>, E> {
                    Ok(Text(Cow::Owned(s.to_owned())))
                }
            }
            deserializer.deserialize_str(Str(PhantomData))
        }
    }

    pub(super) fn read(body: &[u8]) -> ErrorBody<'_> {
        // Only something that starts like a JSON object is worth handing to the parser.
        let starts_like_json = body
            .iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|&b| b == b'{');
        if !starts_like_json {
            return ErrorBody::default();
        }
        match serde_json::from_slice::<Envelope<'_>>(body) {
            Ok(env) => ErrorBody {
                error_type: env
                    .error
                    .and_then(|e| e.kind)
                    .map(|k| ErrorType::from_name(&k)),
                request_id: env.request_id.map(|t| t.0),
            },
            Err(_) => ErrorBody::default(),
        }
    }
}

#[cfg(not(feature = "json"))]
mod imp {
    use super::ErrorBody;

    /// Without the `json` feature no body is read: the status decides.
    pub(super) fn read(_body: &[u8]) -> ErrorBody<'_> {
        ErrorBody::default()
    }
}

#[cfg(all(test, feature = "json"))]
mod tests {
    use super::*;

    #[test]
    fn every_known_type_reads_back() {
        for t in ErrorType::KNOWN {
            let body = format!(
                r#"{{"type":"error","error":{{"type":"{}","message":"m"}},"request_id":"r"}}"#,
                t.as_str()
            );
            assert_eq!(read_error_body(body.as_bytes()).error_type, Some(t));
        }
    }

    #[test]
    fn what_is_not_an_envelope_reads_as_empty() {
        for body in [
            &b""[..],
            b"   ",
            b"<html><head><title>413 Request Entity Too Large</title></head></html>",
            b"{",
            b"null",
            b"[1,2]",
            br#"{"type":"error","error":"overloaded"}"#,
            br#"{"error":{"type":42}}"#,
            b"\xff\xfe\x00",
        ] {
            assert_eq!(read_error_body(body).error_type, None, "{body:?}");
        }
    }

    #[test]
    fn issue_5_an_error_that_is_not_an_object_is_not_the_envelope() {
        // serde's derived reader took an array for the object, by position.
        for body in [
            &br#"{"error":["rate_limit_error"]}"#[..],
            br#"{"type":"error","error":["overloaded_error","Overloaded"],"request_id":"r"}"#,
        ] {
            assert_eq!(read_error_body(body), ErrorBody::default(), "{body:?}");
        }
        // Still read as before: an object, escapes, a null type, a repeated key.
        let read = read_error_body(br#"{"error":{"message":"m","ty\u0070e":"api_error"}}"#);
        assert_eq!(read.error_type, Some(ErrorType::Api));
        let read = read_error_body(br#"{"error":{"type":null},"request_id":"r"}"#);
        assert_eq!(
            (read.error_type, read.request_id.as_deref()),
            (None, Some("r"))
        );
        let twice = br#"{"error":{"type":"api_error","type":"billing_error"},"request_id":"r"}"#;
        assert_eq!(read_error_body(twice), ErrorBody::default());
    }

    #[test]
    fn issue_5_the_request_id_borrows_from_the_body() {
        // As documented; inside an `Option` serde's `Cow` used to copy it every time.
        let read = read_error_body(br#"{"error":{"type":"api_error"},"request_id":"req_1"}"#);
        assert!(matches!(read.request_id, Some(Cow::Borrowed("req_1"))));
        let read = read_error_body(br#"{"request_id":"req_\u0031"}"#);
        assert!(matches!(read.request_id, Some(Cow::Owned(ref id)) if id == "req_1"));
    }

    #[test]
    fn escapes_and_unknown_types() {
        let read = read_error_body(br#"{"error":{"type":"new_error"},"request_id":"req_\u0031"}"#);
        assert_eq!(read.error_type, Some(ErrorType::Unknown));
        assert_eq!(read.request_id.as_deref(), Some("req_1"));
    }
}
