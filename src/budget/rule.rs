//! The `adaptive` budget's rule: from what a process has seen (its decayed counts, its run
//! of failures, the fleet's view) to how many retries each kind of failure may still make.
//! The counting around it, lock-free and allocation-free, is in `src/budget/adaptive.rs`;
//! the measurements behind every number here are in the repository's `docs/FLEET.md`.
//!
//! A failure takes one of three lanes, and each lane allows retries while
//! `recent retries + 1 <= its limit`:
//!
//! | lane | when | limit |
//! |---|---|---|
//! | failing | the process has made [`RUN_CLEAN`] retries since its last success ([`RUN_FLAKY`] if it has recovered from failures lately), or the fleet's latest bucket holds [`RUN_CLEAN`] failures or more and no success | `overload_ratio` × recent first attempts |
//! | shed | the failure says the server is overloaded (503, 529, `overloaded_error`) | the shed ratio (below) × recent first attempts, plus [`NEW_RETRIES`] while the process is new |
//! | bad luck | any other retryable failure | `retry_ratio` × recent first attempts + `min_retries` |
//!
//! The run is the evidence that does not depend on the status: a process that calls every
//! ten seconds makes a dozen calls in a two-minute outage, so it must stop spending retries
//! after its first few failures, whatever they say; one that fails and recovers by turns is
//! seeing bad luck and keeps retrying.
//!
//! The shed ratio tells an overloaded server from one that fails at random. Both answer a
//! share of attempts with 529, but only the overloaded one fails a larger share the more its
//! clients retry. So the ratio is [`SHED_MAX`] while fewer than [`SHED_EASY`] of the
//! attempts since the failures began failed, `overload_ratio` from [`SHED_HARD`], and a
//! straight line in between; the share starts from [`SHED_PRIOR`], and the ratio is blended
//! toward [`SHED_UNSURE`] (itself a gentle line in the share) until [`SHED_EVIDENCE`]
//! attempts say more: a process that calls rarely never learns enough to tell, and must
//! not retry like one that knows.
//!
//! The fine print, as the code has it:
//! - "Since the failures began": a fold whose window holds fewer than half a failure
//!   forgets the episode's successes (its failures fade with the episode's time constant,
//!   so an incident's failures are remembered into the next one).
//! - The shed lane's first attempts leave out a new budget's credit (the lane has
//!   [`NEW_RETRIES`] for that); every ratio is floored at `overload_ratio`.
//! - The run's allowance and the recoveries are read at a fold (at most every 1/1024 of
//!   the window), so a recovery counts from the next fold on.
//! - A window shorter than 1 ms decays as 1 ms.

use super::Counts;

/// Retries a process may make since its last success before every retry takes the failing
/// lane: with 3 attempts per call, its first failed call in full and one more.
pub const RUN_CLEAN: u64 = 3;
/// The same, for a process that has recovered from failures lately (its memory holds
/// [`FLAKY`] recoveries): a server that fails and recovers by turns fails by bad luck.
pub const RUN_FLAKY: u64 = 6;
/// Recoveries (successes that ended a run of failures, fading like the episode's counts)
/// that make a process's server flaky rather than down.
pub const FLAKY: f64 = 0.5;
/// How much longer than the budget's window the episode's counts (since the failures began)
/// and the recoveries are remembered: an incident's whole evidence, not the last window's.
pub const EPISODE_WINDOWS: f64 = 4.0;
/// The episode's failed share starts as if this many attempts had failed this share.
pub const SHED_PRIOR: (f64, f64) = (6.0, 0.48);
/// The shed ratio is [`SHED_MAX`] up to this failed share.
pub const SHED_EASY: f64 = 0.57;
/// The shed ratio is `overload_ratio` from this failed share.
pub const SHED_HARD: f64 = 0.6;
/// The most retries per first attempt for shed answers (never more than `retry_ratio`):
/// enough for a brown-out of half the attempts (1 + ½ + ¼ attempts a call) with room.
pub const SHED_MAX: f64 = 1.0;
/// The shed ratio of a process that has seen too little to tell, when [`SHED_UNSURE_AT`]
/// of its attempts failed.
pub const SHED_UNSURE: f64 = 0.42;
/// The failed share at which a process that has seen too little retries at [`SHED_UNSURE`].
pub const SHED_UNSURE_AT: f64 = 0.55;
/// How much more (less) such a process retries per point of failed share below (above)
/// [`SHED_UNSURE_AT`]: a straight line, so that the noise of a few attempts averages out
/// over a fleet instead of tipping over a knee; the overloaded server's larger share
/// still shows in the mean.
pub const SHED_UNSURE_SLOPE: f64 = 3.0;
/// Attempts since the failures began at which the measured ratio and the unsure one weigh
/// the same.
pub const SHED_EVIDENCE: f64 = 20.0;
/// Shed retries a new budget may make before it knows anything (its credit, below, fades).
pub const NEW_RETRIES: f64 = 3.0;
/// The first attempts the counts from before the first decision weigh, fewer being made
/// up as a new budget's credit: a process that has made this many calls is not new.
pub const UNTIMED: f64 = 5.0;

