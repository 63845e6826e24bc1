//! How long to wait before retry `n` when the server did not say.
//!
//! Retry `n` (1 for the first retry) has a raw delay `d` from the curve, never above `cap`:
//!
//! | curve | d |
//! |---|---|
//! | [`Curve::Exponential`] | `min(cap, base × factor^(n−1))` |
//! | [`Curve::Constant`] | `min(cap, base)` |
//! | [`Curve::Linear`] | `min(cap, base × n)` |
//!
//! and [`Jitter`] then spreads it, so that clients that failed together do not return
//! together. No jittered delay exceeds `cap`: backon's full jitter, by contrast, adds up to
//! a whole extra delay on top.
//!
//! ```
//! use std::time::Duration;
//! use redial::Policy;
//! use redial::backoff::{Curve, Jitter};
//!
//! let policy = Policy::builder()
//!     .curve(Curve::Exponential)
//!     .base(Duration::from_millis(100))
//!     .factor(2.0)
//!     .cap(Duration::from_secs(1))
//!     .jitter(Jitter::None)
//!     .build()?;
//! let backoff = policy.rules().backoff();
//! assert_eq!(backoff.raw(1), Duration::from_millis(100));
//! assert_eq!(backoff.raw(4), Duration::from_millis(800));
//! assert_eq!(backoff.raw(5), Duration::from_secs(1));
//! # Ok::<(), redial::PolicyError>(())
//! ```

use core::fmt;
use core::time::Duration;

use fastrand::Rng;

/// The shape of the raw delays.
///
/// ```
/// assert_eq!("linear".parse::<redial::backoff::Curve>()?, redial::backoff::Curve::Linear);
/// # Ok::<(), redial::UnknownName>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Curve {
    /// `base × factor^(n−1)`: the usual choice, and every preset's.
    Exponential,
    /// `base` every time.
    Constant,
    /// `base × n`.
    Linear,
}

impl Curve {
    /// Every curve, in the order the docs list them.
    ///
    /// ```
    /// assert_eq!(redial::backoff::Curve::ALL.len(), 3);
    /// ```
    pub const ALL: [Curve; 3] = [Curve::Exponential, Curve::Constant, Curve::Linear];

    /// The name used in policy files.
    ///
    /// ```
    /// assert_eq!(redial::backoff::Curve::Exponential.as_str(), "exponential");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            Curve::Exponential => "exponential",
            Curve::Constant => "constant",
            Curve::Linear => "linear",
        }
    }
}

impl fmt::Display for Curve {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl core::str::FromStr for Curve {
    type Err = crate::UnknownName;
    fn from_str(s: &str) -> Result<Curve, crate::UnknownName> {
        crate::names::find(Curve::ALL, s, Curve::as_str).ok_or(crate::UnknownName::new(
            "curve",
            crate::names::names_of!(Curve),
        ))
    }
}

/// How a raw delay `d` is spread.
///
/// ```
/// use redial::backoff::Jitter;
/// assert_eq!(Jitter::Proportional(0.25).name(), "proportional");
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub enum Jitter {
    /// Exactly `d`. Clients that failed together retry together: use only for tests.
    None,
    /// Uniform in `[0, d]` (the AWS Architecture Blog's "full jitter").
    Full,
    /// Uniform in `[d/2, d]`.
    Equal,
    /// Uniform in `[d × (1 − r), d]`, with `r` in `[0, 1]`: the official Anthropic and
    /// OpenAI SDKs take up to 25 % off.
    Proportional(f64),
    /// Uniform in `[base, min(cap, 3 × previous delay)]`, the previous delay of the first
    /// retry being `base` (the AWS blog's "decorrelated jitter"). Ignores the curve.
    Decorrelated,
}

impl Jitter {
    /// The name used in policy files.
    ///
    /// ```
    /// assert_eq!(redial::backoff::Jitter::Full.name(), "full");
    /// ```
    pub const fn name(&self) -> &'static str {
        match self {
            Jitter::None => "none",
            Jitter::Full => "full",
            Jitter::Equal => "equal",
            Jitter::Proportional(_) => "proportional",
            Jitter::Decorrelated => "decorrelated",
        }
    }
}

