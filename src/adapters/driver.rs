//! The one retry loop every adapter shares, minus the waiting: classify a result and keep
//! its request id, refuse a retry the adapter cannot make, ask the machine, tell the hook,
//! and build the call's result. Adapters only add how they make an attempt and how they
//! wait, so none of them holds a policy rule or reads a clock of its own: they hand the
//! driver their sleeper's clocks, which it reads only when a decision needs the time.

use core::task::Poll;
use core::time::Duration;
use std::time::{Instant, SystemTime};

use fastrand::Rng;

use crate::classify::Outcome;
use crate::gate::Admission;
use crate::machine::{Action, Machine, Stop};
use crate::verdict::{Cause, Transport, Verdict};

use super::classify_result::{Classify, ClassifyContext};
use super::notify::{Event, Notify};
use super::options::{AsPolicy, Options};
use super::request_ids::RequestIds;
use super::retry_error::{Last, Refusal, RetryError};
use super::tracing::Trace;

/// A reset's low 32 bits, never 0 (0 stands for no ticket): a held call's ticket.
fn ticket(reset_ms: u64) -> u32 {
    (reset_ms as u32).max(1)
}

/// What an adapter does after an attempt.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Step {
    /// Wait this long, then make another attempt.
    Retry(Duration),
    /// No more attempts: hand the result to [`Driver::finish`].
    End(End),
}

/// How a call ends.
#[derive(Clone, Copy, Debug)]
pub enum End {
    /// The last result is a success (for a stream: the open succeeded; the stream runs).
    Succeeded,
    /// The machine stopped the call.
    Stopped(Stop),
}

impl Step {
    /// The end of the call, for an adapter that cannot make the retry asked for. The
    /// driver refuses such retries itself (the adapter says why), so this is only a
    /// guard: nothing is ever sent twice.
    #[cfg(feature = "tower")]
    pub(crate) fn end(self) -> End {
        match self {
            Step::End(end) => end,
            Step::Retry(_) => End::Stopped(Stop::NotRetryable {
                cause: Cause::caller(),
            }),
        }
    }
}

/// One call's options and state, shared by every adapter.
///
/// The machine is made at the call's first failure, or when its clock must start earlier
/// ([`start`](Self::start)): a call that succeeds at once needs neither the machine nor
/// the clock. Made at a failure whose decision needs no time, it has not started: the
/// call's clock then starts when the call first waits ([`waited`](Self::waited)).
#[derive(Debug)]
pub struct Driver<P, C, N> {
    pub(crate) options: Options<P, C, N>,
    machine: Option<Machine<P>>,
    /// Made at the first id: a call that succeeds at once does not even zero the buffer.
    ids: Option<RequestIds>,
    /// Why the adapter refused a retry the policy would have made, for the final error.
    refusal: Option<Refusal>,
    /// The call's span (feature `tracing`; nothing without it), opened at its first failure.
    trace: Trace,
    /// While the rate-limit gate holds the first attempt, the low 32 bits of the reset it
    /// waits for (0: none): its ticket, in 4 bytes since every call carries it (resets
    /// 2^32 ms apart, 49 days, would be taken for one).
    held_for: u32,
    /// How long the gate held the first attempt, in tens of milliseconds (saturating at
    /// 10m55s), for the final error: two bytes, which fit where the call had padding.
    held_10ms: u16,
}

impl<P, C, N> Driver<P, C, N> {
    #[inline(always)]
    pub(crate) fn new(options: Options<P, C, N>) -> Self {
        Driver {
            options,
            machine: None,
            ids: None,
            refusal: None,
            trace: Trace::default(),
            held_for: 0,
            held_10ms: 0,
        }
    }

    /// The same driver with other hooks.
    #[inline(always)]
    pub(crate) fn map<C2, N2>(self, f: impl FnOnce(C, N) -> (C2, N2)) -> Driver<P, C2, N2> {
        Driver {
            options: self.options.map(f),
            machine: self.machine,
            ids: self.ids,
            refusal: self.refusal,
            trace: self.trace,
            held_for: self.held_for,
            held_10ms: self.held_10ms,
        }
    }
}

