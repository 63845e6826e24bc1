//! The rate-limit gate: when a key's quota is spent, hold first attempts until it resets,
//! then let them back in gradually.
//!
//! A server that rate-limits by API key says when the quota resets: a 429 with a reset
//! hint, or a response whose `remaining` count is 0 with a reset time. Every call that
//! starts before then gets a 429 too, and when the quota resets, a fleet whose calls all
//! waited for the same instant comes back at once (an API's acceleration limits answer
//! such a surge with 429 even under quota). The gate remembers the learned reset and
//! answers, for each first attempt, [`Admission::Go`] or [`Admission::Wait`]:
//!
//! - before the reset: wait; the release instant is drawn in the ramp window that follows
//!   the reset;
//! - during the ramp window, which lasts as long as the hold it follows (from learning to
//!   the reset), up to `ramp` (default 10 s): a first attempt goes at once with
//!   probability `f`, the elapsed fraction of the ramp, else waits for an instant drawn
//!   later in the ramp. Released attempts arrive with a density that grows linearly over
//!   the ramp (for attempts held since before the reset, the release time `T` has
//!   `P(T ≤ reset + f × ramp) = f²`), so the load climbs back instead of jumping;
//! - after the ramp: go.
//!
//! Why the ramp lasts as long as the hold: the calls held meanwhile come back together,
//! and a fleet learns that the quota is spent again only one sync later. Released over a
//! window as long as the one they piled up in, they come back at about the rate they
//! arrived, so few of them land in that blind spot, while a short hold (a per-second
//! quota) gets a short ramp and wastes no quota.
//!
//! A wait is a [`Held`] ticket: the caller sleeps its `delay`, then asks again with the
//! ticket, and goes unless a later reset was learned meanwhile (then it is held again).
//!
//! The gate is shared by every clone (one atomic word: the reset, in wall-clock
//! milliseconds, and the ramp's length), and with the `redis` feature by every process naming the same fleet key:
//! the reset is a wall-clock instant precisely so that processes can exchange it. Like the
//! rest of the core it never reads a clock or allocates: the wall-clock time and the random
//! generator are arguments.
//!
//! ```
//! use std::time::{Duration, SystemTime};
//! use redial::gate::{Admission, Gate, GateConfig};
//!
//! let gate = Gate::new(GateConfig::default());
//! let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
//! let mut rng = fastrand::Rng::with_seed(7);
//! assert_eq!(gate.admit(now, None, &mut rng), Admission::Go);
//!
//! gate.learn(Duration::from_secs(2), now); // a 429 said: the quota resets in 2s
//! let Admission::Wait(held) = gate.admit(now, None, &mut rng) else { panic!() };
//! // Released in the ramp after the reset, as long as the 2s hold.
//! assert!(held.delay >= Duration::from_secs(2) && held.delay <= Duration::from_secs(4));
//! // After the wait, the same ticket goes (no later reset was learned meanwhile).
//! assert_eq!(gate.admit(now + held.delay, Some(held), &mut rng), Admission::Go);
//! ```

use core::fmt;
use core::time::Duration;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::SystemTime;

use fastrand::Rng;
use http::HeaderMap;

use crate::hints::{self, HintSource};

/// The gate's settings (the `[fleet]` table's `ramp` and `max_hold`).
///
/// ```
/// use std::time::Duration;
/// let c = redial::gate::GateConfig::default();
/// assert_eq!((c.ramp, c.max_hold), (Duration::from_secs(10), Duration::from_secs(60)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct GateConfig {
    /// The longest ramp: first attempts come back in full over as long as the hold
    /// lasted, up to this (default 10 s; at most about 17 minutes, 2^20 ms). Zero: no
    /// ramp, only the spread an honoured hint gets, `min(hold / 10, 1s)`.
    pub ramp: Duration,
    /// The longest hold: a reset further away is held this long (a daily quota does not
    /// park a service for hours; the next 429 after the hold teaches the gate again).
    /// The default is the default `max_hint`, 60 s.
    pub max_hold: Duration,
}

