//! Rate pacing: a token bucket in front of every attempt, whose rate is learned from what
//! the server answers.
//!
//! Most limiters in front of real APIs are leaky or token buckets that refill continuously
//! (nginx's `limit_req`, Envoy's local rate limit, API gateways), and some add
//! acceleration limits that answer a sudden rise with 429 even under quota. Waiting out
//! each 429 and then sending again at full speed collides with them again a second later;
//! sending at the rate they allow does not. This is the AWS SDKs' `adaptive` retry mode,
//! with what redial knows on top (DESIGN.md, "Rate pacing"):
//!
//! - **The rate is learned.** A 429 cuts it, and a 503 or 529 too when the caller says
//!   the budget's evidence shows overload ([`Pacer::on_response`]); successes grow it
//!   back along the CUBIC curve ([`Cubic`]), never faster than `max_growth` per second.
//! - **A stated quota is obeyed, not guessed at.** Where the server says how many requests
//!   remain until when ([`Quota`]), the pacer sends no faster than that spends them by
//!   the reset, once that binds: when the rate the client sends at would spend them
//!   sooner, or when the learned rate is higher. A quota of 0 holds every attempt until
//!   the reset.
//! - **Inactive until needed.** A pacer that has seen no throttle and no binding quota
//!   lets every attempt go at once: [`Pacer::acquire`] is then one atomic load. Once
//!   active, it is a compare-and-swap on one word; never a lock or an allocation.
//!
//! # The bucket
//!
//! The bucket is GCRA (the "virtual scheduling" form of a token bucket): one word holds
//! the time at which the next token falls due. [`Pacer::acquire`] takes the next slot
//! with a compare-and-swap and answers how long until it, so calls are served in the
//! order they asked (FIFO) and the wait is known at once. A call that gives up its slot
//! (cancelled, or past its deadline) gives it back with [`Pacer::release`], and the next
//! call to ask takes it.
//!
//! # Why CUBIC rather than AIMD
//!
//! AIMD (add a constant per round, halve on loss) climbs at the same slow pace whatever
//! the rate was: from 5 to 10 requests a second it takes as many steps at 10 r/s as at
//! 1,000 r/s, so the constant is right for one scale only, and a client far below its
//! limit after a cut (the cut is 30 %) wastes capacity for long. CUBIC remembers the rate
//! it was throttled at (`W_max`): it climbs fast while far below it, flattens near it (the
//! rate a leaky bucket enforces sits there, so the client lingers just below it and is
//! rarely throttled again), and probes beyond it slowly at first, in time rather than in
//! answers, so a client that sends rarely does not grow slower. It is also what the AWS
//! SDKs ship, so its behaviour against real services is known. Against acceleration
//! limits, its concave climb is capped by `max_growth`.
//!
//! # Protocol (for a driver)
//!
//! Time is an input: every method takes `now`, read by the caller. Per attempt:
//!
//! 1. [`Pacer::acquire`]`(now, deadline)`: [`Acquire::Go`] sends at once;
//!    [`Acquire::Wait`]`(d)` sleeps `d` then sends (the slot is reserved: do not ask
//!    again); [`Acquire::RateLimited`] stops the call with `rate_limited` (the wait would
//!    pass `max_wait` or the deadline, and nothing was reserved).
//! 2. If the call is dropped while it waits, [`Pacer::release`]`(now)`.
//! 3. On every answer, [`Pacer::on_response`]`(now, throttled, overload, quota)`:
//!    `throttled` for a 429; `overload` for a 503 or 529 the budget reads as overload;
//!    `quota` from [`Quota::from_headers`].
//!
//! ```
//! use std::time::{Duration, Instant};
//! use redial::pacer::{Acquire, Pacer, PacerConfig};
//!
//! let pacer = Pacer::new(PacerConfig::default());
//! let t0 = Instant::now();
//! assert_eq!(pacer.acquire(t0, None), Acquire::Go, "no throttle seen: no pacing");
//! // Ten answers a second for two seconds, then a 429.
//! for i in 0..20 {
//!     pacer.on_response(t0 + Duration::from_millis(100 * i), false, false, None);
//! }
//! pacer.on_response(t0 + Duration::from_secs(2), true, false, None);
//! let rate = pacer.rate(t0 + Duration::from_secs(2)).unwrap();
//! assert!(rate > 5.0 && rate < 9.0, "cut to about 70 % of ten a second: {rate}");
//! let now = t0 + Duration::from_secs(2);
//! assert_eq!(pacer.acquire(now, None), Acquire::Go);
//! assert!(matches!(pacer.acquire(now, None), Acquire::Wait(_)), "the next token is later");
//! ```
//!
//! # Scope
//!
//! One pacer per host by default: a throttle on one host must not slow calls to another.
//! [`Pacers`] holds them, keyed by [`PacerKey`].
//!
//! # Fleet
//!
//! [`Pacer::rate`] is the learned rate as a number, and [`Pacer::set_fleet_rate`] takes
//! back this process's share of what a fleet learned, for a while: an exchange (the
//! `redis` feature) merges them; nothing here does I/O.

