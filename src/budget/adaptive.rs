//! The `adaptive` budget kind: retries as a share of recent first attempts, held by the
//! process's own run of failures and, for answers that say the server is overloaded, by
//! how much of the incident's attempts fail.
//!
//! # The rule
//!
//! [`rule`](super::rule) has it whole, with its constants. In short, the budget keeps
//! [`Counts`] over a sliding `window` (30 s by default; older events fade out exponentially
//! with that time constant), and a retry is allowed when
//!
//! ```text
//! recent retries + 1 <= limit
//! ```
//!
//! where the limit is `overload_ratio` (0.1) × recent first attempts once the process has
//! made 3 retries since its last success (6 if it has recovered from failures lately), a
//! shed ratio that falls from 1 to `overload_ratio` as more of the incident's attempts
//! fail for a 503, 529 or `overloaded_error`, and `retry_ratio` (2.0) × recent first
//! attempts + `min_retries` for any other failure. The run does not rest on the status, so
//! a fleet of a thousand processes that each call every ten seconds stops retrying after
//! its first failed calls whatever the server answers; a server that fails and recovers by
//! turns keeps its retries. The measurements behind the numbers are in the repository's
//! `docs/FLEET.md`.
//!
//! # Time and threads
//!
//! Time is an input: a success records itself without it, on a counter of the calling
//! thread's own stripe (a plain load and store: no other thread writes it; threads beyond
//! the eighth share a ninth stripe, with `fetch_add`), so that threads do not bounce one
//! cache line;
//! a retry decision, which has the time, folds the counts into the window first (at most
//! once per 1/1024 of the window). The fold also works the rule out for each lane: how
//! many more retries the window allows, so that the decisions that follow it
//! closely compare the retries allowed since with that number (one load, a sum and an
//! integer compare: no `f64` arithmetic between folds). The fold takes a lock with
//! `try_lock` only: a decision that finds another thread folding decides from the last
//! fold's numbers and never waits. A thread remembers the last fold it made, so that its
//! next decisions on that budget tell they are within 1/1024 of the window of it by
//! comparing instants, without the duration arithmetic. Nothing allocates after
//! [`Budget::new`](crate::budget::Budget::new).
//!
//! The first decision after a quiet stretch spreads the events counted since the last fold
//! evenly over that stretch (it cannot know when they happened); events counted before the
//! budget's first decision, for which no time is known at all, keep their ratios but weigh
//! at most 5 first attempts, fewer being made up as a new process's credit: so a new
//! process can retry its first failed call, but hours of quiet successes do not pay for a
//! burst of retries.
//!
//! The run is one more counter, every thread's together: failures and retries since the
//! last success, packed in one word. Only failures write it; a success loads it and
//! stores only when it ends a run.
//!
//! # Fleet view
//!
//! With [`Budget::set_fleet_view`](crate::budget::Budget::set_fleet_view) fresh, the decision reads
//! the fleet's counts over the window plus the local counts not yet handed out by
//! [`Budget::take_local_deltas`](crate::budget::Budget::take_local_deltas), in place of the local
//! window: a process that calls rarely then borrows the fleet's history. The fleet's latest
//! bucket of time holding three failures or more and no success puts every failure in the
//! strict lane at once, and its failed share stands for the incident's in the shed ratio.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use super::rule::{Allowances, Lane, Params, View};
use super::{Counts, Throttle};

/// Stripes that one thread each owns (and counts on without an atomic read-modify-write);
/// threads beyond these share one more stripe.
const OWNED: usize = 8;
/// The stripe of the threads that own none.
const SHARED: usize = OWNED;
const STRIPES: usize = OWNED + 1;

/// Counters that only grow; one stripe per group of threads, a cache line pair each so
/// that the prefetcher does not couple neighbours. Each word counts two things so that an
/// outcome is one `fetch_add`: `(sub-count << 32) + count`, read only through differences
/// ([`Raw::since`]).
#[derive(Debug, Default)]
#[repr(align(128))]
struct Stripe {
    /// Successes; above, those after at least one retry.
    successes: AtomicU64,
    /// Failures that look like bad luck; above, those of first attempts.
    failures: AtomicU64,
    /// Failures that say the server is overloaded; above, those of first attempts.
    overloaded: AtomicU64,
}

/// One in the upper half of a [`Stripe`] word.
const UPPER: u64 = 1 << 32;
const LOWER: u64 = UPPER - 1;

/// The stripes summed, and the retried failures: raw readings, whose differences are
/// [`Counts`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Raw {
    successes: u64,
    failures: u64,
    overloaded: u64,
    /// Failures that were retried, packed as the stripes' words: bad luck, then overload.
    retried: [u64; 2],
}