impl<P: AsPolicy, C, N> Driver<P, C, N> {
    /// Starts the call's clock, reading `now`, unless it has started. Adapters call it
    /// when an attempt first waits (so a slow first attempt counts in the elapsed time),
    /// and before a blocking attempt.
    #[inline(always)]
    pub(crate) fn start(&mut self, now: impl FnOnce() -> Instant) {
        match &mut self.machine {
            Some(machine) => machine.start_at(now),
            None => self.machine = Some(Machine::new(self.options.policy.clone(), now())),
        }
    }

    /// What an adapter's wait polled as (`poll`), passed on: a wait after a failure that
    /// does not end at once starts the call's clock here, if nothing has started it (no
    /// attempt has waited, and no rule needed the time at the failure). A wait the
    /// rate-limit gate holds a first attempt for starts nothing: that is not part of the
    /// call's elapsed time.
    #[inline]
    pub(crate) fn waited(&mut self, poll: Poll<()>, now: impl FnOnce() -> Instant) -> Poll<()> {
        if let (Poll::Pending, Some(machine)) = (poll, &mut self.machine) {
            machine.start_at(now);
        }
        poll
    }

    /// Asked before every attempt: how long the policy's rate-limit gate holds it, if at
    /// all. Only a first attempt is held (a retry waits for its own hint); an adapter
    /// sleeps the wait and asks again, and the gate lets the attempt go unless a later
    /// reset was learned meanwhile. Without a gate: `None`, reading no clock.
    #[inline]
    pub(crate) fn hold(&mut self, wall: &dyn Fn() -> SystemTime) -> Option<Duration> {
        let gate = self.options.policy.borrow().gate()?;
        if self.machine.as_ref().is_some_and(|m| m.attempts() > 0) {
            return None;
        }
        let rng = self.options.rng.get_or_insert_with(Rng::new);
        // A waiter whose reset is still the gate's latest goes: it has waited for it.
        if self.held_for != 0 && self.held_for == ticket(gate.reset_ms()) {
            self.held_for = 0;
            return None;
        }
        match gate.admit(wall(), None, rng) {
            Admission::Go => {
                self.held_for = 0;
                None
            }
            Admission::Wait(held) => {
                self.held_for = ticket(held.reset_ms);
                let tens = u16::try_from(held.delay.as_millis().div_ceil(10)).unwrap_or(u16::MAX);
                self.held_10ms = self.held_10ms.saturating_add(tens);
                Some(held.delay)
            }
        }
    }

    /// Called before every attempt: the first attempt's one path. A deadline is measured
    /// from before the first attempt, so it starts the clock; without one, a call that
    /// succeeds at once never reads it.
    #[inline]
    pub(crate) fn before_attempt(&mut self, now: impl FnOnce() -> Instant) {
        if self.options.policy.as_ref().max_elapsed().is_some() {
            self.start(now);
        }
    }

    /// The driver's one entry, once an attempt has ended: classifies `result` (`None`: the
    /// attempt was cut off by the per-attempt timeout, a transport timeout), keeps its
    /// request id, demotes a retryable failure to a final one when the adapter `refuse`s
    /// to retry (and remembers why), asks the machine and tells the hook.
    ///
    /// The clocks are read only when needed: `wall` for a failed response's dates, `now`
    /// for a decision that needs the time (a deadline, the adaptive budget), which also
    /// starts the call's clock at its first failure.
    #[inline]
    pub(crate) fn on_result<T, E>(
        &mut self,
        result: Option<&Result<T, E>>,
        refuse: Option<Refusal>,
        now: impl Fn() -> Instant,
        wall: &dyn Fn() -> SystemTime,
    ) -> Step
    where
        C: Classify<T, E>,
        N: Notify,
    {
        let options = &mut self.options;
        if let (Some(gate), Some(r)) = (options.policy.borrow().gate(), result) {
            // The gate learns from every response: a 429's reset, a spent quota's.
            if let Some((status, headers)) = options.classify.response(r) {
                gate.learn_from_response(status, headers, wall());
            }
        }
        if let Some(r) = result {
            if options.classify.is_success(r) {
                // A success needs no context, no time and no request id (ids are for
                // errors): most calls end here.
                return Step::End(End::Succeeded);
            }
        }
        let cx =
            ClassifyContext::with_clock(options.policy.borrow().classifier(), options.facts, wall);
        let (verdict, id) = match result {
            Some(r) => (options.classify.classify(&cx, r), r),
            None => {
                let verdict = cx.verdict(&Outcome::Transport(Transport::Timeout));
                return self.failed(verdict, None, refuse, now);
            }
        };
        if let Verdict::Success = verdict {
            // A success needs no time and no request id (they are for errors).
            return Step::End(End::Succeeded);
        }
        let id = options.classify.request_id(id);
        self.failed(verdict, id, refuse, now)
    }

