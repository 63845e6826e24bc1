//! Which request bodies can be sent again, and the copy of a request a retry sends.

use bytes::Bytes;

/// A body that can be sent again: `try_replay` gives a copy, or `None` when the body is a
/// stream that can be read only once.
///
/// ```
/// use redial::tower::ReplayBody;
/// assert_eq!(String::from("{}").try_replay().as_deref(), Some("{}"));
/// ```
pub trait ReplayBody: Sized {
    /// A copy of the body to send again, if it can be had.
    ///
    /// ```
    /// use redial::tower::ReplayBody;
    /// assert_eq!(bytes::Bytes::from_static(b"{}").try_replay().as_deref(), Some(&b"{}"[..]));
    /// ```
    fn try_replay(&self) -> Option<Self>;
}

impl ReplayBody for () {
    fn try_replay(&self) -> Option<Self> {
        Some(())
    }
}

impl ReplayBody for String {
    fn try_replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayBody for Vec<u8> {
    fn try_replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl ReplayBody for Bytes {
    fn try_replay(&self) -> Option<Self> {
        // A reference count, not a copy.
        Some(self.clone())
    }
}

impl<D: Clone> ReplayBody for http_body_util::Full<D> {
    fn try_replay(&self) -> Option<Self> {
        Some(self.clone())
    }
}

impl<D> ReplayBody for http_body_util::Empty<D> {
    fn try_replay(&self) -> Option<Self> {
        Some(*self)
    }
}

/// A body built from bytes can be replayed; a streaming one cannot.
#[cfg(feature = "reqwest")]
impl ReplayBody for reqwest::Body {
    fn try_replay(&self) -> Option<Self> {
        self.as_bytes()
            .map(|b| reqwest::Body::from(Bytes::copy_from_slice(b)))
    }
}

/// A copy of the request to send again, when its body can be replayed.
pub(crate) fn replay<B: ReplayBody>(request: &http::Request<B>) -> Option<http::Request<B>> {
    let body = request.body().try_replay()?;
    let mut copy = http::Request::new(body);
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    *copy.extensions_mut() = request.extensions().clone();
    Some(copy)
}
