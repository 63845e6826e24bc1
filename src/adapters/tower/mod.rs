//! tower (feature `tower`): a [`Layer`](tower_layer::Layer) that retries `http::Request`s
//! through any `Service` under a policy.
//!
//! ```
//! use std::convert::Infallible;
//! use http_body_util::Full;
//! use bytes::Bytes;
//! use redial::adapters::tower::RetryLayer;
//! use redial::Policy;
//! use tower::{Layer, ServiceExt};
//!
//! # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?.block_on(async {
//! // An upstream that is overloaded once, then fine.
//! let mut calls = 0;
//! let upstream = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
//!     calls += 1;
//!     let status = if calls == 1 { 529 } else { 200 };
//!     async move { Ok::<_, std::io::Error>(http::Response::builder().status(status).body(()).unwrap()) }
//! });
//! let service = RetryLayer::new(Policy::default()).layer(upstream);
//! let request = http::Request::post("http://127.0.0.1/v1/messages").body(Full::new(Bytes::from("{}")))?;
//! let response = service.oneshot(request).await?;
//! assert_eq!(response.status(), 200);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What is per call and what is shared
//!
//! Each request gets its own [machine](crate::machine) (attempts, elapsed time, backoff)
//! and its own random generator; the policy's budget is shared by every request through
//! the layer, and by every other clone of the policy. The request's method and its
//! `Idempotency-Key` decide whether a retry is safe. The service's errors are read as
//! [`HttpOutcome`]s.
//!
//! # Replaying the body
//!
//! A retry sends the request again, so its body must be replayable ([`ReplayBody`]): full
//! bodies (`Full`, `Bytes`, `String`, `Vec<u8>`, `()`, `Empty`) are; a streaming body is
//! not. When the body cannot be replayed the request is sent once and that first
//! attempt's result is returned: a success as it is, a failure as a [`RetryError`] whose
//! [`refusal`](RetryError::refusal) is [`Refusal::BodyNotReplayable`] when the policy would
//! have retried it. A retry is never made with a body that was already consumed.
//!
//! # Output
//!
//! As with every adapter, `Ok` is a response the policy calls a success, and anything
//! else a [`RetryError`] holding the last response or error: a `400` comes back as
//! `Err`, with the response inside ([`RetryError::into_last`]). There is no per-attempt
//! timeout here; put tower's timeout layer below this one and report its error as a
//! transport timeout.

mod future;
mod layer;

pub use future::ResponseFuture;
pub use layer::RetryLayer;

use core::borrow::Borrow;
use core::task::{Context, Poll};

use bytes::Bytes;

use crate::classify::RequestFacts;
use crate::machine::Rules;
use crate::policy::Policy;

use super::driver::Driver;
#[cfg(doc)]
use super::error::Refusal;
use super::error::RetryError;
use super::hooks::{HttpClassify, NoNotify, Notify};
use super::outcome::HttpOutcome;
use super::sleep::{DefaultSleeper, Sleeper};

/// A body that can be sent again: `try_replay` gives a copy, or `None` when the body is a
/// stream that can be read only once.
///
/// ```
/// use redial::adapters::tower::ReplayBody;
/// assert_eq!(String::from("{}").try_replay().as_deref(), Some("{}"));
/// ```
pub trait ReplayBody: Sized {
    /// A copy of the body to send again, if it can be had.
    ///
    /// ```
    /// use redial::adapters::tower::ReplayBody;
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

/// A service that retries requests under a policy. Made by [`RetryLayer`].
///
/// ```
/// use redial::adapters::tower::RetryService;
/// let service = RetryService::new(tower::service_fn(|_req: http::Request<String>| async {
///     Ok::<_, std::io::Error>(http::Response::new(()))
/// }), redial::Policy::default());
/// # drop(service);
/// ```
#[derive(Clone, Debug)]
pub struct RetryService<Svc, P, S = DefaultSleeper, N = NoNotify> {
    inner: Svc,
    policy: P,
    sleeper: S,
    notify: N,
}

impl<Svc, P> RetryService<Svc, P> {
    /// Wraps `inner`, with the default sleeper and no hook.
    ///
    /// ```
    /// # use redial::adapters::tower::RetryService;
    /// let service = RetryService::new(tower::service_fn(|_req: http::Request<()>| async {
    ///     Ok::<_, std::io::Error>(http::Response::new(()))
    /// }), redial::Policy::default());
    /// # drop(service);
    /// ```
    pub fn new(inner: Svc, policy: P) -> Self {
        RetryService {
            inner,
            policy,
            sleeper: DefaultSleeper::default(),
            notify: NoNotify,
        }
    }
}

impl<Svc, P, S, N> RetryService<Svc, P, S, N> {
    pub(crate) fn from_parts(inner: Svc, policy: P, sleeper: S, notify: N) -> Self {
        RetryService {
            inner,
            policy,
            sleeper,
            notify,
        }
    }

    /// The wrapped service.
    ///
    /// ```
    /// # use redial::adapters::tower::RetryService;
    /// # let service = RetryService::new((), redial::Policy::default());
    /// let _inner: &() = service.get_ref();
    /// ```
    pub fn get_ref(&self) -> &Svc {
        &self.inner
    }
}

impl<Svc, P, S, N, B, RB> tower_service::Service<http::Request<B>> for RetryService<Svc, P, S, N>
where
    Svc: tower_service::Service<http::Request<B>, Response = http::Response<RB>> + Clone,
    Svc::Error: HttpOutcome,
    P: Borrow<Policy> + AsRef<Rules> + Clone,
    S: Sleeper + Clone,
    N: Notify + Clone,
    B: ReplayBody,
{
    type Response = http::Response<RB>;
    type Error = RetryError<Svc::Error, http::Response<RB>>;
    type Future = ResponseFuture<Svc, http::Request<B>, P, S, N>;

    /// Always ready: each call drives the readiness of its own clone of the inner service
    /// before each attempt, so that a retry waits for readiness too.
    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let facts = RequestFacts::from_parts(request.method(), request.headers());
        let driver = Driver::new(
            self.policy.clone(),
            facts,
            HttpClassify,
            self.notify.clone(),
            None,
        );
        ResponseFuture::new(self.inner.clone(), request, self.sleeper.clone(), driver)
    }
}
