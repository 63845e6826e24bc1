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
//! - **Engaged where it cannot hurt.** Every preset's pacer ([`PacerConfig::on_hint`])
//!   learns nothing until a 429 says how long to wait ([`Pacer::hear_hint`]), which a
//!   brown-out of bare 429s never does; a `[rate]` table's ([`Engage::Throttle`]) learns
//!   from any 429.
//! - **Inactive until needed.** A pacer that has seen no throttle and no binding quota
//!   lets every attempt go at once: [`Pacer::acquire`] is then one load. Once active,
//!   an atomic add (the demand a fleet shares by), a compare-and-swap on the queue's word
//!   and, for a call that goes at once, one on the bucket's; never a lock or an
//!   allocation.
//!
//! # The bucket
//!
//! The bucket is GCRA (the "virtual scheduling" form of a token bucket) counted in
//! places rather than times: one word holds the next free place in the queue, and an
//! anchor (read without a lock) says which place is due when at the current rate.
//! [`Pacer::acquire`] takes the next place with a compare-and-swap and answers how long
//! until it, so calls are served in the order they asked (FIFO). Places, not times,
//! because the rate changes while calls wait: a queue of times reserved at the old rate
//! would go on sending at it for up to `max_wait` after a cut (measured: it collapses the
//! rate, every reserved attempt drawing a 429 that cuts again). A waiting call asks
//! [`Pacer::ready`] when it wakes, and its place is then due at the rate as it is; it
//! sleeps at most [`Pacer::RECHECK`] at a time, so that a place the rate brought nearer
//! while it slept is taken when it comes (measured: sleeping until the time first given
//! sent at the rate of up to `max_wait` ago: a fifth less served on a rising limit). A call
//! that gives up its place (cancelled, or past its deadline) gives a token back with
//! [`Pacer::release`].
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
//!    [`Acquire::Wait`]` { wait, ticket }` sleeps `wait`, then asks
//!    [`Pacer::ready`]`(now, ticket, deadline)`, which answers `Go` or another `Wait`
//!    (the slot has not come yet: a wait is at most [`Pacer::RECHECK`], and the rate may
//!    have been cut meanwhile); [`Acquire::RateLimited`] stops the call with
//!    `rate_limited` (the wait would pass `max_wait` or the deadline).
//! 2. If the call is dropped while it waits, or `ready` says `RateLimited`,
//!    [`Pacer::release`]`(now)`.
//! 3. On every answer, [`Pacer::on_response`]`(now, throttled, overload, quota)`:
//!    `throttled` for a 429; `overload` for a 503 or 529 the budget reads as overload;
//!    `quota` from [`Quota::from_headers`]. Before it, for a 429 that says how long to
//!    wait, [`Pacer::hear_hint`]`(now)`. [`Pacer::learn`] does the three as every driver
//!    should, from an [`Answer`]. While [`Pacer::listens`] is false the answers teach
//!    nothing, and a driver may skip the successes.
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
//! // The refused request's limiter refuses the next ones sent at once: a short hold.
//! let now = t0 + Duration::from_secs(2) + Pacer::THROTTLE_HOLD;
//! assert_eq!(pacer.acquire(now, None), Acquire::Go);
//! let Acquire::Wait { wait, ticket } = pacer.acquire(now, None) else { panic!() };
//! assert_eq!(pacer.ready(now + wait, ticket, None), Acquire::Go, "its slot has come");
//! ```
//!
//! # Scope
//!
//! One pacer per host by default: a throttle on one host must not slow calls to another.
//! [`Pacers`] holds them, keyed by [`PacerKey`]; a policy keeps a table of them
//! ([`Policy::pacer_for`](crate::Policy::pacer_for)), and a call's scope is its request's
//! host (set by the `reqwest-middleware` and `tower` adapters) or a key the caller names
//! ([`RequestFacts::with_scope`](crate::classify::RequestFacts::with_scope)).
//!
//! # Fleet
//!
//! Processes on one fleet key learn one rate: [`Pacer::fleet_report`] says what this one
//! knows (its latest cut, its demand), [`Pacer::set_fleet_view`] takes what the fleet
//! knows, and each process paces to its share (see [`FleetView`]). The `redis` feature's
//! exchange carries them; nothing here does I/O. [`Pacer::set_fleet_rate`] is a plain
//! ceiling on the rate for a while, for a caller that knows the rate by other means.

use core::fmt;
use core::time::Duration;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;

use crate::backoff::nanos;

mod answer;
mod bare_wait;
mod cubic;
mod meter;
mod pacers;
mod quota;
mod share;
#[cfg(test)]
mod tests;

pub use answer::Answer;
pub use cubic::{Cubic, CubicConfig};
pub use meter::Meter;
pub use pacers::{PacerKey, Pacers};
pub use quota::Quota;
pub use share::{FleetCut, FleetReport, FleetView};

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
    /// What starts the pacer learning: any throttle ([`Engage::Throttle`], what a
    /// policy file's `[rate]` table means), one that says how long to wait
    /// ([`Engage::Hint`]), or one that states the server's quota ([`Engage::Quota`],
    /// every preset's).
    pub engage: Engage,
}

