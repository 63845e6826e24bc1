//! An independent model of the default (`adaptive`) retry budget, written from the rule as
//! `src/budget/rule.rs` and `src/budget/adaptive.rs` document it (their module docs and the
//! constants' docs), never from their code: the machine's fuzz checks (`fuzz/checks.rs`) and
//! the reference-model properties (`tests/machine.rs`) feed it what a machine feeds its
//! budget and compare its decisions with the machine's actions.
//!
//! What it states, in its own terms:
//! - Counts decay over the `window` (time constant); an episode's counts (attempts failed and
//!   succeeded since the failures began) and the recoveries decay over
//!   [`EPISODE_WINDOWS`] windows. Time is known only at a decision (a fold): what was counted
//!   since the last fold is spread evenly over the gap; what was counted before the first
//!   decision weighs at most [`UNTIMED`] first attempts, keeping its ratios, and the rest of
//!   those [`UNTIMED`] is a new budget's credit (it counts as first attempts and fades as
//!   they do).
//! - A failure's lane: *failing* once [`RUN_CLEAN`] retries were made since the last success
//!   ([`RUN_FLAKY`] with at least [`FLAKY`] recent recoveries); else *shed* for an overload
//!   signal (503, 529, `overloaded_error`); else *bad luck*. A retry is allowed while
//!   `recent retries + 1 <= limit`, the limits being `overload_ratio × first attempts`
//!   (failing), the shed curve (shed) and `retry_ratio × first attempts + min_retries` (bad
//!   luck).
//! - A success, an answer below 500 that is not a rate limit nor an overload signal, and a
//!   rate limit that carries a wait (a paced 429, whose retry is free and is no retry in the
//!   counts) all count as the server answering: a success, which ends a run of failures (a
//!   recovery when the run had any).
//! - A decision within a thousandth of the window of the last fold reuses it: the retries
//!   counted since are added to the fold's. The implementation folds at most once per
//!   1/1024 of the window; a gap between the two is a case the docs leave open, and the
//!   model gives up comparing (see [`Model::lost`]) rather than guess.
//!
//! Exactness: the model's `f64` arithmetic need not run in the implementation's order, so
//! a decision whose `retries + 1` lies within 1e-9 (relative) of its limit, or whose
//! recoveries lie within 1e-9 of [`FLAKY`], may go either way; the model then follows the
//! implementation's answer. Callers that want every decision to fold space their
//! decisions at least a thousandth of the window apart (`tests/machine.rs` does).
//!
//! Where the docs are silent or say less than the behaviour, the model takes these
//! readings (each one a question for the docs, not a property the model vouches for):
//! - the shed lane's "recent first attempts" leave out the credit, which gives
//!   `NEW_RETRIES × credit / UNTIMED` instead;
//! - "since the failures began": the episode's successes start over at every fold whose
//!   window held fewer than 0.5 failures (its failures never start over; they only fade);
//! - the shed curve runs from `overload_ratio` up to `min(SHED_MAX, retry_ratio)`, never
//!   below `overload_ratio`, and [`SHED_UNSURE`] is held between the two;
//! - the run's threshold is read at the fold (a recovery counts from the next fold), and
//!   recoveries join the window undecayed;
//! - a paced 429 that is not retried counts as a failure ([`Model::paced_failure`]);
//! - windows under a millisecond are left out (the implementation counts them as one).
//!
//! Not modelled: the fleet view (`Budget::set_fleet_view`); the callers never set one.

use std::time::{Duration, Instant};

use redial::budget::{BudgetConfig, Counts};

/// Retries since the last success from which every failure takes the failing lane.
pub const RUN_CLEAN: u64 = 3;
/// The same, for a process that recovered from failures lately.
pub const RUN_FLAKY: u64 = 6;
/// Recent recoveries that make a process's server flaky rather than down.
pub const FLAKY: f64 = 0.5;
/// The episode's counts and the recoveries last this many windows.
pub const EPISODE_WINDOWS: f64 = 4.0;
/// The episode's failed share starts as if `.0` attempts had failed `.1` of the time.
pub const SHED_PRIOR: (f64, f64) = (6.0, 0.48);
/// Up to this failed share, the shed ratio is its most.
pub const SHED_EASY: f64 = 0.57;
/// From this failed share, the shed ratio is `overload_ratio`.
pub const SHED_HARD: f64 = 0.6;
/// The most retries per first attempt for shed answers (never above `retry_ratio`).
pub const SHED_MAX: f64 = 1.0;
/// The shed ratio of a process that has seen too little, at [`SHED_UNSURE_AT`] failed.
pub const SHED_UNSURE: f64 = 0.42;
/// The failed share at which the unsure ratio is [`SHED_UNSURE`].
pub const SHED_UNSURE_AT: f64 = 0.55;
/// The unsure ratio's change per unit of failed share (down as the share rises).
pub const SHED_UNSURE_SLOPE: f64 = 3.0;
/// Attempts of the episode at which the measured shed ratio and the unsure one weigh alike.
pub const SHED_EVIDENCE: f64 = 20.0;
/// Shed retries a new budget's whole credit is worth.
pub const NEW_RETRIES: f64 = 3.0;
/// First attempts a new budget's untimed counts weigh at most; the rest is credit.
pub const UNTIMED: f64 = 5.0;

