//! The rate the client sends at, measured as the AWS SDKs do: answers counted in
//! half-second buckets, each finished bucket's rate smoothed into the last (0.8 new,
//! 0.2 old). Lock-free: one atomic word holds the bucket and its count.
//!
//! ```
//! use redial::pacer::Meter;
//!
//! let m = Meter::new();
//! for i in 0..20u64 {
//!     m.record(i * 100_000_000); // ten answers a second for two seconds
//! }
//! assert!((m.rate(2_000_000_000) - 10.0).abs() < 2.5);
//! ```

use std::sync::atomic::{AtomicU64, Ordering};

/// Nanoseconds per bucket.
const BUCKET: u64 = 500_000_000;
/// The weight of a finished bucket's rate in the smoothed one.
const NEW: f64 = 0.8;

/// A lock-free meter of answers per second.
///
/// ```
/// assert_eq!(redial::pacer::Meter::new().rate(0), 0.0);
/// ```
#[derive(Debug, Default)]
pub struct Meter {
    /// The current bucket's number plus one (0: none yet) in the high 32 bits, its count
    /// in the low 32.
    word: AtomicU64,
    /// The smoothed rate, as `f64` bits.
    smoothed: AtomicU64,
}

fn split(word: u64) -> (u64, u64) {
    (word >> 32, word & 0xFFFF_FFFF)
}

impl Meter {
    /// A meter that has counted nothing.
    ///
    /// ```
    /// let _ = redial::pacer::Meter::new();
    /// ```
    pub const fn new() -> Meter {
        Meter {
            word: AtomicU64::new(0),
            smoothed: AtomicU64::new(0),
        }
    }

    /// Counts one answer at `now` (nanoseconds on the pacer's clock).
    ///
    /// ```
    /// let m = redial::pacer::Meter::new();
    /// m.record(0);
    /// assert!(m.rate(100_000_000) > 0.0);
    /// ```
    pub fn record(&self, now: u64) {
        let bucket = (now / BUCKET).saturating_add(1).min(0xFFFF_FFFF);
        let mut cur = self.word.load(Ordering::Relaxed);
        loop {
            let (index, count) = split(cur);
            if bucket <= index {
                let next = (index << 32) | count.saturating_add(1).min(0xFFFF_FFFF);
                match self.word.compare_exchange_weak(
                    cur,
                    next,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => return,
                    Err(seen) => cur = seen,
                }
                continue;
            }
            let next = (bucket << 32) | 1;
            match self
                .word
                .compare_exchange_weak(cur, next, Ordering::AcqRel, Ordering::Relaxed)
            {
                Ok(_) => {
                    if index > 0 {
                        // The finished bucket, and any empty ones after it, averaged.
                        let secs = (bucket - index) as f64 * (BUCKET as f64 / 1e9);
                        let rate = count as f64 / secs;
                        let old = f64::from_bits(self.smoothed.load(Ordering::Relaxed));
                        let new = if old > 0.0 {
                            NEW * rate + (1.0 - NEW) * old
                        } else {
                            rate
                        };
                        self.smoothed.store(new.to_bits(), Ordering::Relaxed);
                    }
                    return;
                }
                Err(seen) => cur = seen,
            }
        }
    }

    /// The rate measured, in answers per second, as of `now`. Before a bucket has
    /// finished, the current bucket's count over half a second.
    ///
    /// ```
    /// let m = redial::pacer::Meter::new();
    /// m.record(0);
    /// m.record(1);
    /// assert_eq!(m.rate(2), 4.0);
    /// ```
    pub fn rate(&self, now: u64) -> f64 {
        let smoothed = f64::from_bits(self.smoothed.load(Ordering::Relaxed));
        let (index, count) = split(self.word.load(Ordering::Relaxed));
        let bucket = (now / BUCKET).saturating_add(1);
        if bucket > index.saturating_add(1) && index > 0 {
            // Nothing for a whole bucket or more: the client is sending less than measured.
            let secs = (bucket - index) as f64 * (BUCKET as f64 / 1e9);
            return (count as f64 / secs).max(0.0);
        }
        if smoothed > 0.0 && smoothed.is_finite() {
            smoothed
        } else {
            count as f64 / (BUCKET as f64 / 1e9)
        }
    }
}
