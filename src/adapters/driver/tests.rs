//! The step driver driven directly, in virtual time: random policies (attempts, backoff,
//! deadlines, budgets on and off, a rate-limit gate), random replies (successes, retryable
//! statuses with and without `Retry-After`, statuses that are not retryable, transport
//! errors, attempts cut off) and random time spent in each attempt. The harness plays the
//! adapter: it obeys each command, answers each `Read` with exactly the clocks asked for,
//! and stops at `Done`. Every property holds for every adapter, since they only interpret
//! these commands; the last test checks two of them against the harness.

use core::cell::{Cell, RefCell};
use core::time::Duration;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use fastrand::Rng;
use http::{HeaderMap, HeaderValue, Response};
use proptest::prelude::*;

use super::{finish, Clocks, Command, Driver, End, Event, Pending, Wait};
use crate::adapters::blocking::{BlockingRetryable, BlockingSleeper};
use crate::adapters::classify::{Classify, ClassifyContext, HttpClassify};
use crate::adapters::future::Retryable;
use crate::adapters::notify::NoNotify;
use crate::adapters::options::Options;
use crate::adapters::retry_error::RetryError;
use crate::adapters::sleep::Sleeper;
use crate::backoff::tests::jitter_strategy;
use crate::backoff::Curve;
use crate::budget::BudgetConfig;
use crate::classify::{Outcome, RequestFacts};
use crate::gate::{Gate, GateConfig};
use crate::machine::{Action, Machine, OnLongHint};
use crate::pacer::{Pacer, PacerConfig};
use crate::policy::builder::{Policy, PolicyBuilder};
use crate::stop::{Stop, StopReason};
use crate::verdict::{Transport, Verdict};

/// The wall clock when a call begins: 2026-11-23T10:00:00Z.
const WALL: u64 = 1_795_428_000;

/// More `handle` calls than any call of at most 8 attempts needs (a few per attempt):
/// a driver that loops on a `Read` fails here instead of hanging.
const MOST_HANDLES: u32 = 200;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

type Reply = Result<Response<()>, Transport>;
type Failure = RetryError<Transport, Response<()>>;

/// One attempt's reply as a script gives it.
#[derive(Clone, Copy, Debug)]
enum Said {
    /// A status without a hint: a success, a retryable status or one that is not.
    Status(u16),
    /// A status with `Retry-After: N` (seconds).
    After(u16, u64),
    /// A status with `Retry-After` as an HTTP date N seconds after the call began (by the
    /// time it arrives, less is left).
    Date(u16, u64),
    /// The client failed before a response.
    Transport(Transport),
    /// The per-attempt timeout cut the attempt off: no result at all.
    TimedOut,
}

/// One attempt of a script: its reply, how long it takes, and whether it ends at once
/// (an adapter sends `Pending` for one that does not, and for its sleeps).
#[derive(Clone, Copy, Debug)]
struct Step {
    said: Said,
    busy_ms: u64,
    pending: bool,
}

impl Said {
    fn reply(self) -> Option<Reply> {
        let with = |status: u16, value: String| {
            let mut response = Response::new(());
            *response.status_mut() = http::StatusCode::from_u16(status).expect("a status");
            if !value.is_empty() {
                let value = HeaderValue::from_str(&value).expect("a header value");
                response
                    .headers_mut()
                    .insert(http::header::RETRY_AFTER, value);
            }
            Some(Ok(response))
        };
        match self {
            Said::Status(status) => with(status, String::new()),
            Said::After(status, secs) => with(status, secs.to_string()),
            Said::Date(status, secs) => with(status, httpdate::fmt_http_date(wall(secs))),
            Said::Transport(kind) => Some(Err(kind)),
            Said::TimedOut => None,
        }
    }
}

/// The wall clock `secs` after the call began.
fn wall(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(WALL + secs)
}

