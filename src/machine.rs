//! One call's retry state: attempts, elapsed time, backoff and jitter, limits and the
//! shared budget.
//!
//! The machine knows nothing of HTTP and owns no clock and no randomness: each outcome comes
//! in as a [`Verdict`] with the monotonic time it arrived and the caller's [`fastrand::Rng`],
//! and one [`Action`] comes out. The same rules, verdicts, times and seed always give the
//! same actions, so it runs the same under tokio, in a blocking loop, in a simulation of a
//! thousand clients, or in a test that jumps its clock forward.
//!
//! # Protocol
//!
//! 1. Create a machine when the call begins: [`Machine::new`] with the rules (a
//!    [`Policy`](crate::Policy), a `&Policy`, or [`Rules`]) and the start instant.
//! 2. Make an attempt. When its outcome is known, call [`Machine::on_outcome`] once with its
//!    verdict, the instant it arrived and the random generator.
//! 3. On [`Action::Retry`], wait [`Retry::delay`] and go to 2. On [`Action::Stop`], the call is
//!    over: hand the last outcome to the caller with the [`Stop`] that explains it.
//!
//! A stopped machine stays stopped: further calls to `on_outcome` change nothing (no attempt
//! is counted, the budget is not touched) and repeat the same `Stop`.
//!
//! # Decisions
//!
//! For a failed attempt the first of these that applies stops the call, so the budget is
//! only charged for a retry that is really made:
//! `not_retryable`, `attempts_exhausted`, `hint_too_long`, `deadline_exceeded`,
//! `budget_exhausted`. Otherwise the delay is the server's hint, plus a spread of up to
//! `min(hint / 10, 1 s)`, or else the backoff.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use redial::{Cause, Policy, StopReason, Verdict};
//! use redial::machine::{Action, Machine};
//!
//! let policy = Policy::default(); // 3 attempts
//! let mut rng = fastrand::Rng::with_seed(42);
//! let start = Instant::now();
//! let mut call = Machine::new(&policy, start);
//!
//! let busy = Verdict::retryable(Cause::status(503));
//! let Action::Retry(first) = call.on_outcome(&busy, start, &mut rng) else { panic!() };
//! assert!(first.delay <= Duration::from_millis(500));
//!
//! let later = start + first.delay;
//! assert!(matches!(call.on_outcome(&busy, later, &mut rng), Action::Retry(_)));
//! let Action::Stop(stop) = call.on_outcome(&busy, later, &mut rng) else { panic!() };
//! assert_eq!(stop.reason(), StopReason::AttemptsExhausted);
//! ```

use core::fmt;
use core::time::Duration;
use std::time::Instant;

use fastrand::Rng;

use crate::backoff::{nanos, Backoff};
use crate::budget::{Budget, BudgetConfig, Refused};
use crate::duration::Rounded;
use crate::hints::Hint;
use crate::stop::Stop;
use crate::verdict::{Cause, Verdict};

/// What to do with a long server hint.
///
/// ```
/// assert_eq!("clamp".parse::<redial::machine::OnLongHint>()?, redial::machine::OnLongHint::Clamp);
/// # Ok::<(), redial::UnknownName>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OnLongHint {
    /// Stop at once with `hint_too_long`, carrying the wait the server asked for.
    Stop,
    /// Wait `max_hint` (plus the spread) instead.
    Clamp,
}

impl OnLongHint {
    /// Both choices.
    ///
    /// ```
    /// assert_eq!(redial::machine::OnLongHint::ALL[1].as_str(), "clamp");
    /// ```
    pub const ALL: [OnLongHint; 2] = [OnLongHint::Stop, OnLongHint::Clamp];

    /// The name used in policy files.
    ///
    /// ```
    /// assert_eq!(redial::machine::OnLongHint::Stop.as_str(), "stop");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            OnLongHint::Stop => "stop",
            OnLongHint::Clamp => "clamp",
        }
    }
}

impl core::str::FromStr for OnLongHint {
    type Err = crate::UnknownName;
    fn from_str(s: &str) -> Result<OnLongHint, crate::UnknownName> {
        crate::names::find(OnLongHint::ALL, s, OnLongHint::as_str).ok_or(crate::UnknownName::new(
            "long-hint rule",
            crate::names::names_of!(OnLongHint),
        ))
    }
}

