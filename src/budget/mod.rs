//! The retry budget: what stops a fleet of clients from multiplying the load on a server
//! that is already down.
//!
//! Limits per call (`max_attempts`) do not bound the load a fleet sends: with 3 attempts
//! per call, every client triples its traffic exactly when the server can least take it,
//! and the outage feeds itself. A budget bounds retries across calls instead. It is shared
//! by every clone of a [`Policy`](crate::Policy) (so by every call of a service that shares
//! one policy, which is one budget per process as services are deployed), and comes in two
//! kinds ([`BudgetKind`]):
//!
//! - **`adaptive`** (the default): retries as a share of recent first attempts, lenient
//!   (`retry_ratio`, 200 %) for failures that look like bad luck, strict (`overload_ratio`,
//!   10 %) once the process has made a few retries since anything last succeeded, whatever
//!   the status, and in between for answers that say the server sheds load (503, 529,
//!   `overloaded_error`), by how much of the incident's attempts fail. A share holds
//!   whatever a process's call rate, and the run of failures is what a process that calls a
//!   few times a minute learns fast enough. See [the rule](rule), and the repository's
//!   `docs/FLEET.md` for the measurements that chose it.
//! - **`aws`**: the AWS SDKs' retry quota, a token bucket of 500, kept exact for the
//!   `aws-standard` preset. It starts full, at `capacity` (500); a retry takes
//!   `retry_cost` (5), or `timeout_cost` (10) after a transport timeout; a call that
//!   succeeds on its first attempt puts back `success_refund` (1), and one that succeeds
//!   after retries puts back what its retries took, never above `capacity`. It only bites
//!   after 100 failed retries in one process.
//!
//! A budget that refuses a retry stops the call with `budget_exhausted`; it never blocks a
//! first attempt. The decision is lock-free and allocates nothing, and time is an input:
//! the budget never reads a clock.
//!
//! ```
//! use std::time::Instant;
//! use redial::budget::{Budget, BudgetConfig, BudgetKind};
//!
//! let budget = Budget::new(BudgetConfig::default());
//! assert_eq!(budget.config().kind, BudgetKind::Adaptive);
//!
//! // The AWS bucket, as the aws-standard preset keeps it.
//! let aws = Budget::new(BudgetConfig::aws());
//! assert!(aws.try_withdraw(5));
//! assert_eq!(aws.available(), 495);
//! aws.deposit(100);
//! assert_eq!(aws.available(), 500, "never above capacity");
//! ```
//!
//! # Sharing a budget with a fleet
//!
//! The adaptive budget's state is a set of [`Counts`] that add up across processes. A
//! background task (the Redis exchange) calls [`Budget::take_local_deltas`] once per sync
//! interval, adds the deltas to the fleet's time buckets, and hands the fleet's totals over
//! the last [`window`](BudgetConfig::window) back with [`Budget::set_fleet_view`]. While that
//! view is fresh, decisions read it (plus what this process has counted since); otherwise
//! they read the local window. A decision never waits for the exchange.

mod adaptive;
mod aws;
mod counts;
pub mod rule;

use core::fmt;
use core::str::FromStr;
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use crate::verdict::Cause;

use adaptive::Adaptive;
use aws::TokenBucket;
use rule::Params;

pub use counts::Counts;

/// Which algorithm a budget runs (`kind` in the `[budget]` table of a policy file).
///
/// ```
/// use redial::budget::BudgetKind;
/// assert_eq!("aws".parse::<BudgetKind>()?, BudgetKind::Aws);
/// assert_eq!(BudgetKind::default().as_str(), "adaptive");
/// # Ok::<(), redial::UnknownName>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BudgetKind {
    /// Retries as a share of recent first attempts, held by the process's run of failures
    /// and, for shed answers, by the share of attempts that fail ([`rule`]).
    #[default]
    Adaptive,
    /// The AWS SDKs' token bucket (see the [module docs](self)).
    Aws,
}

