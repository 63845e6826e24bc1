//! The shared retry budget: what stops a fleet of clients from multiplying the load on a
//! server that is already down.
//!
//! Limits per call (`max_attempts`) do not bound the load a fleet sends: with 3 attempts
//! per call, every client triples its traffic exactly when the server can least take it,
//! and the outage feeds itself. A budget bounds retries across calls instead. It is a token
//! bucket, shared by every clone of a [`Policy`](crate::Policy) (so by every call of a
//! service that shares one policy), with the AWS SDKs' retry-quota rules:
//!
//! - it starts full, at `capacity` (500);
//! - a retry takes `retry_cost` (5), or `timeout_cost` (10) after a transport timeout;
//! - a call that succeeds on its first attempt puts back `success_refund` (1), and a call
//!   that succeeds after retries puts back what its retries took; never above `capacity`;
//! - when the bucket cannot pay, the retry is not made (`budget_exhausted`); a first attempt
//!   never waits for the bucket.
//!
//! While the server is healthy the bucket stays full; when every call fails, it allows 100
//! retries and then only 1 retry per 5 successful first attempts.
//!
//! The bucket is one atomic integer: lock-free, and safe to charge from any number of
//! threads at once.
//!
//! ```
//! use redial::{Budget, BudgetConfig};
//!
//! let budget = Budget::new(BudgetConfig::default());
//! let shared = budget.clone();
//! assert!(shared.try_withdraw(5));
//! assert_eq!(budget.available(), 495);
//! budget.deposit(100);
//! assert_eq!(budget.available(), 500, "never above capacity");
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// The budget's settings (the `[budget]` table of a policy file).
///
/// The default is the AWS SDKs' standard retry quota: 500 / 5 / 10 / 1, enabled.
///
/// ```
/// let c = redial::BudgetConfig::default();
/// assert_eq!((c.capacity, c.retry_cost, c.timeout_cost, c.success_refund), (500, 5, 10, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct BudgetConfig {
    /// Whether retries are charged at all.
    pub enabled: bool,
    /// Tokens the bucket holds when full (and at the start).
    pub capacity: u32,
    /// Tokens a retry takes.
    pub retry_cost: u32,
    /// Tokens a retry after a transport timeout takes.
    pub timeout_cost: u32,
    /// Tokens a call that succeeds on its first attempt puts back.
    pub success_refund: u32,
}

impl BudgetConfig {
    /// A budget with these numbers, enabled.
    ///
    /// ```
    /// let c = redial::BudgetConfig::new(100, 10, 20, 1);
    /// assert!(c.enabled);
    /// ```
    pub const fn new(
        capacity: u32,
        retry_cost: u32,
        timeout_cost: u32,
        success_refund: u32,
    ) -> Self {
        BudgetConfig {
            enabled: true,
            capacity,
            retry_cost,
            timeout_cost,
            success_refund,
        }
    }

    /// The same numbers, switched off.
    ///
    /// ```
    /// assert!(!redial::BudgetConfig::default().disabled().enabled);
    /// ```
    pub const fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }
}

impl Default for BudgetConfig {
    fn default() -> Self {
        // AWS SDKs' standard retry mode: RETRY_COST 5, TIMEOUT_RETRY_COST 10,
        // NO_RETRY_INCREMENT 1, INITIAL_RETRY_TOKENS 500.
        BudgetConfig::new(500, 5, 10, 1)
    }
}

/// A token bucket shared by every clone (see the [module docs](self)).
///
/// ```
/// let budget = redial::Budget::new(redial::BudgetConfig::new(10, 5, 10, 1));
/// assert!(budget.try_withdraw(10));
/// assert!(!budget.try_withdraw(5), "an empty bucket refuses, and takes nothing");
/// assert_eq!(budget.available(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Budget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    tokens: AtomicU32,
    config: BudgetConfig,
}

impl Budget {
    /// A full bucket.
    ///
    /// ```
    /// assert_eq!(redial::Budget::new(Default::default()).available(), 500);
    /// ```
    pub fn new(config: BudgetConfig) -> Budget {
        Budget {
            shared: Arc::new(Shared {
                tokens: AtomicU32::new(config.capacity),
                config,
            }),
        }
    }