impl Raw {
    /// What happened between `earlier` and this reading. Exact while fewer than 2^32
    /// outcomes of one kind happen between the two (a budget folds at every retry decision
    /// it is asked for, and the exchange takes its deltas every sync).
    fn since(self, earlier: Raw) -> Counts {
        let s = self.successes.wrapping_sub(earlier.successes);
        let f = self.failures.wrapping_sub(earlier.failures);
        let o = self.overloaded.wrapping_sub(earlier.overloaded);
        let [rf, ro] = self.retried_since(earlier);
        let successes = s & LOWER;
        // Every call's first attempt ends exactly once: as a success that needed no retry,
        // or as a failure of a first attempt (retried or not).
        let first = successes
            .saturating_sub(s >> 32)
            .saturating_add(f >> 32)
            .saturating_add(o >> 32)
            .saturating_add(rf >> 32)
            .saturating_add(ro >> 32);
        Counts {
            first_attempts: first,
            retries: (rf & LOWER).saturating_add(ro & LOWER),
            successes,
            failures: (f & LOWER).saturating_add(rf & LOWER),
            overloaded: (o & LOWER).saturating_add(ro & LOWER),
        }
    }

    /// Both retried words summed: its lower half counts every retry (modulo 2^32), which is
    /// all a decision between folds needs of them.
    fn retried_total(&self) -> u64 {
        let [a, b] = self.retried;
        a.wrapping_add(b)
    }

    /// The retried failures since `earlier`, still packed.
    fn retried_since(&self, earlier: Raw) -> [u64; 2] {
        let [a, b] = self.retried;
        let [c, d] = earlier.retried;
        [a.wrapping_sub(c), b.wrapping_sub(d)]
    }
}

thread_local! {
    /// The stripe this thread counts on: one it owns (below [`OWNED`]), or [`SHARED`];
    /// `usize::MAX` before its first count.
    static STRIPE: Cell<usize> = const { Cell::new(usize::MAX) };
    /// Gives the owned stripe back when the thread ends.
    static RELEASE: Release = const { Release };
    /// The last fold this thread made, so that its next decisions can tell they are within
    /// `fold_every` of it by comparing instants (see [`Adaptive::reuses_fold`]).
    static LAST_FOLD: Cell<Option<LastFold>> = const { Cell::new(None) };
}

/// A fold a thread made: of which budget (its address, and its time origin), at which
/// tick, and the instants whose decisions reuse it.
#[derive(Clone, Copy, Debug)]
struct LastFold {
    budget: usize,
    base: Instant,
    at: u64,
    from: Instant,
    until: Instant,
}

/// Which owned stripes threads hold, one bit each, for the whole process: a thread owns
/// the same index in every budget, so no other thread ever writes to it.
static CLAIMED: AtomicUsize = AtomicUsize::new(0);

/// Releases the calling thread's stripe when its thread-locals are dropped.
struct Release;

impl Drop for Release {
    fn drop(&mut self) {
        if let Ok(i) = STRIPE.try_with(|s| s.replace(SHARED)) {
            if i < OWNED {
                // Release: the next owner sees every count this thread wrote.
                CLAIMED.fetch_and(!(1 << i), Ordering::Release);
            }
        }
    }
}

/// The calling thread's stripe, and whether it owns it: a thread-local read after its
/// first call.
#[inline]
fn stripe_index() -> (usize, bool) {
    let i = STRIPE
        .try_with(|s| {
            let i = s.get();
            if i <= SHARED {
                return i;
            }
            let i = claim();
            s.set(i);
            i
        })
        // A thread being torn down: the shared stripe.
        .unwrap_or(SHARED);
    (i, i < OWNED)
}

/// Takes a free owned stripe for the calling thread, or [`SHARED`] if all are taken.
#[cold]
fn claim() -> usize {
    let mut taken = CLAIMED.load(Ordering::Relaxed);
    loop {
        let free = (!taken).trailing_zeros() as usize;
        if free >= OWNED {
            return SHARED;
        }
        // Acquire: this thread sees every count the stripe's last owner wrote.
        match CLAIMED.compare_exchange_weak(
            taken,
            taken | (1 << free),
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => {
                // Registers the destructor that gives the stripe back.
                if RELEASE.try_with(|_| ()).is_err() {
                    CLAIMED.fetch_and(!(1 << free), Ordering::Release);
                    return SHARED;
                }
                return free;
            }
            Err(now) => taken = now,
        }
    }
}

/// Adds `n` to a stripe's word: a plain load and store on a stripe the thread owns (no
/// other thread writes it), a `fetch_add` on the shared one.
#[inline]
fn add(word: &AtomicU64, n: u64, owned: bool) {
    if owned {
        word.store(
            word.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    } else {
        word.fetch_add(n, Ordering::Relaxed);
    }
}

/// What the fleet last reported.
#[derive(Clone, Copy, Debug)]
struct Fleet {
    counts: Counts,
    latest: Counts,
    at: Instant,
    fresh_for: Duration,
}

/// What only a decision or the exchange touches, under the lock.
#[derive(Debug, Default)]
struct Slow {
    window: View,
    /// When the window was last folded; `None` before the first decision.
    at: Option<Instant>,
    /// The reading the window holds.
    folded: Raw,
    /// The reading handed out by the last `take_local_deltas`.
    taken: Raw,
    /// The reading of the recoveries the window holds.
    recovered: u64,
    fleet: Option<Fleet>,
}

/// `x.round() as u32` (half away from zero, saturating, NaN to 0) without a call to libm
/// (the baseline x86-64 has no rounding instruction): `x` less its integer part is exact,
/// so the half-way test is too.
#[inline]
fn round_u32(x: f64) -> u32 {
    // `as` truncates and saturates (negatives and NaN to 0).
    let whole = x as u32;
    whole.saturating_add(u32::from(x - f64::from(whole) >= 0.5))
}

/// Why the throttle refused a retry, for [`Stop::Throttled`](crate::Stop::Throttled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Throttled {
    pub(crate) retries: u32,
    pub(crate) allowed: u32,
    pub(crate) why: Throttle,
}