fn said() -> impl Strategy<Value = Said> {
    let status = prop::sample::select(vec![408u16, 429, 500, 502, 503, 504, 529]);
    let fatal = prop::sample::select(vec![400u16, 401, 404, 422, 501]);
    prop_oneof![
        3 => prop::sample::select(vec![200u16, 201, 204]).prop_map(Said::Status),
        4 => status.clone().prop_map(Said::Status),
        3 => (status.clone(), 0u64..120).prop_map(|(s, n)| Said::After(s, n)),
        1 => (status, 0u64..120).prop_map(|(s, n)| Said::Date(s, n)),
        1 => fatal.prop_map(Said::Status),
        2 => prop::sample::select(vec![Transport::Connect, Transport::Timeout, Transport::Reset, Transport::Other])
            .prop_map(Said::Transport),
        1 => Just(Said::TimedOut),
    ]
}

/// Scripts of 429s, most with a short `Retry-After`, and a few successes: what engages the
/// presets' pacer and, a second later, makes it cut and pace.
fn throttled_steps() -> impl Strategy<Value = Vec<Step>> {
    let said = prop_oneof![
        4 => (0u64..3).prop_map(|n| Said::After(429, n)),
        2 => Just(Said::Status(429)),
        1 => Just(Said::Status(200)),
    ];
    let step = (said, 0u64..1_500, any::<bool>()).prop_map(|(said, busy_ms, pending)| Step {
        said,
        busy_ms,
        pending,
    });
    prop::collection::vec(step, 1..10)
}

fn steps() -> impl Strategy<Value = Vec<Step>> {
    let step = (
        said(),
        prop_oneof![Just(0u64), 0u64..3_000, 0u64..40_000],
        any::<bool>(),
    )
        .prop_map(|(said, busy_ms, pending)| Step {
            said,
            busy_ms,
            pending,
        });
    prop::collection::vec(step, 1..10)
}

/// A policy to build as often as a test needs a fresh budget, and the reset its gate, if
/// it has one, has been taught before the call (else a fresh gate never holds anything).
#[derive(Clone, Debug)]
struct Params {
    builder: PolicyBuilder,
    gate: Option<u64>,
}

impl Params {
    /// A policy of its own: a clone would share the budget, and two runs of the same
    /// script must each start from a full one.
    fn build(&self) -> Policy {
        let policy = self.builder.clone().build().expect("a valid policy");
        match self.gate {
            None => policy,
            Some(reset) => {
                let gate = Gate::new(GateConfig::default());
                let mut headers = HeaderMap::new();
                headers.insert(http::header::RETRY_AFTER, reset.into());
                gate.learn_from_response(429, &headers, wall(0));
                policy.with_gate(gate)
            }
        }
    }

    /// The same policy with nothing to hold an attempt: no gate and no pacer, so that
    /// every wait is the machine's.
    fn unheld(self) -> Params {
        Params {
            builder: self.builder.no_pacing(),
            gate: None,
        }
    }
}

/// The AWS bucket (small, so that it runs out), the default adaptive budget, an adaptive
/// one with other settings, or none.
fn budget() -> impl Strategy<Value = Option<BudgetConfig>> {
    prop_oneof![
        (1u32..40, 0u32..12, 0u32..20, 0u32..5).prop_map(|(cap, rc, tc, sr)| Some(
            BudgetConfig::new(cap, rc.min(cap), tc.min(cap), sr.min(cap))
        )),
        Just(Some(BudgetConfig::default())),
        (
            prop::sample::select(vec![1u64, 10, 30]),
            prop::sample::select(vec![0.0, 0.1, 1.0]),
            prop::sample::select(vec![0.0, 0.3, 2.0]),
            prop::sample::select(vec![0.0, 0.5, 3.0]),
        )
            .prop_map(|(window, overload_ratio, retry_ratio, min_retries)| {
                Some(BudgetConfig {
                    window: Duration::from_secs(window),
                    overload_ratio,
                    retry_ratio,
                    min_retries,
                    ..BudgetConfig::default()
                })
            }),
        Just(None),
    ]
}

