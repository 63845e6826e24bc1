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
    /// `None` once redeemed or released: nothing left to give back.
    pacer: Option<Arc<Pacer>>,
}

impl Slot {
    pub(crate) fn new(ticket: Ticket, pacer: Arc<Pacer>) -> Slot {
        Slot {
            ticket,
            pacer: Some(pacer),
        }
    }

    pub(crate) fn ticket(&self) -> Ticket {
        self.ticket
    }

    /// The place moved (the rate was cut while it waited): the same wait, a new ticket.
    pub(crate) fn renew(mut self, ticket: Ticket) -> Slot {
        Slot {
            ticket,
            pacer: self.pacer.take(),
        }
    }

    /// The attempt went in its place.
    pub(crate) fn redeem(mut self) {
        self.pacer = None;
    }

    /// The call stops before its place came: the place goes to the next caller.
    pub(crate) fn release(mut self, now: Instant) {
        if let Some(pacer) = self.pacer.take() {
            pacer.release(now);
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // Dropped while waiting (a cancelled future, a panic unwinding): the adapter's
        // clock is out of reach here, and the pacer only needs to know the place is free.
        if let Some(pacer) = self.pacer.take() {
            pacer.release(Instant::now());
        }
    }
}