/// The `adaptive` kind's state. See the [module docs](self).
#[derive(Debug)]
pub(crate) struct Adaptive {
    stripes: [Stripe; STRIPES],
    slow: Mutex<Slow>,
    /// The last fold's [`Allowances`], for a decision that finds `slow` busy or comes
    /// within `fold_every` of the last fold: each lane's allowance and the run's as they
    /// are, the rest as `f64` bits (read only when a retry is refused).
    allowance: [AtomicU64; 3],
    run_allowed: AtomicU64,
    window_retries: AtomicU64,
    limit: [AtomicU64; 3],
    /// Since the last success, every thread's: failed attempts (lower half; 2^32 failures
    /// in a row would carry one into the upper half, one retry more), and retries allowed
    /// (upper half, see [`RUN_CLEAN`](super::rule::RUN_CLEAN)).
    run: AtomicU64,
    /// Successes that ended a run, since the budget was made.
    recovered: AtomicU64,
    /// Failures that were retried, all threads together (the retry path is the rare one),
    /// packed as the stripes' words: after bad luck, after an overload signal. A retried
    /// failure is counted here only, so that it costs one `fetch_add`.
    retried: [AtomicU64; 2],
    /// When the last fold was, in nanoseconds since `base`; [`NEVER`] before the first (or
    /// after a new fleet view).
    folded_at: AtomicU64,
    /// The first instant a decision was given: the origin of `folded_at`.
    base: OnceLock<Instant>,
    /// 1/1024 of the window: the window barely moves in less.
    fold_every: u64,
    params: Params,
}

const NEVER: u64 = u64::MAX;

/// One retry in [`Adaptive::run`]'s upper half.
const RUN_RETRY: u64 = 1 << 32;

impl Adaptive {
    pub(crate) fn new(params: Params) -> Adaptive {
        Adaptive {
            stripes: Default::default(),
            slow: Mutex::new(Slow::default()),
            allowance: Default::default(),
            window_retries: Default::default(),
            limit: Default::default(),
            run_allowed: AtomicU64::new(super::rule::RUN_CLEAN),
            run: AtomicU64::new(0),
            recovered: AtomicU64::new(0),
            retried: Default::default(),
            folded_at: AtomicU64::new(NEVER),
            base: OnceLock::new(),
            fold_every: u64::try_from(params.window.as_nanos() / 1024).unwrap_or(u64::MAX),
            params,
        }
    }

    /// The calling thread's stripe, and whether the thread owns it.
    #[inline]
    fn stripe(&self) -> (&Stripe, bool) {
        let (i, owned) = stripe_index();
        let [.., shared] = &self.stripes;
        match self.stripes.get(i) {
            Some(s) => (s, owned),
            // `stripe_index` is below STRIPES; this only satisfies the type.
            None => (shared, false),
        }
    }

    /// A call succeeded; `first` when on its first attempt.
    #[inline]
    pub(crate) fn on_success(&self, first: bool) {
        let (s, owned) = self.stripe();
        add(&s.successes, if first { 1 } else { UPPER + 1 }, owned);
        // A load of a line that only failures write: no store while the server works.
        if self.run.load(Ordering::Relaxed) != 0 {
            self.recover();
        }
    }

    /// A success ended a run of failures.
    #[cold]
    #[inline(never)]
    fn recover(&self) {
        self.run.store(0, Ordering::Relaxed);
        self.recovered.fetch_add(1, Ordering::Relaxed);
    }