/// The relative tolerance at a float boundary (see the module docs).
const HAIR: f64 = 1e-9;

/// Which limit a decision reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lane {
    BadLuck,
    Shed,
    Failing,
}

/// Events counted since the last fold (their time unknown), as plain numbers.
#[derive(Clone, Copy, Debug, Default)]
struct Tally {
    first: f64,
    retries: f64,
    successes: f64,
    failures: f64,
    overloaded: f64,
    recoveries: f64,
}

/// The decayed window, as of `at`.
#[derive(Clone, Copy, Debug)]
struct Window {
    at: Instant,
    first: f64,
    retries: f64,
    successes: f64,
    failures: f64,
    overloaded: f64,
    credit: f64,
    recoveries: f64,
    ep_failed: f64,
    ep_succeeded: f64,
}

/// What the last fold decided, for the decisions that reuse it.
#[derive(Clone, Copy, Debug)]
struct Fold {
    at: Instant,
    retries: f64,
    /// Per lane: bad luck, shed, failing.
    limit: [f64; 3],
    /// The window's recoveries at the fold (they pick the run's threshold).
    recoveries: f64,
    /// Retries allowed since the fold.
    since: u64,
}

/// What the model says of one retry decision.
#[derive(Clone, Copy, Debug)]
pub struct Decision {
    /// The lanes the decision may take: one, or two when the recoveries lie at
    /// [`FLAKY`] within a hair.
    pub lanes: [Lane; 2],
    /// Per entry of `lanes`: whether the retry is allowed, or `None` when the limit lies
    /// within a hair of `retries + 1` (either answer is the rule's).
    pub allowed: [Option<bool>; 2],
    /// The recent retries the decision weighs (the fold's plus those since) and each
    /// lane's limit, for the refusal's numbers.
    pub retries: f64,
    pub limit: [f64; 2],
}

impl Decision {
    /// Whether a refusal in `lane` names the numbers the model has: the recent retries
    /// (rounded) and the lane's limit (rounded down), either way at a rounding boundary.
    pub fn names(&self, lane: Lane, retries: u32, allowed: u32) -> bool {
        let span = |x: f64| {
            let h = HAIR * x.abs().max(1.0);
            (x - h, x + h)
        };
        let within = |(lo, hi): (f64, f64), f: fn(f64) -> f64, got: u32| {
            let saturated = |v: f64| f(v).clamp(0.0, f64::from(u32::MAX));
            (saturated(lo)..=saturated(hi)).contains(&f64::from(got))
        };
        (0..2).any(|i| {
            self.lanes[i] == lane
                && within(span(self.retries), f64::round, retries)
                && within(span(self.limit[i]), f64::floor, allowed)
        })
    }

    /// Whether `allowed` (the implementation's answer, in `lane`) is one the rule gives.
    pub fn admits(&self, lane: Option<Lane>, allowed: bool) -> bool {
        (0..2).any(|i| {
            lane.is_none_or(|l| l == self.lanes[i]) && self.allowed[i].is_none_or(|a| a == allowed)
        })
    }
}

/// The settings the rule reads.
#[derive(Clone, Copy, Debug)]
struct Params {
    window: Duration,
    overload_ratio: f64,
    retry_ratio: f64,
    min_retries: f64,
}

/// The model of one adaptive budget.
#[derive(Clone, Debug)]
pub struct Model {
    p: Params,
    pending: Tally,
    window: Option<Window>,
    fold: Option<Fold>,
    /// The first decision's time.
    born: Option<Instant>,
    /// Failed attempts since the last success, and retries allowed since it.
    failed_in_a_row: u64,
    run_retries: u64,
    /// Counts since the last [`Model::take`], to compare with `take_local_deltas`.
    taken: Counts,
    /// Decisions that reused the last fold (callers that space their decisions expect
    /// none).
    pub reused: u64,
    /// Set when the run reached a case the docs leave open (see the module docs): from
    /// then on the model's numbers may differ from the implementation's, and callers stop
    /// comparing.
    pub lost: Option<&'static str>,
}

