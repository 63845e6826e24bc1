//! The layer: a policy, a sleeper and a hook, applied to any service.

use super::RetryService;
use crate::adapters::hooks::{Event, NoNotify};
use crate::adapters::sleep::{DefaultSleeper, Sleeper};

/// Wraps services in a [`RetryService`] under one policy (whose budget every request
/// through the layer shares).
///
/// ```
/// use redial::adapters::{tower::RetryLayer, TokioSleeper};
/// use redial::{Policy, Preset};
///
/// let layer = RetryLayer::new(Policy::preset(Preset::Anthropic))
///     .sleeper(TokioSleeper)
///     .notify(|event| eprintln!("{event}"));
/// # drop(layer);
/// ```
#[derive(Clone, Debug)]
pub struct RetryLayer<P, S = DefaultSleeper, N = NoNotify> {
    policy: P,
    sleeper: S,
    notify: N,
}

impl<P> RetryLayer<P> {
    /// A layer for `policy` (an owned `Policy`, usually: services are `'static`), with the
    /// default sleeper and no hook.
    ///
    /// ```
    /// let layer = redial::adapters::tower::RetryLayer::new(redial::Policy::default());
    /// # drop(layer);
    /// ```
    pub fn new(policy: P) -> Self {
        RetryLayer {
            policy,
            sleeper: DefaultSleeper::default(),
            notify: NoNotify,
        }
    }
}

impl<P, S, N> RetryLayer<P, S, N> {
    /// Waits between attempts with this sleeper.
    ///
    /// ```
    /// # use redial::adapters::{tower::RetryLayer, FuturesTimerSleeper};
    /// let layer = RetryLayer::new(redial::Policy::default()).sleeper(FuturesTimerSleeper);
    /// # drop(layer);
    /// ```
    pub fn sleeper<S2: Sleeper + Clone>(self, sleeper: S2) -> RetryLayer<P, S2, N> {
        RetryLayer {
            policy: self.policy,
            sleeper,
            notify: self.notify,
        }
    }

    /// Calls `notify` before each retry's wait (each request gets a clone of it).
    ///
    /// ```
    /// # use redial::adapters::tower::RetryLayer;
    /// let layer = RetryLayer::new(redial::Policy::default()).notify(|event| eprintln!("{event}"));
    /// # drop(layer);
    /// ```
    pub fn notify<F>(self, notify: F) -> RetryLayer<P, S, F>
    where
        F: FnMut(&Event<'_>) + Clone,
    {
        RetryLayer {
            policy: self.policy,
            sleeper: self.sleeper,
            notify,
        }
    }
}

impl<Svc, P: Clone, S: Clone, N: Clone> tower_layer::Layer<Svc> for RetryLayer<P, S, N> {
    type Service = RetryService<Svc, P, S, N>;

    fn layer(&self, inner: Svc) -> Self::Service {
        RetryService::from_parts(
            inner,
            self.policy.clone(),
            self.sleeper.clone(),
            self.notify.clone(),
        )
    }
}