    /// A refused retry is no part of the run: takes back what the decision added, unless a
    /// success has ended the run since.
    #[cold]
    #[inline(never)]
    fn take_back_retry(&self) {
        let _ = self
            .run
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                (r >= RUN_RETRY).then(|| r - RUN_RETRY)
            });
    }

    /// An attempt failed; `first` when it was the call's first, `overload` when the failure
    /// says the server is overloaded.
    #[inline]
    pub(crate) fn on_failure(&self, first: bool, overload: bool) {
        self.run.fetch_add(1, Ordering::Relaxed);
        self.count_failure(first, overload);
    }

    /// Counts a failure in the stripes (not in the run).
    #[inline]
    fn count_failure(&self, first: bool, overload: bool) {
        let (s, owned) = self.stripe();
        let word = if overload { &s.overloaded } else { &s.failures };
        add(word, if first { UPPER + 1 } else { 1 }, owned);
    }

    /// Successes that ended a run, since the budget was made.
    fn recovered(&self) -> u64 {
        self.recovered.load(Ordering::Relaxed)
    }

    /// Every stripe summed, and the retries.
    fn raw(&self) -> Raw {
        let [rf, ro] = &self.retried;
        let mut r = Raw {
            retried: [rf.load(Ordering::Relaxed), ro.load(Ordering::Relaxed)],
            ..Raw::default()
        };
        for s in &self.stripes {
            r.successes = r
                .successes
                .wrapping_add(s.successes.load(Ordering::Relaxed));
            r.failures = r.failures.wrapping_add(s.failures.load(Ordering::Relaxed));
            r.overloaded = r
                .overloaded
                .wrapping_add(s.overloaded.load(Ordering::Relaxed));
        }
        r
    }

    /// The totals since the budget was made.
    #[cfg(test)]
    pub(crate) fn totals(&self) -> Counts {
        self.raw().since(Raw::default())
    }

    /// Whether a retry after a failure (`first` and `overload` as in
    /// [`on_failure`](Self::on_failure)) may be made at `now`; counts the failure either way,
    /// and the retry with it if it is allowed. Inlined into the machine's decision, which
    /// is itself inlined into an adapter's failure path: the call's frame was a quarter of
    /// an allowed retry's instructions here.
    #[inline(always)]
    pub(crate) fn allow_retry(
        &self,
        first: bool,
        overload: bool,
        now: Instant,
    ) -> Result<(), Throttled> {
        // Counts the failure and, ahead of the decision, the retry (one read-modify-write on
        // the path of an allowed retry; a refusal takes the retry back).
        let run = self.run.fetch_add(RUN_RETRY + 1, Ordering::Relaxed) >> 32;
        let base = *self.base.get_or_init(|| now);
        let last = self.folded_at.load(Ordering::Relaxed);
        let (t, recent) = if self.reuses_fold(base, last, now) {
            (last, true)
        } else {
            let t =
                u64::try_from(now.saturating_duration_since(base).as_nanos()).unwrap_or(u64::MAX);
            (t, last != NEVER && t >= last && t - last < self.fold_every)
        };
        let folded = if recent {
            None
        } else {
            self.fold(base, t, now)
        };
        // Decisions that follow a fold closely, or find another thread folding, read what
        // it published; every decision counts the retries allowed since the fold.
        let allowed_run = match &folded {
            Some(g) => g.run,
            None => self.run_allowed.load(Ordering::Relaxed),
        };
        let lane = if run >= allowed_run {
            Lane::Failing
        } else if overload {
            Lane::Shed
        } else {
            Lane::BadLuck
        };
        let allowance = match &folded {
            Some(g) => g.allowance[lane as usize],
            None => self.allowance[lane as usize].load(Ordering::Relaxed),
        };
        let [bad_luck, overloaded] = &self.retried;
        let since = bad_luck
            .load(Ordering::Relaxed)
            .wrapping_add(overloaded.load(Ordering::Relaxed))
            .wrapping_sub(allowance)
            & LOWER;
        if since < allowance >> 32 {
            let word = if overload { overloaded } else { bad_luck };
            word.fetch_add(if first { UPPER + 1 } else { 1 }, Ordering::Relaxed);
            Ok(())
        } else {
            self.take_back_retry();
            self.count_failure(first, overload);
            let (retries, limit) = match &folded {
                Some(g) => (g.retries, g.limit[lane as usize]),
                None => {
                    let f = |x: &AtomicU64| f64::from_bits(x.load(Ordering::Relaxed));
                    (f(&self.window_retries), f(&self.limit[lane as usize]))
                }
            };
            // `as` saturates: these are for the message only.
            Err(Throttled {
                retries: round_u32(retries + since as f64),
                allowed: limit.max(0.0) as u32,
                why: match lane {
                    Lane::BadLuck => Throttle::BadLuck,
                    Lane::Shed => Throttle::Shedding,
                    Lane::Failing => Throttle::Failing {
                        retries_since_success: u32::try_from(run).unwrap_or(u32::MAX),
                    },
                },
            })
        }
    }

    /// Folds the counts into the window at `now` (tick `t`) and publishes the allowances, unless
    /// another thread is folding. Out of line: the decisions between folds stay small.
    #[cold]
    #[inline(never)]
    fn fold(&self, base: Instant, t: u64, now: Instant) -> Option<Allowances> {
        let mut slow = self.slow.try_lock().ok()?;
        let raw = self.raw();
        let view = slow.view(raw, self.recovered(), now, self.params.window);
        let allowances = Allowances::of(&view, &self.params, raw.retried_total(), LOWER);
        self.publish(&allowances);
        self.folded_at.store(t, Ordering::Relaxed);
        self.remember_fold(base, t, now);
        Some(allowances)
    }

    /// Whether this thread's last fold is this budget's latest (`last`) and `now` is within
    /// `fold_every` after it: then `now`'s tick is within `fold_every` of `last` (the
    /// test below), found with instant comparisons in place of the tick's arithmetic. A
    /// `false` says nothing: the caller works the tick out.
    #[inline]
    fn reuses_fold(&self, base: Instant, last: u64, now: Instant) -> bool {
        LAST_FOLD
            .try_with(Cell::get)
            .ok()
            .flatten()
            .is_some_and(|f| {
                f.budget == self as *const Adaptive as usize
                    && f.base == base
                    && f.at == last
                    && f.from <= now
                    && now < f.until
            })
    }

    /// Keeps the fold made at tick `t`, instant `now`, for [`reuses_fold`](Self::reuses_fold):
    /// only when `now` is not before `base` (so `t` is its exact distance from `base`) and
    /// neither the tick nor the instant overflows within `fold_every`, so that an instant
    /// in `[now, now + fold_every)` has a tick in `[t, t + fold_every)`.
    fn remember_fold(&self, base: Instant, t: u64, now: Instant) {
        let until = now.checked_add(Duration::from_nanos(self.fold_every));
        let fold = match until {
            Some(until) if now >= base && t.checked_add(self.fold_every).is_some() => {
                Some(LastFold {
                    budget: self as *const Adaptive as usize,
                    base,
                    at: t,
                    from: now,
                    until,
                })
            }
            _ => None,
        };
        // A thread being torn down keeps nothing.
        let _ = LAST_FOLD.try_with(|f| f.set(fold));
    }

    fn publish(&self, g: &Allowances) {
        for (slot, v) in self.allowance.iter().zip(g.allowance) {
            slot.store(v, Ordering::Relaxed);
        }
        self.window_retries
            .store(g.retries.to_bits(), Ordering::Relaxed);
        for (slot, v) in self.limit.iter().zip(g.limit) {
            slot.store(v.to_bits(), Ordering::Relaxed);
        }
        self.run_allowed.store(g.run, Ordering::Relaxed);
    }

    /// The counts since the last take (see [`Budget::take_local_deltas`](crate::budget::Budget::take_local_deltas)).
    pub(crate) fn take_local_deltas(&self) -> Counts {
        let raw = self.raw();
        let mut slow = match self.slow.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        let delta = raw.since(slow.taken);
        slow.taken = raw;
        delta
    }

    /// See [`Budget::set_fleet_view`](crate::budget::Budget::set_fleet_view).
    pub(crate) fn set_fleet_view(
        &self,
        counts: Counts,
        latest: Counts,
        at: Instant,
        fresh_for: Duration,
    ) {
        let mut slow = match self.slow.lock() {
            Ok(s) => s,
            Err(poisoned) => poisoned.into_inner(),
        };
        slow.fleet = Some(Fleet {
            counts,
            latest,
            at,
            fresh_for,
        });
        // The next decision reads the new view.
        self.folded_at.store(NEVER, Ordering::Relaxed);
    }

    /// The view a decision at `now` reads: local or fleet (see [`Slow::view`]).
    #[cfg(test)]
    pub(crate) fn view(&self, now: Instant) -> View {
        let raw = self.raw();
        match self.slow.lock() {
            Ok(mut s) => s.view(raw, self.recovered(), now, self.params.window),
            Err(_) => View::default(),
        }
    }
}