/// A validated backoff: curve, base, cap, factor and jitter. Built by the
/// [`PolicyBuilder`](crate::PolicyBuilder), read through [`Rules::backoff`](crate::machine::Rules::backoff).
///
/// Delays are held in whole nanoseconds (up to about 584 years); longer settings saturate.
///
/// ```
/// use std::time::Duration;
/// let backoff = redial::Policy::default().rules().backoff().clone();
/// let mut rng = fastrand::Rng::with_seed(7);
/// let first = backoff.delay(1, backoff.base(), &mut rng);
/// assert!(first <= Duration::from_millis(500));
/// ```
#[derive(Clone, PartialEq)]
pub struct Backoff {
    curve: Curve,
    base: u64,
    cap: u64,
    factor: f64,
    jitter: Jitter,
    /// The raw delays of the first retries. The exponential curve costs a `powi` and two
    /// float conversions, several times the rest of a retry decision, and a call asks for
    /// the same few retries again and again: they are worked out once, by the same
    /// formula, so every value is the formula's own.
    early: [u64; EARLY],
    /// The first retry from which every raw delay is `cap`, or `u64::MAX` when that is not
    /// known: then later retries run the formula.
    capped_from: u64,
}

/// The settings only: the caches are derived from them.
impl fmt::Debug for Backoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backoff")
            .field("curve", &self.curve)
            .field("base", &self.base())
            .field("cap", &self.cap())
            .field("factor", &self.factor)
            .field("jitter", &self.jitter)
            .finish()
    }
}

/// Retries whose raw delay is kept; a policy rarely allows more.
const EARLY: usize = 16;

/// The smallest factor for which a computed exponential delay that reached the cap is
/// known to stay there. `powi` rounds: its relative error grows about as `n × 2^-53`,
/// which stays below 10^-10 until `factor^n` overflows (n < 710,000 for any factor from
/// here up). A factor of at least 1.001 outgrows that error a million times over, so once
/// `base × factor^(n−1)` is at or above the cap, every later one is too.
const MONOTONE_FACTOR: f64 = 1.001;

impl Backoff {
    /// Builds without validation: the policy builder checks the rules first.
    pub(crate) fn new(
        curve: Curve,
        base: Duration,
        cap: Duration,
        factor: f64,
        jitter: Jitter,
    ) -> Backoff {
        let mut b = Backoff {
            curve,
            base: nanos(base),
            cap: nanos(cap),
            factor,
            jitter,
            early: [0; EARLY],
            capped_from: u64::MAX,
        };
        let mut early = [0; EARLY];
        for (n, d) in (1..).zip(early.iter_mut()) {
            *d = b.formula(n);
        }
        b.early = early;
        b.capped_from = b.first_capped();
        b
    }