/// What starts a [`Pacer`] learning from the answers.
///
/// A brown-out of 429s sent at random, whatever the client's rate, looks to one process
/// like a limiter that other processes keep full; cutting on it collapses the rate, and
/// holding for its waits stalls every call (PACER.md: 20 % of 429s at random, 10 clients,
/// 6 to 26 % of calls served with such a pacer, 99 % without). Such 429s may say
/// `Retry-After`, so only a stated quota tells a limiter for sure: that is what a preset's
/// pacer waits for, and a bare wait it checks before it trusts it.
///
/// ```
/// use redial::pacer::{Engage, PacerConfig};
/// assert_eq!(PacerConfig::default().engage, Engage::Throttle);
/// assert_eq!(PacerConfig::on_quota().engage, Engage::Quota);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Engage {
    /// From the first throttle (a 429, or an overload the caller names) on.
    Throttle,
    /// From the first throttle that says how long to wait ([`Pacer::hear_hint`]); until
    /// then the pacer learns nothing, and a call that succeeds does not reach it.
    Hint,
    /// From the first throttle that states the server's quota (`anthropic-ratelimit-*`,
    /// the IETF `RateLimit` fields, `x-ratelimit-*`: [`Quota::from_headers`]) or says to
    /// wait longer than a second. A throttle that states a quota cuts the learned rate
    /// and holds as with [`Engage::Hint`]; one that states none teaches nothing until a
    /// check has shown it a limiter's: its wait holds for [`Pacer::CHECK_AFTER`], then
    /// one attempt goes. Refused with the same end, the window is spent; succeeding, or
    /// refused with a whole new wait, it was a brown-out (the check's module docs,
    /// `src/pacer/bare_wait.rs`). Every preset's.
    Quota,
}

impl Engage {
    /// Every rule, in the order the docs list them.
    ///
    /// ```
    /// assert_eq!(redial::pacer::Engage::ALL.len(), 3);
    /// ```
    pub const ALL: [Engage; 3] = [Engage::Hint, Engage::Quota, Engage::Throttle];

    /// The name a policy file gives it (`rate.engage`).
    ///
    /// ```
    /// assert_eq!(redial::pacer::Engage::Hint.as_str(), "hint");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            Engage::Throttle => "throttle",
            Engage::Hint => "hint",
            Engage::Quota => "quota",
        }
    }
}

impl fmt::Display for Engage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// ```
/// use redial::pacer::Engage;
/// assert_eq!("throttle".parse::<Engage>(), Ok(Engage::Throttle));
/// assert_eq!("always".parse::<Engage>().unwrap_err().to_string(), "expected one of hint, quota, throttle");
/// ```
impl core::str::FromStr for Engage {
    type Err = crate::UnknownName;
    fn from_str(s: &str) -> Result<Engage, crate::UnknownName> {
        crate::names::find(Engage::ALL, s, Engage::as_str).ok_or(crate::UnknownName::new(
            "pacer engagement",
            crate::names::names_of!(Engage),
        ))
    }
}

impl Default for PacerConfig {
    fn default() -> Self {
        PacerConfig {
            max_wait: Duration::from_secs(10),
            burst: 1,
            settle: Duration::from_millis(250),
            cubic: CubicConfig::default(),
            engage: Engage::Throttle,
        }
    }
}

impl PacerConfig {
    /// The defaults, engaged only by a throttle that says how long to wait
    /// ([`Engage::Hint`]).
    ///
    /// ```
    /// let c = redial::pacer::PacerConfig::on_hint();
    /// assert_eq!(c.max_wait, std::time::Duration::from_secs(10));
    /// ```
    pub fn on_hint() -> PacerConfig {
        PacerConfig {
            engage: Engage::Hint,
            ..PacerConfig::default()
        }
    }

    /// The defaults, engaged only by a throttle that states a quota, or a wait it checks:
    /// the pacer of every preset ([`Engage::Quota`]).
    ///
    /// ```
    /// let c = redial::pacer::PacerConfig::on_quota();
    /// assert_eq!(c.engage, redial::pacer::Engage::Quota);
    /// ```
    pub fn on_quota() -> PacerConfig {
        PacerConfig {
            engage: Engage::Quota,
            ..PacerConfig::default()
        }
    }
}

/// What an attempt does: go now, wait for its slot, or stop.
///
/// ```
/// use std::time::Duration;
/// use redial::pacer::Acquire;
/// assert_eq!(Acquire::Go.wait(), Duration::ZERO);
/// let stop = Acquire::RateLimited { wait: Duration::from_secs(30) };
/// assert_eq!(stop.wait(), Duration::from_secs(30));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Acquire {
    /// Send now.
    Go,
    /// A slot is reserved: sleep `wait`, then ask [`Pacer::ready`] with the ticket (the
    /// slot moves later if the rate was cut while waiting, and earlier if it grew).
    Wait {
        /// How long to sleep before asking again: until the slot at the rate as it is
        /// now, and at most [`Pacer::RECHECK`], so that a slot the rate brought nearer
        /// is not missed.
        wait: Duration,
        /// The reserved slot.
        ticket: Ticket,
    },
    /// The slot is further away than `max_wait` or the deadline: the call stops with
    /// `rate_limited` (from [`Pacer::acquire`], nothing was reserved).
    RateLimited {
        /// How long the attempt would have waited.
        wait: Duration,
    },
}

impl Acquire {
    /// A wait for `ticket`'s slot, `wait` away: slept in pieces of at most
    /// [`Pacer::RECHECK`].
    fn waiting(wait: Duration, ticket: Ticket) -> Acquire {
        Acquire::Wait {
            wait: wait.min(Pacer::RECHECK),
            ticket,
        }
    }

    /// How long to wait before sending or asking again (zero for [`Acquire::Go`]).
    ///
    /// ```
    /// assert_eq!(redial::pacer::Acquire::Go.wait(), std::time::Duration::ZERO);
    /// ```
    pub fn wait(&self) -> Duration {
        match *self {
            Acquire::Go => Duration::ZERO,
            Acquire::Wait { wait, .. } | Acquire::RateLimited { wait } => wait,
        }
    }
}

