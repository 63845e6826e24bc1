//! The retry loop, written once: a sans-I/O step driver. It takes events (the call may
//! make an attempt, an attempt ended with this result, something did not end at once) and
//! answers with commands (make an attempt, sleep this long, read these clocks, done). Every
//! adapter only interprets the commands, so none holds a policy rule, and a fix to the
//! order of the steps is made here, once.
//!
//! # The protocol
//!
//! An adapter feeds the driver one [`Event`] at a time through [`Driver::handle`] and does
//! what the [`Command`] says:
//!
//! 1. [`Event::Due`] when the call begins and after every wait the driver asked for: it
//!    answers [`Command::Attempt`], or [`Command::Sleep`] while the rate-limit gate holds
//!    the first attempt (then `Due` again once the sleep is over).
//! 2. [`Event::Pending`] when an attempt or a sleep does not end at once: the call's clock
//!    starts then (a slow first attempt counts in the elapsed time). It answers
//!    [`Command::Yield`]: nothing to do until the adapter is woken.
//! 3. [`Event::Finished`] when an attempt ends, with its result: the driver classifies it
//!    once, keeps its request id, refuses a retry the adapter says it cannot make, asks
//!    the machine and tells the notify hook. It answers [`Command::Sleep`] (then `Due`) or
//!    [`Command::Done`]; hand `Done`'s end and the last result to [`finish`].
//! 4. [`Event::Ended`] when a stream that opened ends cleanly: the call succeeded.
//!
//! The driver reads no clock. When an event needs the time it answers [`Command::Read`]
//! with the clocks it needs ([`Need`]), and the adapter MUST then read them and send the
//! same event again with their values ([`Clocks`]): nothing happened the first time. A
//! call that succeeds at once is never asked for a clock. [`read`] is that loop, for every
//! adapter.
//!
//! A command that is not obeyed is harmless to the driver, but the call then stalls: an
//! adapter MUST NOT make an attempt it was not told to make.

use core::time::Duration;
use std::time::{Instant, SystemTime};

use fastrand::Rng;

use crate::classify::Outcome;
use crate::gate::Admission;
use crate::machine::{Action, Machine};
use crate::pacer::{Acquire, Answer, PacerKey};
use crate::verdict::{Cause, Transport, Verdict};
use crate::{Policy, Stop};

use super::classify::{Classify, ClassifyContext};
use super::notify::{Event as Heard, Notify};
use super::options::{AsPolicy, Options};
use super::request_ids::RequestIds;
use super::retry_error::{Last, Refusal, RetryError};
use super::tracing::Trace;
#[cfg(feature = "tower")]
pub(crate) use slot::Grant;
pub(crate) use slot::Slot;

pub(crate) mod slot;

/// What happened to a call: the input of [`Driver::handle`].
#[derive(Debug)]
pub(crate) enum Event<'r, T, E> {
    /// The call begins, or the wait the driver asked for is over: an attempt may be made.
    Due,
    /// What the adapter started did not end at once: the call yields.
    Pending(Pending),
    /// An attempt ended with this result (`None`: the per-attempt timeout cut it off, a
    /// transport timeout), and why the adapter could not send it again, if it cannot.
    Finished(Option<&'r Result<T, E>>, Option<Refusal>),
    /// A stream that opened ended cleanly: the call succeeded.
    Ended,
}

// By hand: the event holds the result by reference, whatever its types.
impl<T, E> Clone for Event<'_, T, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, E> Copy for Event<'_, T, E> {}

/// What did not end at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pending {
    /// An attempt.
    Attempt,
    /// The sleep the driver asked for (the driver keeps why).
    Sleep,
}

/// What the adapter does next: the output of [`Driver::handle`].
#[derive(Clone, Copy, Debug)]
#[must_use = "the driver's command is the adapter's next step"]
#[repr(u8)]
pub(crate) enum Command {
    /// Make an attempt, then send [`Event::Finished`] (or [`Event::Pending`] first).
    Attempt,
    /// Sleep this long, then send [`Event::Due`]. The driver keeps why: the reason
    /// stays out of the command, which is then two words, returned in registers.
    Sleep(Duration),
    /// Read these clocks and send the same event again with their values.
    Read(Need),
    /// Nothing to do until the adapter is woken.
    Yield,
    /// No more attempts: hand this and the last result to [`Driver::finish`].
    Done(End),
}