impl GateConfig {
    /// A gate with this ramp and longest hold.
    ///
    /// ```
    /// use std::time::Duration;
    /// let c = redial::gate::GateConfig::new(Duration::ZERO, Duration::from_secs(5));
    /// assert_eq!(c.ramp, Duration::ZERO);
    /// ```
    pub const fn new(ramp: Duration, max_hold: Duration) -> Self {
        GateConfig { ramp, max_hold }
    }
}

impl Default for GateConfig {
    fn default() -> Self {
        GateConfig::new(Duration::from_secs(10), Duration::from_secs(60))
    }
}

/// The gate's answer for a first attempt.
///
/// ```
/// use redial::gate::Admission;
/// assert!(Admission::Go.is_go());
/// ```
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Make the attempt now.
    Go,
    /// Wait [`Held::delay`], then ask again with the ticket.
    Wait(Held),
}

impl Admission {
    /// Whether this is [`Admission::Go`].
    ///
    /// ```
    /// assert!(!redial::gate::Admission::Wait(Default::default()).is_go());
    /// ```
    pub const fn is_go(&self) -> bool {
        matches!(self, Admission::Go)
    }
}

/// A first attempt held by the gate: how long to wait, and the reset it waits for.
///
/// ```
/// let held = redial::gate::Held::default();
/// let held = redial::gate::Held { delay: std::time::Duration::from_millis(1500), ..held };
/// assert_eq!(held.to_string(), "held 1.5s by the rate-limit gate");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Held {
    /// How long to wait before asking again.
    pub delay: Duration,
    /// The reset (wall-clock milliseconds since the Unix epoch) this wait was drawn for.
    pub reset_ms: u64,
}

impl fmt::Display for Held {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "held {} by the rate-limit gate",
            crate::duration::Exact(self.delay)
        )
    }
}

/// The rate-limit gate (see the [module docs](self)). Clones share it.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// let gate = redial::gate::Gate::new(Default::default());
/// let shared = gate.clone();
/// shared.learn(Duration::from_secs(1), SystemTime::now());
/// assert!(gate.reset().is_some());
/// ```
#[derive(Clone)]
pub struct Gate {
    shared: Arc<Shared>,
}

struct Shared {
    config: GateConfig,
    /// The latest reset learned here or from the fleet, in wall-clock milliseconds since
    /// the Unix epoch (0 when none), in the high 44 bits, and its ramp in milliseconds in
    /// the low 20: `fetch_max` keeps the later reset with its own ramp.
    word: AtomicU64,
    /// Called when a later reset is learned here, so that an exchange can share it before
    /// its next tick.
    on_learn: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gate")
            .field("config", &self.shared.config)
            .field("reset_ms", &self.reset_ms())
            .finish()
    }
}

impl Gate {
    /// An open gate.
    ///
    /// ```
    /// assert_eq!(redial::gate::Gate::new(Default::default()).reset(), None);
    /// ```
    pub fn new(config: GateConfig) -> Gate {
        Gate {
            shared: Arc::new(Shared {
                config,
                word: AtomicU64::new(0),
                on_learn: OnceLock::new(),
            }),
        }
    }

    /// The settings.
    ///
    /// ```
    /// let gate = redial::gate::Gate::new(Default::default());
    /// assert_eq!(gate.config().ramp, std::time::Duration::from_secs(10));
    /// ```
    pub fn config(&self) -> &GateConfig {
        &self.shared.config
    }

