//! A pacer in a fleet: what it tells the other processes, and what it takes back.
//!
//! Processes that each learn the rate alone each probe above their part of it and are cut
//! in turn (measured against nginx: sixteen processes drew 0.58 429s per served call, one
//! alone 0.07). In a fleet the rate is learned once, for all of them: the pacer's CUBIC
//! controller holds the fleet's rate, and each process paces to its share of it, in
//! proportion to the attempts it asks for. A throttle anywhere cuts it everywhere: the
//! process that cuts tells the fleet when and from what rate ([`FleetReport`]), and every
//! other one restarts its curve from that cut ([`FleetView`]), so all of them climb back
//! along one curve instead of each probing on its own.
//!
//! Nothing here does I/O: an exchange (the `redis` feature's) carries the numbers between
//! processes, and holds no rule of its own.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use redial::pacer::{FleetCut, FleetView, Pacer};
//!
//! let p = Pacer::default();
//! let t0 = Instant::now();
//! for i in 0..10 {
//!     // Before any throttle every attempt goes, and its answer measures the demand.
//!     let now = t0 + Duration::from_millis(200 * i);
//!     p.acquire(now, None);
//!     p.on_response(now, false, false, None);
//! }
//! let mine = p.fleet_report(t0 + Duration::from_secs(2)).demand;
//! // Another process of four equal ones was throttled at 20 requests a second.
//! let cut = FleetCut { at: t0 + Duration::from_secs(2), w_max: 20.0 };
//! let lag = Duration::from_millis(250);
//! let view = FleetView { cut: Some(cut), demand: 4.0 * mine, answered: 20.0, members: 4, lag };
//! p.set_fleet_view(t0 + Duration::from_secs(2), view);
//! let rate = p.rate(t0 + Duration::from_secs(2)).unwrap();
//! assert!((rate - 20.0 * 0.7 / 4.0).abs() < 0.01, "a quarter of the fleet's cut rate: {rate}");
//! ```

use core::time::Duration;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{nanos, Pacer};

/// A cut of the fleet's rate: when, and the rate (the whole fleet's, requests per second)
/// it was cut from.
///
/// ```
/// let cut = redial::pacer::FleetCut { at: std::time::Instant::now(), w_max: 12.5 };
/// assert_eq!(cut.w_max, 12.5);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FleetCut {
    /// When the throttle came.
    pub at: Instant,
    /// The fleet's rate when it came, in requests per second (CUBIC's `W_max`).
    pub w_max: f64,
}

/// What a pacer tells its fleet at a sync: [`Pacer::fleet_report`].
///
/// ```
/// let r = redial::pacer::Pacer::default().fleet_report(std::time::Instant::now());
/// assert_eq!((r.cut, r.demand, r.answered), (None, 0.0, 0.0));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct FleetReport {
    /// The latest cut this pacer made or took from the fleet, if any.
    pub cut: Option<FleetCut>,
    /// Attempts this process asks for, per second (smoothed over about two seconds;
    /// while nothing paces, every attempt goes and the answers it receives are counted).
    pub demand: f64,
    /// Answers this process receives, per second (as the pacer measures them).
    pub answered: f64,
}

/// What a fleet tells a pacer after a sync: [`Pacer::set_fleet_view`].
///
/// ```
/// let lag = std::time::Duration::from_millis(250);
/// let v = redial::pacer::FleetView { cut: None, demand: 8.0, answered: 8.0, members: 4, lag };
/// assert_eq!(v.members, 4);
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FleetView {
    /// The latest cut any process of the fleet made.
    pub cut: Option<FleetCut>,
    /// The demand of every process of the fleet that reported lately, this one's included,
    /// in attempts per second.
    pub demand: f64,
    /// The answers those processes receive, per second in all: the fleet's rate as
    /// measured, which CUBIC's rules read instead of this process's share of it (one
    /// process of sixteen sees too few answers to measure the fleet's rate by itself).
    pub answered: f64,
    /// How many processes reported lately.
    pub members: u32,
    /// How long a cut takes to reach every process (the sync interval): throttles that
    /// come within `settle` plus this of a cut answer attempts sent before it was known,
    /// and do not cut again.
    pub lag: Duration,
}

/// The demand a pacer reports: attempts asked per second, smoothed.
#[derive(Debug, Default)]
pub(super) struct Demand {
    /// `asked` at the last report, and when (on the pacer's clock; `None`: no report yet).
    last: Option<(u64, u64)>,
    /// Attempts per second, smoothed.
    rate: f64,
}

/// How long the demand is smoothed over, in seconds: a process asking for 2.5 attempts
/// a second asks for none in most quarter-second syncs.
const SMOOTHING: f64 = 2.0;

/// A cut within this of the one held is the same cut (an exchange carries milliseconds).
const SAME_CUT: u64 = 1_000_000;