/// Why the adapter sleeps. Every wait is a sleep; its reason decides whether the call's
/// clock starts with it, and names it for the reader (a wait for a rate pacer will be
/// one more).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) enum Wait {
    /// The delay before a retry (backoff, or the server's hint).
    #[default]
    Backoff,
    /// The rate-limit gate holds the first attempt until the quota resets. Not part of the
    /// call's elapsed time.
    Gate,
    /// The rate pacer holds an attempt until its slot. Not part of the call's elapsed
    /// time either (a deadline is still kept: the slot must come before it).
    Pacer,
}

/// The clocks an event needs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Need {
    /// The monotonic clock: limits and the elapsed time.
    pub(crate) now: bool,
    /// The wall clock: HTTP dates and reset timestamps.
    pub(crate) wall: bool,
}

/// What the driver sees of an attempt's end before it decides, in one pass over the
/// result and with no clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Look {
    /// A success, and nothing to learn from it: the call is done.
    Succeeded,
    /// Whether it is a success (one a gate learns from), and the clocks the decision
    /// needs.
    Decide { success: bool, need: Need },
}

/// The clocks an adapter read for an event, as the driver asked ([`Command::Read`]).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Clocks {
    pub(crate) now: Option<Instant>,
    pub(crate) wall: Option<SystemTime>,
}

impl Clocks {
    /// Whether these readings cover `need`.
    #[inline(always)]
    fn cover(&self, need: Need) -> bool {
        (!need.now || self.now.is_some()) && (!need.wall || self.wall.is_some())
    }
}

/// How a call ends. The rest of it (why the machine stopped, how long the call took) the
/// driver keeps for [`Driver::finish`], so that a command is two words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    /// The last result is a success (for a stream: the open succeeded; the stream runs).
    Succeeded,
    /// The machine stopped the call.
    Stopped,
}

impl Command {
    /// What a poll returns once the driver has heard that something did not end at once
    /// ([`Event::Pending`], always answered [`Command::Yield`]): pending, until woken.
    #[inline(always)]
    pub(crate) fn yielded<T>(self) -> core::task::Poll<T> {
        core::task::Poll::Pending
    }

    /// The end of the call, for an adapter that cannot make the retry asked for. The
    /// driver refuses such retries itself (the adapter says why), so this is only a
    /// guard: nothing is ever sent twice.
    #[inline(always)]
    pub(crate) fn end(self) -> End {
        match self {
            Command::Done(end) => end,
            _ => End::Stopped,
        }
    }
}

/// Feeds `event` to the driver, reading the clocks it asks for with `now` and `wall`:
/// the one place an adapter reads a clock, at an event boundary, and only when asked.
///
/// An attempt's end is the driver's [`handle`](Driver::handle) in its two halves: the
/// look (is it a success, which clocks would a decision need), then the decision with
/// those clocks read. The same steps as a `Read` and the event sent again, without
/// looking at the result twice.
#[inline(always)]
pub(crate) fn read<P: AsPolicy, C, N, T, E>(
    driver: &mut Driver<P>,
    options: &mut Options<P, C, N>,
    event: Event<'_, T, E>,
    now: impl Fn() -> Instant,
    wall: impl Fn() -> SystemTime,
) -> Command
where
    C: Classify<T, E>,
    N: Notify,
{
    if let Event::Finished(result, refuse) = event {
        let Look::Decide { success, need } = driver.look(options, result) else {
            return Command::Done(End::Succeeded); // most calls
        };
        let clocks = Clocks {
            now: need.now.then(&now),
            wall: need.wall.then(&wall),
        };
        return driver.decide(options, result, refuse, success, clocks);
    }
    // Most other events need no clock: this first pass, with none, is the whole of them.
    match driver.handle(options, event, Clocks::default()) {
        Command::Read(need) => {
            cold();
            read_again(need, now, wall, |clocks| {
                driver.handle(options, event, clocks)
            })
        }
        command => command,
    }
}

