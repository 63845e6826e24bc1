//! [`Counts`]: what a budget has seen, as plain additive numbers, so that a fleet can sum
//! them (the Redis exchange adds each process's deltas to the fleet's time buckets).

/// Attempt outcomes and retries, as plain counters that add up across processes and time.
///
/// This is the currency between a [`Budget`](crate::budget::Budget) and whatever shares its state
/// with a fleet: [`Budget::take_local_deltas`](crate::budget::Budget::take_local_deltas) hands out
/// what this process saw since the last take, the exchange adds those deltas to the fleet's
/// totals per time bucket, and [`Budget::set_fleet_view`](crate::budget::Budget::set_fleet_view)
/// hands the fleet's totals over the budget's [`window`](crate::budget::BudgetConfig::window)
/// back. Every field counts events; adding two `Counts` (field by field, saturating) is the
/// only arithmetic the exchange needs.
///
/// An attempt's outcome is exactly one of `successes`, `failures` and `overloaded`;
/// `first_attempts` and `retries` say which attempts were made (each first attempt is
/// counted when its outcome is known, each retry when the budget allows it).
///
/// ```
/// use redial::budget::Counts;
///
/// let a = Counts { first_attempts: 10, successes: 9, overloaded: 1, ..Counts::default() };
/// let b = Counts { first_attempts: 5, retries: 1, successes: 5, failures: 1, ..Counts::default() };
/// let fleet = a.saturating_add(b);
/// assert_eq!(fleet.first_attempts, 15);
/// assert_eq!(fleet.attempts(), 16);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Counts {
    /// Calls begun: first attempts whose outcome is known.
    pub first_attempts: u64,
    /// Retries the budget allowed (each one an attempt made after a failure).
    pub retries: u64,
    /// Attempts that succeeded.
    pub successes: u64,
    /// Attempts that failed without saying the server is overloaded (a 500, a timeout, a
    /// reset): bad luck, as far as the client can tell.
    pub failures: u64,
    /// Attempts that failed saying the server is overloaded: a 503, a 529 or an
    /// `overloaded_error`.
    pub overloaded: u64,
}

impl Counts {
    /// Attempt outcomes in all: `successes + failures + overloaded`.
    ///
    /// ```
    /// let c = redial::budget::Counts { successes: 2, failures: 1, overloaded: 3, ..Default::default() };
    /// assert_eq!(c.attempts(), 6);
    /// ```
    pub const fn attempts(&self) -> u64 {
        self.successes
            .saturating_add(self.failures)
            .saturating_add(self.overloaded)
    }

    /// Field by field, saturating.
    ///
    /// ```
    /// let max = redial::budget::Counts { retries: u64::MAX, ..Default::default() };
    /// assert_eq!(max.saturating_add(max).retries, u64::MAX);
    /// ```
    pub const fn saturating_add(self, other: Counts) -> Counts {
        Counts {
            first_attempts: self.first_attempts.saturating_add(other.first_attempts),
            retries: self.retries.saturating_add(other.retries),
            successes: self.successes.saturating_add(other.successes),
            failures: self.failures.saturating_add(other.failures),
            overloaded: self.overloaded.saturating_add(other.overloaded),
        }
    }
}