impl BudgetKind {
    /// Both kinds, in the order the docs list them.
    ///
    /// ```
    /// assert_eq!(redial::budget::BudgetKind::ALL[1], redial::budget::BudgetKind::Aws);
    /// ```
    pub const ALL: [BudgetKind; 2] = [BudgetKind::Adaptive, BudgetKind::Aws];

    /// The name used in policy files.
    ///
    /// ```
    /// assert_eq!(redial::budget::BudgetKind::Aws.as_str(), "aws");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            BudgetKind::Adaptive => "adaptive",
            BudgetKind::Aws => "aws",
        }
    }
}

impl fmt::Display for BudgetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for BudgetKind {
    type Err = crate::UnknownName;
    fn from_str(s: &str) -> Result<BudgetKind, crate::UnknownName> {
        crate::names::find(BudgetKind::ALL, s, BudgetKind::as_str).ok_or(crate::UnknownName::new(
            "budget kind",
            crate::names::names_of!(BudgetKind),
        ))
    }
}

/// The budget's settings (the `[budget]` table of a policy file).
///
/// The default is the `adaptive` kind: window 30 s, `overload_ratio` 0.1, `retry_ratio`
/// 2.0, `min_retries` 0.5. [`BudgetConfig::aws`] is the AWS SDKs' standard retry quota:
/// 500 / 5 / 10 / 1. Each kind reads only its own fields.
///
/// ```
/// use std::time::Duration;
/// use redial::budget::{BudgetConfig, BudgetKind};
///
/// let c = BudgetConfig::default();
/// assert_eq!((c.kind, c.window, c.overload_ratio), (BudgetKind::Adaptive, Duration::from_secs(30), 0.1));
/// let c = BudgetConfig::aws();
/// assert_eq!((c.capacity, c.retry_cost, c.timeout_cost, c.success_refund), (500, 5, 10, 1));
/// ```
#[derive(Clone, Copy, Debug, PartialEq)]
#[non_exhaustive]
pub struct BudgetConfig {
    /// Whether retries are limited at all.
    pub enabled: bool,
    /// The algorithm.
    pub kind: BudgetKind,
    /// `aws`: tokens the bucket holds when full (and at the start).
    pub capacity: u32,
    /// `aws`: tokens a retry takes.
    pub retry_cost: u32,
    /// `aws`: tokens a retry after a transport timeout takes.
    pub timeout_cost: u32,
    /// `aws`: tokens a call that succeeds on its first attempt puts back.
    pub success_refund: u32,
    /// `adaptive`: how far back the counts reach (older events fade out with this time
    /// constant; a fleet view covers this much time).
    pub window: Duration,
    /// `adaptive`: retries per recent first attempt once a run of failures says nothing
    /// gets through, and for shed answers while most of the incident's attempts fail.
    pub overload_ratio: f64,
    /// `adaptive`: retries per recent first attempt for failures that look like bad luck
    /// (and, up to 1, for shed answers while few attempts fail).
    pub retry_ratio: f64,
    /// `adaptive`: retries allowed within the window on top of `retry_ratio`, for failures
    /// that look like bad luck, so that a process with few calls can retry a rare one (the
    /// strict lanes add none: a thousand rare callers would spend it in every window of an
    /// outage).
    pub min_retries: f64,
}

impl BudgetConfig {
    /// An `aws` bucket with these numbers, enabled.
    ///
    /// ```
    /// let c = redial::budget::BudgetConfig::new(100, 10, 20, 1);
    /// assert!(c.enabled);
    /// assert_eq!(c.kind, redial::budget::BudgetKind::Aws);
    /// ```
    pub const fn new(
        capacity: u32,
        retry_cost: u32,
        timeout_cost: u32,
        success_refund: u32,
    ) -> Self {
        let mut c = BudgetConfig::adaptive();
        c.kind = BudgetKind::Aws;
        c.capacity = capacity;
        c.retry_cost = retry_cost;
        c.timeout_cost = timeout_cost;
        c.success_refund = success_refund;
        c
    }