/// The part of a policy the machine obeys: limits, backoff, hint limits and budget.
///
/// Built by the [`PolicyBuilder`](crate::PolicyBuilder); a [`Policy`](crate::Policy)
/// derefs its rules through `AsRef<Rules>`.
///
/// ```
/// let policy = redial::Policy::default();
/// let rules = policy.rules();
/// assert_eq!(rules.max_attempts(), 3);
/// assert_eq!(rules.max_elapsed(), None);
/// ```
#[derive(Clone, Debug)]
pub struct Rules {
    pub(crate) max_attempts: u32,
    pub(crate) max_elapsed: Option<Duration>,
    pub(crate) backoff: Backoff,
    pub(crate) max_hint: Duration,
    pub(crate) on_long_hint: OnLongHint,
    pub(crate) budget_config: BudgetConfig,
    pub(crate) budget: Option<Budget>,
}

impl Rules {
    /// Attempts in all, the first included.
    ///
    /// ```
    /// assert_eq!(redial::Policy::default().rules().max_attempts(), 3);
    /// ```
    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// No retry is made whose wait would end past this much time since the call began.
    ///
    /// ```
    /// assert_eq!(redial::Policy::default().rules().max_elapsed(), None);
    /// ```
    pub fn max_elapsed(&self) -> Option<Duration> {
        self.max_elapsed
    }

    /// The backoff used when the server gives no hint.
    ///
    /// ```
    /// assert_eq!(redial::Policy::default().rules().backoff().factor(), 2.0);
    /// ```
    pub fn backoff(&self) -> &Backoff {
        &self.backoff
    }

    /// The longest server hint honoured as it is.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(redial::Policy::default().rules().max_hint(), Duration::from_secs(60));
    /// ```
    pub fn max_hint(&self) -> Duration {
        self.max_hint
    }

    /// What happens to a longer hint.
    ///
    /// ```
    /// assert_eq!(redial::Policy::default().rules().on_long_hint(), redial::machine::OnLongHint::Stop);
    /// ```
    pub fn on_long_hint(&self) -> OnLongHint {
        self.on_long_hint
    }

    /// The budget's settings (also when it is disabled).
    ///
    /// ```
    /// assert!(redial::Policy::default().rules().budget_config().enabled);
    /// ```
    pub fn budget_config(&self) -> &BudgetConfig {
        &self.budget_config
    }

    /// The shared budget, `None` when it is disabled.
    ///
    /// ```
    /// let policy = redial::Policy::preset(redial::Preset::AwsStandard);
    /// assert_eq!(policy.rules().budget().map(|b| b.available()), Some(500));
    /// ```
    pub fn budget(&self) -> Option<&Budget> {
        self.budget.as_ref()
    }

    /// Whether a retry decision reads the time: under a `max_elapsed` deadline, or for an
    /// adaptive budget. An adapter reads no clock at a failure otherwise.
    #[inline]
    pub(crate) fn decisions_need_time(&self) -> bool {
        self.max_elapsed.is_some() || self.budget.as_ref().is_some_and(Budget::needs_time)
    }
}

impl AsRef<Rules> for Rules {
    fn as_ref(&self) -> &Rules {
        self
    }
}

/// One call's retry state. See the [module docs](self) for the protocol.
///
/// `R` is anything that lends the [`Rules`]: a `&Policy` for a call that borrows its
/// policy, a `Policy` clone for one that must own it (a `'static` future). A clone shares
/// the budget, so either way every call of a policy draws on the same bucket.
///
/// ```
/// use std::time::Instant;
/// use redial::{Policy, Verdict};
/// use redial::machine::Machine;
///
/// let policy = Policy::default();
/// let mut call = Machine::new(policy.clone(), Instant::now());
/// let action = call.on_outcome(&Verdict::Success, Instant::now(), &mut fastrand::Rng::new());
/// assert!(action.is_stop());
/// ```
#[derive(Clone, Debug)]
pub struct Machine<R> {
    rules: R,
    /// When the call began; `None` for a machine an adapter made at a failure that needed
    /// no time (no deadline, no adaptive budget), until the call first waits.
    start: Option<Instant>,
    attempts: u32,
    retries: u32,
    /// The last backoff delay, which decorrelated jitter grows from; `None` until the first
    /// backoff retry, standing for `base` (looked up only by decorrelated jitter, so that
    /// no other call pays for it).
    previous: Option<Duration>,
    /// Tokens this call's retries took from the budget, refunded if it succeeds.
    spent: u32,
    stopped: Option<Stop>,
}

