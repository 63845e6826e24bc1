//! tower (feature `tower`): the retry layer, its service and its future.

pub(crate) mod future;
pub(crate) mod layer;
pub(crate) mod mode;
pub(crate) mod replay;
pub(crate) mod reserve;

use future::RetryServiceFuture;
use layer::TowerLayer;
use mode::{TowerMode, WrapInRetryError};
use replay::ReplayBody;
use reserve::Reserved;

use core::task::{Context, Poll};

use crate::pacer::PacerKey;

use super::classify::Classify;
use super::driver::Driver;
use super::notify::Notify;
use super::options::{AsPolicy, Options};
#[cfg(doc)]
use super::retry_error::{Refusal, RetryError};
use super::retrying::Retrying;
use super::sleep::Sleeper;

/// A service that retries requests under a policy. Made by
/// [`RetryLayer`](crate::tower::RetryLayer)'s
/// [`layer`](tower_layer::Layer::layer), which gives it the layer's options.
///
/// ```
/// use tower::Layer;
/// let service = redial::tower::RetryLayer::new(redial::Policy::default()).layer(tower::service_fn(
///     |_req: http::Request<String>| async { Ok::<_, std::io::Error>(http::Response::new(())) },
/// ));
/// # drop(service);
/// ```
///
/// While the policy's rate pacer paces, `poll_ready` takes the next call's slot and is not
/// ready until it comes: the pacer's wait is backpressure, as a concurrency limit's is. It
/// asks the pacer of the last request's host (the request it readies is not known yet);
/// a call to another host gives the slot back and waits in its own pacer instead. A clone
/// starts with no slot, and a slot never used is given back.
#[derive(Debug)]
pub struct RetryService<Svc, P, S: Sleeper, C, N, M = WrapInRetryError> {
    inner: Svc,
    options: Options<P, C, N>,
    sleeper: S,
    mode: core::marker::PhantomData<M>,
    /// The slot `poll_ready` took for the next call.
    reserved: Reserved<S::Sleep>,
    /// The scope of the last request: `poll_ready` asks its pacer.
    scope: Option<PacerKey>,
}

/// A clone shares the policy (its budget and pacers) and has no slot of its own yet.
impl<Svc: Clone, P: Clone, S: Sleeper + Clone, C: Clone, N: Clone, M> Clone
    for RetryService<Svc, P, S, C, N, M>
{
    fn clone(&self) -> Self {
        RetryService {
            inner: self.inner.clone(),
            options: self.options.clone(),
            sleeper: self.sleeper.clone(),
            mode: core::marker::PhantomData,
            reserved: Reserved::None,
            scope: self.scope,
        }
    }
}

impl<Svc, P, S: Sleeper, C, N, M> RetryService<Svc, P, S, C, N, M> {
    /// The wrapped service.
    ///
    /// ```
    /// # use tower::Layer;
    /// let service = redial::tower::RetryLayer::new(redial::Policy::default()).layer(());
    /// let _inner: &() = service.get_ref();
    /// ```
    pub fn get_ref(&self) -> &Svc {
        &self.inner
    }
}

impl<Svc, P, S, C, N, M, B, RB> tower_service::Service<http::Request<B>>
    for RetryService<Svc, P, S, C, N, M>
where
    Svc: tower_service::Service<http::Request<B>, Response = http::Response<RB>> + Clone,
    P: AsPolicy,
    S: Sleeper + Clone,
    C: Classify<http::Response<RB>, Svc::Error> + Clone,
    N: Notify + Clone,
    M: TowerMode<http::Response<RB>, Svc::Error>,
    B: ReplayBody,
{
    type Response = http::Response<RB>;
    type Error = M::Error;
    type Future = RetryServiceFuture<Svc, http::Request<B>, P, S, C, N, M>;

    /// Ready once the rate pacer gives the next call a slot (at once while it does not
    /// pace). The inner service's readiness is not asked here: each call drives the
    /// readiness of its own clone before each attempt, so that a retry waits for it too.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        let policy = self.options.policy.borrow();
        let ready = self.reserved.poll(cx, policy, self.scope, &self.sleeper);
        ready.map(Ok)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let mut options = self.options.clone();
        options.read_request(request.method(), request.headers(), request.uri().host());
        // A seeded generator gives each request its own stream of draws.
        if let Some(rng) = &mut self.options.rng {
            options.rng = Some(rng.fork());
        }
        // The slot `poll_ready` took is this call's if its request paces in that pacer.
        self.scope = options.facts.scope();
        let pacer = options.policy.borrow().shared_pacer_for(self.scope);
        let driver = match self.reserved.take_for(pacer) {
            true => Driver::prepaid(),
            false => Driver::default(),
        };
        let inner = self.inner.clone();
        RetryServiceFuture::new(inner, request, self.sleeper.clone(), options, driver)
    }
}

impl<Svc, P, S: Sleeper, C, N, M> RetryService<Svc, P, S, C, N, M> {
    pub(crate) fn from_layer(inner: Svc, layer: &Retrying<TowerLayer<M>, P, S, C, N>) -> Self
    where
        P: Clone,
        S: Clone,
        C: Clone,
        N: Clone,
    {
        RetryService {
            inner,
            options: layer.options.clone(),
            sleeper: layer.sleeper.clone(),
            mode: core::marker::PhantomData,
            reserved: Reserved::None,
            scope: None,
        }
    }
}