/// The call's result once the driver said [`Command::Done`]: the value of a success, or
/// the final error, for which the monotonic clock is read (its elapsed time): at the
/// call's last event boundary, and only for an error.
#[inline(always)]
pub(crate) fn finish<P: AsPolicy, C, N, T, E>(
    driver: &mut Driver<P>,
    options: &Options<P, C, N>,
    end: End,
    result: Option<Result<T, E>>,
    timeout: Duration,
    now: impl Fn() -> Instant,
) -> Result<T, RetryError<E, T>> {
    match (end, result) {
        (End::Succeeded, Some(Ok(t))) => {
            driver.succeeded(options);
            Ok(t)
        }
        (end, result) => Err(driver.error(options, end, result, timeout, now())),
    }
}

/// Reads the clocks `need` names and hands them to `handle` (the event again), as long
/// as it asks for more. Out of line: a call's first wait, a deadline or a gate are rare.
#[inline(never)]
fn read_again(
    mut need: Need,
    now: impl Fn() -> Instant,
    wall: impl Fn() -> SystemTime,
    mut handle: impl FnMut(Clocks) -> Command,
) -> Command {
    let mut clocks = Clocks::default();
    loop {
        clocks = Clocks {
            now: clocks.now.or_else(|| need.now.then(&now)),
            wall: clocks.wall.or_else(|| need.wall.then(&wall)),
        };
        match handle(clocks) {
            Command::Read(more) => need = more,
            command => return command,
        }
    }
}

/// Marks the path that calls it as rarely taken, so that the hot path around it keeps its
/// registers: an event that asks for a clock nobody read for it (a call's first wait, a
/// deadline, a gate, an end in an error) is rare.
#[cold]
#[inline(never)]
fn cold() {}

/// A wait in tens of milliseconds, rounded up (saturating at 10m55s): how the driver
/// keeps the time a call was held in two bytes.
fn tens(wait: Duration) -> u16 {
    u16::try_from(wait.as_millis().div_ceil(10)).unwrap_or(u16::MAX)
}

/// Tells the call's pacer an answer (`wait`: what its verdict read; none for a success).
/// Only a 429, which may engage it, or a policy that learns from every answer (a pacer
/// listens, or a fleet's gate: a fleet's pacer counts its demand before it is engaged)
/// reaches it; the look asked for both clocks then.
#[inline(always)]
fn teach_pacer(
    policy: &Policy,
    scope: Option<PacerKey>,
    (status, headers): (u16, &http::HeaderMap),
    wait: Option<Duration>,
    clocks: Clocks,
) {
    let (Some(now), Some(wall)) = (clocks.now, clocks.wall) else {
        return;
    };
    if status != 429 && !policy.learns_from_success() {
        return;
    }
    if let Some(pacer) = policy.pacer_for(scope) {
        let max_hint = policy.rules().max_hint();
        let answer = Answer {
            status,
            headers,
            wait,
            wall,
            max_hint,
        };
        pacer.learn(now, answer, false);
    }
}

/// A wait in milliseconds, rounded up (saturating at 49 days).
fn millis(wait: Duration) -> u32 {
    u32::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u32::MAX)
}

/// Tens of milliseconds back to a duration.
fn from_tens(tens: u16) -> Duration {
    Duration::from_millis(u64::from(tens) * 10)
}

/// The rate the policy's pacer paces to at `now`, if it paces.
fn policy_rate<P: AsPolicy, C, N>(options: &Options<P, C, N>, now: Instant) -> Option<f64> {
    let scope = options.facts.scope();
    options
        .policy
        .borrow()
        .pacer_for(scope)
        .and_then(|p| p.rate(now))
}

/// A reset's low 32 bits, never 0 (0 stands for no ticket): a held call's ticket.
fn ticket(reset_ms: u64) -> u32 {
    (reset_ms as u32).max(1)
}