/// A reserved slot: its place in the pacer's queue, in tokens.
///
/// Places, not times: when the rate changes, every waiting call's slot moves with it and
/// the queue keeps its order. Tickets from one pacer only mean something to that pacer.
///
/// ```
/// use std::time::{Duration, Instant};
/// use redial::pacer::{Acquire, Pacer};
/// let p = Pacer::default();
/// let now = Instant::now();
/// p.set_fleet_rate(1.0, now, Duration::from_secs(60));
/// p.acquire(now, None);
/// let Acquire::Wait { ticket, .. } = p.acquire(now, None) else { unreachable!() };
/// assert!(ticket.place() >= 1.0);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ticket(core::num::NonZeroU64);

impl Ticket {
    /// The place in the queue, in tokens since the pacer began.
    ///
    /// ```
    /// # use std::time::{Duration, Instant};
    /// # use redial::pacer::{Acquire, Pacer};
    /// # let p = Pacer::default();
    /// # let now = Instant::now();
    /// # p.set_fleet_rate(1.0, now, Duration::from_secs(60));
    /// # p.acquire(now, None);
    /// # let Acquire::Wait { ticket, .. } = p.acquire(now, None) else { unreachable!() };
    /// let _ = ticket.place();
    /// ```
    pub fn place(&self) -> f64 {
        f64::from_bits(!self.0.get())
    }

    /// The ticket for `place`, in eight bytes that are never all zero (the bits of a
    /// place, which is never negative, inverted), so that an `Option<Ticket>` is eight
    /// bytes too: every call that may wait for one carries it.
    fn new(place: f64) -> Ticket {
        let bits = !place.max(0.0).to_bits();
        Ticket(core::num::NonZeroU64::new(bits).unwrap_or(core::num::NonZeroU64::MAX))
    }
}

/// A limit on the rate until a time: a stated quota, or the fleet's share.
#[derive(Debug, Default)]
struct Ceiling {
    /// Nanoseconds per token (0: none).
    interval: u64,
    /// Until when, on the pacer's clock.
    until: u64,
}

impl Ceiling {
    fn at(&self, now: u64) -> u64 {
        if now < self.until {
            self.interval
        } else {
            0
        }
    }
}

/// What only answers and the fleet change, under a lock that [`Pacer::acquire`] never
/// takes.
#[derive(Debug)]
struct Slow {
    cubic: Cubic,
    /// Whether a throttle has been seen (the learned rate means something).
    learned: bool,
    /// When the last cut was, on the pacer's clock.
    last_cut: Option<u64>,
    quota: Ceiling,
    fleet: Ceiling,
    /// This process's share of the fleet's rate (1: alone). The learned rate is the
    /// fleet's; the pacer paces to this share of it.
    share: f64,
    /// How long a cut takes to reach every process of the fleet (0: alone): throttles
    /// within `settle` plus this of a cut answer attempts sent before it was known.
    lag: u64,
    /// The fleet's answers per second as the fleet measured them, and until when that
    /// holds (on the pacer's clock).
    fleet_answered: Option<(f64, u64)>,
    demand: share::Demand,
    /// The check of a wait that no stated quota backs ([`Engage::Quota`]).
    bare: bare_wait::BareWait,
}

/// How places map to times: place `pos` is due at `at`, and one token follows another
/// every `interval` nanoseconds (0: nothing paces). Written under the slow lock, read
/// without one: a sequence number around the writes tells a reader that it raced one
/// (a seqlock, on atomics only).
#[derive(Debug, Default)]
struct Anchor {
    seq: AtomicU64,
    at: AtomicU64,
    pos: AtomicU64,
    interval: AtomicU64,
}

#[derive(Clone, Copy, Debug)]
struct Map {
    at: u64,
    pos: f64,
    interval: f64,
}

impl Map {
    fn pos(&self, now: u64) -> f64 {
        let dt = now as f64 - self.at as f64;
        self.pos + dt / self.interval
    }

    fn time(&self, pos: f64) -> f64 {
        self.at as f64 + (pos - self.pos) * self.interval
    }
}

impl Anchor {
    fn read(&self) -> Option<Map> {
        loop {
            let s1 = self.seq.load(Ordering::SeqCst);
            if s1 % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let at = self.at.load(Ordering::SeqCst);
            let pos = f64::from_bits(self.pos.load(Ordering::SeqCst));
            let interval = f64::from_bits(self.interval.load(Ordering::SeqCst));
            if self.seq.load(Ordering::SeqCst) == s1 {
                return (interval > 0.0).then_some(Map { at, pos, interval });
            }
        }
    }

    /// Only under the slow lock (one writer at a time).
    fn write(&self, at: u64, pos: f64, interval: u64) {
        self.seq.fetch_add(1, Ordering::SeqCst);
        self.at.store(at, Ordering::SeqCst);
        self.pos.store(pos.to_bits(), Ordering::SeqCst);
        self.interval
            .store((interval as f64).to_bits(), Ordering::SeqCst);
        self.seq.fetch_add(1, Ordering::SeqCst);
    }
}

