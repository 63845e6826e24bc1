//! The rate pacer's wait as backpressure: a service's `poll_ready` takes the next call's
//! slot, and is not ready until it comes.
//!
//! Which pacer: the one of the last request's scope (its host), since `poll_ready` comes
//! before the request it readies. A call whose request paces elsewhere gives the slot
//! back and asks its own pacer, as a call does without a reservation. A clone of the
//! service starts with no reservation (as tower's `ConcurrencyLimit` does with its
//! permit), and a reservation dropped unused is given back.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;

use crate::adapters::driver::{Grant, Slot};
use crate::adapters::sleep::Sleeper;
use crate::pacer::{Acquire, Pacer, PacerKey};
use crate::Policy;

/// What `poll_ready` holds for the next call.
pub(crate) enum Reserved<Sl> {
    /// Nothing: the pacer lets calls go, or no `poll_ready` came since the last call.
    None,
    /// Waiting for the slot taken in the pacer. The wait is boxed: the service is not
    /// pinned, and only a paced service waits.
    Waiting { slot: Slot, sleep: Pin<Box<Sl>> },
    /// The slot came: the next call's first attempt goes in it.
    Ready(Grant),
}

impl<Sl> core::fmt::Debug for Reserved<Sl> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Reserved::None => "None",
            Reserved::Waiting { .. } => "Waiting",
            Reserved::Ready(_) => "Ready",
        })
    }
}

impl<Sl: Future<Output = ()>> Reserved<Sl> {
    /// Ready once the pacer of `scope` gives the next call a slot (at once, if it does not
    /// pace). A slot past the pacer's `max_wait` reserves nothing: the call itself then
    /// stops with `rate_limited`.
    pub(crate) fn poll<S>(
        &mut self,
        cx: &mut Context<'_>,
        policy: &Policy,
        scope: Option<PacerKey>,
        sleeper: &S,
    ) -> Poll<()>
    where
        S: Sleeper<Sleep = Sl>,
    {
        loop {
            match self {
                Reserved::Ready(_) => return Poll::Ready(()),
                Reserved::None => {
                    let Some(pacer) = policy.shared_pacer_for(scope) else {
                        return Poll::Ready(());
                    };
                    if !pacer.is_active() {
                        return Poll::Ready(());
                    }
                    *self = match pacer.acquire(sleeper.now(), None) {
                        Acquire::Go => Reserved::Ready(Grant::new(pacer.clone())),
                        Acquire::Wait { wait, ticket } => Reserved::Waiting {
                            slot: Slot::new(ticket, pacer.clone()),
                            sleep: Box::pin(sleeper.sleep(wait)),
                        },
                        Acquire::RateLimited { .. } => return Poll::Ready(()),
                    };
                }
                Reserved::Waiting { slot, sleep } => {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    match slot
                        .pacer()
                        .map(|p| p.ready(sleeper.now(), slot.ticket(), None))
                    {
                        // Not come yet: another sleep, of at most `Pacer::RECHECK`.
                        Some(Acquire::Wait { wait, .. }) => sleep.set(sleeper.sleep(wait)),
                        // With no deadline, `ready` answers `Go` or `Wait`.
                        Some(_) => {
                            if let Reserved::Waiting { slot, .. } =
                                core::mem::replace(self, Reserved::None)
                            {
                                *self = Reserved::Ready(slot.granted());
                            }
                        }
                        None => *self = Reserved::None,
                    }
                }
            }
        }
    }

    /// Hands the slot to a call whose request paces with `pacer`: whether its first
    /// attempt has its slot. Any other reservation is given back.
    pub(crate) fn take_for(&mut self, pacer: Option<&Arc<Pacer>>) -> bool {
        match core::mem::replace(self, Reserved::None) {
            Reserved::Ready(grant) if pacer.is_some_and(|p| grant.is_in(p)) => {
                grant.redeem();
                true
            }
            // Dropped here: the place goes back to the pacer.
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use core::task::Waker;
    use core::time::Duration;
    use std::time::Instant;

    use super::*;
    use crate::pacer::PacerConfig;

    fn paced_policy(now: Instant) -> Policy {
        let policy = Policy::builder()
            .pace(PacerConfig::default())
            .build()
            .expect("valid");
        // One slot a second, for a minute.
        let pacer = policy.pacer().expect("on");
        pacer.set_fleet_rate(1.0, now, Duration::from_secs(60));
        policy
    }

    /// `poll_ready` once, with a timer that never fires.
    fn reserve(policy: &Policy) -> Reserved<core::future::Pending<()>> {
        let sleeper: fn(Duration) -> core::future::Pending<()> = |_| core::future::pending();
        let mut reserved = Reserved::None;
        let mut cx = Context::from_waker(Waker::noop());
        let _ = reserved.poll(&mut cx, policy, None, &sleeper);
        reserved
    }

    #[test]
    fn a_slot_is_taken_for_the_next_call_and_given_back_unused() {
        let now = Instant::now();
        let policy = paced_policy(now);
        let pacer = policy.shared_pacer_for(None).expect("on");
        // The first slot is free: ready, and a call that paces there goes in it.
        let mut first = reserve(&policy);
        assert!(matches!(first, Reserved::Ready(_)), "{first:?}");
        assert!(first.take_for(Some(pacer)));
        assert!(matches!(first, Reserved::None));
        // The next is a second away: not ready, its place held.
        let waiting = reserve(&policy);
        assert!(matches!(waiting, Reserved::Waiting { .. }), "{waiting:?}");
        let behind = place(pacer, now);
        assert!(behind >= 2.0, "queued behind it: {behind}");
        pacer.release(now);
        // The service dropped while it waits: the place goes to the next caller.
        drop(waiting);
        let next = place(pacer, now);
        // (About 1, where 2 were taken: the test's clock is a moment behind.)
        assert!(next < 1.1, "{next}");
        pacer.release(now);
        // A call that paces elsewhere gives a waiting place back too.
        let mut waiting = reserve(&policy);
        assert!(!waiting.take_for(Some(&Arc::new(Pacer::default()))));
        let next = place(pacer, now);
        assert!(next < 1.1, "{next}");
    }

    /// The place in the queue a call asking at `now` is given (a wait is at most
    /// `Pacer::RECHECK`, so the place says how far back it is).
    fn place(pacer: &Pacer, now: Instant) -> f64 {
        match pacer.acquire(now, None) {
            Acquire::Wait { ticket, .. } => ticket.place(),
            other => panic!("a place in the queue, not {other:?}"),
        }
    }
}