/// One call's state: what the driver remembers between events. Its options (policy,
/// hooks, facts, generator) are the builder's, lent to each event.
///
/// The machine is made at the call's first failure, or when its clock must start earlier
/// (a deadline, an attempt that did not end at once): a call that succeeds at once needs
/// neither the machine nor the clock. Made at a failure whose decision needs no time, it
/// has not started: the call's clock then starts when the call first waits.
#[derive(Debug)]
pub struct Driver<P> {
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
    /// How long attempts waited for the rate pacer's slots, in milliseconds (saturating at
    /// 49 days), for the final error and the span: a wait is slept in pieces of at most
    /// `Pacer::RECHECK`, and tens of milliseconds rounded up at each piece drifted.
    paced_ms: u32,
    /// Why the adapter sleeps, while it does.
    wait: Wait,
    /// The first attempt's pacer slot was taken before the call began (a tower service's
    /// `poll_ready`): it goes without asking the pacer.
    prepaid: bool,
    /// The pacer's slot an attempt waits for, given back if the call is dropped.
    slot: Option<Slot>,
}

impl<P> Default for Driver<P> {
    #[inline(always)]
    fn default() -> Self {
        Driver {
            machine: None,
            ids: None,
            refusal: None,
            trace: Trace::default(),
            held_for: 0,
            held_10ms: 0,
            paced_ms: 0,
            wait: Wait::Backoff,
            prepaid: false,
            slot: None,
        }
    }
}

impl<P> Driver<P> {
    /// A driver whose first attempt already has its pacer slot: taken in a tower service's
    /// `poll_ready`, in the pacer the call's scope paces with.
    #[cfg(feature = "tower")]
    pub(crate) fn prepaid() -> Self {
        Driver {
            prepaid: true,
            ..Driver::default()
        }
    }

    /// Why the adapter sleeps, while it obeys a [`Command::Sleep`] (the property tests
    /// read it; the adapters need not know).
    #[cfg(test)]
    pub(crate) fn wait(&self) -> Wait {
        self.wait
    }
}

impl<P: AsPolicy> Driver<P> {
    /// The driver's one input: what happened, with the clocks read for it so far (none at
    /// first; see the [protocol](self)). Returns what the adapter does next.
    #[inline(always)]
    pub(crate) fn handle<C, N, T, E>(
        &mut self,
        options: &mut Options<P, C, N>,
        event: Event<'_, T, E>,
        clocks: Clocks,
    ) -> Command
    where
        C: Classify<T, E>,
        N: Notify,
    {
        match event {
            Event::Due => self.due(options, clocks),
            Event::Pending(what) => self.pending(options, what, clocks),
            Event::Finished(result, refuse) => self.finished(options, result, refuse, clocks),
            Event::Ended => {
                self.succeeded(options);
                Command::Done(End::Succeeded)
            }
        }
    }