/// A learned-rate token bucket for one scope (a host, or a key the caller names).
///
/// Methods by group, as in `quinn-proto`: getters ([`rate`](Pacer::rate),
/// [`is_active`](Pacer::is_active), [`config`](Pacer::config)); inputs
/// ([`on_response`](Pacer::on_response), [`set_fleet_rate`](Pacer::set_fleet_rate));
/// and the per-attempt commands ([`acquire`](Pacer::acquire), [`ready`](Pacer::ready),
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
    /// Whether answers teach the pacer: from the start, or (engaged by a hint or a
    /// quota) from the first throttle that engages it.
    listening: AtomicBool,
    /// When a hint engaged it, on the pacer's clock; [`NOT_HEARD`] otherwise. Throttles
    /// cut only [`Pacer::MEASURE_FIRST`] after: until then the meter has no rate to cut.
    heard: AtomicU64,
    /// Until when a spent quota holds every attempt, on the pacer's clock (0: never held):
    /// `max_wait` counts from there, since the server said when.
    held_until: AtomicU64,
    /// Set once this pacer listens, shared by every pacer of one policy: what a call that
    /// succeeds at once reads, one load, instead of finding its scope's pacer.
    engaged: Option<Arc<AtomicBool>>,
    /// The pacer's clock starts at the first instant it is given.
    base: OnceLock<Instant>,
    anchor: Anchor,
    /// The next free place (GCRA's theoretical arrival time, in tokens), as `f64` bits.
    tat: AtomicU64,
    /// The earliest time the next attempt may be sent, in nanoseconds: the bucket itself.
    /// Places order the queue; this keeps what is sent to the rate when waiters whose
    /// waits were reckoned at different rates wake together.
    sent: AtomicU64,
    meter: Meter,
    /// Throttles (and overloads) among the answers, measured as the meter measures them:
    /// a cut keeps the rate the rest were served at.
    throttles: Meter,
    /// Attempts that asked for a slot: the demand a fleet shares its rate by.
    asked: AtomicU64,
    /// Cuts made here (not learned from the fleet), for the exchange to see one is new.
    cuts: AtomicU64,
    /// Wakes the fleet's exchange when this pacer cuts, so the cut is shared at once.
    on_cut: OnceLock<Box<dyn Fn() + Send + Sync>>,
    slow: Mutex<Slow>,
}

impl fmt::Debug for Pacer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Pacer");
        d.field("config", &self.config)
            .field("active", &self.is_active())
            .field("interval_ns", &self.anchor.read().map(|m| m.interval));
        // What answers taught it, unless an answer is being learned from right now.
        if let Ok(slow) = self.slow.try_lock() {
            d.field("learned", &slow.learned.then(|| slow.cubic.rate()))
                .field("w_max", &slow.cubic.w_max())
                .field("share", &slow.share);
        }
        d.finish_non_exhaustive()
    }
}

/// `heard` before a hint engaged the pacer (or for one engaged by any throttle).
const NOT_HEARD: u64 = u64::MAX;

/// Nanoseconds between tokens at `rate` per second; 0 for no rate.
fn interval(rate: f64) -> u64 {
    if rate.is_finite() && rate > 0.0 {
        // Rounded up, so that the rate paced never exceeds the one asked for; `as`
        // saturates; a token per nanosecond at most.
        ((1e9 / rate).ceil() as u64).max(1)
    } else {
        0
    }
}

/// A wait in nanoseconds (a float, maybe negative or huge) as a duration.
fn wait_of(ns: f64) -> Duration {
    if ns.is_finite() && ns > 0.0 {
        // `as` saturates.
        Duration::from_nanos(ns as u64)
    } else if ns.is_nan() || ns <= 0.0 {
        Duration::ZERO
    } else {
        Duration::MAX
    }
}

impl Default for Pacer {
    fn default() -> Self {
        Pacer::new(PacerConfig::default())
    }
}

impl Pacer {
    /// The most of the rate a cut keeps, however much of it the server served: a throttle
    /// always slows the client down. (A cut keeps at least what the server has just
    /// served, [`SERVED_AFTER`](Self::SERVED_AFTER) or more after the last cut, and at
    /// least `β` of the rate cut from.)
    ///
    /// ```
    /// assert!(redial::pacer::Pacer::MAX_KEPT < 1.0);
    /// ```
    pub const MAX_KEPT: f64 = 0.99;

    /// A cut keeps the rate the server served only this long or more after the last cut:
    /// sooner, the meters (smoothed over about a second) still show the rate before it,
    /// and the cut is `β`'s alone. Measured: keeping it at every cut drew 0.110 429s per
    /// served call in a leaky bucket's first 20 s where `β` alone drew 0.067.
    ///
    /// ```
    /// assert_eq!(redial::pacer::Pacer::SERVED_AFTER, std::time::Duration::from_secs(1));
    /// ```
    pub const SERVED_AFTER: Duration = Duration::from_secs(1);

    /// The longest a waiting attempt sleeps before it asks [`ready`](Self::ready) again.
    /// Its slot is a place in the queue, and the place comes sooner when the rate grows
    /// meanwhile; a waiter that slept until the time first given would miss it, and the
    /// pacer would send at the rate it had when the call began to wait, up to `max_wait`
    /// ago. Measured against an acceleration limit (+1 request/s each second, one client
    /// at 30 calls/s, median of seeds 11–30): 20.5 calls/s served without it, 25.0 with it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{Acquire, Pacer};
    /// let p = Pacer::default();
    /// let now = Instant::now();
    /// p.set_fleet_rate(1.0, now, Duration::from_secs(60));
    /// p.acquire(now, None);
    /// // The slot is a second away; the waiter asks again sooner.
    /// assert_eq!(p.acquire(now, None).wait(), Pacer::RECHECK);
    /// assert_eq!(Pacer::RECHECK, Duration::from_millis(250));
    /// ```
    pub const RECHECK: Duration = Duration::from_millis(250);

    /// How long a pacer engaged by a hint ([`Engage::Hint`]) measures the rate the client
    /// sends at before a throttle may cut it: until the hint it heard nothing (a call
    /// that succeeded did not reach it), and a cut needs a rate to cut from. Two of the
    /// meter's half-second buckets.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{Pacer, PacerConfig};
    /// let p = Pacer::new(PacerConfig::on_hint());
    /// let t0 = Instant::now();
    /// p.on_response(t0, true, false, None);
    /// assert!(!p.is_active(), "a throttle without a hint: nothing learned");
    /// p.hear_hint(t0);
    /// for i in 0..20 {
    ///     p.on_response(t0 + Duration::from_millis(50 * i), i % 2 == 0, false, None);
    /// }
    /// assert!(!p.is_active(), "still measuring");
    /// p.on_response(t0 + Pacer::MEASURE_FIRST, true, false, None);
    /// assert!(p.is_active(), "cut from the rate measured");
    /// ```
    pub const MEASURE_FIRST: Duration = Duration::from_secs(1);