    /// A failed attempt: the rest of [`on_result`](Self::on_result), after the success
    /// test. Inlined with the machine's decision, so that a retry is one frame.
    #[inline]
    fn failed(
        &mut self,
        mut verdict: Verdict,
        id: Option<&str>,
        refuse: Option<Refusal>,
        now: impl Fn() -> Instant,
    ) -> Step
    where
        N: Notify,
    {
        if let Some(id) = id {
            self.ids.get_or_insert_with(RequestIds::new).push(id);
        }
        if let (Some(why), true) = (refuse, verdict.is_retryable()) {
            // The adapter cannot retry (the body is gone, output was yielded): the
            // machine hears the failure as final, and the error will say why.
            verdict = Verdict::fatal(verdict.cause().copied().unwrap_or_else(Cause::caller));
            self.refusal = Some(why);
        }
        let rng = self.options.rng.get_or_insert_with(Rng::new);
        // A machine made here starts now if its decision needs the time (the adaptive
        // budget), and the decision happens at the same instant: one clock read serves
        // both. Otherwise nothing reads the clock until the call first waits.
        let (machine, started) = match &mut self.machine {
            Some(machine) => (machine, None),
            machine => {
                let policy = self.options.policy.clone();
                if policy.as_ref().decisions_need_time() {
                    let at = now();
                    (machine.insert(Machine::new(policy, at)), Some(at))
                } else {
                    (machine.insert(Machine::unstarted(policy)), None)
                }
            }
        };
        let action = machine.on_outcome_at(&verdict, || started.unwrap_or_else(&now), rng);
        let attempt = machine.attempts();
        self.trace.failed(attempt, &action, &verdict, id);
        match action {
            Action::Retry(retry) => {
                self.options
                    .notify
                    .notify(&Event::new(attempt, &retry, &verdict, id));
                Step::Retry(retry.delay)
            }
            Action::Stop(stop) => Step::End(End::Stopped(stop)),
        }
    }

    /// Tells the machine the call succeeded (a stream that ended cleanly): the budget
    /// refunds its retries.
    #[inline(always)]
    pub(crate) fn succeeded(&mut self) -> Stop {
        match &mut self.machine {
            Some(machine) => {
                let stop = machine.on_success();
                self.trace.succeeded(machine.attempts());
                stop
            }
            None => Machine::<P>::first_success(self.options.policy.as_ref()),
        }
    }

    /// The call's result: the value of a success, else the final error holding what the
    /// last attempt produced (`None`: it timed out after `timeout`). `now` is read for an
    /// error only.
    #[inline]
    pub(crate) fn finish<T, E>(
        &mut self,
        end: End,
        result: Option<Result<T, E>>,
        timeout: Duration,
        now: impl FnOnce() -> Instant,
    ) -> Result<T, RetryError<E, T>> {
        let stop = match end {
            End::Succeeded => self.succeeded(),
            End::Stopped(stop) => stop,
        };
        let last = match result {
            Some(Ok(t)) if matches!(end, End::Succeeded) => return Ok(t),
            Some(Ok(t)) => Last::Response(t),
            Some(Err(e)) => Last::Error(e),
            None => Last::TimedOut(timeout),
        };
        Err(self.error(stop, last, now))
    }

    /// The final error of a call that stopped.
    #[cold]
    fn error<E, T>(
        &mut self,
        stop: Stop,
        last: Last<E, T>,
        now: impl FnOnce() -> Instant,
    ) -> RetryError<E, T> {
        let now = now();
        let (attempts, start) = self
            .machine
            .as_ref()
            .map_or((1, None), |m| (m.attempts().max(1), m.start()));
        // A call that never waited ran without yielding: it took no time to speak of.
        let elapsed = now.saturating_duration_since(start.unwrap_or(now));
        let err = RetryError::new(
            stop,
            attempts,
            elapsed,
            self.ids.take().unwrap_or_default(),
            last,
        );
        let err = err.with_held(Duration::from_millis(u64::from(self.held_10ms) * 10));
        match self.refusal {
            Some(r) => err.with_refusal(r),
            None => err,
        }
    }
}