    /// The settings.
    ///
    /// ```
    /// let b = redial::Budget::new(Default::default());
    /// assert_eq!(b.config().retry_cost, 5);
    /// ```
    pub fn config(&self) -> &BudgetConfig {
        &self.shared.config
    }

    /// Tokens left now.
    ///
    /// ```
    /// assert_eq!(redial::Budget::new(Default::default()).available(), 500);
    /// ```
    #[inline]
    pub fn available(&self) -> u32 {
        self.shared.tokens.load(Ordering::Relaxed)
    }

    /// Takes `cost` tokens if the bucket holds them all; otherwise takes nothing and
    /// returns false.
    ///
    /// ```
    /// let b = redial::Budget::new(redial::BudgetConfig::new(7, 5, 10, 1));
    /// assert!(b.try_withdraw(5));
    /// assert!(!b.try_withdraw(5));
    /// ```
    #[inline]
    pub fn try_withdraw(&self, cost: u32) -> bool {
        // Relaxed is enough: the bucket guards no other memory, only its own count.
        self.shared
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                t.checked_sub(cost)
            })
            .is_ok()
    }

    /// Puts back `amount` tokens, never above capacity.
    ///
    /// ```
    /// let b = redial::Budget::new(redial::BudgetConfig::new(10, 5, 10, 1));
    /// assert!(b.try_withdraw(5));
    /// b.deposit(u32::MAX);
    /// assert_eq!(b.available(), 10);
    /// ```
    #[inline]
    pub fn deposit(&self, amount: u32) {
        let capacity = self.shared.config.capacity;
        if amount == 0 {
            return;
        }
        let _ = self
            .shared
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                (t < capacity).then(|| t.saturating_add(amount).min(capacity))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[derive(Clone, Debug)]
    enum Op {
        Withdraw(u32),
        Deposit(u32),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0u32..40).prop_map(Op::Withdraw),
            (0u32..40).prop_map(Op::Deposit),
            any::<u32>().prop_map(Op::Deposit),
        ]
    }

    proptest! {
        #[test]
        fn prop_budget_stays_within_capacity(capacity in 1u32..1000, ops in prop::collection::vec(op(), 0..200)) {
            let b = Budget::new(BudgetConfig::new(capacity, 5, 10, 1));
            let mut model = i64::from(capacity);
            for op in ops {
                match op {
                    Op::Withdraw(c) => {
                        let ok = b.try_withdraw(c);
                        prop_assert_eq!(ok, model >= i64::from(c));
                        if ok { model -= i64::from(c); }
                    }
                    Op::Deposit(a) => model = (model + i64::from(a)).min(i64::from(capacity)),
                }
                if let Op::Deposit(a) = op { b.deposit(a); }
                prop_assert_eq!(i64::from(b.available()), model);
                prop_assert!(b.available() <= capacity);
            }
        }
    }

    #[test]
    fn prop_budget_stays_within_capacity_under_threads() {
        // Many threads withdraw and refund at once: no token is created or lost, and the
        // count never leaves [0, capacity].
        let b = Budget::new(BudgetConfig::new(500, 5, 10, 1));
        let granted = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (b, granted) = (b.clone(), &granted);
                s.spawn(move || {
                    for i in 0..10_000u32 {
                        if b.try_withdraw(5) {
                            granted.fetch_add(1, Ordering::Relaxed);
                            if (i + t) % 3 == 0 {
                                b.deposit(5);
                                granted.fetch_sub(1, Ordering::Relaxed);
                            }
                        }
                        assert!(b.available() <= 500);
                    }
                });
            }
        });
        let held = granted.load(Ordering::Relaxed);
        assert_eq!(b.available() + 5 * held, 500);
        // Only a thread's last refund can outlive its next withdrawal: at most 8 × 5 tokens.
        assert!(
            b.available() <= 40,
            "80,000 withdrawals must drain a 500-token bucket"
        );
    }
}