fn params() -> impl Strategy<Value = Params> {
    (
        (1u32..8, prop::option::of(1u64..120_000)),
        (
            prop_oneof![
                Just(Curve::Exponential),
                Just(Curve::Constant),
                Just(Curve::Linear)
            ],
            0u64..5_000,
            0u64..30_000,
            0.5f64..4.0,
            jitter_strategy(),
        ),
        (any::<bool>(), 0u64..90_000, any::<bool>()),
        budget(),
        prop::option::weighted(0.2, 1u64..30),
        any::<bool>(),
    )
        .prop_map(
            |(
                (attempts, elapsed),
                (curve, base, extra, factor, jitter),
                (honor, max_hint, clamp),
                budget,
                gate,
                paced,
            )| {
                let b = Policy::builder()
                    .max_attempts(attempts)
                    .curve(curve)
                    .base(ms(base))
                    .cap(ms(base + extra))
                    .factor(factor)
                    .jitter(jitter)
                    .honor_hints(honor)
                    .max_hint(ms(max_hint))
                    .on_long_hint(if clamp {
                        OnLongHint::Clamp
                    } else {
                        OnLongHint::Stop
                    });
                let b = match elapsed {
                    Some(limit) => b.max_elapsed(ms(limit)),
                    None => b.no_max_elapsed(),
                };
                let builder = match budget {
                    Some(budget) => b.budget(budget),
                    None => b.no_budget(),
                };
                // The presets' pacer, engaged by a 429 with `Retry-After`, or none.
                let builder = if paced { builder } else { builder.no_pacing() };
                Params { builder, gate }
            },
        )
        .prop_filter("the builder refuses it", |p| {
            p.builder.clone().build().is_ok()
        })
}

/// What the virtual clocks read: the monotonic one and the wall one move together.
#[derive(Clone, Copy, Debug)]
struct Clock {
    base: Instant,
    now: Instant,
}

impl Clock {
    fn wall(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(WALL) + (self.now - self.base)
    }
}

/// An attempt the driver ordered: when it ended, what it said, and the driver's answer.
#[derive(Debug)]
struct Attempted {
    step: Step,
    at: Instant,
    wall: SystemTime,
    answer: Command,
}

/// A sleep the driver ordered: when, how long, and why.
#[derive(Debug)]
struct Slept {
    at: Instant,
    delay: Duration,
    wait: Wait,
}

/// One call, as the harness saw it.
#[derive(Debug)]
struct Trace {
    /// When the first attempt was ordered: where a deadline is measured from.
    start: Option<Instant>,
    attempts: Vec<Attempted>,
    sleeps: Vec<Slept>,
    end: End,
    /// The call's result, from [`finish`].
    result: Result<Response<()>, Failure>,
    /// Why the driver's machine stopped, if it made one and it did.
    stop: Option<Stop>,
}

/// The adapter the properties drive the driver with.
struct Harness<'p> {
    driver: Driver<&'p Policy>,
    options: Options<&'p Policy, HttpClassify, NoNotify>,
    clock: Clock,
    handles: u32,
}

impl<'p> Harness<'p> {
    fn new(policy: &'p Policy, facts: RequestFacts, seed: u64) -> Self {
        let base = Instant::now();
        Harness {
            driver: Driver::default(),
            options: Options {
                policy,
                classify: HttpClassify,
                notify: NoNotify,
                facts,
                rng: Some(Rng::with_seed(seed)),
            },
            clock: Clock { base, now: base },
            handles: 0,
        }
    }

