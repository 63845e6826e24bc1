//! The layer: a [`Retrying`] whose adapter part is tower's, applied to any service.

use super::mode::{KeepInnerTypes, WrapInRetryError};
use super::RetryService;
use crate::adapters::classify::HttpClassify;
use crate::adapters::notify::NoNotify;
use crate::adapters::options::WithSleeper;
use crate::adapters::retrying::Retrying;
use crate::adapters::sleep::{DefaultSleeper, Sleeper};

/// A tower [`Layer`](tower_layer::Layer) (feature `tower`) that retries `http::Request`s
/// through any `Service` under a policy.
///
/// ```
/// use std::convert::Infallible;
/// use http_body_util::Full;
/// use bytes::Bytes;
/// use redial::tower::RetryLayer;
/// use redial::Policy;
/// use tower::{Layer, ServiceExt};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?.block_on(async {
/// // An upstream that is overloaded once, then fine.
/// let mut calls = 0;
/// let upstream = tower::service_fn(move |_req: http::Request<Full<Bytes>>| {
///     calls += 1;
///     let status = if calls == 1 { 529 } else { 200 };
///     async move { Ok::<_, std::io::Error>(http::Response::builder().status(status).body(()).unwrap()) }
/// });
/// let service = RetryLayer::new(Policy::default()).layer(upstream);
/// let request = http::Request::post("http://127.0.0.1/v1/messages").body(Full::new(Bytes::from("{}")))?;
/// let response = service.oneshot(request).await?;
/// assert_eq!(response.status(), 200);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// # What is per call and what is shared
///
/// Each request gets its own [machine](crate::machine) (attempts, elapsed time, backoff)
/// and its own random generator; the policy's budget is shared by every request through
/// the layer, and by every other clone of the policy. The request's method and its
/// `Idempotency-Key` decide whether a retry is safe. The service's errors are read as
/// [`HttpOutcome`](crate::HttpOutcome)s.
///
/// # Replaying the body
///
/// A retry sends the request again, so its body must be replayable ([`ReplayBody`](crate::tower::ReplayBody)): full
/// bodies (`Full`, `Bytes`, `String`, `Vec<u8>`, `()`, `Empty`) are; a streaming body is
/// not. When the body cannot be replayed the request is sent once and that first
/// attempt's result is returned: a success as it is, a failure as a [`RetryError`](crate::RetryError) whose
/// [`refusal`](crate::RetryError::refusal) is [`Refusal::BodyNotReplayable`](crate::Refusal::BodyNotReplayable) when the policy would
/// have retried it. A retry is never made with a body that was already consumed.
///
/// # Output
///
/// As with every adapter, `Ok` is a response the policy calls a success, and anything
/// else a [`RetryError`](crate::RetryError) holding the last response or error: a `400` comes back as
/// `Err`, with the response inside ([`RetryError::into_last`](crate::RetryError::into_last)). There is no per-attempt
/// timeout here; put tower's timeout layer below this one and report its error as a
/// transport timeout.
///
/// The layer is a [`Retrying`] like every other adapter's call, so it takes the same
/// options (`.sleeper(..)`, `.notify(..)`, `.classify_with(..)`, `.rng(..)`,
/// `.idempotent()`); each request gets its own copy of them.
///
/// Wraps services in a [`RetryService`] under one policy (whose budget every request
/// through the layer shares). It is a [`Retrying`], so it takes the options every adapter
/// takes.
///
/// ```
/// use redial::{Policy, Preset};
/// use redial::sleep::TokioSleeper;
/// use redial::tower::RetryLayer;
///
/// let layer = RetryLayer::new(Policy::preset(Preset::Anthropic))
///     .sleeper(TokioSleeper)
///     .notify(|event| eprintln!("{event}"));
/// # drop(layer);
/// ```
pub type RetryLayer<P, S = DefaultSleeper, C = HttpClassify, N = NoNotify, M = WrapInRetryError> =
    Retrying<TowerLayer<M>, P, S, C, N>;

/// The tower adapter's part of a [`RetryLayer`]: how its services answer (`M`, a
/// [`TowerMode`](super::TowerMode)); each request brings the rest.
#[derive(Clone, Copy, Debug, Default)]
pub struct TowerLayer<M = WrapInRetryError>(M);

impl<S, M> WithSleeper<S> for TowerLayer<M> {
    type Output = Self;

    #[inline(always)]
    fn with_sleeper(self) -> Self {
        self
    }
}

impl<P> Retrying<TowerLayer, P, DefaultSleeper, HttpClassify, NoNotify> {
    /// A layer for `policy` (an owned `Policy`, usually: services are `'static`), with the
    /// default sleeper and no hook.
    ///
    /// ```
    /// let layer = redial::tower::RetryLayer::new(redial::Policy::default());
    /// # drop(layer);
    /// ```
    #[inline(always)]
    pub fn new(policy: P) -> Self {
        Retrying::start(policy, TowerLayer(WrapInRetryError))
    }
}

impl<P, S, C, N> Retrying<TowerLayer, P, S, C, N> {
    /// Its services keep the inner service's types: every response comes back `Ok` (the
    /// last one, once the policy stops, whatever its status), and the last error as it
    /// is, as tower's own `Retry` does. The stop reason and the request ids are then not
    /// reported; the notify hook and `tracing` still hear every retry.
    ///
    /// ```
    /// use tower::Layer;
    /// let service = redial::tower::RetryLayer::new(redial::Policy::default())
    ///     .keep_inner_types()
    ///     .layer(tower::service_fn(|_req: http::Request<String>| async {
    ///         Ok::<_, std::io::Error>(http::Response::new(()))
    ///     }));
    /// # drop(service);
    /// ```
    #[inline(always)]
    pub fn keep_inner_types(self) -> Retrying<TowerLayer<KeepInnerTypes>, P, S, C, N> {
        Retrying {
            options: self.options,
            sleeper: self.sleeper,
            attempts: TowerLayer(KeepInnerTypes),
        }
    }
}

impl<Svc, P: Clone, S: Sleeper + Clone, C: Clone, N: Clone, M: Clone> tower_layer::Layer<Svc>
    for Retrying<TowerLayer<M>, P, S, C, N>
{
    type Service = RetryService<Svc, P, S, C, N, M>;

    fn layer(&self, inner: Svc) -> Self::Service {
        RetryService::from_layer(inner, self)
    }
}

/// Each clone of a layer shares the policy's budget and starts from the same options.
impl<P: Clone, S: Clone, C: Clone, N: Clone, M: Clone> Clone
    for Retrying<TowerLayer<M>, P, S, C, N>
{
    fn clone(&self) -> Self {
        Retrying {
            options: self.options.clone(),
            sleeper: self.sleeper.clone(),
            attempts: self.attempts.clone(),
        }
    }
}