impl<R: AsRef<Rules>> Machine<R> {
    /// A call that begins at `start` (a monotonic instant: limits are measured from it).
    ///
    /// ```
    /// let policy = redial::Policy::default();
    /// let call = redial::machine::Machine::new(&policy, std::time::Instant::now());
    /// assert_eq!(call.attempts(), 0);
    /// ```
    #[inline]
    pub fn new(rules: R, start: Instant) -> Self {
        Machine {
            start: Some(start),
            ..Machine::unstarted(rules)
        }
    }

    /// A call whose clock has not started: what an adapter makes at a first failure that
    /// needs no time (no deadline, no adaptive budget), so that a call whose attempts and
    /// waits are all ready at once reads no clock. The adapter starts it with
    /// [`start_at`](Self::start_at) when the call first waits.
    #[inline]
    pub(crate) fn unstarted(rules: R) -> Self {
        Machine {
            rules,
            start: None,
            attempts: 0,
            retries: 0,
            previous: None,
            spent: 0,
            stopped: None,
        }
    }

    /// Starts the clock of a machine made [`unstarted`](Self::unstarted) at `now`; a
    /// started one keeps its start.
    #[inline]
    pub(crate) fn start_at(&mut self, now: Instant) {
        self.start.get_or_insert(now);
    }

    /// The rules this call obeys.
    ///
    /// ```
    /// let policy = redial::Policy::default();
    /// let call = redial::machine::Machine::new(&policy, std::time::Instant::now());
    /// assert_eq!(call.rules().max_attempts(), 3);
    /// ```
    pub fn rules(&self) -> &Rules {
        self.rules.as_ref()
    }

    /// Attempts whose outcome has been fed in so far.
    ///
    /// ```
    /// let policy = redial::Policy::default();
    /// assert_eq!(redial::machine::Machine::new(&policy, std::time::Instant::now()).attempts(), 0);
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// When the call began: always known for a machine made with [`new`](Self::new). (An
    /// adapter may make one before the call's clock has started, when nothing needed the
    /// time yet; it says when it starts.)
    ///
    /// ```
    /// let now = std::time::Instant::now();
    /// let policy = redial::Policy::default();
    /// assert_eq!(redial::machine::Machine::new(&policy, now).start(), Some(now));
    /// ```
    pub fn start(&self) -> Option<Instant> {
        self.start
    }

    /// The instant past which no retry's wait may end, if the rules set `max_elapsed`.
    /// An adapter can bound its per-attempt timeout by it.
    ///
    /// ```
    /// let policy = redial::Policy::default();
    /// assert_eq!(redial::machine::Machine::new(&policy, std::time::Instant::now()).deadline(), None);
    /// ```
    pub fn deadline(&self) -> Option<Instant> {
        self.rules()
            .max_elapsed
            .and_then(|limit| self.start?.checked_add(limit))
    }

    /// How the call ended, once it has.
    ///
    /// ```
    /// let policy = redial::Policy::default();
    /// assert!(redial::machine::Machine::new(&policy, std::time::Instant::now()).stopped().is_none());
    /// ```
    pub fn stopped(&self) -> Option<&Stop> {
        self.stopped.as_ref()
    }

    /// Stops the machine with a stop decided outside it, before an attempt: the rate
    /// pacer's `rate_limited` (its slot would come after `max_wait` or the deadline). A
    /// stopped machine stays stopped; a stop already made is kept.
    pub(crate) fn stop_with(&mut self, stop: Stop) {
        self.stopped.get_or_insert(stop);
    }