    /// Whether two handles share one gate.
    ///
    /// ```
    /// let gate = redial::gate::Gate::new(Default::default());
    /// assert!(gate.same(&gate.clone()));
    /// assert!(!gate.same(&redial::gate::Gate::new(Default::default())));
    /// ```
    pub fn same(&self, other: &Gate) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// The latest reset learned, if any (it may be past).
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let gate = redial::gate::Gate::new(Default::default());
    /// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// gate.learn(Duration::from_secs(3), now);
    /// assert_eq!(gate.reset(), Some(now + Duration::from_secs(3)));
    /// ```
    pub fn reset(&self) -> Option<SystemTime> {
        match self.reset_ms() {
            0 => None,
            ms => SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(ms)),
        }
    }

    /// The latest reset in wall-clock milliseconds since the Unix epoch, 0 when none: the
    /// form an exchange sends.
    ///
    /// ```
    /// assert_eq!(redial::gate::Gate::new(Default::default()).reset_ms(), 0);
    /// ```
    #[inline]
    pub fn reset_ms(&self) -> u64 {
        self.shared.word.load(Ordering::Relaxed) >> RAMP_BITS
    }

    /// The ramp that follows the latest reset, in milliseconds: the form an exchange sends.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let gate = redial::gate::Gate::new(Default::default());
    /// gate.learn(Duration::from_secs(3), SystemTime::now());
    /// assert_eq!(gate.ramp_ms(), 3_000, "as long as the hold");
    /// gate.learn(Duration::from_secs(50), SystemTime::now());
    /// assert_eq!(gate.ramp_ms(), 10_000, "up to the longest ramp");
    /// ```
    #[inline]
    pub fn ramp_ms(&self) -> u64 {
        self.shared.word.load(Ordering::Relaxed) & RAMP_MASK
    }

    /// Learns that the quota resets `wait` after `now` (capped at `max_hold`). A reset
    /// earlier than one already known changes nothing; a wait of zero means the quota is
    /// back and holds nothing.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// let gate = redial::gate::Gate::new(Default::default());
    /// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// gate.learn(Duration::from_secs(10), now);
    /// gate.learn(Duration::from_secs(1), now);
    /// assert_eq!(gate.reset(), Some(now + Duration::from_secs(10)), "the later reset wins");
    /// ```
    pub fn learn(&self, wait: Duration, now: SystemTime) {
        if wait.is_zero() {
            return;
        }
        let hold = ceil_millis(wait.min(self.shared.config.max_hold));
        let reset = millis(now).saturating_add(hold);
        let ramp = hold.min(ceil_millis(self.shared.config.ramp));
        let before = self.merge(reset, ramp);
        if reset > before {
            if let Some(wake) = self.shared.on_learn.get() {
                wake();
            }
        }
    }

    /// Learns from a response: a 429 with any reset hint, or a response of any status whose
    /// rate-limit headers say a quota has 0 left and when it resets (see
    /// [`hints`] for the header families). `wall` is when it arrived.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use http::HeaderMap;
    ///
    /// let gate = redial::gate::Gate::new(Default::default());
    /// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-ratelimit-remaining-requests", "0".parse()?);
    /// headers.insert("x-ratelimit-reset-requests", "1.5s".parse()?);
    /// gate.learn_from_response(200, &headers, now); // the last request of the quota
    /// assert_eq!(gate.reset(), Some(now + Duration::from_millis(1500)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn learn_from_response(&self, status: u16, headers: &HeaderMap, wall: SystemTime) {
        if status == 429 {
            if let Some(hint) = hints::server_wait(headers, status, wall) {
                self.learn(hint.wait, wall);
            }
        } else {
            // Off a 429, only a spent quota's reset holds the fleet: a retry-after on a
            // 503 is about one server's health, not the key's quota.
            self.learn_spent_quota(status, headers, wall);
        }
    }

    /// Learns from a response only a spent quota's reset: rate-limit headers that say 0
    /// are left and when they come back, whatever the status, or on a 429 a rate-limit
    /// reset alone (the 429 says the quota is spent). What a policy with a rate
    /// pacer asks of the gate: the pacer learns from a 429 itself (a leaky bucket's
    /// `Retry-After: 1` means "this one came too soon", and holding every first attempt
    /// for it stalls the fleet), but a spent quota holds every process until its reset.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use http::HeaderMap;
    ///
    /// let gate = redial::gate::Gate::new(Default::default());
    /// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("retry-after", "1".parse()?);
    /// gate.learn_spent_quota(429, &headers, now);
    /// assert_eq!(gate.reset(), None, "a retry hint alone is no spent quota");
    /// headers.insert("x-ratelimit-remaining", "0".parse()?);
    /// headers.insert("x-ratelimit-reset", "2".parse()?);
    /// gate.learn_spent_quota(429, &headers, now);
    /// assert_eq!(gate.reset(), Some(now + Duration::from_secs(2)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn learn_spent_quota(&self, status: u16, headers: &HeaderMap, wall: SystemTime) {
        let wait = HintSource::ALL
            .into_iter()
            .filter(HintSource::is_rate_limit_reset)
            .find_map(|source| hints::read(source, headers, status, wall).valid());
        if let Some(wait) = wait {
            self.learn(wait, wall);
        }
    }

    /// Merges a reset learned elsewhere (by the fleet), in wall-clock milliseconds since the
    /// Unix epoch, with its ramp in milliseconds: the later reset wins, with its ramp. Does
    /// not call the learn hook. Returns the reset known before.
    ///
    /// ```
    /// let gate = redial::gate::Gate::new(Default::default());
    /// gate.merge(1_800_000_000_000, 2_000);
    /// gate.merge(5, 1);
    /// assert_eq!((gate.reset_ms(), gate.ramp_ms()), (1_800_000_000_000, 2_000));
    /// ```
    pub fn merge(&self, reset_ms: u64, ramp_ms: u64) -> u64 {
        let word = (reset_ms.min(RESET_MAX) << RAMP_BITS) | ramp_ms.min(RAMP_MASK);
        self.shared.word.fetch_max(word, Ordering::Relaxed) >> RAMP_BITS
    }

    /// Sets the hook called (on the learning thread) when a later reset is learned here.
    /// One hook per gate: a second call returns false and changes nothing. The Redis
    /// exchange uses it to share a new reset at once rather than at its next tick.
    ///
    /// ```
    /// let gate = redial::gate::Gate::new(Default::default());
    /// assert!(gate.on_learn(|| {}));
    /// assert!(!gate.on_learn(|| {}));
    /// ```
    pub fn on_learn(&self, hook: impl Fn() + Send + Sync + 'static) -> bool {
        self.shared.on_learn.set(Box::new(hook)).is_ok()
    }

    /// The answer for a first attempt that starts at `now` (wall clock): go, or wait. A
    /// caller that waited passes the [`Held`] it got back in `held`: it goes unless a later
    /// reset was learned meanwhile. Reads one atomic word; allocates nothing.
    ///
    /// ```
    /// use std::time::{Duration, SystemTime};
    /// use redial::gate::{Admission, Gate, GateConfig};
    ///
    /// let gate = Gate::new(GateConfig::new(Duration::ZERO, Duration::from_secs(60)));
    /// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// gate.learn(Duration::from_secs(10), now);
    /// let mut rng = fastrand::Rng::with_seed(1);
    /// // With no ramp, the hold is the reset plus the usual spread: min(wait / 10, 1s).
    /// let Admission::Wait(held) = gate.admit(now, None, &mut rng) else { panic!() };
    /// assert!(held.delay >= Duration::from_secs(10) && held.delay <= Duration::from_secs(11));
    /// ```
    #[inline]
    pub fn admit(&self, now: SystemTime, held: Option<Held>, rng: &mut Rng) -> Admission {
        let word = self.shared.word.load(Ordering::Relaxed);
        // No reset known (a zero word has none either): go.
        let reset = word >> RAMP_BITS;
        if reset == 0 {
            return Admission::Go;
        }
        if let Some(held) = held {
            if held.reset_ms >= reset {
                return Admission::Go;
            }
        }
        decide(reset, word & RAMP_MASK, millis(now), rng)
    }
}