    /// The AWS SDKs' standard retry mode: `RETRY_COST` 5, `TIMEOUT_RETRY_COST` 10,
    /// `NO_RETRY_INCREMENT` 1, `INITIAL_RETRY_TOKENS` 500.
    ///
    /// ```
    /// assert_eq!(redial::budget::BudgetConfig::aws(), redial::budget::BudgetConfig::new(500, 5, 10, 1));
    /// ```
    pub const fn aws() -> Self {
        BudgetConfig::new(500, 5, 10, 1)
    }

    /// The `adaptive` kind with its default numbers (the numbers are chosen in the
    /// repository's `docs/FLEET.md`).
    ///
    /// ```
    /// assert_eq!(redial::budget::BudgetConfig::adaptive(), redial::budget::BudgetConfig::default());
    /// ```
    pub const fn adaptive() -> Self {
        BudgetConfig {
            enabled: true,
            kind: BudgetKind::Adaptive,
            capacity: 500,
            retry_cost: 5,
            timeout_cost: 10,
            success_refund: 1,
            window: Duration::from_secs(30),
            overload_ratio: 0.1,
            retry_ratio: 2.0,
            min_retries: 0.5,
        }
    }

    /// The same numbers, switched off.
    ///
    /// ```
    /// assert!(!redial::budget::BudgetConfig::default().disabled().enabled);
    /// ```
    pub const fn disabled(mut self) -> Self {
        self.enabled = false;
        self
    }
}

impl Default for BudgetConfig {
    fn default() -> Self {
        BudgetConfig::adaptive()
    }
}

/// A retry budget, shared by every clone (see the [module docs](self)).
///
/// ```
/// let budget = redial::budget::Budget::new(redial::budget::BudgetConfig::new(10, 5, 10, 1));
/// assert!(budget.try_withdraw(10));
/// assert!(!budget.try_withdraw(5), "an empty bucket refuses, and takes nothing");
/// assert_eq!(budget.available(), 0);
/// ```
#[derive(Clone, Debug)]
pub struct Budget {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    config: BudgetConfig,
    state: State,
}

// Behind the budget's `Arc`, allocated once per budget: boxing the large variant would
// only add a pointer to chase on every call.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum State {
    Aws(TokenBucket),
    Adaptive(Adaptive),
}

/// Which of the `adaptive` budget's limits refused a retry (see [`Stop::Throttled`](crate::Stop::Throttled)).
///
/// ```
/// use redial::Stop;
/// use redial::budget::Throttle;
/// let stop = Stop::Throttled { retries: 3, allowed: 2, why: Throttle::Shedding };
/// assert_eq!(
///     stop.to_string(),
///     "budget_exhausted: throttled: 3 recent retries already, at most 2 allowed while the server sheds load"
/// );
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Throttle {
    /// The failure looked like bad luck (`retry_ratio`).
    BadLuck,
    /// The failure said the server is overloaded, and recent attempts fail often enough
    /// that retries add to the overload (the shed curve, down to `overload_ratio`).
    Shedding,
    /// The process has made this many retries since anything last succeeded (or its
    /// fleet's latest seconds hold three failures or more and no success): `overload_ratio`.
    Failing {
        /// The retries made since the last success.
        retries_since_success: u32,
    },
}

/// Why a budget refused a retry; the machine turns it into a [`Stop`](crate::Stop).
#[derive(Clone, Copy, Debug)]
pub(crate) enum Refused {
    Tokens { cost: u32, available: u32 },
    Throttled(adaptive::Throttled),
}

impl Budget {
    /// A fresh budget: a full bucket, or an adaptive budget that has seen nothing.
    ///
    /// ```
    /// assert_eq!(redial::budget::Budget::new(redial::budget::BudgetConfig::aws()).available(), 500);
    /// ```
    pub fn new(config: BudgetConfig) -> Budget {
        let state = match config.kind {
            BudgetKind::Aws => State::Aws(TokenBucket::new(config.capacity)),
            BudgetKind::Adaptive => State::Adaptive(Adaptive::new(Params {
                window: config.window,
                overload_ratio: config.overload_ratio,
                retry_ratio: config.retry_ratio,
                min_retries: config.min_retries,
            })),
        };
        Budget {
            shared: Arc::new(Shared { config, state }),
        }
    }