    /// How long a throttle holds the next send, once the pacer has measured the rate (a
    /// cut or not): the limiter that refused one request refuses the ones sent just after
    /// it (the same full bucket, the same spent second of an acceleration limit), and a
    /// cut alone still sends them. Short beside a second, so that a hold does not spill
    /// far into the next one: an acceleration limit lets through what was sent in the
    /// last second plus its slope. Chosen on seeds 1–10 among 30 to 500 ms (`pacer_study`);
    /// against +5 requests/s each second it takes the worst held-out seed of 11–30 from
    /// 2.8× to 5.6× fewer 429s than no pacer at the same throughput; 250 ms and more
    /// starved the slow +1/s ramp (12.7 calls/s served of 26).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{Acquire, Pacer};
    /// let p = Pacer::default();
    /// let t0 = Instant::now();
    /// for i in 0..20 {
    ///     p.on_response(t0 + Duration::from_millis(100 * i), false, false, None);
    /// }
    /// let now = t0 + Duration::from_secs(2);
    /// p.on_response(now, true, false, None);
    /// let Acquire::Wait { wait, ticket } = p.acquire(now, None) else { panic!() };
    /// assert_eq!(wait, Pacer::THROTTLE_HOLD);
    /// assert_eq!(p.ready(now + wait, ticket, None), Acquire::Go);
    /// ```
    pub const THROTTLE_HOLD: Duration = Duration::from_millis(70);

    /// How long a 429's wait that states no quota holds every attempt before one goes to
    /// check it ([`Engage::Quota`]): a brown-out's 429s say to wait too, and a check tells
    /// them from a spent window (see [`Engage::Quota`]). A second longer than
    /// [`CHECK_SLACK`](Self::CHECK_SLACK), so that a brown-out's whole new wait on the
    /// check ends clearly later than the window's.
    ///
    /// ```
    /// assert_eq!(redial::pacer::Pacer::CHECK_AFTER, std::time::Duration::from_secs(2));
    /// ```
    pub const CHECK_AFTER: Duration = Duration::from_secs(2);

    /// How far from the window's end a refused check's wait may end and still be the same
    /// window: `Retry-After` counts whole seconds.
    ///
    /// ```
    /// assert_eq!(redial::pacer::Pacer::CHECK_SLACK, std::time::Duration::from_secs(1));
    /// ```
    pub const CHECK_SLACK: Duration = Duration::from_secs(1);

    /// How long a check's verdict stands: waits that state no quota are a limiter's (held
    /// unchecked, and cutting the rate), or hold nothing. Then the next is checked again,
    /// in case the server has changed.
    ///
    /// ```
    /// assert_eq!(redial::pacer::Pacer::CHECKED_FOR, std::time::Duration::from_secs(60));
    /// ```
    pub const CHECKED_FOR: Duration = Duration::from_secs(60);

    /// An inactive pacer.
    ///
    /// ```
    /// let p = redial::pacer::Pacer::new(Default::default());
    /// assert_eq!(p.rate(std::time::Instant::now()), None);
    /// ```
    pub fn new(config: PacerConfig) -> Pacer {
        Pacer::sharing(config, None)
    }