/// Bits of the gate's word that hold the ramp, in milliseconds (up to about 17 minutes).
const RAMP_BITS: u32 = 20;
const RAMP_MASK: u64 = (1 << RAMP_BITS) - 1;
/// The latest reset the word can hold (in the year 2527).
const RESET_MAX: u64 = u64::MAX >> RAMP_BITS;

/// The held path of [`Gate::admit`], apart so that the open gate stays small.
fn decide(reset: u64, ramp: u64, now: u64, rng: &mut Rng) -> Admission {
    let end = reset.saturating_add(ramp);
    if now >= end {
        return Admission::Go;
    }
    let release = if ramp == 0 {
        // No ramp: the reset plus the spread an honoured hint gets.
        let wait = reset.saturating_sub(now);
        reset.saturating_add(rng.u64(0..=(wait / 10).min(1_000)))
    } else {
        // `f` is the elapsed fraction of the ramp (0 before the reset). The attempt goes
        // with probability f; else its release instant is drawn on [f, 1] of the ramp
        // with a density growing linearly: x = sqrt(f² + u (1 − f²)).
        let f = now.saturating_sub(reset) as f64 / ramp as f64;
        if now >= reset && rng.f64() < f {
            return Admission::Go;
        }
        let x = (f * f + rng.f64() * (1.0 - f * f)).sqrt();
        // `x` is in [0, 1], so the product is too (`as` saturates in any case).
        reset.saturating_add((x * ramp as f64) as u64)
    };
    Admission::Wait(Held {
        delay: Duration::from_millis(release.saturating_sub(now).max(1)),
        reset_ms: reset,
    })
}