impl Model {
    pub fn new(c: &BudgetConfig) -> Model {
        Model {
            p: Params {
                window: c.window,
                overload_ratio: c.overload_ratio,
                retry_ratio: c.retry_ratio,
                min_retries: c.min_retries,
            },
            pending: Tally::default(),
            window: None,
            fold: None,
            born: None,
            reused: 0,
            failed_in_a_row: 0,
            run_retries: 0,
            taken: Counts::default(),
            lost: None,
        }
    }

    /// An attempt succeeded, or the server answered it (a 4xx that is no rate limit, a
    /// paced 429).
    pub fn success(&mut self, first: bool) {
        self.pending.successes += 1.0;
        self.pending.first += f64::from(u8::from(first));
        self.taken.successes += 1;
        self.taken.first_attempts += u64::from(first);
        if self.failed_in_a_row > 0 {
            self.pending.recoveries += 1.0;
        }
        self.failed_in_a_row = 0;
        self.run_retries = 0;
    }

    /// An attempt failed and is not retried (or its retry was refused: see
    /// [`Model::decided`]).
    pub fn failure(&mut self, first: bool, overload: bool) {
        self.failed_in_a_row += 1;
        self.count_failure(first, overload);
    }

    fn count_failure(&mut self, first: bool, overload: bool) {
        if overload {
            self.pending.overloaded += 1.0;
            self.taken.overloaded += 1;
        } else {
            self.pending.failures += 1.0;
            self.taken.failures += 1;
        }
        self.pending.first += f64::from(u8::from(first));
        self.taken.first_attempts += u64::from(first);
    }

    /// The retry decision after a failure at `now` (not yet counted). Call
    /// [`Model::decided`] with the answer that was taken.
    pub fn decide(&mut self, overload: bool, now: Instant) -> Decision {
        self.failed_in_a_row += 1;
        let born = *self.born.get_or_insert(now);
        if now.saturating_duration_since(born).as_nanos() >= u128::from(u64::MAX) {
            // The implementation keeps its fold's time in u64 nanoseconds since the first
            // decision; 584 years on, the docs say nothing of how often it folds.
            self.lost
                .get_or_insert("a decision 2^64 ns after the budget's first");
        }
        let reuse = match self.fold {
            Some(f) if now >= f.at => {
                let gap = now.duration_since(f.at).as_nanos();
                let window = self.p.window.as_nanos();
                if gap * 1000 < window {
                    // The implementation reuses the fold below 1/1024 of the window; the
                    // docs say a thousandth.
                    if gap * 1024 >= window {
                        self.lost
                            .get_or_insert("a decision between 1/1024 and 1/1000 of the window");
                    }
                    true
                } else {
                    false
                }
            }
            Some(_) => {
                self.lost.get_or_insert("time went backwards");
                false
            }
            None => false,
        };
        if reuse {
            self.reused += 1;
        } else {
            self.fold_at(now);
        }
        let fold = self.fold.expect("folded above");
        let retries = fold.retries + fold.since as f64;
        let near_flaky = (fold.recoveries - FLAKY).abs() <= HAIR;
        let run_limits = if near_flaky {
            [RUN_CLEAN, RUN_FLAKY]
        } else if fold.recoveries >= FLAKY {
            [RUN_FLAKY; 2]
        } else {
            [RUN_CLEAN; 2]
        };
        let lanes = run_limits.map(|run| {
            if self.run_retries >= run {
                Lane::Failing
            } else if overload {
                Lane::Shed
            } else {
                Lane::BadLuck
            }
        });
        let limit = lanes.map(|l| fold.limit[l as usize]);
        let allowed = limit.map(|l| {
            let need = retries + 1.0;
            if (need - l).abs() <= HAIR * l.abs().max(1.0) {
                None
            } else {
                Some(need <= l)
            }
        });
        Decision {
            lanes,
            allowed,
            retries,
            limit,
        }
    }

    /// A rate limit that carried a wait, not retried (it was the last attempt, or its wait
    /// was too long): the server pacing, not failing, so a success of the server like a
    /// paced 429 that is retried (the design; first reported as counted a failure, mended).
    pub fn paced_failure(&mut self, first: bool, _overload: bool) {
        self.success(first);
    }

    /// The decision's answer: the retry made (counted as a retry) or refused.
    pub fn decided(&mut self, first: bool, overload: bool, allowed: bool) {
        self.count_failure(first, overload);
        if allowed {
            self.pending.retries += 1.0;
            self.taken.retries += 1;
            self.run_retries += 1;
            if let Some(f) = self.fold.as_mut() {
                f.since += 1;
            }
        }
    }