use core::fmt;
use core::time::Duration;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Instant;

mod cubic;
mod meter;
mod pacers;
mod quota;
#[cfg(test)]
mod tests;

pub use cubic::{Cubic, CubicConfig};
pub use meter::Meter;
pub use pacers::{PacerKey, Pacers};
pub use quota::Quota;

/// The settings of a [`Pacer`].
///
/// ```
/// use std::time::Duration;
/// let c = redial::pacer::PacerConfig::default();
/// assert_eq!(c.max_wait, Duration::from_secs(10));
/// assert_eq!(c.burst, 1);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct PacerConfig {
    /// The longest an attempt waits for its token; past it the call stops with
    /// `rate_limited` (10 s).
    pub max_wait: Duration,
    /// Tokens that may be taken at once after a quiet spell (1: evenly spaced, which no
    /// bucket-shaped limiter can object to).
    pub burst: u32,
    /// Throttles within this long of a cut do not cut again (250 ms): they answer
    /// attempts sent before the cut, at the old rate, and cutting for each would collapse
    /// the rate by 0.7ⁿ for one overshoot.
    pub settle: Duration,
    /// The CUBIC settings.
    pub cubic: CubicConfig,
}

impl Default for PacerConfig {
    fn default() -> Self {
        PacerConfig {
            max_wait: Duration::from_secs(10),
            burst: 1,
            settle: Duration::from_millis(250),
            cubic: CubicConfig::default(),
        }
    }
}

/// What an attempt does: go now, wait for its reserved slot, or stop.
///
/// ```
/// use std::time::Duration;
/// use redial::pacer::Acquire;
/// assert_eq!(Acquire::Wait(Duration::from_millis(5)).wait(), Duration::from_millis(5));
/// assert_eq!(Acquire::Go.wait(), Duration::ZERO);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Acquire {
    /// Send now.
    Go,
    /// A slot is reserved this long from now: sleep, then send without asking again.
    Wait(Duration),
    /// The next slot is further away than `max_wait` or the deadline: nothing was
    /// reserved, and the call stops with `rate_limited`.
    RateLimited {
        /// How long the attempt would have waited.
        wait: Duration,
    },
}

impl Acquire {
    /// How long to wait before sending (zero for [`Acquire::Go`]).
    ///
    /// ```
    /// use std::time::Duration;
    /// let a = redial::pacer::Acquire::RateLimited { wait: Duration::from_secs(30) };
    /// assert_eq!(a.wait(), Duration::from_secs(30));
    /// ```
    pub fn wait(&self) -> Duration {
        match *self {
            Acquire::Go => Duration::ZERO,
            Acquire::Wait(d) | Acquire::RateLimited { wait: d } => d,
        }
    }
}

/// A limit on the rate until a time: a stated quota, or the fleet's share.
#[derive(Debug, Default)]
struct Ceiling {
    /// Nanoseconds per token (0: none).
    interval: AtomicU64,
    /// Until when, on the pacer's clock.
    until: AtomicU64,
}

