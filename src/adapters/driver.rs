//! The one retry loop every adapter shares, minus the waiting: classify, ask the machine,
//! tell the hook, and build the final result. Adapters only add how they wait and how they
//! make an attempt, so none of them holds any policy logic.

use core::borrow::Borrow;
use core::time::Duration;
use std::time::{Instant, SystemTime};

use fastrand::Rng;

use crate::classify::{Outcome, RequestFacts};
use crate::machine::{Action, Machine, Rules, Stop};
use crate::policy::Policy;
use crate::verdict::{Transport, Verdict};

use super::error::{Last, Refusal, RequestIds, RetryError};
use super::hooks::{Classify, ClassifyContext, Event, Notify};

/// What an adapter does next.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step {
    /// Wait this long, then make another attempt.
    Retry(Duration),
    /// The call is over.
    Stop(Stop),
}

/// One call's state, shared by every adapter.
///
/// The machine is made when the call's clock starts ([`Driver::begin`]), on the sleeper's
/// clock, so that a paused or virtual clock measures the whole call. A call that succeeds
/// at once needs neither the machine nor the clock: most calls read no clock at all.
#[derive(Debug)]
pub(crate) struct Driver<P, C, N> {
    policy: P,
    machine: Option<Machine<P>>,
    pub(crate) facts: RequestFacts,
    pub(crate) classify: C,
    pub(crate) notify: N,
    /// The jitter's generator, made at the first retry unless the caller gave one.
    rng: Option<Rng>,
    ids: RequestIds,
}

impl<P, C, N> Driver<P, C, N>
where
    P: Borrow<Policy> + AsRef<Rules> + Clone,
{
    pub(crate) fn new(
        policy: P,
        facts: RequestFacts,
        classify: C,
        notify: N,
        rng: Option<Rng>,
    ) -> Self {
        Driver {
            policy,
            machine: None,
            facts,
            classify,
            notify,
            rng,
            ids: RequestIds::new(),
        }
    }

    /// Starts the call's clock, reading `now`, unless it has started: later calls change
    /// nothing and read no clock. Adapters call it before a blocking attempt, and when an
    /// async attempt first waits, which only the synchronous part of its first poll
    /// precedes.
    pub(crate) fn begin(&mut self, now: impl FnOnce() -> Instant) {
        if self.machine.is_none() {
            self.machine = Some(Machine::new(self.policy.clone(), now()));
        }
    }

    /// Starts the call's clock before its first attempt if a deadline is measured from
    /// there. Without one, the clock starts at the first wait or failure, and a call that
    /// succeeds at once never reads it.
    pub(crate) fn before_attempt(&mut self, now: impl FnOnce() -> Instant) {
        if self.policy.as_ref().max_elapsed().is_some() {
            self.begin(now);
        }
    }

    fn machine(&mut self, now: Instant) -> &mut Machine<P> {
        let policy = &self.policy;
        self.machine
            .get_or_insert_with(|| Machine::new(policy.clone(), now))
    }

    /// The context classifiers get.
    pub(crate) fn context(&self, wall: SystemTime) -> ClassifyContext<'_> {
        ClassifyContext::new(self.policy.borrow().classifier(), self.facts, wall)
    }

    /// Classifies a finished attempt (or, for `None`, one cut off by the per-attempt
    /// timeout: a transport timeout) and asks the machine. The clocks are read only when
    /// needed: `wall` for a failed response's dates, `now` to start the call's clock at its
    /// first failure (if no wait started it) and for a deadline.
    #[inline]
    pub(crate) fn decide<T, E>(
        &mut self,
        result: Option<&Result<T, E>>,
        now: impl Fn() -> Instant,
        wall: &dyn Fn() -> SystemTime,
    ) -> Step
    where
        C: Classify<T, E>,
        N: Notify,
    {
        let cx = ClassifyContext::with_clock(self.policy.borrow().classifier(), self.facts, wall);
        let verdict = match result {
            Some(r) => self.classify.classify(&cx, r),
            None => cx.verdict(&Outcome::Transport(Transport::Timeout)),
        };
        if let Verdict::Success = verdict {
            // A success needs no time, no request id (it goes in errors only), and no
            // machine if it is the first attempt.
            return Step::Stop(match &mut self.machine {
                Some(machine) => machine.on_success(),
                None => Machine::<P>::first_success(self.policy.as_ref()),
            });
        }
        let id = result.and_then(|r| self.classify.request_id(r));
        self.observe(&verdict, id, now)
    }

    /// Feeds a verdict the adapter reached itself to the machine, records the request id
    /// and tells the hook about a retry. `now` is read to start the call's clock if it has
    /// not started, and when the machine needs the time (a deadline).
    pub(crate) fn observe(
        &mut self,
        verdict: &Verdict,
        id: Option<&str>,
        now: impl Fn() -> Instant,
    ) -> Step
    where
        N: Notify,
    {
        if let Some(id) = id {
            self.ids.push(id);
        }
        let machine = self
            .machine
            .get_or_insert_with(|| Machine::new(self.policy.clone(), now()));
        let rng = self.rng.get_or_insert_with(Rng::new);
        match machine.on_outcome_at(verdict, now, rng) {
            Action::Retry(retry) => {
                let attempt = machine.attempts();
                self.notify
                    .notify(&Event::new(attempt, &retry, verdict, id));
                Step::Retry(retry.delay)
            }
            Action::Stop(stop) => Step::Stop(stop),
        }
    }

    /// The final error of a call that stopped.
    pub(crate) fn error<E, T>(
        &mut self,
        stop: Stop,
        last: Last<E, T>,
        refusal: Option<Refusal>,
        now: Instant,
    ) -> RetryError<E, T> {
        let machine = self.machine(now);
        let attempts = machine.attempts();
        let elapsed = now.saturating_duration_since(machine.start());
        let err = RetryError::new(
            stop,
            attempts,
            elapsed,
            core::mem::take(&mut self.ids),
            last,
        );
        match refusal {
            Some(r) => err.with_refusal(r),
            None => err,
        }
    }

    /// The call's result: the value of a success, else the final error holding what the
    /// last attempt produced (`None`: it timed out after `timeout`). `now` is read for an
    /// error only.
    #[inline]
    pub(crate) fn finish<T, E>(
        &mut self,
        stop: Stop,
        result: Option<Result<T, E>>,
        timeout: Duration,
        now: impl FnOnce() -> Instant,
    ) -> Result<T, RetryError<E, T>> {
        let last = match result {
            Some(Ok(t)) if matches!(stop, Stop::Succeeded { .. }) => return Ok(t),
            Some(Ok(t)) => Last::Response(t),
            Some(Err(e)) => Last::Error(e),
            None => Last::TimedOut(timeout),
        };
        Err(self.error(stop, last, None, now()))
    }
}