    /// Sends `event`; a `Read` is answered with exactly the clocks it names, as they read
    /// now, and must then be followed by a command that is not one.
    fn send(
        &mut self,
        event: Event<'_, Response<()>, Transport>,
    ) -> Result<Command, TestCaseError> {
        self.handles += 1;
        prop_assert!(
            self.handles <= MOST_HANDLES,
            "more than {MOST_HANDLES} steps: a livelock"
        );
        let command = self
            .driver
            .handle(&mut self.options, event, Clocks::default());
        let Command::Read(need) = command else {
            return Ok(command);
        };
        prop_assert!(
            need.now || need.wall,
            "a Read that names no clock: {need:?}"
        );
        let clocks = Clocks {
            now: need.now.then_some(self.clock.now),
            wall: need.wall.then_some(self.clock.wall()),
        };
        self.handles += 1;
        let command = self.driver.handle(&mut self.options, event, clocks);
        prop_assert!(
            !matches!(command, Command::Read(_)),
            "{event:?} answered with the clocks of {need:?}, then {command:?}"
        );
        Ok(command)
    }

    /// Runs the call over `steps` (the last one repeats) to its end, checking the shape of
    /// every answer: `Due` gets an attempt or a wait at the gate, `Pending` a yield,
    /// `Finished` a backoff sleep or the end.
    fn run(mut self, steps: &[Step]) -> Result<Trace, TestCaseError> {
        let mut attempts: Vec<Attempted> = Vec::new();
        let mut sleeps: Vec<Slept> = Vec::new();
        let mut start = None;
        let mut command = self.send(Event::Due)?;
        let (end, reply) = loop {
            match command {
                Command::Sleep(delay) => {
                    let wait = self.driver.wait();
                    prop_assert!(
                        matches!(wait, Wait::Gate | Wait::Pacer),
                        "a {wait:?} sleep in answer to Due"
                    );
                    if wait == Wait::Gate {
                        prop_assert!(attempts.is_empty(), "the gate held a retry");
                    } else {
                        prop_assert!(delay <= Pacer::RECHECK, "a pacer's wait of {delay:?}");
                    }
                    sleeps.push(Slept {
                        at: self.clock.now,
                        delay,
                        wait,
                    });
                    self.clock.now += delay;
                    command = self.send(Event::Due)?;
                    continue;
                }
                Command::Attempt => {}
                // The pacer stopped the call before this attempt.
                Command::Done(End::Stopped) => {
                    let stop = self
                        .driver
                        .machine
                        .as_ref()
                        .and_then(|m| m.stopped().copied());
                    prop_assert!(matches!(stop, Some(Stop::RateLimited { .. })), "{stop:?}");
                    break (End::Stopped, None);
                }
                other => prop_assert!(false, "Due answered with {other:?}"),
            }
            start.get_or_insert(self.clock.now);
            let step = steps[attempts.len().min(steps.len() - 1)];
            if step.pending {
                let c = self.send(Event::Pending(Pending::Attempt))?;
                prop_assert!(matches!(c, Command::Yield), "Pending answered with {c:?}");
            }
            self.clock.now += ms(step.busy_ms);
            let reply = step.said.reply();
            let answer = self.send(Event::Finished(reply.as_ref(), None))?;
            attempts.push(Attempted {
                step,
                at: self.clock.now,
                wall: self.clock.wall(),
                answer,
            });
            match answer {
                Command::Done(end) => break (end, reply),
                Command::Sleep(delay) => {
                    prop_assert_eq!(self.driver.wait(), Wait::Backoff);
                    sleeps.push(Slept {
                        at: self.clock.now,
                        delay,
                        wait: Wait::Backoff,
                    });
                    if step.pending {
                        let c = self.send(Event::Pending(Pending::Sleep))?;
                        prop_assert!(matches!(c, Command::Yield), "Pending answered with {c:?}");
                    }
                    self.clock.now += delay;
                    drop(reply);
                    command = self.send(Event::Due)?;
                }
                other => prop_assert!(false, "Finished answered with {other:?}"),
            }
        };
        let now = self.clock.now;
        let result = finish(
            &mut self.driver,
            &self.options,
            end,
            reply,
            Duration::ZERO,
            || now,
        );
        let stop = self
            .driver
            .machine
            .as_ref()
            .and_then(|m| m.stopped().copied());
        if end == End::Stopped {
            self.after_the_end()?;
        }
        Ok(Trace {
            start,
            attempts,
            sleeps,
            end,
            result,
            stop,
        })
    }