/// The settings the rule reads, as the decision uses them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Params {
    pub(crate) window: core::time::Duration,
    pub(crate) overload_ratio: f64,
    pub(crate) retry_ratio: f64,
    pub(crate) min_retries: f64,
}

/// What a decision reads: counts with fractions, decayed.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct View {
    pub(crate) first_attempts: f64,
    pub(crate) retries: f64,
    /// Failed attempts, whatever the failure said (only a window with none of them is told
    /// apart: the failures begin after it).
    pub(crate) failed: f64,
    /// Of `first_attempts`, what is left of a new budget's credit (see [`UNTIMED`]).
    pub(crate) credit: f64,
    /// Successes that ended a run of failures: this process's own, never the fleet's.
    pub(crate) recoveries: f64,
    /// Attempts that failed, and that succeeded, since the failures began.
    pub(crate) episode_failed: f64,
    pub(crate) episode_succeeded: f64,
    /// Whether the fleet's latest bucket holds [`RUN_CLEAN`] failures or more and no success.
    pub(crate) fleet_failing: bool,
}

impl View {
    /// Counts as they are, with no episode, credit or recovery.
    pub(crate) fn of(c: Counts) -> View {
        View {
            first_attempts: c.first_attempts as f64,
            retries: c.retries as f64,
            failed: c.failures.saturating_add(c.overloaded) as f64,
            ..View::default()
        }
    }

    /// The first view of a budget: `delta` (counted before any time was known) weighed as
    /// at most [`UNTIMED`] first attempts, and the rest of those made up as credit. The
    /// failures begin here, so the successes are no part of the episode.
    pub(crate) fn first(delta: Counts, recoveries: f64) -> View {
        let first = delta.first_attempts as f64;
        let weight = if first > UNTIMED {
            UNTIMED / first
        } else {
            1.0
        };
        let mut v = View::of(delta).scaled(weight);
        v.credit = (UNTIMED - v.first_attempts).max(0.0);
        v.first_attempts += v.credit;
        v.recoveries = recoveries;
        v.episode_failed = v.failed;
        v
    }

    /// The view `x` windows later, with `delta` spread evenly over the gap (its time is not
    /// known): each count keeps `e^−x` and gains `(1 − e^−x) / x` of the delta's, the
    /// episode's and the recoveries with [`EPISODE_WINDOWS`] times the window.
    pub(crate) fn folded(self, delta: Counts, recoveries: f64, x: f64) -> View {
        let keep = (-x).exp();
        let weight = spread(keep, x);
        // e^(−x/4) from e^−x with two square roots, not a second `exp`.
        const _: () = assert!(EPISODE_WINDOWS == 4.0);
        let keep_e = keep.sqrt().sqrt();
        let weight_e = spread(keep_e, x / EPISODE_WINDOWS);
        let d = View::of(delta);
        // A window with no failure in it: the failures begin now, and nothing that
        // succeeded before says anything of them.
        let quiet = self.failed < 0.5;
        let succeeded = if quiet {
            0.0
        } else {
            self.episode_succeeded * keep_e + delta.successes as f64 * weight_e
        };
        View {
            first_attempts: self.first_attempts * keep + d.first_attempts * weight,
            retries: self.retries * keep + d.retries * weight,
            failed: self.failed * keep + d.failed * weight,
            credit: self.credit * keep,
            recoveries: self.recoveries * keep_e + recoveries,
            episode_failed: self.episode_failed * keep_e + d.failed * weight_e,
            episode_succeeded: succeeded,
            fleet_failing: false,
        }
    }

    /// The fleet's counts over the window in place of this process's, keeping what is this
    /// process's own: its credit (the fleet adds to it), its recoveries and its episode.
    pub(crate) fn with_fleet(self, fleet: Counts, latest: Counts) -> View {
        let mut v = View::of(fleet);
        v.first_attempts += self.credit;
        v.credit = self.credit;
        v.recoveries = self.recoveries;
        // The fleet's last seconds say more of the failed share than this process's
        // episode: hundreds of attempts, and none from before the failures began.
        v.episode_failed = View::of(latest).failed;
        v.episode_succeeded = latest.successes as f64;
        // As many failures with no success as a process's own run allows retries: the
        // fleet's run, seen at once.
        v.fleet_failing = latest.successes == 0 && v.episode_failed >= RUN_CLEAN as f64;
        v
    }