    /// An attempt may be made: the rate-limit gate may hold a first one, a deadline
    /// starts the call's clock before it (a deadline is measured from there), and the rate
    /// pacer, once it paces, holds every attempt until its slot.
    #[inline(always)]
    fn due<C, N>(&mut self, options: &mut Options<P, C, N>, clocks: Clocks) -> Command {
        let policy = options.policy.borrow();
        if !policy.checks_due() && !policy.pacer_listens() {
            // Nothing to hold the attempt for, no clock to start: most calls.
            return Command::Attempt;
        }
        let deadline = options.policy.as_ref().max_elapsed();
        // A pacer that has never been throttled lets every attempt go: one load.
        let scope = options.facts.scope();
        let pacer = policy
            .pacer_for(scope)
            .filter(|p| self.slot.is_some() || p.is_active());
        let gate = policy.gate();
        let gate = gate.filter(|_| self.machine.as_ref().is_none_or(|m| m.attempts() == 0));
        let unstarted = self.machine.as_ref().is_none_or(|m| m.start().is_none());
        let need = Need {
            wall: gate.is_some(),
            now: (deadline.is_some() && unstarted) || pacer.is_some(),
        };
        if !clocks.cover(need) {
            return Command::Read(need);
        }
        if let (Some(gate), Some(wall)) = (gate, clocks.wall) {
            let rng = options.rng.get_or_insert_with(Rng::new);
            // A waiter whose reset is still the gate's latest goes: it has waited for it.
            if self.held_for != 0 && self.held_for == ticket(gate.reset_ms()) {
                self.held_for = 0;
            } else {
                match gate.admit(wall, None, rng) {
                    Admission::Go => self.held_for = 0,
                    Admission::Wait(held) => {
                        self.held_for = ticket(held.reset_ms);
                        self.held_10ms = self.held_10ms.saturating_add(tens(held.delay));
                        self.wait = Wait::Gate;
                        return Command::Sleep(held.delay);
                    }
                }
            }
        }
        let Some(now) = clocks.now else {
            return Command::Attempt;
        };
        if deadline.is_some() && unstarted {
            self.start(options, now);
        }
        if core::mem::take(&mut self.prepaid) && pacer.is_some() {
            // The service's `poll_ready` took this attempt's slot.
            return Command::Attempt;
        }
        if let Some(pacer) = pacer {
            // The slot must come before the deadline, measured from the call's start.
            let start = self.machine.as_ref().and_then(Machine::start);
            let limit = deadline.zip(start).and_then(|(d, s)| s.checked_add(d));
            let waited = self.slot.take();
            let answer = match &waited {
                Some(slot) => pacer.ready(now, slot.ticket(), limit),
                None => pacer.acquire(now, limit),
            };
            match answer {
                Acquire::Go => {
                    if let Some(slot) = waited {
                        slot.redeem();
                    }
                }
                Acquire::Wait { wait, ticket } => {
                    self.slot = match waited {
                        Some(slot) => Some(slot.renew(ticket)),
                        None => policy
                            .shared_pacer_for(scope)
                            .map(|p| Slot::new(ticket, p.clone())),
                    };
                    self.wait = Wait::Pacer;
                    self.paced_ms = self.paced_ms.saturating_add(millis(wait));
                    return Command::Sleep(wait);
                }
                Acquire::RateLimited { wait } => {
                    if let Some(slot) = waited {
                        slot.release(now); // the place it held goes to the next caller
                    }
                    let rate = pacer.rate(now).unwrap_or(0.0);
                    let policy = options.policy.clone();
                    let machine = self
                        .machine
                        .get_or_insert_with(|| Machine::unstarted(policy));
                    let stop = Stop::RateLimited {
                        wait,
                        per_1000s: (rate * 1000.0) as u32,
                    };
                    machine.stop_with(stop);
                    self.trace.limited(
                        machine.attempts(),
                        &stop,
                        Duration::from_millis(u64::from(self.paced_ms)),
                    );
                    return Command::Done(End::Stopped);
                }
            }
        }
        Command::Attempt
    }

    /// An attempt, or a retry's wait, did not end at once: the call's clock starts, if
    /// nothing has started it. A wait the gate holds a first attempt for starts nothing:
    /// that is not part of the call's elapsed time, and a wait after a failure starts a
    /// machine that exists.
    #[inline(always)]
    fn pending<C, N>(
        &mut self,
        options: &mut Options<P, C, N>,
        what: Pending,
        clocks: Clocks,
    ) -> Command {
        let starts = match what {
            Pending::Attempt => self.machine.as_ref().is_none_or(|m| m.start().is_none()),
            Pending::Sleep => match self.wait {
                Wait::Backoff => self.machine.as_ref().is_some_and(|m| m.start().is_none()),
                Wait::Gate | Wait::Pacer => false,
            },
        };
        if starts {
            match clocks.now {
                Some(now) => self.start(options, now),
                None => {
                    return Command::Read(Need {
                        now: true,
                        wall: false,
                    })
                }
            }
        }
        Command::Yield
    }

    /// Starts the call's clock at `now`, unless it has started.
    #[inline(always)]
    fn start<C, N>(&mut self, options: &Options<P, C, N>, now: Instant) {
        match &mut self.machine {
            Some(machine) => machine.start_at(now),
            None => self.machine = Some(Machine::new(options.policy.clone(), now)),
        }
    }

    /// An attempt ended: look at it, read what the decision needs, decide.
    #[inline(always)]
    fn finished<C, N, T, E>(
        &mut self,
        options: &mut Options<P, C, N>,
        result: Option<&Result<T, E>>,
        refuse: Option<Refusal>,
        clocks: Clocks,
    ) -> Command
    where
        C: Classify<T, E>,
        N: Notify,
    {
        let Look::Decide { success, need } = self.look(options, result) else {
            return Command::Done(End::Succeeded);
        };
        if !clocks.cover(need) {
            return Command::Read(need);
        }
        self.decide(options, result, refuse, success, clocks)
    }