impl Pacer {
    /// What this pacer tells its fleet at `now`: its latest cut and its demand.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let p = redial::pacer::Pacer::default();
    /// let t0 = Instant::now();
    /// p.on_response(t0, true, false, None);
    /// let cut = p.fleet_report(t0).cut.expect("throttled once");
    /// assert_eq!(cut.at, t0);
    /// ```
    pub fn fleet_report(&self, now: Instant) -> FleetReport {
        let now_ns = self.ns(now);
        let asked = self.asked.load(Ordering::Relaxed);
        let mut slow = self.slow.lock().unwrap_or_else(|e| e.into_inner());
        let demand = &mut slow.demand;
        if !self.is_active() {
            // Nothing paces, so every attempt asked is sent and answered: the answers
            // measured are the demand (the driver asks the pacer only once it paces).
            demand.rate = self.meter.rate(now_ns);
            demand.last = Some((asked, now_ns));
        }
        match demand.last {
            Some((before, at)) if now_ns > at => {
                let dt = (now_ns - at) as f64 / 1e9;
                let rate = asked.saturating_sub(before) as f64 / dt;
                let new = dt / (dt + SMOOTHING);
                demand.rate = new * rate + (1.0 - new) * demand.rate;
                demand.last = Some((asked, now_ns));
            }
            Some(_) => {}
            // The first report: the answers measured so far say what was asked.
            None => {
                demand.rate = self.meter.rate(now_ns);
                demand.last = Some((asked, now_ns));
            }
        }
        let demand = slow.demand.rate;
        let base = self.base.get().copied();
        let cut = match (slow.last_cut, base) {
            (Some(at), Some(base)) => Some(FleetCut {
                at: base + Duration::from_nanos(at),
                w_max: slow.cubic.w_max(),
            }),
            _ => None,
        };
        let answered = self.meter.rate(now_ns);
        FleetReport {
            cut,
            demand,
            answered,
        }
    }

    /// What the fleet knows, as of `now`: this process paces to its share of the fleet's
    /// rate (its demand over the fleet's, never below a quarter of an equal share, so
    /// that a process waking from idle is not starved until its next report), and a cut
    /// later than this pacer's own restarts its curve from there. While no process has
    /// been throttled the pacer stays inactive.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::pacer::{FleetCut, FleetView, Pacer};
    /// let p = Pacer::default();
    /// let now = Instant::now();
    /// let lag = Duration::from_millis(250);
    /// let view = FleetView { cut: None, demand: 40.0, answered: 10.0, members: 16, lag };
    /// p.set_fleet_view(now, view);
    /// assert!(!p.is_active(), "no throttle anywhere yet");
    /// let cut = FleetCut { at: now, w_max: 10.0 };
    /// p.set_fleet_view(now, FleetView { cut: Some(cut), ..view });
    /// assert!(p.is_active());
    /// ```
    pub fn set_fleet_view(&self, now: Instant, view: FleetView) {
        let now_ns = self.ns(now);
        let mut slow = self.slow.lock().unwrap_or_else(|e| e.into_inner());
        let members = f64::from(view.members.max(1));
        let total = if view.demand.is_finite() {
            view.demand
        } else {
            0.0
        };
        let share = if total > 0.0 {
            slow.demand.rate / total
        } else {
            1.0 / members
        };
        slow.share = if share.is_finite() {
            share.clamp(0.25 / members, 1.0)
        } else {
            1.0
        };
        slow.lag = nanos(view.lag);
        slow.fleet_answered = if view.answered.is_finite() && view.answered > 0.0 {
            // As fresh as a fleet view is: two syncs, a missed one being no outage.
            let syncs = u64::from(crate::fleet::FleetConfig::VIEW_FRESH_SYNCS);
            Some((
                view.answered,
                now_ns.saturating_add(slow.lag.saturating_mul(syncs)),
            ))
        } else {
            None
        };
        if let Some(cut) = view.cut {
            let at = self.ns(cut.at);
            let newer = slow
                .last_cut
                .is_none_or(|held| at > held.saturating_add(SAME_CUT));
            if newer && cut.w_max.is_finite() && cut.w_max > 0.0 {
                slow.last_cut = Some(at);
                slow.learned = true;
                slow.cubic.cut_from(at as f64 / 1e9, cut.w_max);
            }
        }
        if slow.learned || self.is_active() {
            self.apply(&slow, now_ns, None, None);
        }
    }

    /// Cuts made here since the pacer began (not those taken from the fleet): an
    /// exchange shares a new one at once.
    ///
    /// ```
    /// let p = redial::pacer::Pacer::default();
    /// p.on_response(std::time::Instant::now(), true, false, None);
    /// assert_eq!(p.cuts(), 1);
    /// ```
    pub fn cuts(&self) -> u64 {
        self.cuts.load(Ordering::Acquire)
    }

    /// Calls `hook` after each cut made here (once set; the first hook set stays): an
    /// exchange wakes to share it. Returns whether this hook was set.
    ///
    /// ```
    /// let p = redial::pacer::Pacer::default();
    /// assert!(p.on_cut(|| {}));
    /// assert!(!p.on_cut(|| {}));
    /// ```
    pub fn on_cut(&self, hook: impl Fn() + Send + Sync + 'static) -> bool {
        self.on_cut.set(Box::new(hook)).is_ok()
    }
}