impl Ceiling {
    fn at(&self, now: u64) -> u64 {
        if now < self.until.load(Ordering::Acquire) {
            self.interval.load(Ordering::Acquire)
        } else {
            0
        }
    }

    fn set(&self, interval: u64, until: u64) {
        self.interval.store(interval, Ordering::Release);
        self.until.store(until, Ordering::Release);
    }
}

/// What only answers change, under a lock that [`Pacer::acquire`] never takes.
#[derive(Debug)]
struct Slow {
    cubic: Cubic,
    /// When the last cut was, on the pacer's clock.
    last_cut: Option<u64>,
}

/// A learned-rate token bucket for one scope (a host, or a key the caller names).
///
/// Methods by group, as in `quinn-proto`: getters ([`rate`](Pacer::rate),
/// [`is_active`](Pacer::is_active), [`config`](Pacer::config)); inputs
/// ([`on_response`](Pacer::on_response), [`set_fleet_rate`](Pacer::set_fleet_rate));
/// and the per-attempt commands ([`acquire`](Pacer::acquire),
/// [`release`](Pacer::release)). Shared by reference (`Sync`): put it in an `Arc`, or
/// in [`Pacers`].
///
/// ```
/// use std::time::Instant;
/// use redial::pacer::{Acquire, Pacer};
/// let pacer = Pacer::new(Default::default());
/// assert!(!pacer.is_active());
/// assert_eq!(pacer.acquire(Instant::now(), None), Acquire::Go);
/// ```
pub struct Pacer {
    config: PacerConfig,
    /// Whether anything paces: false until a throttle, a binding quota or a fleet rate.
    active: AtomicBool,
    /// The pacer's clock starts at the first instant it is given.
    base: OnceLock<Instant>,
    /// When the next token falls due (GCRA's theoretical arrival time), in nanoseconds.
    tat: AtomicU64,
    /// Nanoseconds per token at the learned rate (0: none learned).
    learned: AtomicU64,
    quota: Ceiling,
    fleet: Ceiling,
    meter: Meter,
    slow: Mutex<Slow>,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pacer")
            .field("config", &self.config)
            .field("active", &self.is_active())
            .field("learned_interval_ns", &self.learned.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// Nanoseconds between tokens at `rate` per second; 0 for no rate.
fn interval(rate: f64) -> u64 {
    if rate.is_finite() && rate > 0.0 {
        // `as` saturates; a token per nanosecond at most.
        ((1e9 / rate) as u64).max(1)
    } else {
        0
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(PacerConfig::default())
    }
}

impl Pacer {
    /// An inactive pacer.
    ///
    /// ```
    /// let p = redial::pacer::Pacer::new(Default::default());
    /// assert_eq!(p.rate(std::time::Instant::now()), None);
    /// ```
    pub fn new(config: PacerConfig) -> Pacer {
        Pacer {
            config,
            active: AtomicBool::new(false),
            base: OnceLock::new(),
            tat: AtomicU64::new(0),
            learned: AtomicU64::new(0),
            quota: Ceiling::default(),
            fleet: Ceiling::default(),
            meter: Meter::new(),
            slow: Mutex::new(Slow {
                cubic: Cubic::new(config.cubic),
                last_cut: None,
            }),
        }
    }

    /// The settings.
    ///
    /// ```
    /// let p = redial::pacer::Pacer::default();
    /// assert_eq!(p.config().burst, 1);
    /// ```
    pub fn config(&self) -> &PacerConfig {
        &self.config
    }

    /// Whether the pacer paces at all (a throttle, a binding quota or a fleet rate seen).
    ///
    /// ```
    /// use std::time::Instant;
    /// let p = redial::pacer::Pacer::default();
    /// p.on_response(Instant::now(), true, false, None);
    /// assert!(p.is_active());
    /// ```
    pub fn is_active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// `now` on the pacer's clock, in nanoseconds (saturating; an instant before the
    /// first one given counts as 0).
    fn ns(&self, now: Instant) -> u64 {
        let base = *self.base.get_or_init(|| now);
        u64::try_from(now.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX)
    }

    fn interval_at(&self, now: u64) -> u64 {
        self.learned
            .load(Ordering::Acquire)
            .max(self.quota.at(now))
            .max(self.fleet.at(now))
    }

    /// The rate paced to at `now`, in requests per second: the lowest of the learned rate,
    /// a binding quota and the fleet's share. `None` while nothing paces.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let p = redial::pacer::Pacer::default();
    /// let now = Instant::now();
    /// p.set_fleet_rate(4.0, now, Duration::from_secs(1));
    /// assert_eq!(p.rate(now), Some(4.0));
    /// assert_eq!(p.rate(now + Duration::from_secs(2)), None, "the fleet's share went stale");
    /// ```
    pub fn rate(&self, now: Instant) -> Option<f64> {
        if !self.is_active() {
            return None;
        }
        match self.interval_at(self.ns(now)) {
            0 => None,
            i => Some(1e9 / i as f64),
        }
    }

    /// Asks for the next slot at `now`. `deadline` is the call's, if it has one.
    ///
    /// Takes no lock and allocates nothing: one atomic load while inactive, a
    /// compare-and-swap loop on one word when active.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{Acquire, Pacer};
    /// let p = Pacer::default();
    /// let now = Instant::now();
    /// p.set_fleet_rate(2.0, now, Duration::from_secs(60));
    /// assert_eq!(p.acquire(now, None), Acquire::Go);
    /// assert_eq!(p.acquire(now, None), Acquire::Wait(Duration::from_millis(500)));
    /// assert_eq!(
    ///     p.acquire(now, Some(now + Duration::from_millis(800))),
    ///     Acquire::RateLimited { wait: Duration::from_secs(1) },
    /// );
    /// ```
    pub fn acquire(&self, now: Instant, deadline: Option<Instant>) -> Acquire {
        if !self.active.load(Ordering::Acquire) {
            return Acquire::Go;
        }
        let now_ns = self.ns(now);
        let interval = self.interval_at(now_ns);
        if interval == 0 {
            return Acquire::Go;
        }
        let tolerance = interval.saturating_mul(u64::from(self.config.burst.max(1) - 1));
        let limit = deadline.map_or(self.config.max_wait, |d| {
            self.config.max_wait.min(d.saturating_duration_since(now))
        });
        let mut tat = self.tat.load(Ordering::Acquire);
        loop {
            let slot = tat.saturating_sub(tolerance).max(now_ns);
            let wait = Duration::from_nanos(slot - now_ns);
            if wait > limit {
                return Acquire::RateLimited { wait };
            }
            let next = tat.max(now_ns).saturating_add(interval);
            match self
                .tat
                .compare_exchange_weak(tat, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) if wait.is_zero() => return Acquire::Go,
                Ok(_) => return Acquire::Wait(wait),
                Err(seen) => tat = seen,
            }
        }
    }

    /// Gives back a slot reserved by [`acquire`](Pacer::acquire) that will not be used
    /// (the call was dropped, or stopped before its wait ended): the next call to ask
    /// takes it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{Acquire, Pacer};
    /// let p = Pacer::default();
    /// let now = Instant::now();
    /// p.set_fleet_rate(1.0, now, Duration::from_secs(60));
    /// p.acquire(now, None);
    /// let first = p.acquire(now, None);
    /// p.release(now);
    /// assert_eq!(p.acquire(now, None), first, "the same slot, reused");
    /// ```
    pub fn release(&self, now: Instant) {
        if !self.is_active() {
            return;
        }
        let now_ns = self.ns(now);
        let interval = self.interval_at(now_ns);
        let mut tat = self.tat.load(Ordering::Acquire);
        while tat > now_ns {
            let back = tat.saturating_sub(interval).max(now_ns);
            match self
                .tat
                .compare_exchange_weak(tat, back, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return,
                Err(seen) => tat = seen,
            }
        }
    }

    /// An answer arrived at `now`. `throttled`: a 429 (or another status the caller reads
    /// as "too many requests"). `overload`: a 503 or 529 that the budget's evidence reads
    /// as overload; a 503 or 529 alone is not, so that a brown-out's random failures do
    /// not slow a lone script. `quota`: what the server stated, if anything
    /// ([`Quota::from_headers`]).
    ///
    /// A throttle cuts the learned rate (once per `settle`); a success grows it back; while
    /// inactive, a success costs one atomic update of the meter.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{Pacer, Quota};
    /// let p = Pacer::default();
    /// let now = Instant::now();
    /// let q = Quota { remaining: 0, reset: Duration::from_secs(3), limit: Some(100) };
    /// p.on_response(now, true, false, Some(q));
    /// assert!(p.acquire(now, None).wait() >= Duration::from_secs(3), "held until the reset");
    /// ```
    pub fn on_response(&self, now: Instant, throttled: bool, overload: bool, quota: Option<Quota>) {
        let now_ns = self.ns(now);
        self.meter.record(now_ns);
        if let Some(q) = quota {
            self.learn_quota(now_ns, q);
        }
        let cut = throttled || overload;
        if !cut && self.learned.load(Ordering::Acquire) == 0 {
            return;
        }
        let measured = self.meter.rate(now_ns);
        let secs = now_ns as f64 / 1e9;
        let mut slow = self.slow.lock().unwrap_or_else(|e| e.into_inner());
        let rate = if cut {
            let settle = u64::try_from(self.config.settle.as_nanos()).unwrap_or(u64::MAX);
            if slow
                .last_cut
                .is_some_and(|at| now_ns < at.saturating_add(settle))
            {
                return;
            }
            slow.last_cut = Some(now_ns);
            slow.cubic.on_throttle(secs, measured)
        } else {
            slow.cubic.on_success(secs, measured)
        };
        self.learned.store(interval(rate), Ordering::Release);
        self.active.store(true, Ordering::Release);
    }

    fn learn_quota(&self, now: u64, q: Quota) {
        let reset = u64::try_from(q.reset.as_nanos()).unwrap_or(u64::MAX);
        let until = now.saturating_add(reset);
        if q.remaining == 0 {
            // Nothing left: the first slot is at the reset.
            self.tat.fetch_max(until, Ordering::AcqRel);
            self.quota.set(0, until);
            self.active.store(true, Ordering::Release);
            return;
        }
        let Some(rate) = q.rate() else {
            return;
        };
        let learned = self.learned.load(Ordering::Acquire);
        let sending = self.meter.rate(now);
        // Binding: at the rate sent, what remains would be spent before the reset; or the
        // learned rate is already above what the quota allows.
        let binds = sending * q.reset.as_secs_f64() > q.remaining as f64
            || (learned != 0 && learned < interval(rate));
        if binds {
            self.quota.set(interval(rate), until);
            self.active.store(true, Ordering::Release);
        } else {
            self.quota.set(0, until);
        }
    }

    /// This process's share of the rate a fleet learned, valid from `at` for `fresh_for`:
    /// a ceiling on the rate until then. A rate that is not a finite number above 0 is
    /// ignored.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let p = redial::pacer::Pacer::default();
    /// let now = Instant::now();
    /// p.set_fleet_rate(f64::NAN, now, Duration::from_secs(1));
    /// assert!(!p.is_active());
    /// p.set_fleet_rate(2.5, now, Duration::from_secs(1));
    /// assert_eq!(p.rate(now), Some(2.5));
    /// ```
    pub fn set_fleet_rate(&self, rate: f64, at: Instant, fresh_for: Duration) {
        let i = interval(rate);
        if i == 0 {
            return;
        }
        let at = self.ns(at);
        let fresh = u64::try_from(fresh_for.as_nanos()).unwrap_or(u64::MAX);
        self.fleet.set(i, at.saturating_add(fresh));
        self.active.store(true, Ordering::Release);
    }
}