    /// The first half of an attempt's end: is it a success, and which clocks does what
    /// follows need? The wall clock for a response the gate learns from and for a failure
    /// whose hints may be dates, the monotonic one for a decision that reads the time. A
    /// success with no gate needs nothing: most calls end here.
    #[inline(always)]
    fn look<C, N, T, E>(
        &self,
        options: &mut Options<P, C, N>,
        result: Option<&Result<T, E>>,
    ) -> Look
    where
        C: Classify<T, E>,
    {
        let policy = options.policy.borrow();
        let Some(r) = result else {
            // Cut off by the per-attempt timeout: a failure with no response.
            let now = options.policy.as_ref().decisions_need_time();
            return Look::Decide {
                success: false,
                need: Need { now, wall: false },
            };
        };
        let success = options.classify.is_success(r);
        let learns = policy.learns_from_success();
        if success && !learns {
            return Look::Succeeded;
        }
        // The gate and a pacer that listens learn from every response: the wall clock
        // for its dates, and the pacer the time it came. A 429 may engage a pacer that
        // waits for a hint, and teach it its quota: both clocks.
        let response = options.classify.response(r);
        let paces = policy.pacer().is_some();
        let throttled = paces && response.is_some_and(|(status, _)| status == 429);
        let learns = learns && response.is_some();
        Look::Decide {
            success,
            need: Need {
                now: (learns && paces)
                    || throttled
                    || (!success && options.policy.as_ref().decisions_need_time()),
                wall: learns || throttled || (!success && options.classify.reads_wall(r)),
            },
        }
    }

    /// The second half of an attempt's end, with the clocks its [`Look`] asked for: the
    /// gate learns from the response, a failure is classified once and decided.
    /// `success`: the look found one (that the gate learns from).
    #[inline(always)]
    fn decide<C, N, T, E>(
        &mut self,
        options: &mut Options<P, C, N>,
        result: Option<&Result<T, E>>,
        refuse: Option<Refusal>,
        success: bool,
        clocks: Clocks,
    ) -> Command
    where
        C: Classify<T, E>,
        N: Notify,
    {
        // The gate and the pacer learn from every response: a 429's reset, a spent
        // quota's, a throttle that cuts the rate.
        let response = result.and_then(|r| options.classify.response(r));
        let policy = options.policy.borrow();
        let scope = options.facts.scope();
        if let (Some((status, headers)), Some(wall)) = (response, clocks.wall) {
            match (policy.gate(), policy.pacer_for(scope)) {
                // With a pacer that listens, a 429 teaches the pacer, and the gate only a
                // spent quota.
                (Some(gate), Some(p)) if p.listens() => {
                    gate.learn_spent_quota(status, headers, wall)
                }
                (Some(gate), _) => gate.learn_from_response(status, headers, wall),
                (None, _) => {}
            }
            if success {
                teach_pacer(policy, scope, (status, headers), None, clocks);
                return Command::Done(End::Succeeded);
            }
        }
        if success {
            return Command::Done(End::Succeeded);
        }
        let cx = ClassifyContext::new(
            policy.classifier(),
            options.facts,
            clocks.wall.unwrap_or(SystemTime::UNIX_EPOCH),
        );
        let (verdict, id) = match result {
            Some(r) => (
                options.classify.classify(&cx, r),
                options.classify.request_id(r),
            ),
            None => (cx.verdict(&Outcome::Transport(Transport::Timeout)), None),
        };
        // The wait the classifier read: what engages a pacer that waits for a hint, and
        // bounds a spent quota's hold.
        if let Some(response) = response {
            teach_pacer(
                policy,
                scope,
                response,
                verdict.hint().map(|h| h.wait),
                clocks,
            );
        }
        if let Verdict::Success = verdict {
            // A success needs no time and no request id (they are for errors).
            return Command::Done(End::Succeeded);
        }
        self.failed(options, verdict, id, refuse, clocks)
    }

    /// How long the call has taken at `now`. A call that never waited ran without
    /// yielding: it took no time to speak of.
    #[inline(always)]
    fn elapsed(&self, now: Instant) -> Duration {
        let start = self.machine.as_ref().and_then(Machine::start);
        now.saturating_duration_since(start.unwrap_or(now))
    }