    /// A stopped call stays stopped: a failure reported after `Done` (no adapter sends
    /// one) is answered with `Done` again, and counts no attempt.
    fn after_the_end(&mut self) -> Result<(), TestCaseError> {
        let attempts = self.driver.machine.as_ref().map(Machine::attempts);
        for said in [Said::Status(503), Said::After(429, 1), Said::TimedOut] {
            let reply = said.reply();
            let answer = self.send(Event::Finished(reply.as_ref(), None))?;
            prop_assert!(
                matches!(answer, Command::Done(End::Stopped)),
                "after the end, {said:?} answered with {answer:?}"
            );
        }
        let now = self.driver.machine.as_ref().map(Machine::attempts);
        prop_assert_eq!(now, attempts, "attempts counted after the end");
        Ok(())
    }
}

/// The verdict the policy gives a reply that arrived at `wall`: what the driver should
/// have decided on.
fn verdict(
    policy: &Policy,
    facts: RequestFacts,
    reply: Option<&Reply>,
    wall: SystemTime,
) -> Verdict {
    let cx = ClassifyContext::new(policy.classifier(), facts, wall);
    match reply {
        Some(reply) => HttpClassify.classify(&cx, reply),
        None => cx.verdict(&Outcome::Transport(Transport::Timeout)),
    }
}

fn drive(
    params: &Params,
    steps: &[Step],
    facts: RequestFacts,
    seed: u64,
) -> Result<Trace, TestCaseError> {
    let policy = params.build();
    Harness::new(&policy, facts, seed).run(steps)
}

fn facts() -> impl Strategy<Value = RequestFacts> {
    any::<bool>().prop_map(RequestFacts::idempotent)
}

