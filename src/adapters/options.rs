//! The options every adapter shares ([`Options`]), and the sealed traits through which the
//! one builder, [`Retrying`](super::retrying::Retrying), talks to each adapter's part.

use core::borrow::Borrow;

use fastrand::Rng;

use crate::classify::RequestFacts;
use crate::machine::Rules;
use crate::Policy;

/// What an adapter takes as its policy: a `&Policy`, or an owned [`Policy`] for a call or
/// a service that must be `'static`. A clone shares the budget, so both draw on the same
/// bucket. Every type that lends a policy and its rules is one; nothing to implement.
///
/// Sealed on purpose: a bound in public signatures, in a private module, so no
/// user can name it; every type it stands for implements it already.
pub trait AsPolicy: Borrow<Policy> + AsRef<Rules> + Clone {}

impl<P: Borrow<Policy> + AsRef<Rules> + Clone> AsPolicy for P {}

/// The settings of one retried call (or, in a tower layer, of every call through it),
/// less the sleeper, which the adapter holds beside them to read its clocks.
#[derive(Clone, Debug)]
pub struct Options<P, C, N> {
    pub(crate) policy: P,
    pub(crate) classify: C,
    pub(crate) notify: N,
    pub(crate) facts: RequestFacts,
    /// The caller's seeded generator; without one, a fresh one at the first retry.
    pub(crate) rng: Option<Rng>,
}

impl<P, C, N> Options<P, C, N> {
    /// The same options with other hooks.
    #[inline(always)]
    pub(crate) fn map<C2, N2>(self, f: impl FnOnce(C, N) -> (C2, N2)) -> Options<P, C2, N2> {
        let (classify, notify) = f(self.classify, self.notify);
        Options {
            policy: self.policy,
            classify,
            notify,
            facts: self.facts,
            rng: self.rng,
        }
    }
}

impl<P: AsPolicy, C, N> Options<P, C, N> {
    /// What an adapter that sees the request learns from it, once per call: whether it is
    /// safe to retry (unless `.idempotent()` said so for every request), and the scope of
    /// its rate limit (the one the caller named, else its `host` when the policy paces;
    /// a policy without a pacer hashes nothing).
    #[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
    #[inline]
    pub(crate) fn read_request(
        &mut self,
        method: &http::Method,
        headers: &http::HeaderMap,
        host: Option<&str>,
    ) {
        use crate::pacer::PacerKey;
        let named = self.facts.scope();
        if !self.facts.is_idempotent() {
            self.facts = RequestFacts::from_parts(method, headers);
        }
        let paces = self.policy.borrow().pacer().is_some();
        let scope = named.or_else(|| host.filter(|_| paces).map(PacerKey::host));
        if let Some(scope) = scope {
            self.facts = self.facts.with_scope(scope);
        }
    }
}

/// The result type an adapter's attempts produce, `Result<Ok, Err>`: what a classifier
/// reads. Implemented by every adapter part that knows it.
pub trait AttemptOutput {
    /// What a successful attempt gives (a response).
    type Ok;
    /// What a failed attempt gives (a client error).
    type Err;
}

/// An adapter part that can take another sleeper: the async parts change the type of the
/// wait they hold; the others stay as they are.
pub trait WithSleeper<S> {
    /// The part, holding waits of `S`.
    type Output;
    /// The part, ready to wait with `S`. Nothing has run yet.
    fn with_sleeper(self) -> Self::Output;
}