impl Slow {
    /// Folds the totals into the window at `now`, then returns what a decision reads: the
    /// local window, or while the fleet's view is fresh the fleet's counts plus what this
    /// process has not handed out yet (see [`View::with_fleet`]).
    fn view(&mut self, raw: Raw, recovered: u64, now: Instant, window: Duration) -> View {
        let delta = raw.since(self.folded);
        self.folded = raw;
        let recoveries = recovered.wrapping_sub(self.recovered) as f64;
        self.recovered = recovered;
        self.window = match self.at {
            // No time is known for anything counted so far, so it cannot be placed.
            None => View::first(delta, recoveries),
            Some(at) => {
                let tau = window.as_secs_f64().max(1e-3);
                let x = now.saturating_duration_since(at).as_secs_f64() / tau;
                self.window.folded(delta, recoveries, x)
            }
        };
        self.at = Some(self.at.map_or(now, |at| at.max(now)));
        match self.fleet {
            Some(f) if now.saturating_duration_since(f.at) <= f.fresh_for => {
                let unsent = raw.since(self.taken);
                self.window
                    .with_fleet(f.counts.saturating_add(unsent), f.latest)
            }
            _ => self.window,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::rule::{allowed_below, RUN_FLAKY, UNTIMED};
    use super::*;

    fn params() -> Params {
        Params {
            window: Duration::from_secs(30),
            overload_ratio: 0.1,
            retry_ratio: 1.0,
            min_retries: 0.0,
        }
    }

    proptest::proptest! {
        #[test]
        fn prop_allowed_below_is_where_the_rule_turns_false(
            retries in proptest::prop_oneof![0.0..100.0, 0.0..1e7, 1e15..1e20, proptest::prelude::any::<f64>()],
            headroom in proptest::prop_oneof![-3.0..3.0, 0.0..1e4, 0.0..1e19, proptest::prelude::any::<f64>()],
        ) {
            // The rule as the module docs state it, for the retries counted since the fold.
            let limit = retries + headroom;
            let rule = |n: u64| retries + n as f64 + 1.0 <= limit;
            let n = allowed_below(retries, limit);
            for k in n.saturating_sub(3)..=n.saturating_add(3) {
                // u64::MAX: every count is allowed.
                proptest::prop_assert_eq!(rule(k), k < n || n == u64::MAX, "n = {}, k = {}", n, k);
            }
            proptest::prop_assert!(n == u64::MAX || !rule(u64::MAX));
            proptest::prop_assert!(n == 0 || rule(0));
        }

        #[test]
        fn prop_round_u32_rounds_as_std_does(
            x in proptest::prop_oneof![0.0..10.0, -10.0..1e10, 1e15..1e25, proptest::prelude::any::<f64>()],
        ) {
            proptest::prop_assert_eq!(round_u32(x), x.round() as u32, "{}", x);
        }

        #[test]
        fn prop_packed_counts_read_back_exactly(
            start in proptest::prelude::any::<(u64, u64, u64, u64, u64)>(),
            events in proptest::collection::vec((0u8..5, proptest::prelude::any::<bool>()), 0..300),
        ) {
            // A reading from any earlier state (the words wrap), then events as the
            // counters count them; the difference is what a plain model counted.
            let earlier = Raw {
                successes: start.0,
                failures: start.1,
                overloaded: start.2,
                retried: [start.3, start.4],
            };
            let mut later = earlier;
            let mut model = Counts::default();
            for (kind, first) in events {
                let packed = if first { UPPER + 1 } else { 1 };
                match kind {
                    0 => {
                        later.successes = later.successes.wrapping_add(if first { 1 } else { UPPER + 1 });
                        model.successes += 1;
                    }
                    1 => { later.failures = later.failures.wrapping_add(packed); model.failures += 1; }
                    2 => { later.overloaded = later.overloaded.wrapping_add(packed); model.overloaded += 1; }
                    // A failure that was retried: bad luck, then overload.
                    3 => {
                        later.retried[0] = later.retried[0].wrapping_add(packed);
                        model.failures += 1;
                        model.retries += 1;
                    }
                    _ => {
                        later.retried[1] = later.retried[1].wrapping_add(packed);
                        model.overloaded += 1;
                        model.retries += 1;
                    }
                }
                model.first_attempts += u64::from(first);
            }
            proptest::prop_assert_eq!(later.since(earlier), model);
        }
    }

    #[test]
    fn round_u32_rounds_half_away_from_zero_and_saturates() {
        for x in [
            0.0,
            0.49999999999999994,
            0.5,
            2.5,
            3.4999999999999996,
            -0.5,
            -7.0,
            4_294_967_294.5,
            4_294_967_295.5,
            1e300,
            f64::INFINITY,
            f64::NAN,
        ] {
            assert_eq!(round_u32(x), x.round() as u32, "{x}");
        }
    }

    #[test]
    fn no_count_is_lost_when_threads_own_share_and_hand_over_stripes() {
        // 16 threads at once (8 own a stripe, the rest share one), then 40 short-lived
        // threads one after another (each takes over a stripe another gave back).
        const N: u64 = 100_000;
        let a = Adaptive::new(params());
        std::thread::scope(|s| {
            for _ in 0..16 {
                s.spawn(|| {
                    for i in 0..N {
                        a.on_success(i % 2 == 0);
                        a.on_failure(i % 3 == 0, i % 5 == 0);
                    }
                });
            }
        });
        for _ in 0..40 {
            std::thread::scope(|s| {
                s.spawn(|| a.on_success(true));
            });
        }
        let t = a.totals();
        assert_eq!(t.successes, 16 * N + 40);
        assert_eq!(t.failures + t.overloaded, 16 * N);
        assert_eq!(t.overloaded, 16 * N.div_ceil(5));
        assert_eq!(t.first_attempts, 16 * (N.div_ceil(2) + N.div_ceil(3)) + 40);
    }

    /// The stripe a new thread counts on, and whether it owns it.
    fn new_threads_stripe() -> (usize, bool) {
        std::thread::scope(|s| s.spawn(stripe_index).join().expect("no panic"))
    }

    #[test]
    fn a_thread_that_ends_gives_its_stripe_back_and_only_its_own() {
        // Other tests' threads claim stripes too, for a while: wait for a free one (a
        // bounded time), never assume one is free.
        let deadline = Instant::now() + Duration::from_secs(10);
        let owned_thread = |what: &str| loop {
            let (i, owned) = new_threads_stripe();
            if owned {
                return i;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: no stripe was given back"
            );
            std::thread::sleep(Duration::from_millis(1));
        };
        // Many more threads than stripes, one after another: each owns one, given back by
        // the one before it.
        for k in 0..4 * OWNED {
            let _ = owned_thread(&format!("thread {k}"));
        }
        // A thread that lives on keeps its stripe while others come and go: no other
        // thread may count on it with plain stores.
        let mut checked = false;
        while !checked {
            assert!(
                Instant::now() < deadline,
                "no stripe for a thread that lives on"
            );
            let (tx, rx) = std::sync::mpsc::channel();
            let (stop, stopped) = std::sync::mpsc::channel::<()>();
            std::thread::scope(|s| {
                // Dropped on the way out, a panic included: the holder then ends too.
                let stop = stop;
                s.spawn(move || {
                    let mine = stripe_index();
                    tx.send(mine).expect("sent");
                    if mine.1 {
                        let _ = stopped.recv();
                    }
                });
                let (held, owned) = rx.recv().expect("received");
                if owned {
                    for k in 0..2 * OWNED {
                        let _ = owned_thread(&format!("thread {k} beside the holder"));
                        assert_ne!(
                            CLAIMED.load(Ordering::Relaxed) & (1 << held),
                            0,
                            "stripe {held} taken from the thread that holds it"
                        );
                    }
                    checked = true;
                }
                let _ = stop.send(());
            });
        }
    }

    #[test]
    fn threads_alive_at_once_never_own_the_same_stripe() {
        // One thread more than there are owned stripes, all alive at once: at least one
        // counts on the shared stripe (with `fetch_add`), and no two own the same one.
        let ready = std::sync::Barrier::new(OWNED + 1);
        let stripes: Vec<(usize, bool)> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..=OWNED)
                .map(|_| {
                    s.spawn(|| {
                        let mine = stripe_index();
                        ready.wait();
                        mine
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().expect("no panic"))
                .collect()
        });
        assert!(stripes.contains(&(SHARED, false)), "{stripes:?}");
        for (k, &(i, owned)) in stripes.iter().enumerate() {
            assert_eq!(owned, i < OWNED, "{stripes:?}");
            assert!(
                !owned || stripes[k + 1..].iter().all(|&(j, _)| j != i),
                "{stripes:?}"
            );
        }
    }

    #[test]
    fn a_decision_on_another_thread_folds_once_the_fold_interval_is_over() {
        // Each decision on a thread of its own, which has no fold of its own to reuse: the
        // tick since the budget's first decision tells whether the last fold still holds.
        let a = Adaptive::new(params());
        let every = a.fold_every;
        assert_eq!(every, 29_296_875, "1/1024 of 30 s");
        let t0 = Instant::now();
        let folded_at = |ns: u64| {
            std::thread::scope(|s| {
                let decide = || a.allow_retry(true, false, t0 + Duration::from_nanos(ns));
                let _ = s.spawn(decide).join().expect("no panic");
            });
            a.folded_at.load(Ordering::Relaxed)
        };
        assert_eq!(folded_at(0), 0, "the first decision folds");
        assert_eq!(folded_at(every - 1), 0, "within the interval: reused");
        assert_eq!(folded_at(every), every, "at its end: a fold");
        assert_eq!(folded_at(2 * every - 1), every, "reused");
        assert_eq!(folded_at(3 * every), 3 * every);
        // An instant from before the last fold (a thread that read the clock earlier):
        // a fold, at that instant's tick.
        assert_eq!(folded_at(every), every);
    }

    #[test]
    fn a_thread_reuses_its_own_fold_within_the_interval_only() {
        let a = Adaptive::new(params());
        let every = a.fold_every;
        let t0 = Instant::now();
        let folded_at = |a: &Adaptive, ns: u64| {
            let _ = a.allow_retry(true, false, t0 + Duration::from_nanos(ns));
            a.folded_at.load(Ordering::Relaxed)
        };
        assert_eq!(folded_at(&a, 0), 0);
        assert_eq!(folded_at(&a, every - 1), 0, "reused");
        assert_eq!(folded_at(&a, every), every, "the interval is over: a fold");
        // An instant before this thread's last fold: a fold at its tick.
        assert_eq!(folded_at(&a, every - 1), every - 1);

        // Another budget's fold, though its first decision came at the same instant and it
        // folded at the same tick: its interval (30 s / 1024) is not this one's (1 s / 1024).
        let short = Adaptive::new(Params {
            window: Duration::from_secs(1),
            ..params()
        });
        let long = Adaptive::new(params());
        assert_eq!(folded_at(&short, 0), 0);
        assert_eq!(folded_at(&long, 0), 0);
        assert_eq!(folded_at(&short, 2_000_000), 2_000_000, "past 976 563 ns");

        // A budget made in the place of another (the same address), which first folded on
        // another thread at the same tick, 1 ms later: its own first instant counts.
        let mut a = Adaptive::new(params());
        assert_eq!(folded_at(&a, 0), 0);
        a = Adaptive::new(Params {
            window: Duration::from_secs(1),
            ..params()
        });
        std::thread::scope(|s| {
            let _ = s.spawn(|| folded_at(&a, 1_000_000)).join();
        });
        assert_eq!(a.folded_at.load(Ordering::Relaxed), 0, "its first fold");
        assert_eq!(folded_at(&a, 5_000_000), 4_000_000, "4 ms after its first");
    }

    #[test]
    fn a_fold_whose_tick_saturates_is_not_reused() {
        // 600 years after the first decision the tick saturates at u64::MAX, which reads
        // as "never folded": every decision then folds, and this thread's last fold must
        // not say otherwise.
        let a = Adaptive::new(params());
        let t0 = Instant::now();
        let _ = a.allow_retry(true, false, t0);
        let Some(late) = t0.checked_add(Duration::from_secs(600 * 365 * 86_400)) else {
            return; // a clock that cannot count that far cannot get there either
        };
        let _ = a.allow_retry(true, false, late);
        let next = late + Duration::from_nanos(1);
        let _ = a.allow_retry(true, false, next);
        let at = a.slow.lock().expect("not poisoned").at;
        assert_eq!(at, Some(next), "the decision after folded");
    }

    #[test]
    fn a_window_of_half_a_failure_keeps_the_episode_going() {
        // The rule's fine print: a fold whose window holds fewer than half a failure forgets
        // the episode's successes. Ten calls before the first decision, one of them failed,
        // weigh as five: half a failure, which is not fewer.
        let v = View::first(
            Counts {
                first_attempts: 10,
                successes: 9,
                failures: 1,
                ..Counts::default()
            },
            0.0,
        );
        assert_eq!(v.failed, 0.5);
        let two = Counts {
            first_attempts: 2,
            successes: 2,
            ..Counts::default()
        };
        assert_eq!(v.folded(two, 0.0, 0.0).episode_succeeded, 2.0);
        let quiet = View { failed: 0.49, ..v };
        assert_eq!(quiet.folded(two, 0.0, 0.0).episode_succeeded, 0.0);
    }

    #[test]
    fn totals_derive_first_attempts_from_outcomes() {
        let a = Adaptive::new(params());
        a.on_success(true);
        a.on_failure(true, false);
        a.on_success(false);
        a.on_failure(true, true);
        let t = a.totals();
        assert_eq!(
            t,
            Counts {
                first_attempts: 3,
                retries: 0,
                successes: 2,
                failures: 1,
                overloaded: 1
            }
        );
    }

    #[test]
    fn overload_retries_stay_within_the_ratio_of_first_attempts() {
        // 100 first attempts a second, all 503: a tenth of them may be retried.
        let a = Adaptive::new(params());
        let t0 = Instant::now();
        let (mut allowed, mut asked) = (0u32, 0u32);
        for ms in 0..120_000u64 {
            if ms % 10 != 0 {
                continue;
            }
            asked += 1;
            if a.allow_retry(true, true, t0 + Duration::from_millis(ms))
                .is_ok()
            {
                allowed += 1;
                a.on_failure(false, true);
            }
        }
        let share = f64::from(allowed) / f64::from(asked);
        assert!((0.08..=0.11).contains(&share), "{share}");
    }

    #[test]
    fn bad_luck_is_retried_while_the_server_mostly_works() {
        // Half the attempts fail with a 500 at random; retries are what saves the calls. The
        // only refusals are of runs of retries with no success between, as long as a run
        // the rule allows.
        let a = Adaptive::new(params());
        let t0 = Instant::now();
        let mut rng = fastrand::Rng::with_seed(7);
        let (mut calls, mut refused, mut run) = (0u32, 0u32, 0u64);
        // The first second is the budget learning: with no history, only its credit.
        for ms in (0..60_000u64).step_by(10) {
            let now = t0 + Duration::from_millis(ms);
            let mut first = true;
            calls += u32::from(ms >= 1000);
            for _ in 0..3 {
                if rng.bool() {
                    a.on_success(first);
                    run = 0;
                    break;
                }
                let was_first = first;
                first = false;
                if a.allow_retry(was_first, false, now).is_err() {
                    if ms >= 1000 {
                        refused += 1;
                        assert!(
                            run >= RUN_FLAKY,
                            "refused after {run} retries in a row at {ms}ms"
                        );
                    }
                    break;
                }
                run += 1;
            }
        }
        // A run of six failed retries comes once in about sixty chains at half failing.
        assert!(refused * 40 < calls, "{refused} of {calls} calls refused");
    }

    #[test]
    fn a_fresh_fleet_view_replaces_the_local_counts_and_adds_to_the_credit() {
        let a = Adaptive::new(params());
        let t0 = Instant::now();
        let _ = a.allow_retry(true, true, t0);
        let taken = a.take_local_deltas();
        assert_eq!(taken.first_attempts, 1);
        let fleet = Counts {
            first_attempts: 1000,
            ..Counts::default()
        };
        a.set_fleet_view(fleet, Counts::default(), t0, Duration::from_secs(1));
        a.on_failure(true, true);
        let v = a.view(t0 + Duration::from_millis(500));
        // The fleet, plus what is not sent yet, plus what is left of a new process's credit
        // (it had made no call before its first failure).
        let credit = UNTIMED * (-0.5f64 / 30.0).exp();
        assert!(
            (v.first_attempts - (1001.0 + credit)).abs() < 1e-9,
            "{} against {}",
            v.first_attempts,
            1001.0 + credit
        );
        let v = a.view(t0 + Duration::from_secs(2));
        assert!(v.first_attempts < 100.0, "stale: the local window again");
        assert_eq!(a.take_local_deltas().first_attempts, 1);
    }
}