/// The longest a wait for an honoured hint of `wait` may be: the hint, plus the spread.
fn spread(wait: Duration) -> Duration {
    wait + (wait / 10).min(Duration::from_secs(1))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The driver orders at most `max_attempts` attempts, the final error counts them
    /// all, and a stopped call stays stopped.
    #[test]
    fn prop_attempts_never_exceed_the_limit_and_an_end_is_final(
        params in params(), steps in steps(), facts in facts(), seed: u64,
    ) {
        let max = params.builder.clone().build().expect("valid").rules().max_attempts();
        let trace = drive(&params, &steps, facts, seed)?;
        let made = u32::try_from(trace.attempts.len()).expect("few");
        prop_assert!(made >= 1 && made <= max, "{made} attempts, at most {max}");
        // A call the pacer stopped slept its backoff before the attempt it did not make.
        let unsent = usize::from(matches!(trace.stop, Some(Stop::RateLimited { .. })));
        prop_assert_eq!(trace.sleeps.iter().filter(|s| s.wait == Wait::Backoff).count() + 1 - unsent, trace.attempts.len());
        if let Err(e) = &trace.result {
            prop_assert_eq!(e.attempts(), made);
            if e.reason() == StopReason::AttemptsExhausted {
                prop_assert_eq!(made, max);
            }
        }
    }

    /// Each sleep the driver asks for is the one [`Machine`] decides, fed the same
    /// verdicts at the same instants with the same generator: the driver adds no policy.
    /// And each is within the policy's own bounds: the backoff's cap, or the hint plus
    /// its spread (the longest hint honoured, when clamped).
    #[test]
    fn prop_every_sleep_is_the_machines(
        params in params().prop_map(Params::unheld), steps in steps(), facts in facts(), seed: u64,
    ) {
        let trace = drive(&params, &steps, facts, seed)?;
        let policy = params.build();
        let rules = policy.rules();
        let mut machine = Machine::new(&policy, trace.start.expect("an attempt"));
        let mut rng = Rng::with_seed(seed);
        for a in &trace.attempts {
            let reply = a.step.said.reply();
            let verdict = verdict(&policy, facts, reply.as_ref(), a.wall);
            let action = machine.on_outcome(&verdict, a.at, &mut rng);
            match (a.answer, action) {
                (Command::Sleep(delay), Action::Retry(retry)) => {
                    prop_assert_eq!(delay, retry.delay, "{:?}", verdict);
                    match verdict.hint() {
                        Some(hint) if hint.wait <= rules.max_hint() => {
                            prop_assert!(hint.wait <= delay && delay <= spread(hint.wait));
                        }
                        Some(_) => {
                            prop_assert_eq!(rules.on_long_hint(), OnLongHint::Clamp);
                            prop_assert!(rules.max_hint() <= delay && delay <= spread(rules.max_hint()));
                        }
                        None => prop_assert!(delay <= rules.backoff().cap(), "{:?} over the cap", delay),
                    }
                }
                (Command::Done(End::Succeeded), Action::Stop(Stop::Succeeded { .. })) => {}
                (Command::Done(End::Stopped), Action::Stop(stop)) => {
                    prop_assert_eq!(trace.stop, Some(stop));
                    prop_assert_eq!(trace.result.as_ref().err().map(|e| *e.stop()), Some(stop));
                }
                (answer, action) => prop_assert!(false, "the driver said {answer:?}, the machine {action:?} ({verdict:?})"),
            }
        }
    }

    /// Under a deadline, the time from the call's start to the end of every wait is
    /// within it; and the call stops for the deadline exactly where the same call with
    /// no deadline waits past it. Otherwise the two calls are the same.
    #[test]
    fn prop_a_wait_never_passes_the_deadline(
        params in params().prop_map(Params::unheld), limit_ms in 1u64..60_000, steps in steps(), facts in facts(), seed: u64,
    ) {
        let limit = ms(limit_ms);
        let bounded = Params { builder: params.builder.clone().max_elapsed(limit), gate: None };
        let free = Params { builder: params.builder.clone().no_max_elapsed(), gate: None };
        let a = drive(&bounded, &steps, facts, seed)?;
        let b = drive(&free, &steps, facts, seed)?;
        let start = a.start.expect("an attempt");
        for s in &a.sleeps {
            prop_assert!(s.at - start + s.delay <= limit, "a wait to {:?} past {:?}", s.at - start + s.delay, limit);
        }
        for (i, (x, y)) in a.attempts.iter().zip(&b.attempts).enumerate() {
            let elapsed = x.at - start;
            match (x.answer, y.answer) {
                (Command::Sleep(d), Command::Sleep(e)) => {
                    prop_assert_eq!(d, e);
                    // A wait past the deadline is where the call stops for it instead.
                    prop_assert!(elapsed + e <= limit, "waited {e:?} at {elapsed:?}, past {limit:?}");
                }
                (Command::Done(End::Stopped), Command::Sleep(wait)) => {
                    prop_assert_eq!(i + 1, a.attempts.len());
                    prop_assert_eq!(a.stop, Some(Stop::DeadlineExceeded { elapsed, wait, limit }));
                    prop_assert!(elapsed + wait > limit);
                }
                (Command::Done(x), Command::Done(y)) => {
                    prop_assert_eq!(x, y);
                    let reason = |t: &Trace| t.result.as_ref().err().map(RetryError::reason);
                    match (reason(&a), reason(&b)) {
                        // The deadline comes before the budget: the retry no deadline
                        // would have made, the budget refused.
                        (Some(StopReason::DeadlineExceeded), Some(StopReason::BudgetExhausted)) => {
                            let Some(Stop::DeadlineExceeded { elapsed: e, wait, limit: l }) = a.stop else {
                                return Err(TestCaseError::fail("no deadline stop"));
                            };
                            prop_assert_eq!((e, l), (elapsed, limit));
                            prop_assert!(elapsed + wait > limit);
                        }
                        (p, q) => prop_assert_eq!(p, q),
                    }
                }
                (p, q) => prop_assert!(false, "with the deadline {p:?}, without {q:?}"),
            }
        }
    }

    /// With the presets' pacer and scripts of throttles (mostly with a short
    /// `Retry-After`, which engages it), the protocol holds as the harness checks it on
    /// every event: a pacer's wait is at most [`Pacer::RECHECK`], no wait passes the
    /// deadline, and no more attempts are made than the policy allows. (The scripts reach
    /// the pacer's waits; a `rate_limited` stop, which the harness also checks, they do
    /// not: `tests/pacer_adapter.rs` has those.)
    #[test]
    fn prop_the_presets_pacer_keeps_the_protocol(
        params in params(), steps in throttled_steps(), facts in facts(), seed: u64,
    ) {
        let params = Params {
            builder: params.builder.pace(PacerConfig::on_hint()),
            gate: params.gate,
        };
        let policy = params.build();
        let trace = Harness::new(&policy, facts, seed).run(&steps)?;
        let max = policy.rules().max_attempts() as usize;
        prop_assert!(!trace.attempts.is_empty() && trace.attempts.len() <= max);
        if let (Some(limit), Some(start)) = (policy.rules().max_elapsed(), trace.start) {
            for s in trace.sleeps.iter().filter(|s| s.wait != Wait::Gate) {
                prop_assert!(s.at - start + s.delay <= limit, "{s:?} past {limit:?}");
            }
        }
    }

    /// A `Read` answered with the clocks it names is followed by a command that is not a
    /// `Read`, every event gets the answer the protocol says, and the call ends within a
    /// bounded number of steps (the harness checks all three on every event). The gate
    /// holds only a first attempt, and once.
    #[test]
    fn prop_no_livelock(params in params(), steps in steps(), facts in facts(), seed: u64) {
        let trace = drive(&params, &steps, facts, seed)?;
        let held = trace.sleeps.iter().filter(|s| s.wait == Wait::Gate).count();
        prop_assert!(held <= usize::from(params.gate.is_some()), "{held} waits at the gate");
    }

    /// A success ends the call at once with that response; a failure no retry can fix
    /// ends it at once as not retryable.
    #[test]
    fn prop_success_and_fatal_end_at_once(params in params(), steps in steps(), facts in facts(), seed: u64) {
        let trace = drive(&params, &steps, facts, seed)?;
        let policy = params.build();
        for (i, a) in trace.attempts.iter().enumerate() {
            let reply = a.step.said.reply();
            let last = i + 1 == trace.attempts.len();
            match verdict(&policy, facts, reply.as_ref(), a.wall) {
                Verdict::Success => {
                    prop_assert!(last && matches!(a.answer, Command::Done(End::Succeeded)), "{:?}", a);
                    let status = trace.result.as_ref().map(|r| r.status());
                    let want = reply.and_then(Result::ok).map(|r| r.status());
                    prop_assert_eq!(status.ok(), want);
                }
                Verdict::Fatal { .. } => {
                    prop_assert!(last && matches!(a.answer, Command::Done(End::Stopped)), "{:?}", a);
                    prop_assert_eq!(trace.result.as_ref().err().map(RetryError::reason), Some(StopReason::NotRetryable));
                }
                Verdict::Retryable { .. } => {
                    prop_assert!(!matches!(a.answer, Command::Done(End::Succeeded)));
                }
            }
        }
        prop_assert_eq!(trace.end == End::Succeeded, trace.result.is_ok());
    }
}