    /// The settings.
    ///
    /// ```
    /// let b = redial::budget::Budget::new(Default::default());
    /// assert_eq!(b.config().retry_ratio, 2.0);
    /// ```
    pub fn config(&self) -> &BudgetConfig {
        &self.shared.config
    }

    /// `aws`: tokens left now. `adaptive`: always 0 (it holds no tokens; see
    /// [`take_local_deltas`](Self::take_local_deltas) for what it counts).
    ///
    /// ```
    /// assert_eq!(redial::budget::Budget::new(redial::budget::BudgetConfig::aws()).available(), 500);
    /// ```
    #[inline]
    pub fn available(&self) -> u32 {
        match &self.shared.state {
            State::Aws(b) => b.available(),
            State::Adaptive(_) => 0,
        }
    }

    /// `aws`: takes `cost` tokens if the bucket holds them all; otherwise takes nothing and
    /// returns false. `adaptive`: takes nothing and returns true.
    ///
    /// ```
    /// let b = redial::budget::Budget::new(redial::budget::BudgetConfig::new(7, 5, 10, 1));
    /// assert!(b.try_withdraw(5));
    /// assert!(!b.try_withdraw(5));
    /// ```
    #[inline]
    pub fn try_withdraw(&self, cost: u32) -> bool {
        match &self.shared.state {
            State::Aws(b) => b.try_withdraw(cost),
            State::Adaptive(_) => true,
        }
    }

    /// `aws`: puts back `amount` tokens, never above capacity. `adaptive`: does nothing.
    ///
    /// ```
    /// let b = redial::budget::Budget::new(redial::budget::BudgetConfig::new(10, 5, 10, 1));
    /// assert!(b.try_withdraw(5));
    /// b.deposit(u32::MAX);
    /// assert_eq!(b.available(), 10);
    /// ```
    #[inline]
    pub fn deposit(&self, amount: u32) {
        if let State::Aws(b) = &self.shared.state {
            b.deposit(amount);
        }
    }

    /// What this process counted since the last call (all of it, the first time), for the
    /// exchange to add to the fleet's totals. Always zero for the `aws` kind, which keeps
    /// no counts.
    ///
    /// Call it from one task only: two callers would each get part of the deltas, which is
    /// harmless but splits them.
    ///
    /// ```
    /// use std::time::Instant;
    /// use redial::{Cause, Policy, Verdict};
    /// use redial::machine::{Action, Machine};
    ///
    /// let policy = Policy::default();
    /// let budget = policy.rules().budget().unwrap();
    /// let mut call = Machine::new(&policy, Instant::now());
    /// let busy = Verdict::retryable(Cause::status(503));
    /// let _ = call.on_outcome(&busy, Instant::now(), &mut fastrand::Rng::new());
    /// let _ = call.on_success();
    /// let d = budget.take_local_deltas();
    /// assert_eq!((d.first_attempts, d.overloaded, d.retries, d.successes), (1, 1, 1, 1));
    /// assert_eq!(budget.take_local_deltas(), redial::budget::Counts::default());
    /// ```
    pub fn take_local_deltas(&self) -> Counts {
        match &self.shared.state {
            State::Aws(_) => Counts::default(),
            State::Adaptive(a) => a.take_local_deltas(),
        }
    }

