//! The `aws` budget kind: the AWS SDKs' retry quota, kept exact for the `aws-standard`
//! preset.
//!
//! - it starts full, at `capacity` (500);
//! - a retry takes `retry_cost` (5), or `timeout_cost` (10) after a transport timeout;
//! - a call that succeeds on its first attempt puts back `success_refund` (1), and a call
//!   that succeeds after retries puts back what its retries took; never above `capacity`;
//! - when the bucket cannot pay, the retry is not made (`budget_exhausted`); a first attempt
//!   never waits for the bucket.
//!
//! While the server is healthy the bucket stays full; when every call fails, it allows 100
//! retries and then only 1 retry per 5 successful first attempts. That is 100 retries *per
//! process*: a fleet of processes that each call a few times a minute never drains its
//! buckets (see the [`budget`](super) docs for the kind that protects such a fleet).
//!
//! The bucket is one atomic integer: lock-free, and safe to charge from any number of
//! threads at once.

use std::sync::atomic::{AtomicU32, Ordering};

/// The token bucket.
#[derive(Debug)]
pub(crate) struct TokenBucket {
    tokens: AtomicU32,
    capacity: u32,
}

impl TokenBucket {
    /// A full bucket.
    pub(crate) fn new(capacity: u32) -> TokenBucket {
        TokenBucket {
            tokens: AtomicU32::new(capacity),
            capacity,
        }
    }

    /// Tokens left now.
    #[inline]
    pub(crate) fn available(&self) -> u32 {
        self.tokens.load(Ordering::Relaxed)
    }

    /// Takes `cost` tokens if the bucket holds them all; otherwise takes nothing and
    /// returns false.
    #[inline]
    pub(crate) fn try_withdraw(&self, cost: u32) -> bool {
        // Relaxed is enough: the bucket guards no other memory, only its own count.
        self.tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |t| {
                t.checked_sub(cost)
            })
            .is_ok()
    }

    /// Puts back `amount` tokens, never above capacity.
    #[inline]
    pub(crate) fn deposit(&self, amount: u32) {
        let capacity = self.capacity;
        if amount == 0 {
            return;
        }
        let _ = self
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
            let b = TokenBucket::new(capacity);
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
        let b = TokenBucket::new(500);
        let granted = std::sync::atomic::AtomicU32::new(0);
        std::thread::scope(|s| {
            for t in 0..8 {
                let (b, granted) = (&b, &granted);
                s.spawn(move || {
                    for i in 0..10_000u32 {
                        if b.try_withdraw(5) {
                            granted.fetch_add(1, Ordering::Relaxed);
                            if (i + t) % 3 == 0 {
                                b.deposit(5);
                                granted.fetch_sub(1, Ordering::Relaxed);
                            }
                        }
                    }
                });
            }
        });
        let held = granted.load(Ordering::Relaxed);
        assert_eq!(b.available() + 5 * held, 500);
        // Refunds into a full bucket from every thread at once (a call that succeeds at
        // once gives one back whatever the count): the cap holds, none is kept above it.
        let full = TokenBucket::new(500);
        std::thread::scope(|s| {
            for _ in 0..8 {
                s.spawn(|| {
                    for _ in 0..10_000 {
                        full.deposit(5);
                        assert!(full.available() <= 500);
                    }
                });
            }
        });
        assert_eq!(full.available(), 500);
        // Only a thread's last refund can outlive its next withdrawal: at most 8 × 5 tokens.
        assert!(
            b.available() <= 40,
            "80,000 withdrawals must drain a 500-token bucket"
        );
    }
}