    /// A pacer that sets `engaged` once it listens (a policy's pacers share one).
    pub(crate) fn sharing(config: PacerConfig, engaged: Option<Arc<AtomicBool>>) -> Pacer {
        let listening = config.engage == Engage::Throttle;
        if let (true, Some(flag)) = (listening, &engaged) {
            flag.store(true, Ordering::Release);
        }
        Pacer {
            config,
            active: AtomicBool::new(false),
            listening: AtomicBool::new(listening),
            heard: AtomicU64::new(NOT_HEARD),
            held_until: AtomicU64::new(0),
            engaged,
            base: OnceLock::new(),
            anchor: Anchor::default(),
            tat: AtomicU64::new(0f64.to_bits()),
            sent: AtomicU64::new(0),
            meter: Meter::new(),
            throttles: Meter::new(),
            asked: AtomicU64::new(0),
            cuts: AtomicU64::new(0),
            on_cut: OnceLock::new(),
            slow: Mutex::new(Slow {
                cubic: Cubic::new(config.cubic),
                learned: false,
                last_cut: None,
                quota: Ceiling::default(),
                fleet: Ceiling::default(),
                share: 1.0,
                lag: 0,
                fleet_answered: None,
                demand: share::Demand::default(),
                bare: bare_wait::BareWait::default(),
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

    /// Whether answers teach the pacer, so that a driver must bring it every answer (a
    /// success too) with the time it came: from the start when [`Engage::Throttle`]
    /// engages it, else once a hint did ([`hear_hint`](Self::hear_hint)) or anything
    /// made it pace. Until then a call that succeeds at once need not reach it (the
    /// driver reads one flag that a policy's pacers share, set when one listens).
    ///
    /// ```
    /// use redial::pacer::{Pacer, PacerConfig};
    /// assert!(Pacer::new(PacerConfig::default()).listens());
    /// let p = Pacer::new(PacerConfig::on_hint());
    /// assert!(!p.listens());
    /// p.hear_hint(std::time::Instant::now());
    /// assert!(p.listens());
    /// ```
    #[inline]
    pub fn listens(&self) -> bool {
        self.listening.load(Ordering::Acquire)
    }

    /// A throttle at `now` engaged the pacer: it said how long to wait (`Retry-After`, a
    /// reset, a spent quota; [`Engage::Hint`]) or stated a quota ([`Engage::Quota`]).
    /// From here it learns: it measures the rate sent for
    /// [`MEASURE_FIRST`](Self::MEASURE_FIRST), then every throttle cuts as with
    /// [`Engage::Throttle`] (with [`Engage::Quota`], every one that states a quota).
    /// [`learn`](Self::learn) calls it for the answers that engage; call it before
    /// [`on_response`](Self::on_response) for the same answer; later calls do nothing.
    ///
    /// ```
    /// use std::time::Instant;
    /// use redial::pacer::{Pacer, PacerConfig};
    /// let p = Pacer::new(PacerConfig::on_hint());
    /// p.hear_hint(Instant::now());
    /// assert!(p.listens() && !p.is_active(), "listening, not yet pacing");
    /// ```
    pub fn hear_hint(&self, now: Instant) {
        if self.listens() {
            return;
        }
        let _ = self.heard.compare_exchange(
            NOT_HEARD,
            self.ns(now),
            Ordering::AcqRel,
            Ordering::Acquire,
        );
        self.listen();
    }

    /// From here on answers teach it, and its policy's calls bring it every one.
    fn listen(&self) {
        self.listening.store(true, Ordering::Release);
        if let Some(flag) = &self.engaged {
            flag.store(true, Ordering::Release);
        }
    }

    /// `now` on the pacer's clock, in nanoseconds (saturating; an instant before the
    /// first one given counts as 0).
    fn ns(&self, now: Instant) -> u64 {
        let base = *self.base.get_or_init(|| now);
        nanos(now.saturating_duration_since(base))
    }

    /// The rate paced to, in requests per second: the lowest of the learned rate, a
    /// binding quota and the fleet's share, as of the last answer or fleet update. `None`
    /// while nothing paces.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let p = redial::pacer::Pacer::default();
    /// let now = Instant::now();
    /// p.set_fleet_rate(4.0, now, Duration::from_secs(1));
    /// assert_eq!(p.rate(now), Some(4.0));
    /// ```
    pub fn rate(&self, now: Instant) -> Option<f64> {
        let _ = now;
        if !self.is_active() {
            return None;
        }
        self.anchor.read().map(|m| 1e9 / m.interval)
    }

    /// Asks for the next slot at `now`. `deadline` is the call's, if it has one.
    ///
    /// Takes no lock and allocates nothing: one load while inactive; when active, an
    /// atomic add (counting the demand), a few loads and a compare-and-swap on the queue's
    /// word (and on the bucket's, when the call goes at once).
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{Acquire, Pacer};
    /// let p = Pacer::default();
    /// let now = Instant::now();
    /// p.set_fleet_rate(5.0, now, Duration::from_secs(60));
    /// assert_eq!(p.acquire(now, None), Acquire::Go);
    /// assert_eq!(p.acquire(now, None).wait(), Duration::from_millis(200));
    /// assert_eq!(
    ///     p.acquire(now, Some(now + Duration::from_millis(300))),
    ///     Acquire::RateLimited { wait: Duration::from_millis(400) },
    /// );
    /// ```
    pub fn acquire(&self, now: Instant, deadline: Option<Instant>) -> Acquire {
        if !self.active.load(Ordering::Acquire) {
            return Acquire::Go;
        }
        // Counted only while pacing: until then the answers measured are the demand.
        self.asked.fetch_add(1, Ordering::Relaxed);
        let now_ns = self.ns(now);
        let Some(map) = self.anchor.read() else {
            return Acquire::Go;
        };
        let limit = self.limit(now, now_ns, deadline);
        let now_pos = map.pos(now_ns);
        let tolerance = f64::from(self.config.burst.max(1) - 1);
        let mut bits = self.tat.load(Ordering::Acquire);
        loop {
            let tat = f64::from_bits(bits);
            let slot = (tat - tolerance).max(now_pos);
            // The later of the place's time and the bucket's: after the rate grew, the
            // bucket still spaces the next send by the interval of the last one (found by
            // a property test: the place came at once, the bucket then held it past
            // max_wait).
            let wait = wait_of((slot - now_pos) * map.interval).max(self.bucket_wait(now_ns, &map));
            if wait > limit {
                return Acquire::RateLimited { wait };
            }
            let next = tat.max(now_pos) + 1.0;
            match self.tat.compare_exchange_weak(
                bits,
                next.to_bits(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) if wait.is_zero() => {
                    return match self.take(now_ns, &map) {
                        Ok(()) => Acquire::Go,
                        // Another call took the bucket between the look above and now:
                        // its wait is bound by the same limit.
                        Err(wait) if wait > limit => {
                            self.release(now);
                            Acquire::RateLimited { wait }
                        }
                        Err(wait) => Acquire::waiting(wait, Ticket::new(slot)),
                    };
                }
                Ok(_) => return Acquire::waiting(wait, Ticket::new(slot)),
                Err(seen) => bits = seen,
            }
        }
    }

    /// How long until the bucket lets the next send go, as it stands.
    fn bucket_wait(&self, now: u64, map: &Map) -> Duration {
        let at = self.bucket_at(self.sent.load(Ordering::Acquire), map);
        Duration::from_nanos(at.saturating_sub(now))
    }

    /// When the bucket whose last send is `sent` lets the next one go: `burst - 1`
    /// intervals early.
    fn bucket_at(&self, sent: u64, map: &Map) -> u64 {
        let interval = map.interval as u64;
        sent.saturating_sub(interval.saturating_mul(u64::from(self.config.burst.max(1) - 1)))
    }

    /// Takes the bucket's token at `now` if it has come; otherwise how long until it.
    fn take(&self, now: u64, map: &Map) -> Result<(), Duration> {
        let interval = map.interval as u64;
        let mut sent = self.sent.load(Ordering::Acquire);
        loop {
            let at = self.bucket_at(sent, map);
            if at > now {
                return Err(Duration::from_nanos(at - now));
            }
            let next = sent.max(now).saturating_add(interval);
            match self
                .sent
                .compare_exchange_weak(sent, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => return Ok(()),
                Err(seen) => sent = seen,
            }
        }
    }

    /// The longest a call asking at `now` may wait: `max_wait` past the end of a hold the
    /// server stated (a spent quota: it said when, and a call waits for that as it waits
    /// for a hint), and never past the call's deadline.
    fn limit(&self, now: Instant, now_ns: u64, deadline: Option<Instant>) -> Duration {
        let held = self
            .held_until
            .load(Ordering::Acquire)
            .saturating_sub(now_ns);
        let most = self
            .config
            .max_wait
            .saturating_add(Duration::from_nanos(held));
        deadline.map_or(most, |d| most.min(d.saturating_duration_since(now)))
    }

    /// After a wait, whether the reserved slot has come at the rate as it is now:
    /// [`Acquire::Go`], or [`Acquire::Wait`] again (not yet: at most [`RECHECK`](Self::RECHECK) more), or
    /// [`Acquire::RateLimited`] when the slot has moved past `deadline` (the call then
    /// stops and should [`release`](Pacer::release) it). Lock-free.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{Acquire, Pacer};
    /// let p = Pacer::default();
    /// let now = Instant::now();
    /// p.set_fleet_rate(10.0, now, Duration::from_secs(60));
    /// p.acquire(now, None);
    /// let Acquire::Wait { wait, ticket } = p.acquire(now, None) else { unreachable!() };
    /// assert_eq!(p.ready(now + wait, ticket, None), Acquire::Go);
    /// ```
    pub fn ready(&self, now: Instant, ticket: Ticket, deadline: Option<Instant>) -> Acquire {
        let Some(map) = self.anchor.read() else {
            return Acquire::Go;
        };
        let now_ns = self.ns(now);
        let mut wait = wait_of(map.time(ticket.place()) - now_ns as f64);
        if wait.is_zero() {
            match self.take(now_ns, &map) {
                Ok(()) => return Acquire::Go,
                Err(w) => wait = w,
            }
        }
        if deadline.is_some_and(|d| wait > d.saturating_duration_since(now)) {
            Acquire::RateLimited { wait }
        } else {
            Acquire::waiting(wait, ticket)
        }
    }

    /// Gives back a slot reserved by [`acquire`](Pacer::acquire) that will not be used
    /// (the call was dropped, or stopped before its wait ended): the next call to ask
    /// takes one token sooner.
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
        let Some(map) = self.anchor.read() else {
            return;
        };
        let now_pos = map.pos(self.ns(now));
        let mut bits = self.tat.load(Ordering::Acquire);
        loop {
            let tat = f64::from_bits(bits);
            if tat <= now_pos {
                return;
            }
            let back = (tat - 1.0).max(now_pos);
            match self.tat.compare_exchange_weak(
                bits,
                back.to_bits(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(seen) => bits = seen,
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
    /// inactive, a success costs one atomic update of the meter and no lock.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{Acquire, Pacer, Quota};
    /// let p = Pacer::default();
    /// let now = Instant::now();
    /// let q = Quota { remaining: 0, reset: Duration::from_secs(3), limit: Some(100) };
    /// p.on_response(now, true, false, Some(q));
    /// // Held until the reset: a call due within 2 s cannot wait for it.
    /// let soon = Some(now + Duration::from_secs(2));
    /// assert!(matches!(p.acquire(now, soon), Acquire::RateLimited { wait } if wait >= Duration::from_secs(3)));
    /// ```
    pub fn on_response(&self, now: Instant, throttled: bool, overload: bool, quota: Option<Quota>) {
        self.respond(now, throttled, overload, quota, quota.is_some());
    }

    /// [`on_response`](Self::on_response), told whether the server stated `quota` (or a
    /// 429's wait implied it: a bare wait, which [`Engage::Quota`] checks before it holds).
    pub(crate) fn respond(
        &self,
        now: Instant,
        throttled: bool,
        overload: bool,
        quota: Option<Quota>,
        stated: bool,
    ) {
        let now_ns = self.ns(now);
        // Counted even before a hint engages it: the demand a fleet shares by.
        self.meter.record(now_ns);
        if !self.listens() {
            // Engaged by a hint or a quota, and none heard yet: nothing to learn.
            return;
        }
        let heard = self.heard.load(Ordering::Acquire);
        // Just engaged by a hint or a quota: measure the rate before cutting it.
        let measuring =
            heard != NOT_HEARD && now_ns < heard.saturating_add(nanos(Pacer::MEASURE_FIRST));
        if throttled || overload {
            self.throttles.record(now_ns);
        }
        let may_cut = (throttled || overload) && !measuring;
        if !may_cut && quota.is_none() && !self.is_active() {
            return;
        }
        let measured = self.meter.rate(now_ns);
        let secs = now_ns as f64 / 1e9;
        let mut slow = self.slow.lock().unwrap_or_else(|e| e.into_inner());
        // The learned rate is the fleet's (all of it when alone): as the fleet measured
        // it at the last sync, or else what this process measures scaled up by its share.
        // A stated quota is the fleet's too, when the fleet shares one API key.
        let fleet_measured = match slow.fleet_answered {
            Some((rate, until)) if now_ns < until => rate,
            _ => measured / slow.share,
        };
        let mut hold = None;
        let bare = !stated && self.config.engage == Engage::Quota;
        if !throttled && !overload {
            slow.bare.success(now_ns);
        }
        if let Some(q) = quota {
            hold = if bare {
                // A wait no quota backs (so none remains): held only as far as its check
                // says, and then as a spent quota is, with no ceiling.
                let held = slow
                    .bare
                    .hold(now_ns, now_ns.saturating_add(nanos(q.reset)));
                if held.is_some() {
                    slow.quota = Ceiling::default();
                }
                held
            } else {
                self.learn_quota(&mut slow, now_ns, q, fleet_measured)
            };
        }
        // A pacer engaged by a quota learns from what the server stated, or from bare
        // 429s once a check showed them a limiter's.
        let trusted = throttled && (!bare || slow.bare.limiter(now_ns));
        let cut = (trusted || overload) && !measuring;
        let mut cut_here = false;
        if cut {
            let settle = nanos(self.config.settle).saturating_add(slow.lag);
            let settling = slow
                .last_cut
                .is_some_and(|at| now_ns < at.saturating_add(settle));
            if !settling {
                let previous = slow.last_cut;
                slow.last_cut = Some(now_ns);
                slow.learned = true;
                slow.cubic.on_throttle(secs, fleet_measured);
                // Never below what the server has just served (the fleet's measured rate
                // less the share of it that was throttled), and always a cut.
                let throttled = self.throttles.rate(now_ns);
                let served = if measured > 0.0 {
                    ((measured - throttled) / measured).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                // Only once the meters have measured the rate the last cut left: just
                // after one they still show the rate before it, and in a first burst of
                // throttles the throttle meter has barely begun.
                let after = nanos(Pacer::SERVED_AFTER);
                if previous.is_some_and(|at| now_ns >= at.saturating_add(after)) {
                    let kept = slow.cubic.w_max() * Pacer::MAX_KEPT;
                    slow.cubic.not_below((fleet_measured * served).min(kept));
                }
                cut_here = true;
            }
        } else if slow.learned {
            slow.cubic.on_success(secs, fleet_measured);
        }
        // The pacer's own hold, not the server's: a call waits for it within max_wait.
        let pause =
            (trusted && !measuring).then(|| now_ns.saturating_add(nanos(Pacer::THROTTLE_HOLD)));
        self.apply(&slow, now_ns, hold, pause);
        drop(slow);
        if cut_here {
            self.cuts.fetch_add(1, Ordering::Release);
            if let Some(wake) = self.on_cut.get() {
                wake();
            }
        }
    }

    /// Re-anchors the queue at `now` on the rate as it now is, and holds it until `hold`
    /// (stated by the server: `max_wait` counts from its end) or `pause` (the pacer's own).
    fn apply(&self, slow: &Slow, now: u64, hold: Option<u64>, pause: Option<u64>) {
        let learned = if slow.learned {
            interval(slow.cubic.rate() * slow.share)
        } else {
            0
        };
        let mut step = learned.max(slow.quota.at(now)).max(slow.fleet.at(now));
        if step == 0 && hold.is_some() {
            // Nothing learned, but a quota of 0: one token per second after the reset
            // until an answer says more (after a check's hold, faster: its answer says).
            step = if slow.bare.checking(now) {
                bare_wait::BareWait::CHECK_STEP
            } else {
                1_000_000_000
            };
        }
        let old = self.anchor.read();
        let same = old.is_some_and(|m| m.interval == step as f64);
        if step == 0 {
            if old.is_some() {
                // Nothing paces any more: the queue's places keep counting from here.
                self.anchor.write(now, old.map_or(0.0, |m| m.pos(now)), 0);
            }
            return;
        }
        if !same {
            // The place due now stays due now; the places after it move with the rate.
            let pos = match old {
                Some(m) => m.pos(now),
                None => f64::from_bits(self.tat.load(Ordering::Acquire)),
            };
            self.anchor.write(now, pos, step);
        }
        if let Some(until) = hold {
            self.held_until.fetch_max(until, Ordering::AcqRel);
        }
        if let Some(until) = hold.max(pause) {
            self.sent.fetch_max(until, Ordering::AcqRel);
            if let Some(map) = self.anchor.read() {
                let place = map.pos(until);
                let _ = self
                    .tat
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |bits| {
                        let tat = f64::from_bits(bits);
                        (tat < place).then_some(place.to_bits())
                    });
            }
        }
        self.listen();
        self.active.store(true, Ordering::Release);
    }

    /// Learns a stated quota; returns when to hold the queue until if none remains.
    fn learn_quota(&self, slow: &mut Slow, now: u64, q: Quota, sending: f64) -> Option<u64> {
        let until = now.saturating_add(nanos(q.reset));
        if q.remaining == 0 {
            slow.quota = Ceiling::default();
            return Some(until);
        }
        let rate = q.rate()?;
        let learned = if slow.learned { slow.cubic.rate() } else { 0.0 };
        // Binding: at the rate sent, what remains would be spent before the reset; or the
        // learned rate is already above what the quota allows.
        let binds = sending * q.reset.as_secs_f64() > q.remaining as f64 || learned > rate;
        slow.quota = if binds {
            Ceiling {
                interval: interval(rate * slow.share),
                until,
            }
        } else {
            Ceiling::default()
        };
        None
    }

    /// This process's share of the rate a fleet learned, valid from `at` for `fresh_for`:
    /// a ceiling on the rate until then (it lapses at the first answer after). A rate that
    /// is not a finite number above 0 is ignored.
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
        let mut slow = self.slow.lock().unwrap_or_else(|e| e.into_inner());
        slow.fleet = Ceiling {
            interval: i,
            until: at.saturating_add(nanos(fresh_for)),
        };
        self.apply(&slow, at, None, None);
    }
}