    /// A failed attempt: the rest of [`finished`](Self::finished). Inlined with the
    /// machine's decision, so that a retry is one frame.
    #[inline(always)]
    fn failed<C, N>(
        &mut self,
        options: &mut Options<P, C, N>,
        mut verdict: Verdict,
        id: Option<&str>,
        refuse: Option<Refusal>,
        clocks: Clocks,
    ) -> Command
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
        let rng = options.rng.get_or_insert_with(Rng::new);
        // A machine made here starts now if its decision needs the time (the adaptive
        // budget), and the decision happens at the same instant: one reading serves
        // both. Otherwise nothing reads the clock until the call first waits.
        let machine = self.machine.get_or_insert_with(|| {
            let mut machine = Machine::unstarted(options.policy.clone());
            if let Some(now) = clocks.now {
                machine.start_at(now);
            }
            machine
        });
        let action = machine.on_outcome_read(&verdict, clocks.now, rng);
        let attempt = machine.attempts();
        let waited = Duration::from_millis(u64::from(self.paced_ms));
        self.trace.failed(attempt, &action, &verdict, id, waited);
        match action {
            Action::Retry(retry) => {
                options
                    .notify
                    .notify(&Heard::new(attempt, &retry, &verdict, id));
                self.wait = Wait::Backoff;
                Command::Sleep(retry.delay)
            }
            Action::Stop(_) => Command::Done(End::Stopped),
        }
    }

    /// Tells the machine the call succeeded: the budget refunds its retries.
    #[inline(always)]
    pub(crate) fn succeeded<C, N>(&mut self, options: &Options<P, C, N>) -> Stop {
        match &mut self.machine {
            Some(machine) => {
                let stop = machine.on_success();
                self.trace.succeeded(
                    machine.attempts(),
                    Duration::from_millis(u64::from(self.paced_ms)),
                );
                stop
            }
            None => Machine::<P>::first_success(options.policy.as_ref()),
        }
    }

    /// The final error of a call that stopped (or of a success that is an error all the
    /// same), holding what the last attempt produced (`None`: it timed out after
    /// `timeout`); `now` is when it ended, read for it.
    #[cold]
    #[inline(never)]
    pub(crate) fn error<C, N, T, E>(
        &mut self,
        options: &Options<P, C, N>,
        end: End,
        result: Option<Result<T, E>>,
        timeout: Duration,
        now: Instant,
    ) -> RetryError<E, T> {
        let stop = match end {
            End::Succeeded => self.succeeded(options),
            // The machine keeps why it stopped; a call the adapter ended itself (a guard
            // that never fires) stops as not retryable.
            End::Stopped => match self.machine.as_ref().and_then(Machine::stopped) {
                Some(stop) => *stop,
                None => Stop::NotRetryable {
                    cause: Cause::caller(),
                },
            },
        };
        let last = match result {
            Some(Ok(t)) => Last::Response(t),
            Some(Err(e)) => Last::Error(e),
            None if matches!(stop, Stop::RateLimited { .. }) => Last::NotSent,
            None => Last::TimedOut(timeout),
        };
        let elapsed = self.elapsed(now);
        // A call the pacer stopped before its first attempt made none.
        let least = u32::from(!matches!(stop, Stop::RateLimited { .. }));
        let attempts = self.machine.as_ref().map_or(1, |m| m.attempts().max(least));
        let err = RetryError::new(
            stop,
            attempts,
            elapsed,
            self.ids.take().unwrap_or_default(),
            last,
        );
        let err = err.with_held(from_tens(self.held_10ms));
        let err = match self.paced_ms {
            0 => err,
            // A call the pacer stopped says its rate in the stop already.
            ms => {
                let rate = match stop {
                    Stop::RateLimited { .. } => None,
                    _ => policy_rate(options, now),
                };
                err.with_paced(Duration::from_millis(u64::from(ms)), rate)
            }
        };
        match self.refusal {
            Some(r) => err.with_refusal(r),
            None => err,
        }
    }
}

#[cfg(test)]
mod tests;