    /// The first retry from which the formula gives `cap` for good, found by bisection
    /// where the formula is known to be non-decreasing; `u64::MAX` elsewhere.
    fn first_capped(&self) -> u64 {
        let capped = |n: u32| match self.curve {
            Curve::Constant | Curve::Linear => self.formula(n) == self.cap,
            // The formula's float branch that yields the cap (at or above it, or NaN),
            // which is what stays at the cap.
            Curve::Exponential => !matches!(
                self.exponential(n).partial_cmp(&(self.cap as f64)),
                Some(core::cmp::Ordering::Less)
            ),
        };
        let monotone = match self.curve {
            // A constant is trivially monotone; saturating integer products are monotone.
            Curve::Constant | Curve::Linear => true,
            Curve::Exponential => self.base != 0 && self.factor >= MONOTONE_FACTOR,
        };
        if !monotone || !capped(u32::MAX) {
            return u64::MAX;
        }
        let (mut low, mut high) = (1u32, u32::MAX);
        while low < high {
            let mid = low + (high - low) / 2;
            if capped(mid) {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        u64::from(low)
    }

    /// The curve.
    ///
    /// ```
    /// assert_eq!(redial::Policy::default().rules().backoff().curve(), redial::backoff::Curve::Exponential);
    /// ```
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The first retry's raw delay.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(redial::Policy::default().rules().backoff().base(), Duration::from_millis(500));
    /// ```
    pub fn base(&self) -> Duration {
        Duration::from_nanos(self.base)
    }

    /// No delay computed from the curve or jitter exceeds this.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(redial::Policy::default().rules().backoff().cap(), Duration::from_secs(8));
    /// ```
    pub fn cap(&self) -> Duration {
        Duration::from_nanos(self.cap)
    }

    /// The exponential curve's factor.
    ///
    /// ```
    /// assert_eq!(redial::Policy::default().rules().backoff().factor(), 2.0);
    /// ```
    pub fn factor(&self) -> f64 {
        self.factor
    }

    /// The jitter.
    ///
    /// ```
    /// assert_eq!(redial::Policy::default().rules().backoff().jitter(), redial::backoff::Jitter::Full);
    /// ```
    pub fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// The raw delay of retry `n` (1 for the first retry; 0 is read as 1), before jitter.
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = redial::Policy::default().rules().backoff().clone();
    /// assert_eq!(b.raw(3), Duration::from_secs(2));
    /// assert_eq!(b.raw(u32::MAX), Duration::from_secs(8));
    /// ```
    pub fn raw(&self, n: u32) -> Duration {
        Duration::from_nanos(self.raw_nanos(n))
    }

    #[inline]
    fn raw_nanos(&self, n: u32) -> u64 {
        let n = n.max(1);
        if u64::from(n) >= self.capped_from {
            return self.cap;
        }
        match self.early.get(n as usize - 1) {
            Some(&d) => d,
            None => self.formula(n),
        }
    }

    /// The curve's definition; `raw_nanos` gives the same values, mostly from the cache.
    fn formula(&self, n: u32) -> u64 {
        let n = n.max(1);
        let d = match self.curve {
            Curve::Constant => self.base,
            Curve::Linear => self.base.saturating_mul(u64::from(n)),
            Curve::Exponential => {
                if self.base == 0 {
                    return 0;
                }
                let d = self.exponential(n);
                // `as` saturates and the comparison is false for NaN: both end at the cap.
                if d < self.cap as f64 {
                    d as u64
                } else {
                    self.cap
                }
            }
        };
        d.min(self.cap)
    }

    /// `base × factor^(n−1)` in floating point.
    fn exponential(&self, n: u32) -> f64 {
        let exp = i32::try_from(n.max(1) - 1).unwrap_or(i32::MAX);
        self.base as f64 * self.factor.powi(exp)
    }

    /// The jittered delay of retry `n`, given the previous delay (which only
    /// [`Jitter::Decorrelated`] reads; pass [`base`](Self::base) for the first retry).
    ///
    /// ```
    /// use std::time::Duration;
    /// let b = redial::Policy::default().rules().backoff().clone();
    /// let mut rng = fastrand::Rng::with_seed(1);
    /// for n in 1..10 {
    ///     assert!(b.delay(n, b.base(), &mut rng) <= b.raw(n));
    /// }
    /// ```
    #[inline]
    pub fn delay(&self, n: u32, previous: Duration, rng: &mut Rng) -> Duration {
        self.delay_after(n, Some(previous), rng)
    }

    /// [`delay`](Self::delay) for the machine, which keeps no previous delay before its
    /// first backoff retry (`None` stands for [`base`](Self::base)): only decorrelated
    /// jitter reads it, so the others never work `base` out as a `Duration`.
    #[inline(always)]
    pub(crate) fn delay_after(
        &self,
        n: u32,
        previous: Option<Duration>,
        rng: &mut Rng,
    ) -> Duration {
        let d = self.raw_nanos(n);
        let jittered = match self.jitter {
            // The default's jitter stays small enough to inline into every retry loop.
            Jitter::Full => crate::draw::up_to(rng, d),
            Jitter::None => d,
            _ => self.other_jitter(d, previous.unwrap_or_else(|| self.base()), rng),
        };
        Duration::from_nanos(jittered)
    }

    /// The jitters with more arithmetic, out of line.
    fn other_jitter(&self, d: u64, previous: Duration, rng: &mut Rng) -> u64 {
        match self.jitter {
            Jitter::None => d,
            Jitter::Full => rng.u64(0..=d),
            Jitter::Equal => rng.u64(d / 2..=d),
            Jitter::Proportional(r) => {
                let low = (d as f64 * (1.0 - r)) as u64;
                rng.u64(low.min(d)..=d)
            }
            Jitter::Decorrelated => {
                let low = self.base.min(self.cap);
                let high = nanos(previous).saturating_mul(3).min(self.cap).max(low);
                rng.u64(low..=high)
            }
        }
    }
}

/// Whole nanoseconds, saturating at `u64::MAX` (about 584 years). A `const fn`, so that
/// constants in nanoseconds are computed from their `Duration`s.
pub(crate) const fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(d.subsec_nanos() as u64)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: u64 = 1_000_000;

    fn backoff(curve: Curve, jitter: Jitter) -> Backoff {
        Backoff::new(
            curve,
            Duration::from_millis(500),
            Duration::from_secs(8),
            2.0,
            jitter,
        )
    }

    /// `Debug` shows the settings as a person wrote them, not the caches derived from them.
    #[test]
    fn debug_shows_the_settings_only() {
        let b = backoff(Curve::Exponential, Jitter::Full);
        assert_eq!(
            format!("{b:?}"),
            "Backoff { curve: Exponential, base: 500ms, cap: 8s, factor: 2.0, jitter: Full }"
        );
    }

    /// A zero base stays zero at every retry, however late: past retry 1,025 (factor 2)
    /// `base × factor^(n−1)` is 0 × ∞, a NaN, which must not read as "reached the cap".
    #[test]
    fn a_zero_base_is_zero_at_every_retry() {
        let b = Backoff::new(
            Curve::Exponential,
            Duration::ZERO,
            Duration::from_secs(8),
            2.0,
            Jitter::None,
        );
        for n in [
            1,
            2,
            16,
            17,
            1_024,
            1_025,
            1_026,
            2_000,
            1_000_000,
            u32::MAX,
        ] {
            assert_eq!(b.raw(n), Duration::ZERO, "retry {n}");
        }
    }

    /// A cap past 2^53 ns (104 days; nothing bounds it) is not exact as an `f64`: a delay
    /// that reaches it in floating point is the cap itself, to the nanosecond.
    #[test]
    fn a_cap_reached_in_floating_point_is_the_exact_cap() {
        let cap = (1u64 << 53) + 1;
        let b = Backoff::new(
            Curve::Exponential,
            Duration::from_nanos(1 << 52),
            Duration::from_nanos(cap),
            2.0,
            Jitter::None,
        );
        assert_eq!(b.formula(2), cap);
        assert_eq!(b.raw(2), Duration::from_nanos(cap));
    }

    /// `raw` is the curve as a `Duration`, nanosecond for nanosecond.
    #[test]
    fn raw_is_the_curve_as_a_duration() {
        let b = backoff(Curve::Linear, Jitter::Full);
        let got: Vec<Duration> = [1, 2, 16, 17, 100].map(|n| b.raw(n)).to_vec();
        let ms = Duration::from_millis;
        assert_eq!(got, [ms(500), ms(1_000), ms(8_000), ms(8_000), ms(8_000)]);
    }

    #[test]
    fn exponential_doubles_to_the_cap() {
        let b = backoff(Curve::Exponential, Jitter::None);
        let got: Vec<u64> = (1..=7).map(|n| b.raw_nanos(n) / MS).collect();
        assert_eq!(got, [500, 1000, 2000, 4000, 8000, 8000, 8000]);
    }

    #[test]
    fn the_default_curve_is_capped_from_the_fifth_retry() {
        let b = backoff(Curve::Exponential, Jitter::Full);
        assert_eq!(b.capped_from, 5, "500 ms × 2^4 = 8 s");
        for n in [1, 2, 3, 4, 5, 6, 16, 17, 1_000_000, u32::MAX] {
            assert_eq!(b.raw_nanos(n), b.formula(n), "retry {n}");
        }
        // Exhaustively near the table's edge and the cap.
        for n in 1..=64 {
            assert_eq!(b.raw_nanos(n), b.formula(n), "retry {n}");
        }
    }

    #[test]
    fn constant_and_linear() {
        let c = backoff(Curve::Constant, Jitter::None);
        let l = backoff(Curve::Linear, Jitter::None);
        assert_eq!(c.raw_nanos(9) / MS, 500);
        let got: Vec<u64> = (1..=5).map(|n| l.raw_nanos(n) / MS).collect();
        assert_eq!(got, [500, 1000, 1500, 2000, 2500]);
        assert_eq!(l.raw_nanos(u32::MAX) / MS, 8000);
    }

    #[test]
    fn huge_settings_saturate() {
        let b = Backoff::new(
            Curve::Exponential,
            Duration::MAX,
            Duration::MAX,
            f64::MAX,
            Jitter::Full,
        );
        assert_eq!(b.raw_nanos(u32::MAX), u64::MAX);
        let mut rng = fastrand::Rng::with_seed(3);
        let _ = b.delay(u32::MAX, Duration::MAX, &mut rng);
    }

    #[test]
    fn every_jittered_value_is_reachable_at_small_scale() {
        // With d = 4 ns every integer in the jitter's range must come up.
        let b = Backoff::new(
            Curve::Constant,
            Duration::from_nanos(4),
            Duration::from_nanos(4),
            2.0,
            Jitter::Full,
        );
        let mut rng = fastrand::Rng::with_seed(11);
        let mut seen = [false; 5];
        for _ in 0..1_000 {
            seen[b.delay(1, b.base(), &mut rng).as_nanos() as usize] = true;
        }
        assert_eq!(seen, [true; 5]);
    }

    /// Every jitter, for other modules' generators too (the driver's property tests).
    pub(crate) fn jitter_strategy() -> impl Strategy<Value = Jitter> {
        prop_oneof![
            Just(Jitter::None),
            Just(Jitter::Full),
            Just(Jitter::Equal),
            (0.0f64..=1.0).prop_map(Jitter::Proportional),
            Just(Jitter::Decorrelated),
        ]
    }

    fn curve_strategy() -> impl Strategy<Value = Curve> {
        prop_oneof![
            Just(Curve::Exponential),
            Just(Curve::Constant),
            Just(Curve::Linear)
        ]
    }

    proptest! {
        #[test]
        fn prop_jitter_within_formula_and_never_exceeds_cap(
            curve in curve_strategy(),
            jitter in jitter_strategy(),
            base_ms in 0u64..100_000,
            extra_ms in 0u64..1_000_000,
            factor in 0.01f64..100.0,
            n in 1u32..200,
            prev_ms in 0u64..2_000_000,
            seed: u64,
        ) {
            let base = base_ms * MS;
            let cap = (base_ms + extra_ms) * MS;
            let b = Backoff::new(curve, Duration::from_nanos(base), Duration::from_nanos(cap), factor, jitter);
            let d = b.raw_nanos(n);
            prop_assert!(d <= cap);
            let got = nanos(b.delay(n, Duration::from_nanos(prev_ms * MS), &mut fastrand::Rng::with_seed(seed)));
            prop_assert!(got <= cap);
            match jitter {
                Jitter::None => prop_assert_eq!(got, d),
                Jitter::Full => prop_assert!(got <= d),
                Jitter::Equal => prop_assert!(d / 2 <= got && got <= d),
                Jitter::Proportional(r) => {
                    prop_assert!(got <= d);
                    prop_assert!(got as f64 >= (d as f64 * (1.0 - r)).floor() - 1.0);
                }
                Jitter::Decorrelated => {
                    let high = (prev_ms * MS).saturating_mul(3).min(cap).max(base);
                    prop_assert!(base <= got && got <= high);
                }
            }
        }

        #[test]
        fn prop_cached_raw_delays_equal_the_formula(
            curve in curve_strategy(),
            base in prop_oneof![0u64..2_000, 0u64..100_000_000_000, Just(u64::MAX)],
            extra in prop_oneof![0u64..2_000, 0u64..100_000_000_000_000, Just(u64::MAX)],
            factor in prop_oneof![0.01f64..1.5, 1.0f64..1.01, 1.5f64..100.0, Just(2.0), Just(1e300)],
            n in prop_oneof![1u32..40, any::<u32>()],
        ) {
            let cap = base.saturating_add(extra);
            let b = Backoff::new(curve, Duration::from_nanos(base), Duration::from_nanos(cap), factor, Jitter::None);
            prop_assert_eq!(b.raw_nanos(n), b.formula(n), "retry {} of {:?}", n, b);
            if b.capped_from != u64::MAX {
                let from = u32::try_from(b.capped_from).unwrap_or(u32::MAX);
                prop_assert_eq!(b.formula(from), cap);
                prop_assert!(from == 1 || b.formula(from - 1) < cap || curve != Curve::Exponential);
            }
        }

        #[test]
        fn prop_same_seed_same_delays(jitter in jitter_strategy(), seed: u64) {
            let b = backoff(Curve::Exponential, jitter);
            let run = |seed| {
                let mut rng = fastrand::Rng::with_seed(seed);
                let mut prev = b.base();
                (1..6).map(|n| { prev = b.delay(n, prev, &mut rng); prev }).collect::<Vec<_>>()
            };
            prop_assert_eq!(run(seed), run(seed));
        }
    }
}