/// Virtual time for the adapters: sleeping moves the clock, and every sleep is recorded.
struct Virtual {
    base: Instant,
    now: Cell<Instant>,
    sleeps: RefCell<Vec<Duration>>,
}

impl Virtual {
    fn new() -> Self {
        let base = Instant::now();
        Virtual {
            base,
            now: Cell::new(base),
            sleeps: RefCell::new(Vec::new()),
        }
    }

    fn pass(&self, d: Duration) {
        self.now.set(self.now.get() + d);
    }

    fn wall(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(WALL) + (self.now.get() - self.base)
    }

    /// An attempt of `steps` (the last one repeats): it takes its time, then replies.
    fn attempt(&self, steps: &[Step], made: &Cell<usize>) -> Reply {
        let step = steps[made.get().min(steps.len() - 1)];
        made.set(made.get() + 1);
        self.pass(ms(step.busy_ms));
        step.said.reply().unwrap_or(Err(Transport::Timeout))
    }
}

impl Sleeper for &Virtual {
    type Sleep = core::future::Ready<()>;

    fn sleep(&self, duration: Duration) -> Self::Sleep {
        self.sleeps.borrow_mut().push(duration);
        self.pass(duration);
        core::future::ready(())
    }

    fn now(&self) -> Instant {
        self.now.get()
    }

