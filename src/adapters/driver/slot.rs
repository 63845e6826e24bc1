//! A place the rate pacer reserved for a waiting attempt, given back if the call is
//! dropped while it waits (the design's "cancel-safe": a dropped call gives its token
//! back, so the calls behind it lose nothing).

use std::sync::Arc;
use std::time::Instant;

use crate::pacer::{Pacer, Ticket};

/// The reserved place and the pacer it is in. Used ([`Slot::redeem`]) or given back
/// ([`Slot::release`]) by the driver; dropped otherwise, which gives it back.
#[derive(Debug)]
pub(crate) struct Slot {
    ticket: Ticket,
    grant: Grant,
}

impl Slot {
    pub(crate) fn new(ticket: Ticket, pacer: Arc<Pacer>) -> Slot {
        Slot {
            ticket,
            grant: Grant::new(pacer),
        }
    }

    pub(crate) fn ticket(&self) -> Ticket {
        self.ticket
    }

    /// The pacer the place is in.
    #[cfg(feature = "tower")]
    pub(crate) fn pacer(&self) -> Option<&Arc<Pacer>> {
        self.grant.pacer.as_ref()
    }

    /// The slot has not come yet (a ticket for the same place): the same wait goes on.
    pub(crate) fn renew(self, ticket: Ticket) -> Slot {
        Slot {
            ticket,
            grant: self.grant,
        }
    }

    /// The place came: what is left is a slot taken, not yet used.
    #[cfg(feature = "tower")]
    pub(crate) fn granted(self) -> Grant {
        self.grant
    }

    /// The attempt went in its place.
    pub(crate) fn redeem(self) {
        self.grant.redeem();
    }

    /// The call stops before its place came: the place goes to the next caller.
    pub(crate) fn release(self, now: Instant) {
        self.grant.release(now);
    }
}

/// A slot taken in a pacer for an attempt not sent yet (a tower service's `poll_ready`
/// takes one for its next call): used ([`Grant::redeem`]) or given back, on drop too.
/// Given back after its time came, only its place in the queue returns: the bucket's
/// interval it began is spent (the pacer keeps no record to undo it).
#[derive(Debug)]
pub(crate) struct Grant {
    /// `None` once redeemed or released: nothing left to give back.
    pacer: Option<Arc<Pacer>>,
}

impl Grant {
    pub(crate) fn new(pacer: Arc<Pacer>) -> Grant {
        Grant { pacer: Some(pacer) }
    }

    /// Whether the slot is in `pacer`.
    #[cfg(feature = "tower")]
    pub(crate) fn is_in(&self, pacer: &Arc<Pacer>) -> bool {
        self.pacer.as_ref().is_some_and(|p| Arc::ptr_eq(p, pacer))
    }

    /// The attempt went in its place.
    pub(crate) fn redeem(mut self) {
        self.pacer = None;
    }

    /// The place will not be used: it goes to the next caller.
    pub(crate) fn release(mut self, now: Instant) {
        if let Some(pacer) = self.pacer.take() {
            pacer.release(now);
        }
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        // Dropped while waiting (a cancelled future, a panic unwinding): the adapter's
        // clock is out of reach here, and the pacer only needs to know the place is free.
        if let Some(pacer) = self.pacer.take() {
            pacer.release(Instant::now());
        }
    }
}