    /// What the model counted since the last take.
    pub fn take(&mut self) -> Counts {
        std::mem::take(&mut self.taken)
    }

    /// Folds the pending events into the window at `now` and works out the limits.
    fn fold_at(&mut self, now: Instant) {
        let d = std::mem::take(&mut self.pending);
        let w = match self.window {
            None => {
                // Untimed: at most UNTIMED first attempts' worth, the rest credit. The
                // failures begin here: nothing succeeded in the episode yet.
                let scale = if d.first > UNTIMED {
                    UNTIMED / d.first
                } else {
                    1.0
                };
                let first = d.first * scale;
                let credit = (UNTIMED - first).max(0.0);
                Window {
                    at: now,
                    first: first + credit,
                    retries: d.retries * scale,
                    successes: d.successes * scale,
                    failures: d.failures * scale,
                    overloaded: d.overloaded * scale,
                    credit,
                    recoveries: d.recoveries,
                    ep_failed: (d.failures + d.overloaded) * scale,
                    ep_succeeded: 0.0,
                }
            }
            Some(old) => {
                let gap = now.saturating_duration_since(old.at).as_secs_f64();
                let x = gap / self.p.window.as_secs_f64();
                let (k, s) = fade(x);
                let (ke, se) = fade(x / EPISODE_WINDOWS);
                // A window with (next to) no failure in it: the failures begin now.
                let quiet = old.failures + old.overloaded;
                // Exactly 0.5 is no doubt: both sides then computed it exactly (a new
                // budget's untimed counts, scaled by 5/10, often are).
                let off = (quiet - 0.5).abs();
                if off > 0.0 && off <= HAIR {
                    self.lost
                        .get_or_insert("a window's failures at 0.5 within a hair");
                }
                let ep_succeeded = if quiet < 0.5 {
                    0.0
                } else {
                    old.ep_succeeded * ke + d.successes * se
                };
                Window {
                    at: now.max(old.at),
                    first: old.first * k + d.first * s,
                    retries: old.retries * k + d.retries * s,
                    successes: old.successes * k + d.successes * s,
                    failures: old.failures * k + d.failures * s,
                    overloaded: old.overloaded * k + d.overloaded * s,
                    credit: old.credit * k,
                    recoveries: old.recoveries * ke + d.recoveries,
                    ep_failed: old.ep_failed * ke + (d.failures + d.overloaded) * se,
                    ep_succeeded,
                }
            }
        };
        self.window = Some(w);
        let p = &self.p;
        let bad_luck = p.retry_ratio * w.first + p.min_retries;
        let shed = self.shed_ratio(&w) * (w.first - w.credit).max(0.0)
            + NEW_RETRIES * (w.credit / UNTIMED);
        let failing = p.overload_ratio * w.first;
        self.fold = Some(Fold {
            at: now,
            retries: w.retries,
            limit: [bad_luck, shed, failing],
            recoveries: w.recoveries,
            since: 0,
        });
    }

    /// The shed curve: the most while the episode's failed share is at most [`SHED_EASY`],
    /// `overload_ratio` from [`SHED_HARD`], linear between; blended with [`SHED_UNSURE`]
    /// by how much the episode has seen.
    fn shed_ratio(&self, w: &Window) -> f64 {
        let p = &self.p;
        let most = SHED_MAX.min(p.retry_ratio).max(p.overload_ratio);
        let (prior_n, prior_share) = SHED_PRIOR;
        let seen = w.ep_failed + w.ep_succeeded;
        let share = (w.ep_failed + prior_n * prior_share) / (prior_n + seen);
        let measured = if share <= SHED_EASY {
            most
        } else if share >= SHED_HARD {
            p.overload_ratio
        } else {
            let t = (share - SHED_EASY) / (SHED_HARD - SHED_EASY);
            most - t * (most - p.overload_ratio)
        };
        let unsure = (SHED_UNSURE - SHED_UNSURE_SLOPE * (share - SHED_UNSURE_AT))
            .min(most)
            .max(p.overload_ratio);
        let trust = seen / (SHED_EVIDENCE + seen);
        measured * trust + unsure * (1.0 - trust)
    }
}

/// What `x` windows keep of a decayed count, and the weight of events spread evenly over
/// them (the mean of `e^-t` over `[0, x]`).
fn fade(x: f64) -> (f64, f64) {
    let keep = (-x).exp();
    let spread = if x > 1e-9 { -(-x).exp_m1() / x } else { 1.0 };
    (keep, spread)
}