/// Milliseconds since the Unix epoch, rounded down; 0 for earlier times.
#[inline]
pub(crate) fn millis(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Whole milliseconds, rounded up (a hold never ends before the reset), saturating.
fn ceil_millis(d: Duration) -> u64 {
    let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    if d.subsec_nanos().is_multiple_of(1_000_000) {
        ms
    } else {
        ms.saturating_add(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fastrand::Rng;
    use proptest::prelude::*;

    const T0: u64 = 1_800_000_000_000;

    fn at(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_millis(ms)
    }

    fn gate(ramp_ms: u64) -> Gate {
        Gate::new(GateConfig::new(
            Duration::from_millis(ramp_ms),
            Duration::from_secs(60),
        ))
    }

    /// A gate with a 1 s ramp that learned at `T0` a reset 2 s later, and that reset.
    fn ramped() -> (Gate, u64) {
        let g = gate(1_000);
        g.learn(Duration::from_millis(2_000), at(T0));
        (g, T0 + 2_000)
    }

    proptest! {
        #[test]
        fn prop_gate_holds_until_the_reset(
            wait in 1u64..120_000, before in 0u64..120_000, ramp in 0u64..5_000, seed: u64,
        ) {
            let g = gate(ramp);
            g.learn(Duration::from_millis(wait), at(T0));
            let hold = wait.min(60_000);
            let (reset, ramp) = (T0 + hold, ramp.min(hold));
            let now = reset.saturating_sub(before.max(1));
            let mut rng = Rng::with_seed(seed);
            match g.admit(at(now), None, &mut rng) {
                Admission::Go => prop_assert!(false, "admitted before the reset"),
                Admission::Wait(held) => {
                    let release = now + held.delay.as_millis() as u64;
                    prop_assert!(release >= reset, "released before the reset");
                    // The release lies in the ramp (or, with none, the usual spread).
                    let spread = ((reset - now) / 10).min(1_000);
                    let most = if ramp == 0 { spread } else { ramp };
                    prop_assert!(release <= reset + most);
                    prop_assert_eq!(held.reset_ms, reset);
                }
            }
        }

        #[test]
        fn prop_gate_opens_after_the_ramp(wait in 1u64..60_000, ramp in 0u64..5_000, after in 0u64..1_000_000, seed: u64) {
            let g = gate(ramp);
            g.learn(Duration::from_millis(wait), at(T0));
            let now = T0 + wait + ramp.min(wait) + after;
            prop_assert_eq!(g.admit(at(now), None, &mut Rng::with_seed(seed)), Admission::Go);
        }

        /// In the ramp, an attempt goes with probability f, the elapsed fraction of the
        /// ramp: the first draw of the generator says which (below f: go), and a held one
        /// is released later in the ramp, never past it.
        #[test]
        fn prop_gate_release_stays_in_the_ramp(wait in 1u64..60_000, ramp in 1u64..5_000, into in 0u64..5_000, seed: u64) {
            let g = gate(ramp);
            g.learn(Duration::from_millis(wait), at(T0));
            let (reset, ramp) = (T0 + wait, ramp.min(wait));
            let into = into.min(ramp - 1);
            let now = reset + into;
            let f = into as f64 / ramp as f64;
            let goes = Rng::with_seed(seed).f64() < f;
            match g.admit(at(now), None, &mut Rng::with_seed(seed)) {
                Admission::Wait(held) => {
                    prop_assert!(!goes, "held, with a draw under f = {f}");
                    let release = now + held.delay.as_millis() as u64;
                    prop_assert!(release > now && release <= reset + ramp);
                    prop_assert_eq!(held.reset_ms, reset);
                }
                Admission::Go => prop_assert!(goes, "went, with a draw of at least f = {f}"),
            }
        }

        #[test]
        fn prop_gate_reset_is_the_latest_learned(waits in prop::collection::vec((0u64..200_000, 0u64..100_000), 0..20)) {
            let g = gate(1_000);
            let (mut model, mut ramp) = (0u64, 0u64);
            for (wait, offset) in waits {
                g.learn(Duration::from_millis(wait), at(T0 + offset));
                let reset = T0 + offset + wait.min(60_000);
                if wait > 0 && reset >= model {
                    // The later reset wins, with the ramp of its own hold.
                    ramp = if reset == model { ramp.max(wait.min(1_000)) } else { wait.min(1_000) };
                    model = reset;
                }
                prop_assert_eq!((g.reset_ms(), g.ramp_ms()), (model, ramp));
            }
        }

        #[test]
        fn prop_gate_ticket_goes_unless_a_later_reset(wait in 1u64..60_000, later in 0u64..60_000, seed: u64) {
            let g = gate(1_000);
            g.learn(Duration::from_millis(wait), at(T0));
            let mut rng = Rng::with_seed(seed);
            let Admission::Wait(held) = g.admit(at(T0), None, &mut rng) else {
                return Err(TestCaseError::fail("a held gate admitted"));
            };
            let back = T0 + held.delay.as_millis() as u64;
            g.learn(Duration::from_millis(later), at(T0));
            let again = g.admit(at(back), Some(held), &mut rng);
            if later > wait {
                // A later reset arrived meanwhile: judged afresh against it (held before
                // it; in its ramp, held or let through).
                match again {
                    Admission::Wait(h) => prop_assert_eq!(h.reset_ms, T0 + later),
                    Admission::Go => prop_assert!(back >= T0 + later),
                }
            } else {
                prop_assert_eq!(again, Admission::Go);
            }
        }

        #[test]
        fn prop_gate_never_panics(wait_ns: u64, wait_s: u64, now_ms: u64, ramp_ms: u64, hold_s: u64, seed: u64) {
            let g = Gate::new(GateConfig::new(Duration::from_millis(ramp_ms), Duration::from_secs(hold_s)));
            let now = SystemTime::UNIX_EPOCH.checked_add(Duration::from_millis(now_ms)).unwrap_or(SystemTime::UNIX_EPOCH);
            g.learn(Duration::new(wait_s, (wait_ns % 1_000_000_000) as u32), now);
            let mut rng = Rng::with_seed(seed);
            let _ = g.admit(now, None, &mut rng);
            let _ = g.admit(SystemTime::UNIX_EPOCH, None, &mut rng);
        }
    }

    /// The share of first attempts that go at once is the elapsed fraction of the ramp.
    /// Oracle: the design's rule (probability f), counted over many seeds.
    #[test]
    fn ramp_admits_the_elapsed_fraction() {
        let (g, reset) = ramped();
        let mut rng = Rng::with_seed(11);
        for tenths in [0u64, 2, 5, 8] {
            let n = 20_000;
            let go = (0..n)
                .filter(|_| g.admit(at(reset + tenths * 100), None, &mut rng).is_go())
                .count();
            let share = go as f64 / n as f64;
            let f = tenths as f64 / 10.0;
            assert!((share - f).abs() < 0.02, "at {f}: {share}");
        }
    }

    /// Attempts held since before the reset come back with a density that grows linearly
    /// over the ramp: P(release ≤ reset + f × ramp) = f².
    #[test]
    fn held_attempts_ramp_back_linearly() {
        let (g, reset) = ramped();
        let mut rng = Rng::with_seed(3);
        let releases: Vec<u64> = (0..20_000)
            .map(|_| match g.admit(at(T0), None, &mut rng) {
                Admission::Wait(h) => T0 + h.delay.as_millis() as u64 - reset,
                Admission::Go => panic!("admitted before the reset"),
            })
            .collect();
        for f in [0.25f64, 0.5, 0.75] {
            let share = releases
                .iter()
                .filter(|&&r| (r as f64) <= f * 1_000.0)
                .count() as f64
                / 20_000.0;
            assert!((share - f * f).abs() < 0.02, "at {f}: {share}");
        }
    }

    #[test]
    fn responses_teach_the_gate() {
        let now = at(T0);
        let headers = |pairs: &[(&'static str, &str)]| {
            let mut h = HeaderMap::new();
            for (k, v) in pairs {
                h.insert(*k, v.parse().expect("a valid header value"));
            }
            h
        };
        let learned = |status, h: &HeaderMap| {
            let g = gate(0);
            g.learn_from_response(status, h, now);
            g.reset_ms().checked_sub(T0)
        };
        assert_eq!(learned(429, &headers(&[("retry-after", "3")])), Some(3_000));
        assert_eq!(learned(429, &headers(&[])), None, "a 429 without a reset");
        assert_eq!(
            learned(503, &headers(&[("retry-after", "3")])),
            None,
            "a 503's retry-after is no quota"
        );
        let spent = headers(&[
            ("x-ratelimit-remaining-requests", "0"),
            ("x-ratelimit-reset-requests", "250ms"),
        ]);
        assert_eq!(learned(200, &spent), Some(250));
        let left = headers(&[
            ("x-ratelimit-remaining-requests", "3"),
            ("x-ratelimit-reset-requests", "250ms"),
        ]);
        assert_eq!(learned(200, &left), None, "quota left");
        assert_eq!(learned(429, &headers(&[("retry-after", "0")])), None);
    }

    /// The hook fires on the learn that moves the reset later, and on no other: not for
    /// an earlier reset, nor for the same one learned again, nor for a merge.
    #[test]
    fn learning_a_later_reset_calls_the_hook_once_per_change() {
        let g = gate(0);
        let calls = Arc::new(AtomicU64::new(0));
        let c = calls.clone();
        assert!(g.on_learn(move || {
            c.fetch_add(1, Ordering::Relaxed);
        }));
        let after = |wait_ms| {
            g.learn(Duration::from_millis(wait_ms), at(T0));
            calls.load(Ordering::Relaxed)
        };
        assert_eq!(after(2_000), 1, "the first reset");
        assert_eq!(after(1_000), 1, "an earlier reset");
        assert_eq!(after(2_000), 1, "the same reset again");
        assert_eq!(after(3_000), 2, "a later reset");
        g.merge(T0 + 10_000, 0);
        assert_eq!(calls.load(Ordering::Relaxed), 2, "a merge");
    }

    #[test]
    fn merge_returns_the_reset_known_before() {
        let g = gate(0);
        assert_eq!(g.merge(T0 + 5_000, 700), 0, "none yet");
        assert_eq!(g.merge(T0 + 1_000, 0), T0 + 5_000, "an earlier one");
        assert_eq!(g.merge(T0 + 9_000, 0), T0 + 5_000, "a later one");
        assert_eq!((g.reset_ms(), g.ramp_ms()), (T0 + 9_000, 0));
    }

    /// The word holds resets up to the year 2527: a later one is kept as the latest it
    /// can hold, never wrapped round to an early (long past) one that would open the gate.
    #[test]
    fn a_reset_past_the_words_range_is_held_at_the_latest_it_can_hold() {
        let g = gate(0);
        g.learn(Duration::from_secs(1), at(RESET_MAX));
        assert_eq!(g.reset_ms(), RESET_MAX);
        let held = g.admit(at(RESET_MAX - 1_000), None, &mut Rng::with_seed(1));
        assert!(!held.is_go(), "{held:?}");
    }

    #[test]
    fn reset_is_the_learned_instant_or_none() {
        let g = gate(0);
        assert_eq!(g.reset(), None);
        g.learn(Duration::from_millis(3_000), at(T0));
        assert_eq!(g.reset(), Some(at(T0 + 3_000)));
    }

    #[test]
    fn config_is_the_one_the_gate_was_made_with() {
        // Not the default (whose ramp is 10 s).
        let config = GateConfig::new(Duration::from_millis(250), Duration::from_secs(5));
        assert_eq!(Gate::new(config).config(), &config);
    }

    #[test]
    fn same_is_true_for_clones_only() {
        let g = gate(0);
        assert!(g.same(&g.clone()));
        assert!(!g.same(&gate(0)), "another gate with the same settings");
    }

    #[test]
    fn held_displays_its_delay() {
        let held = Held {
            delay: Duration::from_millis(1_500),
            reset_ms: T0,
        };
        assert_eq!(held.to_string(), "held 1.5s by the rate-limit gate");
    }

    #[test]
    fn gate_debug_shows_its_config_and_reset() {
        let (g, _) = ramped();
        assert_eq!(
            format!("{g:?}"),
            "Gate { config: GateConfig { ramp: 1s, max_hold: 60s }, reset_ms: 1800000002000 }"
        );
    }

    /// With no ramp, held attempts are released over the reset plus min(wait / 10, 1s).
    /// Oracle: the spread an honoured hint gets, over many seeds (the widest release lies
    /// within 5 % of the bound).
    #[test]
    fn without_a_ramp_the_spread_is_a_tenth_of_the_wait_up_to_a_second() {
        for (wait, spread) in [(2_000u64, 200u64), (30_000, 1_000)] {
            let g = gate(0);
            g.learn(Duration::from_millis(wait), at(T0));
            let mut rng = Rng::with_seed(5);
            let past: Vec<u64> = (0..2_000)
                .map(|_| match g.admit(at(T0), None, &mut rng) {
                    Admission::Wait(h) => h.delay.as_millis() as u64 - wait,
                    Admission::Go => panic!("admitted before the reset"),
                })
                .collect();
            let widest = past.iter().copied().max().unwrap_or(0);
            assert!(
                widest <= spread && widest >= spread * 95 / 100,
                "{wait}: {widest}"
            );
        }
    }

    /// An attempt held in the ramp at fraction f is released on [f, 1] with a density that
    /// grows linearly: P(release ≤ reset + y × ramp) = (y² − f²) / (1 − f²).
    #[test]
    fn attempts_held_in_the_ramp_come_back_linearly_over_the_rest_of_it() {
        let (g, reset) = ramped();
        let mut rng = Rng::with_seed(13);
        for (into, ys) in [(200u64, [0.4f64, 0.6, 0.8]), (600, [0.7, 0.8, 0.9])] {
            let (now, f) = (reset + into, into as f64 / 1_000.0);
            let releases: Vec<u64> = (0..20_000)
                .filter_map(|_| match g.admit(at(now), None, &mut rng) {
                    Admission::Wait(h) => Some(now + h.delay.as_millis() as u64 - reset),
                    Admission::Go => None,
                })
                .collect();
            for y in ys {
                let share = releases
                    .iter()
                    .filter(|&&r| (r as f64) <= y * 1_000.0)
                    .count() as f64
                    / releases.len() as f64;
                let want = (y * y - f * f) / (1.0 - f * f);
                assert!((share - want).abs() < 0.02, "f {f}, at {y}: {share}");
            }
        }
    }

    /// In the ramp an attempt goes when the draw is below f, the elapsed fraction: a draw
    /// of exactly f holds it (the share that goes is f, not more). The seed and the ramp
    /// were searched for a first draw that equals a fraction `into / ramp` exactly.
    #[test]
    fn in_the_ramp_a_draw_of_exactly_f_is_held() {
        const SEED: u64 = 306_213;
        let (into, ramp) = (258_795u64, 463_604u64);
        let f = into as f64 / ramp as f64;
        assert_eq!(
            Rng::with_seed(SEED).f64(),
            f,
            "the generator changed: search again"
        );
        let span = Duration::from_millis(ramp);
        let g = Gate::new(GateConfig::new(span, span));
        g.learn(span, at(T0));
        assert_eq!(g.ramp_ms(), ramp);
        let now = T0 + ramp + into;
        let held = g.admit(at(now), None, &mut Rng::with_seed(SEED));
        assert!(!held.is_go(), "{held:?}");
    }
}