    /// Feeds in the outcome of the attempt that just ended, which arrived at `now`, and says
    /// what to do next. See the [module docs](self) for the order of the decisions.
    ///
    /// ```
    /// use std::time::Instant;
    /// use redial::{Cause, Policy, StopReason, Verdict};
    /// use redial::machine::{Action, Machine};
    ///
    /// let policy = Policy::default();
    /// let now = Instant::now();
    /// let mut call = Machine::new(&policy, now);
    /// let action = call.on_outcome(&Verdict::fatal(Cause::status(400)), now, &mut fastrand::Rng::new());
    /// assert_eq!(action.stop().map(|s| s.reason()), Some(StopReason::NotRetryable));
    /// ```
    #[inline]
    pub fn on_outcome(&mut self, verdict: &Verdict, now: Instant, rng: &mut Rng) -> Action {
        self.outcome(verdict, move || Some(now), rng)
    }

    /// [`on_outcome`](Self::on_outcome) for the step driver, which reads the clock before
    /// the decision only when [`Rules::decisions_need_time`] says a rule will need it:
    /// `now` is that reading, or `None`, which no rule then asks for.
    #[inline]
    pub(crate) fn on_outcome_read(
        &mut self,
        verdict: &Verdict,
        now: Option<Instant>,
        rng: &mut Rng,
    ) -> Action {
        self.outcome(verdict, move || now, rng)
    }

    #[inline(always)]
    fn outcome(
        &mut self,
        verdict: &Verdict,
        now: impl FnMut() -> Option<Instant>,
        rng: &mut Rng,
    ) -> Action {
        if let Verdict::Success = verdict {
            // Nearly every call ends here, apart from the failure path below.
            return Action::Stop(self.on_success());
        }
        if let Some(stop) = self.stopped {
            return Action::Stop(stop);
        }
        self.attempts = self.attempts.saturating_add(1);
        // The verdict is read in place (copying it whole was a tenth of a decision), and the
        // decision written straight into the action, inlined into the caller's failure path,
        // so that what the caller does not read of the [`Retry`] (its cause and basis,
        // without a hook or a subscriber) is never written.
        let decision = match verdict {
            Verdict::Retryable { cause, hint } => self.decide(cause, hint, now, rng),
            Verdict::Fatal { cause } => Err(self.not_retryable(cause)),
            // Settled above: the same answer, which the compiler drops as unreachable.
            Verdict::Success => return Action::Stop(self.on_success()),
        };
        match decision {
            Ok(retry) => Action::Retry(retry),
            Err(stop) => {
                self.stopped = Some(stop);
                Action::Stop(stop)
            }
        }
    }

    /// The attempt that just ended succeeded: the call is over. The same as
    /// [`on_outcome`](Self::on_outcome) with [`Verdict::Success`], for a caller that has not
    /// read the clock, since a success needs no time.
    ///
    /// ```
    /// use redial::{Policy, Stop};
    /// use redial::machine::Machine;
    ///
    /// let policy = Policy::default();
    /// let mut call = Machine::new(&policy, std::time::Instant::now());
    /// assert_eq!(call.on_success(), Stop::Succeeded { attempts: 1 });
    /// ```
    #[inline]
    pub fn on_success(&mut self) -> Stop {
        if let Some(stop) = self.stopped {
            return stop;
        }
        self.attempts = self.attempts.saturating_add(1);
        settle(self.rules.as_ref(), self.retries, self.spent);
        // Written field by field: building the stop first and copying it in was a 48-byte
        // copy on every call's last step.
        self.stopped = Some(Stop::Succeeded {
            attempts: self.attempts,
        });
        Stop::Succeeded {
            attempts: self.attempts,
        }
    }

    /// Settles a call whose first attempt succeeded without making a machine for it: what
    /// [`on_success`](Self::on_success) does on a new machine. An adapter whose attempt
    /// succeeds at once need not read the clock to start a machine.
    ///
    /// ```
    /// use redial::{Policy, Stop};
    /// use redial::machine::Machine;
    ///
    /// let policy = Policy::default();
    /// let stop = Machine::<&Policy>::first_success(policy.rules());
    /// assert_eq!(stop, Stop::Succeeded { attempts: 1 });
    /// ```
    #[inline]
    pub fn first_success(rules: &Rules) -> Stop {
        settle(rules, 0, 0);
        Stop::Succeeded { attempts: 1 }
    }

