//! The budget's side of the exchange: its [`Counts`] as the fleet's counters.

use core::time::Duration;
use std::time::Instant;

use crate::budget::{Budget, Counts};

use super::FleetCounters;

use super::FleetConfig;

const BUCKETS: u32 = FleetConfig::BUDGET_BUCKETS;

impl FleetCounters for Budget {
    fn len(&self) -> usize {
        5
    }

    fn bucket(&self) -> Duration {
        (self.config().window / BUCKETS).max(Duration::from_millis(100))
    }

    fn window(&self) -> u32 {
        BUCKETS
    }

    fn take_local_deltas(&self, out: &mut [u64]) {
        let c = Budget::take_local_deltas(self);
        let fields = [
            c.first_attempts,
            c.retries,
            c.successes,
            c.failures,
            c.overloaded,
        ];
        for (o, f) in out.iter_mut().zip(fields) {
            *o = f;
        }
    }

    fn set_fleet_view(&self, totals: &[u64], latest: &[u64], at: Instant, fresh_for: Duration) {
        Budget::set_fleet_view(self, counts(totals), counts(latest), at, fresh_for);
    }

    fn fall_back_to_local(&self) {
        // A view that is stale at once: decisions read the local window.
        let none = Counts::default();
        Budget::set_fleet_view(self, none, none, Instant::now(), Duration::ZERO);
    }
}

/// The counters as [`Counts`], in the order `take_local_deltas` writes them.
fn counts(fields: &[u64]) -> Counts {
    let get = |i: usize| fields.get(i).copied().unwrap_or(0);
    Counts {
        first_attempts: get(0),
        retries: get(1),
        successes: get(2),
        failures: get(3),
        overloaded: get(4),
    }
}