    /// Hands the budget the fleet's counts over the last [`window`](BudgetConfig::window),
    /// as they stood at `at` (this process's deltas taken so far included), and those of
    /// the fleet's latest bucket of time (the last few seconds). Decisions read them, plus
    /// what this process has counted since its last
    /// [`take_local_deltas`](Self::take_local_deltas), until `at + fresh_for`; then they
    /// fall back to the local window by themselves. A latest bucket with three failures or
    /// more and no success holds every process's retries to `overload_ratio`, as a
    /// process's own run of failures does. What is this process's own (a new process's credit, its recoveries)
    /// it keeps. No effect on the `aws` kind.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use redial::budget::{Budget, BudgetConfig, Counts};
    ///
    /// let budget = Budget::new(BudgetConfig::default());
    /// let fleet = Counts { first_attempts: 3_000, retries: 100, successes: 3_000, ..Counts::default() };
    /// let latest = Counts { first_attempts: 300, successes: 300, ..Counts::default() };
    /// budget.set_fleet_view(fleet, latest, Instant::now(), Duration::from_secs(1));
    /// ```
    pub fn set_fleet_view(&self, fleet: Counts, latest: Counts, at: Instant, fresh_for: Duration) {
        if let State::Adaptive(a) = &self.shared.state {
            a.set_fleet_view(fleet, latest, at, fresh_for);
        }
    }

    /// Whether a retry decision needs the time: the adaptive kind's window does, the AWS
    /// bucket does not.
    #[inline]
    pub(crate) fn needs_time(&self) -> bool {
        matches!(self.shared.state, State::Adaptive(_))
    }

    /// An attempt failed and is not retried (counted by the adaptive kind; `first` when it
    /// was the call's first). A fatal answer below 500, or a rate limit that said how long
    /// to wait (`paced`), counts as the server answering, not failing.
    #[inline]
    pub(crate) fn on_failure(&self, cause: &Cause, first: bool, fatal: bool, paced: bool) {
        if let State::Adaptive(a) = &self.shared.state {
            // A server that answered on purpose, or paced its clients, is working.
            if paced || (fatal && cause.server_answered()) {
                a.on_success(first);
            } else {
                a.on_failure(first, cause.signals_overload());
            }
        }
    }

    /// Whether a retry after `cause` (the failure of the call's `first` attempt or a later
    /// one, not yet counted by [`on_failure`](Self::on_failure)) may be made now; counts the
    /// failure, charges the retry if it is allowed, and returns what it took (tokens, for a
    /// refund if the call succeeds). `paced` when the failure is a rate limit that said how
    /// long to wait: the adaptive kind counts it as the server answering, and the retry as
    /// free, so that a server pacing its clients never spends what overload decisions read.
    ///
    /// Inlined, both kinds, so that an adapter's failure path is one frame: left to the
    /// optimiser, the whole of it went out of line (two retries: 715 instructions against
    /// 647 with the AWS bucket, 917 against 879 with the adaptive budget).
    #[inline(always)]
    pub(crate) fn allow_retry(
        &self,
        cause: &Cause,
        first: bool,
        paced: bool,
        now: impl FnOnce() -> Option<Instant>,
    ) -> Result<u32, Refused> {
        match &self.shared.state {
            State::Aws(b) => {
                let c = &self.shared.config;
                let cost = if cause.is_timeout() {
                    c.timeout_cost
                } else {
                    c.retry_cost
                };
                if b.try_withdraw(cost) {
                    Ok(cost)
                } else {
                    Err(Refused::Tokens {
                        cost,
                        available: b.available(),
                    })
                }
            }
            // The machine always has the time for it (`now` is `None` only for a clock
            // that could not be called); without it the retry is not weighed, nor counted.
            State::Adaptive(a) if paced => {
                a.on_success(first);
                Ok(0)
            }
            State::Adaptive(a) => match now() {
                Some(now) => a
                    .allow_retry(first, cause.signals_overload(), now)
                    .map(|()| 0)
                    .map_err(Refused::Throttled),
                None => Ok(0),
            },
        }
    }

    /// A call succeeded after `retries` retries that took `spent` tokens.
    #[inline]
    pub(crate) fn on_success(&self, retries: u32, spent: u32) {
        match &self.shared.state {
            // AWS retry quota: a first-attempt success adds a little; a success after
            // retries returns what they took.
            State::Aws(b) => b.deposit(if retries == 0 {
                self.shared.config.success_refund
            } else {
                spent
            }),
            State::Adaptive(a) => a.on_success(retries == 0),
        }
    }
}