    /// A failure no retry can fix: the budget counts it, and the call stops.
    #[inline(always)]
    fn not_retryable(&self, cause: &Cause) -> Stop {
        if let Some(budget) = &self.rules.as_ref().budget {
            budget.on_failure(cause, self.attempts == 1, true, false);
        }
        Stop::NotRetryable { cause: *cause }
    }

    /// A retryable failure: the rules in their order, then the retry or the stop.
    #[inline(always)]
    fn decide(
        &mut self,
        cause: &Cause,
        hint: &Option<Hint>,
        mut now: impl FnMut() -> Option<Instant>,
        rng: &mut Rng,
    ) -> Result<Retry, Stop> {
        let rules = self.rules.as_ref();
        let first = self.attempts == 1;
        let retry = self.retries.saturating_add(1);
        // A rate limit that says how long to wait: the server pacing, not failing.
        let paced = hint.is_some() && cause.is_rate_limit();
        let (delay, basis) = match self.plan(cause, hint, retry, &mut now, rng) {
            Ok(planned) => planned,
            Err(stop) => {
                // The budget counts a failure that is not retried here, and one that may be
                // with the retry, in one step.
                if let Some(budget) = &rules.budget {
                    budget.on_failure(cause, first, false, paced);
                }
                return Err(stop);
            }
        };
        if let Some(budget) = &rules.budget {
            match budget.allow_retry(cause, first, paced, now) {
                Ok(cost) => self.spent = self.spent.saturating_add(cost),
                Err(Refused::Tokens { cost, available }) => {
                    return Err(Stop::BudgetExhausted { cost, available })
                }
                Err(Refused::Throttled(r)) => {
                    return Err(Stop::Throttled {
                        retries: r.retries,
                        allowed: r.allowed,
                        why: r.why,
                    })
                }
            }
        }
        if basis == Basis::Backoff {
            self.previous = Some(delay);
        }
        self.retries = retry;
        Ok(Retry {
            delay,
            retry,
            max_retries: rules.max_attempts.saturating_sub(1),
            cause: *cause,
            basis,
        })
    }

    /// The rules a retry must pass before the budget (attempts, the hint's length, the
    /// deadline), and its delay.
    #[inline(always)]
    fn plan(
        &self,
        cause: &Cause,
        hint: &Option<Hint>,
        retry: u32,
        now: &mut impl FnMut() -> Option<Instant>,
        rng: &mut Rng,
    ) -> Result<(Duration, Basis), Stop> {
        let rules = self.rules.as_ref();
        if self.attempts >= rules.max_attempts {
            return Err(Stop::AttemptsExhausted {
                attempts: self.attempts,
                cause: *cause,
            });
        }
        let (delay, basis) = match *hint {
            Some(hint) => {
                let max = rules.max_hint;
                if hint.wait <= max {
                    (spread(hint.wait, rng), Basis::Hint(hint))
                } else if rules.on_long_hint == OnLongHint::Clamp {
                    (spread(max, rng), Basis::ClampedHint { hint, max })
                } else {
                    return Err(Stop::HintTooLong {
                        asked: hint.wait,
                        max,
                    });
                }
            }
            None => (
                rules.backoff.delay_after(retry, self.previous, rng),
                Basis::Backoff,
            ),
        };
        if let Some(limit) = rules.max_elapsed {
            if let Some(now) = now() {
                // A machine with a deadline has started (an adapter starts the clock before
                // the first attempt); one that had not would measure from now.
                let elapsed = now.saturating_duration_since(self.start.unwrap_or(now));
                if elapsed.saturating_add(delay) > limit {
                    return Err(Stop::DeadlineExceeded {
                        elapsed,
                        wait: delay,
                        limit,
                    });
                }
            }
        }
        Ok((delay, basis))
    }
}

/// An honoured hint plus a spread in `[0, min(hint / 10, 1 s)]`, so that clients told the
/// same reset instant do not all return in the same millisecond.
#[inline]
fn spread(hint: Duration, rng: &mut Rng) -> Duration {
    let h = nanos(hint);
    let most = (h / 10).min(1_000_000_000);
    Duration::from_nanos(h.saturating_add(crate::draw::up_to(rng, most)))
}