    fn wall(&self) -> SystemTime {
        Virtual::wall(self)
    }
}

/// The blocking adapter's sleeper on the same virtual time.
struct BlockingVirtual<'v>(&'v Virtual);

impl BlockingSleeper for BlockingVirtual<'_> {
    fn sleep(&mut self, duration: Duration) {
        // The future is ready at once: the virtual clock moved when it was made.
        drop(Sleeper::sleep(&self.0, duration));
    }

    fn now(&self) -> Instant {
        self.0.now.get()
    }

    fn wall(&self) -> SystemTime {
        self.0.wall()
    }
}

/// How a call ended, in terms every run of it shares.
fn ending(result: &Result<Response<()>, Failure>) -> Result<http::StatusCode, (StopReason, u32)> {
    match result {
        Ok(response) => Ok(response.status()),
        Err(e) => Err((e.reason(), e.attempts())),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The blocking adapter and the retry future, fed the same script on a recording
    /// sleeper, make the attempts and ask for the sleeps the driver gives the harness,
    /// and end the same way. (A timed-out attempt is the client's timeout here: neither
    /// adapter is given a per-attempt timeout.)
    #[test]
    fn prop_the_adapters_do_what_the_driver_says(
        params in params(), steps in steps(), facts in facts(), seed: u64,
    ) {
        let steps: Vec<Step> = steps
            .into_iter()
            .map(|s| match s.said {
                Said::TimedOut => Step { said: Said::Transport(Transport::Timeout), ..s },
                _ => s,
            })
            .collect();
        let direct = drive(&params, &steps, facts, seed)?;
        let want_sleeps: Vec<Duration> = direct.sleeps.iter().map(|s| s.delay).collect();

        let (policy, time, made) = (params.build(), Virtual::new(), Cell::new(0));
        let blocking = (|| time.attempt(&steps, &made))
            .retry(&policy)
            .facts(facts)
            .rng(Rng::with_seed(seed))
            .sleeper(BlockingVirtual(&time))
            .call();
        prop_assert_eq!(made.get(), direct.attempts.len(), "blocking: attempts");
        prop_assert_eq!(&*time.sleeps.borrow(), &want_sleeps, "blocking: sleeps");
        prop_assert_eq!(ending(&blocking), ending(&direct.result), "blocking: end");

        let (policy, time, made) = (params.build(), Virtual::new(), Cell::new(0));
        let future = futures_executor::block_on(
            (|| core::future::ready(time.attempt(&steps, &made)))
                .retry(&policy)
                .facts(facts)
                .rng(Rng::with_seed(seed))
                .sleeper(&time),
        );
        prop_assert_eq!(made.get(), direct.attempts.len(), "future: attempts");
        prop_assert_eq!(&*time.sleeps.borrow(), &want_sleeps, "future: sleeps");
        prop_assert_eq!(ending(&future), ending(&direct.result), "future: end");
    }
}
