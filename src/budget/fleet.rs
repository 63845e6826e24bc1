//! The budget as the Redis exchange shares it (feature `redis`): [`FleetCounters`] for
//! [`Budget`], so that `Policy::with_fleet` shares a policy's budget with every process that
//! names the same fleet key.
//!
//! This is the exchange's side (it runs on the exchange's thread, never in a decision), so
//! it may read the monotonic clock: the fleet view's freshness is measured in the
//! decisions' clock, and the exchange only knows the wall clock.

use core::time::Duration;
use std::time::{Instant, SystemTime};

use super::{Budget, Counts};
use crate::fleet::FleetCounters;

/// The order of the counters in the exchange's slices.
fn to_slice(c: Counts, out: &mut [u64]) {
    let fields = [
        c.first_attempts,
        c.retries,
        c.successes,
        c.failures,
        c.overloaded,
    ];
    for (o, v) in out.iter_mut().zip(fields) {
        *o = v;
    }
}

fn from_slice(totals: &[u64]) -> Counts {
    let at = |i: usize| totals.get(i).copied().unwrap_or(0);
    Counts {
        first_attempts: at(0),
        retries: at(1),
        successes: at(2),
        failures: at(3),
        overloaded: at(4),
    }
}

impl FleetCounters for Budget {
    fn len(&self) -> usize {
        match self.config().kind {
            // The bucket keeps no counts: a fleet shares only its gate.
            super::BudgetKind::Aws => 0,
            super::BudgetKind::Adaptive => 5,
        }
    }

    fn bucket(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn window(&self) -> u32 {
        // Whole seconds, at least one: the fleet's window covers the local one.
        let w = self.config().window;
        u32::try_from(w.as_secs().saturating_add(u64::from(w.subsec_nanos() > 0)))
            .unwrap_or(u32::MAX)
            .max(1)
    }

    fn take_local_deltas(&self, out: &mut [u64]) {
        to_slice(Budget::take_local_deltas(self), out);
    }

    fn set_fleet_view(&self, totals: &[u64], _at: SystemTime) {
        // The exchange calls `fall_back_to_local` when a sync fails; a view also goes stale
        // by itself after four windows, should the exchange stop without saying so.
        let fresh_for = self.config().window.saturating_mul(4);
        Budget::set_fleet_view(self, from_slice(totals), Instant::now(), fresh_for);
    }

    fn fall_back_to_local(&self) {
        self.clear_fleet_view();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BudgetConfig;

    #[test]
    fn the_exchange_sees_the_counts_in_a_fixed_order_and_hands_the_fleet_back() {
        let b = Budget::new(BudgetConfig::default());
        assert_eq!(FleetCounters::len(&b), 5);
        assert_eq!(FleetCounters::window(&b), 30);
        let mut out = [0u64; 5];
        FleetCounters::take_local_deltas(&b, &mut out);
        assert_eq!(out, [0; 5]);
        let fleet = [1000, 10, 990, 5, 5];
        FleetCounters::set_fleet_view(&b, &fleet, SystemTime::now());
        b.fall_back_to_local();
        assert_eq!(FleetCounters::len(&Budget::new(BudgetConfig::aws())), 0);
    }
}