    fn scaled(self, w: f64) -> View {
        View {
            first_attempts: self.first_attempts * w,
            retries: self.retries * w,
            failed: self.failed * w,
            ..self
        }
    }

    /// The shed ratio (see the [module docs](self)).
    fn shed_ratio(&self, p: &Params) -> f64 {
        let max = SHED_MAX.min(p.retry_ratio).max(p.overload_ratio);
        let (weight, share) = SHED_PRIOR;
        let seen = self.episode_failed + self.episode_succeeded;
        let failed = (self.episode_failed + weight * share) / (seen + weight);
        // The prior's weight keeps the share a number even before anything is seen.
        let hard = ((failed - SHED_EASY) / (SHED_HARD - SHED_EASY)).clamp(0.0, 1.0);
        let measured = max + (p.overload_ratio - max) * hard;
        let unsure = (SHED_UNSURE + SHED_UNSURE_SLOPE * (SHED_UNSURE_AT - failed))
            .min(max)
            .max(p.overload_ratio);
        let trust = seen / (seen + SHED_EVIDENCE);
        trust * measured + (1.0 - trust) * unsure
    }
}

/// The weight, after `x` time constants that keep `keep = e^−x` of a count, of events
/// spread evenly over them: the mean of `e^−t` over `[0, x]`.
fn spread(keep: f64, x: f64) -> f64 {
    if x < 1e-9 {
        1.0
    } else {
        (1.0 - keep) / x
    }
}

/// Which limit a decision reads (see the [module docs](self)).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Lane {
    BadLuck = 0,
    Shed = 1,
    Failing = 2,
}

/// What a decision needs of a fold, worked out once per fold so that the decisions in
/// between do integer work only: one load, a sum of the two retried words and a compare.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub(crate) struct Allowances {
    /// Per [`Lane`]: `(n << 32) | base`, where `base` is the lower half of the retried
    /// words' sum at the fold and `n` how many retries the rule still allows after it: a
    /// retry is allowed while fewer than `n` were counted since.
    pub(crate) allowance: [u64; 3],
    /// Retries since the last success from which a failure takes the failing lane.
    pub(crate) run: u64,
    /// For a refusal's message: the window's retries at the fold, and each lane's limit.
    pub(crate) retries: f64,
    pub(crate) limit: [f64; 3],
}

impl Allowances {
    /// The rule applied to `view`, whose retried words summed to `retried` (the lower half
    /// of the sum is what a decision compares against).
    pub(crate) fn of(v: &View, p: &Params, retried: u64, lower: u64) -> Allowances {
        let bad_luck = p.retry_ratio * v.first_attempts + p.min_retries;
        let shed = v.shed_ratio(p) * (v.first_attempts - v.credit).max(0.0)
            + NEW_RETRIES * v.credit / UNTIMED;
        // No `min_retries` here: a process that calls rarely would spend it in every
        // window of an outage, and a thousand of them add up.
        let failing = p.overload_ratio * v.first_attempts;
        let limit = [bad_luck, shed, failing];
        let allowance =
            limit.map(|l| (allowed_below(v.retries, l).min(lower) << 32) | (retried & lower));
        let run = if v.fleet_failing {
            0
        } else if v.recoveries >= FLAKY {
            RUN_FLAKY
        } else {
            RUN_CLEAN
        };
        Allowances {
            allowance,
            run,
            retries: v.retries,
            limit,
        }
    }
}

/// The least `n` for which `retries + n + 1 <= limit` fails, in the same `f64` arithmetic
/// (and order) as the rule, or `u64::MAX` if none does: the retries allowed after
/// `retries` are those below it. The test only turns false as `n` grows (each step rounds
/// monotonically), so a search finds the boundary; `f64` rounding moves it by little from
/// the real-valued one, where the search starts.
pub(crate) fn allowed_below(retries: f64, limit: f64) -> u64 {
    let allows = |n: u64| retries + n as f64 + 1.0 <= limit;
    // `as` saturates, and makes NaN 0.
    let guess = (limit - 1.0 - retries) as u64;
    let (mut lo, mut hi) = (guess.saturating_sub(2), guess.saturating_add(2));
    if !allows(lo) {
        if !allows(0) {
            return 0;
        }
        lo = 0;
    }
    if allows(hi) {
        if allows(u64::MAX) {
            return u64::MAX;
        }
        hi = u64::MAX;
    }
    // allows(lo) and not allows(hi).
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if allows(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}