/// What the caller should do after an attempt.
///
/// ```
/// use redial::Stop;
/// use redial::machine::Action;
/// let a = Action::Stop(Stop::Succeeded { attempts: 1 });
/// assert!(a.is_stop() && a.retry().is_none());
/// ```
#[must_use]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Wait, then make another attempt.
    Retry(Retry),
    /// The call is over.
    Stop(Stop),
}

impl Action {
    /// The retry, if this is one.
    ///
    /// ```
    /// assert!(redial::machine::Action::Stop(redial::Stop::Succeeded { attempts: 1 }).retry().is_none());
    /// ```
    pub fn retry(&self) -> Option<&Retry> {
        match self {
            Action::Retry(r) => Some(r),
            Action::Stop(_) => None,
        }
    }

    /// The stop, if this is one.
    ///
    /// ```
    /// let a = redial::machine::Action::Stop(redial::Stop::Succeeded { attempts: 2 });
    /// assert_eq!(a.stop().map(|s| s.reason().as_str()), Some("succeeded"));
    /// ```
    pub fn stop(&self) -> Option<&Stop> {
        match self {
            Action::Stop(s) => Some(s),
            Action::Retry(_) => None,
        }
    }

    /// Whether the call is over.
    ///
    /// ```
    /// assert!(redial::machine::Action::Stop(redial::Stop::Succeeded { attempts: 1 }).is_stop());
    /// ```
    pub fn is_stop(&self) -> bool {
        matches!(self, Action::Stop(_))
    }
}

/// A retry to make: how long to wait first, and why.
///
/// Its `Display` is the short reason the command line prints:
/// `529 overloaded_error; server asked 2s (retry-after)` or `timeout; backoff 2 of 2`.
///
/// ```
/// use std::time::Instant;
/// use redial::{Cause, Policy, Transport, Verdict};
/// use redial::machine::{Action, Machine};
///
/// let policy = Policy::default();
/// let mut call = Machine::new(&policy, Instant::now());
/// let timeout = Verdict::retryable(Cause::transport(Transport::Timeout));
/// let Action::Retry(retry) = call.on_outcome(&timeout, Instant::now(), &mut fastrand::Rng::new()) else { panic!() };
/// assert_eq!(retry.to_string(), "timeout; backoff 1 of 2");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Retry {
    /// How long to wait before the next attempt.
    pub delay: Duration,
    /// Which retry this is: 1 for the first.
    pub retry: u32,
    /// Retries the rules allow in all (`max_attempts − 1`).
    pub max_retries: u32,
    /// Why the attempt failed.
    pub cause: Cause,
    /// Where the delay came from.
    pub basis: Basis,
}

impl fmt::Display for Retry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.basis {
            Basis::Backoff => write!(
                f,
                "{}; backoff {} of {}",
                self.cause, self.retry, self.max_retries
            ),
            Basis::Hint(hint) => write!(f, "{}; {hint}", self.cause),
            Basis::ClampedHint { hint, max } => write!(
                f,
                "{}; {hint}, clamped to max_hint {}",
                self.cause,
                Rounded(max)
            ),
        }
    }
}

/// Where a retry's delay came from.
///
/// ```
/// use std::time::Instant;
/// use redial::{Cause, Policy, Verdict};
/// use redial::machine::Basis;
///
/// let policy = Policy::default();
/// let mut call = policy.start(Instant::now());
/// let mut rng = fastrand::Rng::with_seed(1);
/// let action = call.on_outcome(&Verdict::retryable(Cause::status(503)), Instant::now(), &mut rng);
/// // No hint from the server: the backoff curve and its jitter decided.
/// assert_eq!(action.retry().map(|r| r.basis), Some(Basis::Backoff));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Basis {
    /// The backoff curve and jitter.
    Backoff,
    /// The server's hint, plus the spread.
    Hint(Hint),
    /// The server's hint was longer than `max_hint` and the rules say `clamp`: `max_hint`,
    /// plus the spread.
    ClampedHint {
        /// What the server asked for.
        hint: Hint,
        /// The policy's `max_hint`, waited instead.
        max: Duration,
    },
}

/// A call succeeded after `retries` retries that took `spent` tokens: settle with the
/// budget.
#[inline]
fn settle(rules: &Rules, retries: u32, spent: u32) {
    if let Some(budget) = &rules.budget {
        budget.on_success(retries, spent);
    }
}

#[cfg(test)]
mod tests;
