//! Why a call stopped: [`Stop`], with the numbers that explain it, and its name in the
//! shared vocabulary, [`StopReason`]. The [`machine`](crate::machine) decides a stop; every
//! adapter's [`RetryError`](crate::RetryError) carries it, so both live at the crate root.

use core::fmt;
use core::time::Duration;

use crate::budget::Throttle;
use crate::duration::Rounded;
use crate::verdict::Cause;

/// Why a call stopped, with the numbers that explain it. Its `Display` starts with the
/// reason's name from the shared vocabulary ([`StopReason`]).
///
/// ```
/// use std::time::Duration;
/// use redial::Stop;
/// let s = Stop::HintTooLong { asked: Duration::from_secs(3600), max: Duration::from_secs(60) };
/// assert_eq!(s.to_string(), "hint_too_long: server asked 1h, more than max_hint 1m");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Stop {
    /// The last attempt succeeded.
    Succeeded {
        /// Attempts made, the successful one included.
        attempts: u32,
    },
    /// The last attempt failed in a way no retry can fix.
    NotRetryable {
        /// Why.
        cause: Cause,
    },
    /// The last attempt failed and was the last one allowed.
    AttemptsExhausted {
        /// Attempts made.
        attempts: u32,
        /// Why the last one failed.
        cause: Cause,
    },
    /// The server asked for a longer wait than `max_hint`.
    HintTooLong {
        /// The wait the server asked for.
        asked: Duration,
        /// The policy's `max_hint`.
        max: Duration,
    },
    /// The wait would end past `max_elapsed`.
    DeadlineExceeded {
        /// Time since the call began, when the last attempt ended.
        elapsed: Duration,
        /// The wait the retry would have needed.
        wait: Duration,
        /// The policy's `max_elapsed`.
        limit: Duration,
    },
    /// The `aws` budget's bucket could not pay for the retry (`budget_exhausted`).
    BudgetExhausted {
        /// What the retry would have cost.
        cost: u32,
        /// What the bucket held.
        available: u32,
    },
    /// The `adaptive` budget refused the retry: recent retries already reach the share of
    /// recent first attempts it allows (`budget_exhausted`).
    Throttled {
        /// Retries in the budget's window (the fleet's, when it reads a fleet view).
        retries: u32,
        /// Retries the window allows under the lane that applied (its ratio times the
        /// first attempts, plus what the lane adds: `min_retries`, a new process's credit),
        /// rounded down.
        allowed: u32,
        /// Which limit applied.
        why: Throttle,
    },
    /// The rate pacer's next slot for the attempt is further away than its `max_wait` or
    /// the call's deadline (`rate_limited`).
    RateLimited {
        /// How long the attempt would have waited for its slot.
        wait: Duration,
        /// The rate the pacer paces to, in requests per 1,000 seconds (0: unknown).
        per_1000s: u32,
    },
}

impl Stop {
    /// The reason, without its numbers.
    ///
    /// ```
    /// let s = redial::Stop::Succeeded { attempts: 1 };
    /// assert_eq!(s.reason(), redial::StopReason::Succeeded);
    /// ```
    pub fn reason(&self) -> StopReason {
        match self {
            Stop::Succeeded { .. } => StopReason::Succeeded,
            Stop::NotRetryable { .. } => StopReason::NotRetryable,
            Stop::AttemptsExhausted { .. } => StopReason::AttemptsExhausted,
            Stop::HintTooLong { .. } => StopReason::HintTooLong,
            Stop::DeadlineExceeded { .. } => StopReason::DeadlineExceeded,
            Stop::BudgetExhausted { .. } | Stop::Throttled { .. } => StopReason::BudgetExhausted,
            Stop::RateLimited { .. } => StopReason::RateLimited,
        }
    }
}

impl fmt::Display for Stop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.reason())?;
        match *self {
            Stop::Succeeded { attempts } => write!(f, "after {attempts} attempt(s)"),
            Stop::NotRetryable { cause } => write!(f, "{cause} ({})", cause.rule),
            Stop::AttemptsExhausted { attempts, cause } => {
                write!(f, "{cause} on the last of {attempts} attempt(s)")
            }
            Stop::HintTooLong { asked, max } => write!(
                f,
                "server asked {}, more than max_hint {}",
                Rounded(asked),
                Rounded(max)
            ),
            Stop::DeadlineExceeded {
                elapsed,
                wait,
                limit,
            } => write!(
                f,
                "{} elapsed + {} wait would pass max_elapsed {}",
                Rounded(elapsed),
                Rounded(wait),
                Rounded(limit)
            ),
            Stop::BudgetExhausted { cost, available } => {
                write!(f, "retry costs {cost} tokens, budget holds {available}")
            }
            Stop::Throttled {
                retries,
                allowed,
                why,
            } => {
                f.write_str("throttled: ")?;
                if let Throttle::Failing {
                    retries_since_success,
                } = why
                {
                    write!(
                        f,
                        "{retries_since_success} retries since the last success, "
                    )?;
                }
                write!(
                    f,
                    "{retries} recent retries already, at most {allowed} allowed {}",
                    match why {
                        Throttle::BadLuck => "for failures that look like bad luck",
                        Throttle::Shedding => "while the server sheds load",
                        Throttle::Failing { .. } => "until an attempt succeeds",
                    }
                )
            }
            Stop::RateLimited { wait, per_1000s } => {
                write!(f, "the pacer's next slot is {} away", Rounded(wait))?;
                if per_1000s > 0 {
                    let rate = f64::from(per_1000s) / 1000.0;
                    write!(f, ": the server allows about {rate:.1} requests/s")?;
                }
                Ok(())
            }
        }
    }
}

/// The stop reasons, in the vocabulary shared by errors, the command line and logs.
///
/// ```
/// use redial::StopReason;
/// assert_eq!(StopReason::BudgetExhausted.as_str(), "budget_exhausted");
/// assert_eq!(StopReason::ALL.len(), 7);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum StopReason {
    /// `succeeded`.
    Succeeded,
    /// `not_retryable`.
    NotRetryable,
    /// `attempts_exhausted`.
    AttemptsExhausted,
    /// `hint_too_long`.
    HintTooLong,
    /// `deadline_exceeded`.
    DeadlineExceeded,
    /// `budget_exhausted`.
    BudgetExhausted,
    /// `rate_limited`: the rate pacer would hold the attempt past its `max_wait` or the
    /// call's deadline.
    RateLimited,
}

impl StopReason {
    /// Every reason; for a failed attempt, in the order of priority.
    pub const ALL: [StopReason; 7] = [
        StopReason::Succeeded,
        StopReason::NotRetryable,
        StopReason::AttemptsExhausted,
        StopReason::HintTooLong,
        StopReason::DeadlineExceeded,
        StopReason::BudgetExhausted,
        StopReason::RateLimited,
    ];

    /// The reason's name.
    ///
    /// ```
    /// assert_eq!(redial::StopReason::NotRetryable.as_str(), "not_retryable");
    /// ```
    pub const fn as_str(&self) -> &'static str {
        match self {
            StopReason::Succeeded => "succeeded",
            StopReason::NotRetryable => "not_retryable",
            StopReason::AttemptsExhausted => "attempts_exhausted",
            StopReason::HintTooLong => "hint_too_long",
            StopReason::DeadlineExceeded => "deadline_exceeded",
            StopReason::BudgetExhausted => "budget_exhausted",
            StopReason::RateLimited => "rate_limited",
        }
    }
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
