//! The machine against the design's invariants, in virtual time: properties, a reference
//! model over random sequences of verdicts and times, and the budget's refund rules.

use std::time::{Duration, Instant};

use fastrand::Rng;
use proptest::prelude::*;
use redial::backoff::{Curve, Jitter};
use redial::budget::{Budget, BudgetConfig, BudgetKind};
use redial::hints::{Hint, HintSource};
use redial::machine::{Action, Basis, Machine, OnLongHint};
use redial::{
    Cause, ErrorType, Policy, PolicyBuilder, Preset, Stop, StopReason, Transport, Verdict,
};

#[path = "../fuzz/checks.rs"]
#[allow(dead_code)] // the fuzz checks; the curve and jitter oracles are used here
mod checks;

const fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One attempt's outcome as the tests generate it.
#[derive(Clone, Copy, Debug)]
enum Step {
    Success,
    Fatal,
    Retryable,
    Timeout,
    Hinted(Duration),
    /// A 500: bad luck, for the adaptive budget.
    ServerError,
    /// A 429 without a wait: no pacing, so no free retry.
    Unhinted429,
}

impl Step {
    fn verdict(self) -> Verdict {
        match self {
            Step::Success => Verdict::Success,
            Step::Fatal => Verdict::fatal(Cause::status(400)),
            Step::Retryable => Verdict::retryable(Cause::status(503)),
            Step::Timeout => Verdict::retryable(Cause::transport(Transport::Timeout)),
            Step::Hinted(wait) => Verdict::Retryable {
                cause: Cause::status(429),
                hint: Some(Hint {
                    wait,
                    source: HintSource::RetryAfter,
                }),
            },
            Step::ServerError => Verdict::retryable(Cause::status(500)),
            Step::Unhinted429 => Verdict::retryable(Cause::status(429)),
        }
    }
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        2 => Just(Step::Success),
        1 => Just(Step::Fatal),
        4 => Just(Step::Retryable),
        2 => Just(Step::Timeout),
        2 => (0u64..200_000).prop_map(|m| Step::Hinted(ms(m))),
        2 => Just(Step::ServerError),
        1 => Just(Step::Unhinted429),
    ]
}

fn jitter() -> impl Strategy<Value = Jitter> {
    prop_oneof![
        Just(Jitter::None),
        Just(Jitter::Full),
        Just(Jitter::Equal),
        (0.0f64..=1.0).prop_map(Jitter::Proportional),
        Just(Jitter::Decorrelated),
    ]
}

/// Policies generated freely; the ones validation rejects are discarded.
fn policy() -> impl Strategy<Value = Policy> {
    (
        (0u32..8, prop::option::of(0u64..120_000)),
        (
            prop_oneof![
                Just(Curve::Exponential),
                Just(Curve::Constant),
                Just(Curve::Linear)
            ],
            0u64..5_000,
            0u64..30_000,
            0.0f64..5.0,
            jitter(),
        ),
        (0u64..90_000, any::<bool>()),
        (any::<bool>(), budget_config()),
    )
        .prop_filter_map(
            "validation rejects it",
            |(
                (attempts, elapsed),
                (curve, base, cap, factor, jitter),
                (max_hint, clamp),
                (on, budget),
            )| {
                let mut b: PolicyBuilder = Policy::builder()
                    .max_attempts(attempts)
                    .curve(curve)
                    .base(ms(base))
                    .cap(ms(cap))
                    .factor(factor)
                    .jitter(jitter)
                    .max_hint(ms(max_hint))
                    .on_long_hint(if clamp {
                        OnLongHint::Clamp
                    } else {
                        OnLongHint::Stop
                    });
                b = match elapsed {
                    Some(e) => b.max_elapsed(ms(e)),
                    None => b.no_max_elapsed(),
                };
                let mut budget = budget;
                if !on {
                    budget = budget.disabled();
                }
                b.budget(budget).build().ok()
            },
        )
}

/// A budget's settings: the AWS bucket with any numbers, the default (`adaptive`, as
/// `Policy::default()` has it), or the adaptive kind with other settings (windows of a
/// second and more).
fn budget_config() -> impl Strategy<Value = BudgetConfig> {
    prop_oneof![
        (0u32..60, 0u32..12, 0u32..20, 0u32..5)
            .prop_map(|(cap, rc, tc, sr)| BudgetConfig::new(cap, rc, tc, sr)),
        Just(BudgetConfig::default()),
        (
            prop::sample::select(vec![1u64, 10, 30, 120]),
            prop::sample::select(vec![0.0, 0.1, 0.5, 1.0]),
            prop::sample::select(vec![0.0, 0.3, 2.0, 10.0]),
            prop::sample::select(vec![0.0, 0.5, 3.0, 100.0]),
        )
            .prop_map(|(window, overload, retry, min)| {
                let mut c = BudgetConfig::default();
                c.window = Duration::from_secs(window);
                c.overload_ratio = overload;
                c.retry_ratio = retry;
                c.min_retries = min;
                c
            }),
    ]
}

/// Feeds `steps` (each with the virtual time that passes before its outcome) into a
/// machine and returns every action.
fn run(policy: &Policy, steps: &[(Step, u64)], seed: u64) -> Vec<Action> {
    let start = Instant::now();
    let mut rng = Rng::with_seed(seed);
    let mut call = Machine::new(policy, start);
    let mut now = start;
    let mut out = Vec::new();
    for &(step, busy_ms) in steps {
        now += ms(busy_ms);
        let action = call.on_outcome(&step.verdict(), now, &mut rng);
        if let Action::Retry(r) = action {
            now += r.delay;
        }
        out.push(action);
    }
    out
}

fn steps() -> impl Strategy<Value = Vec<(Step, u64)>> {
    prop::collection::vec((step(), 0u64..20_000), 1..12)
}

/// The bounds a backoff delay of retry `n` must lie in, from the design's formulas
/// (`fuzz/checks.rs`), never from the backoff under test.
fn backoff_bounds(policy: &Policy, n: u32, previous: Duration) -> (Duration, Duration) {
    let b = policy.rules().backoff();
    checks::jittered_delay_oracle(
        b.curve(),
        b.base(),
        b.cap(),
        b.factor(),
        b.jitter(),
        n,
        previous,
    )
}

/// The policy's budget when it is the AWS bucket.
fn aws(policy: &Policy) -> Option<&Budget> {
    let rules = policy.rules();
    rules
        .budget()
        .filter(|_| rules.budget_config().kind == BudgetKind::Aws)
}

/// The policy's budget when it is the adaptive kind.
fn adaptive(policy: &Policy) -> Option<&Budget> {
    let rules = policy.rules();
    rules
        .budget()
        .filter(|_| rules.budget_config().kind == BudgetKind::Adaptive)
}

/// A reference model of the design's rules. It keeps its own attempt count, budget (the
/// AWS bucket's level, or the adaptive budget's model) and decorrelated-jitter memory, and
/// checks each of the machine's actions against them. Its times are any (the adaptive
/// model reuses a fold as the budget does for decisions within a thousandth of the window).
struct Model<'a> {
    policy: &'a Policy,
    attempts: u32,
    retries: u32,
    spent: u32,
    tokens: Option<u32>,
    previous: Duration,
    elapsed: Duration,
    stopped: Option<Stop>,
    /// The adaptive budget's model, when the policy has one (`fuzz/checks.rs` feeds it).
    adaptive: Option<checks::adaptive_model::Model>,
}

impl<'a> Model<'a> {
    fn new(policy: &'a Policy) -> Self {
        Model {
            policy,
            attempts: 0,
            retries: 0,
            spent: 0,
            tokens: aws(policy).map(|b| b.available()),
            previous: policy.rules().backoff().base(),
            elapsed: Duration::ZERO,
            stopped: None,
            adaptive: adaptive(policy).map(|b| checks::adaptive_model::Model::new(b.config())),
        }
    }

    fn check(
        &mut self,
        step: Step,
        busy: Duration,
        action: Action,
        now: Instant,
    ) -> Result<(), TestCaseError> {
        let rules = self.policy.rules();
        self.elapsed += busy;
        if let Some(stop) = self.stopped {
            prop_assert_eq!(
                action,
                Action::Stop(stop),
                "a stopped machine repeats its stop"
            );
            return Ok(());
        }
        self.attempts += 1;
        if let Some(m) = self.adaptive.as_mut() {
            checks::adaptive_outcome(m, &step.verdict(), action, self.attempts == 1, now);
        }
        let cfg = *rules.budget_config();
        let expected_reason = match step {
            Step::Success => Some(StopReason::Succeeded),
            Step::Fatal => Some(StopReason::NotRetryable),
            _ if self.attempts >= rules.max_attempts() => Some(StopReason::AttemptsExhausted),
            Step::Hinted(w) if w > rules.max_hint() && rules.on_long_hint() == OnLongHint::Stop => {
                Some(StopReason::HintTooLong)
            }
            _ => None,
        };
        match action {
            Action::Stop(stop) => {
                self.stopped = Some(stop);
                if let Some(reason) = expected_reason {
                    prop_assert_eq!(stop.reason(), reason);
                    if reason == StopReason::Succeeded {
                        if let Some(t) = self.tokens.as_mut() {
                            let refund = if self.retries == 0 {
                                cfg.success_refund
                            } else {
                                self.spent
                            };
                            *t = t.saturating_add(refund).min(cfg.capacity);
                        }
                    }
                } else {
                    // Only the deadline or the budget can stop a retry the rules allow.
                    match stop {
                        Stop::DeadlineExceeded {
                            elapsed,
                            wait,
                            limit,
                        } => {
                            prop_assert_eq!(Some(limit), rules.max_elapsed());
                            prop_assert_eq!(elapsed, self.elapsed);
                            prop_assert!(elapsed + wait > limit);
                            self.check_delay(step, wait)?;
                        }
                        // Checked against its model above.
                        Stop::Throttled { .. } => {
                            prop_assert!(
                                self.adaptive.is_some(),
                                "{stop:?} from no adaptive budget"
                            );
                        }
                        Stop::BudgetExhausted { cost, available } => {
                            let tokens = self.tokens.expect("a disabled budget never stops a call");
                            prop_assert_eq!(available, tokens);
                            prop_assert!(cost > tokens);
                            prop_assert_eq!(cost, self.cost(step));
                        }
                        other => prop_assert!(false, "unexpected stop {other:?}"),
                    }
                }
            }
            Action::Retry(retry) => {
                prop_assert_eq!(expected_reason, None, "retried where the rules stop");
                prop_assert!(self.attempts < rules.max_attempts());
                prop_assert_eq!(retry.retry, self.retries + 1);
                self.check_delay(step, retry.delay)?;
                if let Some(limit) = rules.max_elapsed() {
                    prop_assert!(
                        self.elapsed + retry.delay <= limit,
                        "wait ends past max_elapsed"
                    );
                }
                if let Some(t) = self.tokens.as_mut() {
                    let cost = match step {
                        Step::Timeout => cfg.timeout_cost,
                        _ => cfg.retry_cost,
                    };
                    prop_assert!(*t >= cost);
                    *t -= cost;
                    self.spent += cost;
                }
                if retry.basis == Basis::Backoff {
                    self.previous = retry.delay;
                }
                self.retries += 1;
                self.elapsed += retry.delay;
            }
        }
        let actual = aws(self.policy).map(|b| b.available());
        prop_assert_eq!(actual, self.tokens, "budget level");
        if let (Some(m), Some(b)) = (self.adaptive.as_mut(), adaptive(self.policy)) {
            prop_assert_eq!(
                b.take_local_deltas(),
                m.take(),
                "the adaptive budget's counts"
            );
        }
        Ok(())
    }

    fn cost(&self, step: Step) -> u32 {
        let cfg = self.policy.rules().budget_config();
        match step {
            Step::Timeout => cfg.timeout_cost,
            _ => cfg.retry_cost,
        }
    }

    fn check_delay(&self, step: Step, delay: Duration) -> Result<(), TestCaseError> {
        let rules = self.policy.rules();
        match step {
            Step::Hinted(w) => {
                let honoured = w.min(rules.max_hint());
                let spread = (honoured / 10).min(Duration::from_secs(1));
                prop_assert!(
                    honoured <= delay && delay <= honoured + spread,
                    "{delay:?} vs hint {w:?}"
                );
                prop_assert!(delay <= rules.max_hint() + spread);
            }
            _ => {
                let (low, high) = backoff_bounds(self.policy, self.retries + 1, self.previous);
                prop_assert!(
                    low <= delay && delay <= high,
                    "{delay:?} not in [{low:?}, {high:?}]"
                );
                prop_assert!(delay <= rules.backoff().cap(), "above the cap");
            }
        }
        Ok(())
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn prop_machine_matches_the_reference_model(policy in policy(), steps in steps(), seed: u64, drain in 0u32..60) {
        // A bucket that is not full at the start, so that refunds show.
        if let Some(b) = policy.rules().budget() {
            let _ = b.try_withdraw(drain.min(b.available()));
        }
        let start = Instant::now();
        let mut rng = Rng::with_seed(seed);
        let mut call = Machine::new(&policy, start);
        let mut model = Model::new(&policy);
        let mut now = start;
        for &(step, busy) in &steps {
            now += ms(busy);
            let action = call.on_outcome(&step.verdict(), now, &mut rng);
            model.check(step, ms(busy), action, now)?;
            if let Action::Retry(r) = action {
                now += r.delay;
            }
        }
    }

    #[test]
    fn prop_attempts_never_exceed_max_attempts(policy in policy(), steps in steps(), seed: u64) {
        let actions = run(&policy, &steps, seed);
        let retries = actions.iter().filter(|a| a.retry().is_some()).count() as u32;
        prop_assert!(retries < policy.rules().max_attempts());
    }

    #[test]
    fn prop_no_retry_after_success_or_fatal(policy in policy(), steps in steps(), seed: u64) {
        let actions = run(&policy, &steps, seed);
        for (i, (step, _)) in steps.iter().enumerate() {
            if matches!(step, Step::Success | Step::Fatal) {
                prop_assert!(actions[i..].iter().all(Action::is_stop));
            }
        }
    }

    #[test]
    fn prop_stop_repeats_and_nothing_follows(policy in policy(), steps in steps(), seed: u64) {
        let actions = run(&policy, &steps, seed);
        if let Some(first) = actions.iter().position(Action::is_stop) {
            prop_assert!(actions[first..].iter().all(|a| *a == actions[first]));
        }
    }

    #[test]
    fn prop_same_seed_same_schedule(steps in steps(), seed: u64, preset in prop::sample::select(Preset::ALL.to_vec())) {
        // Each run gets its own policy, hence its own full budget.
        let a = run(&Policy::preset(preset), &steps, seed);
        let b = run(&Policy::preset(preset), &steps, seed);
        prop_assert_eq!(a, b);
    }

    #[test]
    fn prop_hinted_delays_stay_within_spread(wait_ms in 0u64..200_000, seed: u64, clamp: bool) {
        let policy = Policy::builder()
            .max_attempts(2)
            .on_long_hint(if clamp { OnLongHint::Clamp } else { OnLongHint::Stop })
            .build()
            .unwrap();
        let actions = run(&policy, &[(Step::Hinted(ms(wait_ms)), 0)], seed);
        let max = policy.rules().max_hint();
        match actions[0] {
            Action::Retry(r) => {
                let hint = ms(wait_ms).min(max);
                let spread = (hint / 10).min(Duration::from_secs(1));
                prop_assert!(hint <= r.delay && r.delay <= hint + spread);
                prop_assert!(r.delay <= max + spread);
            }
            Action::Stop(s) => {
                prop_assert!(!clamp && ms(wait_ms) > max);
                prop_assert_eq!(s, Stop::HintTooLong { asked: ms(wait_ms), max });
            }
        }
    }

    #[test]
    fn prop_stop_reason_follows_priority(
        attempts_left in 0u32..2,
        hint_too_long: bool,
        past_deadline: bool,
        broke: bool,
    ) {
        // One failed attempt for which any subset of the reasons applies: the first in
        // the design's order must be given, and the budget charged only for a real retry.
        let policy = Policy::builder()
            .max_attempts(1 + attempts_left)
            .max_hint(Duration::from_secs(10))
            .max_elapsed(Duration::from_secs(20))
            .budget(BudgetConfig::new(5, 5, 5, 1))
            .build()
            .unwrap();
        let budget = policy.rules().budget().unwrap().clone();
        if broke {
            assert!(budget.try_withdraw(5));
        }
        let wait = if hint_too_long { Duration::from_secs(11) } else { Duration::from_secs(5) };
        let busy = if past_deadline { Duration::from_secs(19) } else { Duration::ZERO };
        let start = Instant::now();
        let mut call = Machine::new(&policy, start);
        let v = Step::Hinted(wait).verdict();
        let action = call.on_outcome(&v, start + busy, &mut Rng::with_seed(1));
        let expected = if attempts_left == 0 {
            Some(StopReason::AttemptsExhausted)
        } else if hint_too_long {
            Some(StopReason::HintTooLong)
        } else if past_deadline {
            Some(StopReason::DeadlineExceeded)
        } else if broke {
            Some(StopReason::BudgetExhausted)
        } else {
            None
        };
        prop_assert_eq!(action.stop().map(Stop::reason), expected);
        let left = if broke { 0 } else { 5 };
        let charged = if expected.is_none() { 5 } else { 0 };
        prop_assert_eq!(budget.available(), left - charged);
    }
}

/// The failures a real incident produces, as the adaptive budget tells them apart: the
/// statuses 500, 502, 503, 504 and 529, a 429 without and with a wait, an
/// `overloaded_error` body, a timeout, a refused connection, a reset; and an answer that
/// is no failure of the server (a 404) and a fatal failure that is one.
fn incident_verdict() -> impl Strategy<Value = Verdict> {
    let hinted = Verdict::Retryable {
        cause: Cause::status(429),
        hint: Some(Hint {
            wait: Duration::from_secs(1),
            source: HintSource::RetryAfter,
        }),
    };
    prop::sample::select(vec![
        Verdict::retryable(Cause::status(500)),
        Verdict::retryable(Cause::status(502)),
        Verdict::retryable(Cause::status(503)),
        Verdict::retryable(Cause::status(504)),
        Verdict::retryable(Cause::status(529)),
        Verdict::retryable(Cause::status(429)),
        hinted,
        Verdict::retryable(Cause::status(200).with_error_type(ErrorType::Overloaded)),
        Verdict::retryable(Cause::transport(Transport::Timeout)),
        Verdict::retryable(Cause::transport(Transport::Connect)),
        Verdict::retryable(Cause::transport(Transport::Reset)),
        Verdict::fatal(Cause::status(404)),
        Verdict::fatal(Cause::transport(Transport::Connect)),
    ])
}

/// A stretch of a process's life: `calls` calls, `every` apart, each attempt of which
/// fails with `failure` never (healthy: 1 in 10), always (an outage) or half the time (a
/// brown-out), the coins drawn from `seed`.
#[derive(Clone, Copy, Debug)]
struct Stretch {
    share: f64,
    failure: Verdict,
    calls: u32,
    every: Duration,
    seed: u64,
}

fn stretches() -> impl Strategy<Value = Vec<Stretch>> {
    let stretch = (
        prop::sample::select(vec![0.1, 1.0, 0.5]),
        incident_verdict(),
        1u32..25,
        prop_oneof![0u64..2_000, 2_000u64..60_000, 60_000u64..600_000],
        any::<u64>(),
    )
        .prop_map(|(share, failure, calls, every, seed)| Stretch {
            share,
            failure,
            calls,
            every: ms(every),
            seed,
        });
    prop::collection::vec(stretch, 1..8)
}

/// `Policy::default()`, or a policy with the default's adaptive budget or another adaptive
/// budget and any number of attempts.
fn adaptive_policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        // Made anew for each case: clones of one policy share its budget.
        Just(()).prop_map(|()| Policy::default()),
        (1u32..7, budget_config()).prop_filter_map("not adaptive", |(attempts, budget)| {
            (budget.kind == BudgetKind::Adaptive)
                .then(|| {
                    Policy::builder()
                        .max_attempts(attempts)
                        .budget(budget)
                        .build()
                        .ok()
                })
                .flatten()
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The default budget against its model (`tests/adaptive_model/`) over a process's
    /// calls: healthy stretches, outages and brown-outs of every failure kind, callers
    /// rare and busy. Every decision comes at least a thousandth of the window after the
    /// previous one, so that every decision folds the window: the model's numbers are then
    /// the rule's exactly (up to float rounding, allowed for within a hair of a boundary),
    /// with no fold reused.
    #[test]
    fn prop_default_budget_matches_its_model(policy in adaptive_policy(), stretches in stretches(), seed: u64) {
        let budget = adaptive(&policy).expect("an adaptive budget");
        let spacing = budget.config().window / 1000;
        let mut model = checks::adaptive_model::Model::new(budget.config());
        let mut rng = Rng::with_seed(seed);
        let mut now = Instant::now();
        let mut decisions = 0u32;
        for s in &stretches {
            let mut coins = Rng::with_seed(s.seed);
            for _ in 0..s.calls {
                now += s.every.max(spacing);
                let mut call = Machine::new(&policy, now);
                let mut first = true;
                loop {
                    let verdict = if coins.f64() < s.share { s.failure } else { Verdict::Success };
                    let action = call.on_outcome(&verdict, now, &mut rng);
                    decisions += u32::from(verdict != Verdict::Success);
                    checks::adaptive_outcome(&mut model, &verdict, action, first, now);
                    prop_assert_eq!(budget.take_local_deltas(), model.take(), "counts");
                    first = false;
                    match action {
                        Action::Retry(r) => now += r.delay.max(spacing),
                        Action::Stop(_) => break,
                    }
                }
            }
        }
        prop_assert_eq!(model.lost, None);
        prop_assert_eq!(model.reused, 0, "every decision folds, as spaced");
        let _ = decisions;
    }
}

/// The `machine` fuzz target's checks (`fuzz/checks.rs`: the adaptive budget against its
/// model among them) on generated scripts for adaptive policies, since cargo-fuzz does not
/// run everywhere: a policy of 1 to 7 attempts with the default budget or other settings,
/// then healthy, failing and mixed stretches of every step kind, on waits from nothing to
/// minutes.
#[test]
fn the_fuzz_checks_hold_on_generated_adaptive_scripts() {
    for seed in 0..2000u64 {
        let mut rng = Rng::with_seed(seed);
        // Flags 0x41: the adaptive budget, attempts in one byte. Exponential from 100 ms to
        // 10 s, factor 2, full jitter, `max_hint` 60 s.
        let mut data = vec![
            0x41,
            rng.u8(1..8),
            0,
            1,
            100,
            0,
            1,
            0x10,
            0x27,
            0,
            1,
            3,
            60,
            0,
        ];
        let settings = rng.u8(..);
        data.push(settings);
        if !settings.is_multiple_of(4) {
            data.extend((0..4).map(|_| rng.u8(..)));
        }
        data.extend_from_slice(&rng.u64(..).to_le_bytes());
        let healthy = rng.f64();
        for _ in 0..rng.usize(10..250) {
            let op = if rng.f64() < healthy { 0 } else { rng.u8(..) };
            data.push(op);
            match rng.u8(0..10) {
                0 => data.push(0),
                1..=7 => {
                    data.push(1);
                    data.extend_from_slice(&rng.u16(0..3000).to_le_bytes());
                }
                _ => {
                    data.push(2);
                    data.extend_from_slice(&rng.u16(0..200).to_le_bytes());
                }
            }
            if op % 8 == 5 || op % 8 == 7 {
                // A hint of a few seconds.
                data.push(3);
                data.extend_from_slice(&rng.u16(0..5).to_le_bytes());
            }
        }
        if std::panic::catch_unwind(|| checks::machine(&data)).is_err() {
            panic!("seed {seed}: {data:?}");
        }
    }
}

#[test]
fn a_wait_may_end_exactly_at_max_elapsed_but_not_a_nanosecond_later() {
    let policy = Policy::builder()
        .curve(Curve::Constant)
        .base(Duration::from_secs(1))
        .jitter(Jitter::None)
        .max_elapsed(Duration::from_secs(3))
        .build()
        .unwrap();
    let start = Instant::now();
    let busy = Step::Retryable.verdict();
    let mut rng = Rng::with_seed(1);
    let on_time =
        Machine::new(&policy, start).on_outcome(&busy, start + Duration::from_secs(2), &mut rng);
    assert!(on_time.retry().is_some());
    let late = start + Duration::from_secs(2) + Duration::from_nanos(1);
    let action = Machine::new(&policy, start).on_outcome(&busy, late, &mut rng);
    assert_eq!(
        action,
        Action::Stop(Stop::DeadlineExceeded {
            elapsed: Duration::from_secs(2) + Duration::from_nanos(1),
            wait: Duration::from_secs(1),
            limit: Duration::from_secs(3),
        })
    );
}

#[test]
fn not_retryable_comes_first() {
    let policy = Policy::builder().max_attempts(1).build().unwrap();
    let action = run(&policy, &[(Step::Fatal, 0)], 0);
    assert_eq!(
        action[0].stop().map(Stop::reason),
        Some(StopReason::NotRetryable)
    );
}

#[test]
fn a_first_attempt_success_refunds_one_token() {
    let policy = aws_bucket();
    let budget = policy.rules().budget().unwrap().clone();
    assert!(budget.try_withdraw(10));
    run(&policy, &[(Step::Success, 0)], 1);
    assert_eq!(budget.available(), 491);
}

#[test]
fn a_success_after_retries_refunds_what_they_took() {
    let policy = Policy::builder()
        .max_attempts(4)
        .budget(BudgetConfig::aws())
        .build()
        .unwrap();
    let budget = policy.rules().budget().unwrap().clone();
    assert!(budget.try_withdraw(100));
    run(
        &policy,
        &[(Step::Retryable, 0), (Step::Timeout, 0), (Step::Success, 0)],
        1,
    );
    // 5 for the 503, 10 after the timeout, both given back.
    assert_eq!(budget.available(), 400);
}

#[test]
fn a_failed_call_keeps_what_its_retries_took() {
    let policy = aws_bucket();
    let budget = policy.rules().budget().unwrap().clone();
    run(
        &policy,
        &[
            (Step::Retryable, 0),
            (Step::Timeout, 0),
            (Step::Retryable, 0),
        ],
        1,
    );
    assert_eq!(budget.available(), 485);
}

#[test]
fn an_empty_budget_never_blocks_a_first_attempt_and_refills_on_success() {
    let policy = Policy::builder()
        .budget(BudgetConfig::new(5, 5, 5, 1))
        .build()
        .unwrap();
    let budget = policy.rules().budget().unwrap().clone();
    assert!(budget.try_withdraw(5));
    let actions = run(&policy, &[(Step::Retryable, 0)], 1);
    assert_eq!(
        actions[0],
        Action::Stop(Stop::BudgetExhausted {
            cost: 5,
            available: 0
        })
    );
    // A new call still makes its first attempt, and its success adds a token.
    run(&policy, &[(Step::Success, 0)], 1);
    assert_eq!(budget.available(), 1);
}

#[test]
fn clones_share_one_budget() {
    let policy = aws_bucket();
    let clone = policy.clone();
    run(&clone, &[(Step::Retryable, 0)], 1);
    assert_eq!(policy.rules().budget().unwrap().available(), 495);
    // Two presets built separately do not share.
    assert_eq!(aws_bucket().rules().budget().unwrap().available(), 500);
}

/// The default policy with the AWS SDKs' bucket (the `aws` kind), whose tokens the tests
/// above count.
fn aws_bucket() -> Policy {
    Policy::builder()
        .budget(BudgetConfig::aws())
        .build()
        .unwrap()
}

#[test]
fn a_disabled_budget_never_stops_a_call() {
    let policy = Policy::builder()
        .max_attempts(1_000)
        .no_budget()
        .build()
        .unwrap();
    let steps = vec![(Step::Timeout, 0); 999];
    let actions = run(&policy, &steps, 1);
    assert!(actions.iter().all(|a| a.retry().is_some()));
}

#[test]
fn default_schedule_doubles_under_full_jitter() {
    // Full jitter draws retry i uniformly from [0, min(8s, 500ms × 2^(i−1))]: over many
    // seeds the largest draw of each retry comes close to its bound, which doubles. A
    // constant or linear curve, or a jitter that never reaches d, would fall short.
    let policy = Policy::builder()
        .max_attempts(6)
        .no_budget()
        .build()
        .unwrap();
    let mut largest = [Duration::ZERO; 5];
    for seed in 0..400 {
        let actions = run(&policy, &[(Step::Retryable, 0); 5], seed);
        for (i, a) in actions.iter().enumerate() {
            let r = a.retry().unwrap();
            assert_eq!(
                r.to_string().split("; ").nth(1),
                Some(&*format!("backoff {} of 5", i + 1))
            );
            largest[i] = largest[i].max(r.delay);
        }
    }
    for (i, got) in largest.into_iter().enumerate() {
        let bound = ms(500 << i).min(Duration::from_secs(8));
        assert!(
            got <= bound && got >= bound.mul_f64(0.97),
            "retry {}: largest of 400 draws {got:?}, bound {bound:?}",
            i + 1
        );
    }
}

/// Each jitter's distribution, from seeded draws: the smallest and largest land near the
/// ends of the design's range and the mean near its middle (all draws are uniform), so a
/// jitter that always answered one end, or a narrower range, fails.
#[test]
fn each_jitter_spreads_over_the_designs_range() {
    let (base, cap, d) = (
        Duration::from_secs(1),
        Duration::from_secs(100),
        Duration::from_secs(4),
    );
    let previous = Duration::from_secs(5);
    let cases = [
        (Jitter::None, d, d),
        (Jitter::Full, Duration::ZERO, d),
        (Jitter::Equal, d / 2, d),
        (Jitter::Proportional(0.25), d.mul_f64(0.75), d),
        (Jitter::Decorrelated, base, previous * 3),
    ];
    for (jitter, low, high) in cases {
        let policy = Policy::builder()
            .base(base)
            .cap(cap)
            .factor(2.0)
            .jitter(jitter)
            .build()
            .unwrap();
        let b = policy.rules().backoff();
        let mut rng = Rng::with_seed(11);
        let draws: Vec<Duration> = (0..20_000)
            .map(|_| b.delay(3, previous, &mut rng))
            .collect();
        let min = *draws.iter().min().unwrap();
        let max = *draws.iter().max().unwrap();
        let mean = draws.iter().sum::<Duration>() / draws.len() as u32;
        let slack = (high - low) / 100;
        assert!(
            min >= low && min <= low + slack,
            "{jitter:?}: min {min:?} vs {low:?}"
        );
        assert!(
            max <= high && max + slack >= high,
            "{jitter:?}: max {max:?} vs {high:?}"
        );
        let middle = (low + high) / 2;
        let off = mean.abs_diff(middle);
        assert!(off <= slack, "{jitter:?}: mean {mean:?} vs {middle:?}");
    }
}

proptest! {
    /// Retry n's delay without jitter is the design's formula for any curve and factor.
    #[test]
    fn prop_unjittered_delays_follow_the_formula(
        curve in prop_oneof![Just(Curve::Exponential), Just(Curve::Constant), Just(Curve::Linear)],
        base in 0u64..5_000,
        extra in 0u64..60_000,
        factor in 0.05f64..10.0,
        seed: u64,
    ) {
        let (base, cap) = (ms(base), ms(base + extra));
        let policy = Policy::builder()
            .max_attempts(12)
            .curve(curve)
            .base(base)
            .cap(cap)
            .factor(factor)
            .jitter(Jitter::None)
            .no_budget()
            .build()
            .unwrap();
        let actions = run(&policy, &[(Step::Retryable, 0); 11], seed);
        for (i, a) in actions.iter().enumerate() {
            let n = i as u32 + 1;
            let delay = a.retry().unwrap().delay;
            let (low, high) = checks::raw_delay_oracle(curve, base, cap, factor, n);
            prop_assert!(low <= delay && delay <= high, "retry {}: {:?} not in [{:?}, {:?}]", n, delay, low, high);
        }
    }

    /// The design's stop order for one failed attempt, under random limits: the first of
    /// not_retryable, attempts_exhausted, hint_too_long, deadline_exceeded,
    /// budget_exhausted that applies is given, and only a retry really made is charged.
    #[test]
    fn prop_stop_order_under_random_configurations(
        fatal: bool,
        attempts_left in 0u32..3,
        max_hint_s in 1u64..100,
        hint_too_long: bool,
        past_deadline: bool,
        broke: bool,
        cost in 1u32..20,
        extra_tokens in 0u32..50,
        limit_s in 200u64..1_000,
    ) {
        let max_hint = Duration::from_secs(max_hint_s);
        let limit = Duration::from_secs(limit_s);
        let capacity = cost + extra_tokens;
        let policy = Policy::builder()
            .max_attempts(1 + attempts_left)
            .max_hint(max_hint)
            .max_elapsed(limit)
            .budget(BudgetConfig::new(capacity, cost, cost, 1))
            .build()
            .unwrap();
        let budget = policy.rules().budget().unwrap().clone();
        let broke_by = if broke { capacity - cost + 1 } else { 0 };
        assert!(budget.try_withdraw(broke_by));
        let wait = if hint_too_long { max_hint + ms(1) } else { max_hint / 2 };
        // The honoured wait lies in [wait, wait + 1s]: past the limit either way, or
        // within it either way.
        let busy = if past_deadline { limit - wait / 2 } else { limit - wait - Duration::from_secs(2) };
        let verdict = if fatal { Step::Fatal.verdict() } else { Step::Hinted(wait).verdict() };
        let start = Instant::now();
        let action = Machine::new(&policy, start).on_outcome(&verdict, start + busy, &mut Rng::with_seed(3));
        let expected = [
            (fatal, StopReason::NotRetryable),
            (attempts_left == 0, StopReason::AttemptsExhausted),
            (hint_too_long, StopReason::HintTooLong),
            (past_deadline, StopReason::DeadlineExceeded),
            (broke, StopReason::BudgetExhausted),
        ]
        .into_iter()
        .find_map(|(applies, reason)| applies.then_some(reason));
        prop_assert_eq!(action.stop().map(Stop::reason), expected);
        let charged = if expected.is_none() { cost } else { 0 };
        prop_assert_eq!(budget.available(), capacity - broke_by - charged);
    }
}

#[test]
fn a_zero_hint_waits_exactly_zero() {
    // "A hint of zero means retry at once, with no spread."
    for seed in 0..50 {
        let actions = run(
            &Policy::default(),
            &[(Step::Hinted(Duration::ZERO), 0)],
            seed,
        );
        assert_eq!(actions[0].retry().map(|r| r.delay), Some(Duration::ZERO));
    }
}

#[test]
fn a_hint_exactly_at_max_hint_is_honoured_and_one_past_it_stops() {
    let policy = Policy::default();
    let max = Duration::from_secs(60);
    for seed in 0..50 {
        let r = *run(&Policy::default(), &[(Step::Hinted(max), 0)], seed)[0]
            .retry()
            .expect("a hint of exactly max_hint is honoured");
        assert!(
            r.delay >= max && r.delay <= max + Duration::from_secs(1),
            "{r:?}"
        );
        assert!(matches!(r.basis, Basis::Hint(h) if h.wait == max), "{r:?}");
    }
    let past = max + Duration::from_nanos(1);
    assert_eq!(
        run(&policy, &[(Step::Hinted(past), 0)], 1)[0],
        Action::Stop(Stop::HintTooLong { asked: past, max })
    );
}

#[test]
fn long_hints_stop_or_clamp() {
    let stop = Policy::default();
    let hour = Duration::from_secs(3600);
    let actions = run(&stop, &[(Step::Hinted(hour), 0)], 1);
    assert_eq!(
        actions[0],
        Action::Stop(Stop::HintTooLong {
            asked: hour,
            max: Duration::from_secs(60)
        })
    );
    let clamp = Policy::builder()
        .on_long_hint(OnLongHint::Clamp)
        .build()
        .unwrap();
    let r = *run(&clamp, &[(Step::Hinted(hour), 0)], 1)[0]
        .retry()
        .unwrap();
    assert!(r.delay >= Duration::from_secs(60) && r.delay <= Duration::from_secs(61));
    assert!(
        r.to_string()
            .ends_with("server asked 1h (retry-after), clamped to max_hint 1m"),
        "{r}"
    );
}

#[test]
fn time_going_backwards_is_harmless() {
    let policy = Policy::builder()
        .max_elapsed(Duration::from_secs(10))
        .build()
        .unwrap();
    let start = Instant::now() + Duration::from_secs(100);
    let mut call = Machine::new(&policy, start);
    let earlier = start - Duration::from_secs(50);
    let a = call.on_outcome(&Step::Retryable.verdict(), earlier, &mut Rng::with_seed(1));
    assert!(a.retry().is_some());
}

/// The presets, row by row, as the design's table gives them.
#[test]
fn presets_match_the_design_table() {
    let rows = [
        (
            Preset::Default,
            500,
            8,
            Jitter::Full,
            false,
            "when_safe",
            60,
        ),
        (
            Preset::Anthropic,
            500,
            8,
            Jitter::Proportional(0.25),
            true,
            "always",
            60,
        ),
        (
            Preset::OpenAi,
            500,
            8,
            Jitter::Proportional(0.25),
            true,
            "always",
            120,
        ),
        (
            Preset::AwsStandard,
            1000,
            20,
            Jitter::Full,
            false,
            "when_safe",
            60,
        ),
    ];
    for (preset, base_ms, cap_s, jitter, llm, non_idem, max_hint) in rows {
        let p = Policy::preset(preset);
        let (r, c) = (p.rules(), p.classifier());
        assert_eq!(r.max_attempts(), 3, "{preset}");
        assert_eq!(r.backoff().curve(), Curve::Exponential);
        assert_eq!(r.backoff().factor(), 2.0);
        assert_eq!(r.backoff().base(), ms(base_ms), "{preset}");
        assert_eq!(r.backoff().cap(), Duration::from_secs(cap_s), "{preset}");
        assert_eq!(r.backoff().jitter(), jitter, "{preset}");
        assert_eq!(c.non_idempotent().as_str(), non_idem, "{preset}");
        assert_eq!(r.max_hint(), Duration::from_secs(max_hint), "{preset}");
        assert_eq!(r.on_long_hint(), OnLongHint::Stop);
        assert_eq!(r.max_elapsed(), None);
        assert!(c.honor_hints());
        // aws-standard keeps the AWS SDKs' bucket; the others the adaptive budget.
        let budget = if preset == Preset::AwsStandard {
            BudgetConfig::aws()
        } else {
            BudgetConfig::adaptive()
        };
        assert_eq!(*r.budget_config(), budget, "{preset}");
        let beyond: Vec<u16> = [409, 501, 505, 599]
            .into_iter()
            .filter(|&s| c.retry_status().contains(s))
            .collect();
        assert_eq!(!beyond.is_empty(), llm, "{preset}: {beyond:?}");
        if llm {
            assert_eq!(beyond, [409, 501, 505, 599]);
        }
        for s in [408, 425, 429, 500, 502, 503, 504, 529] {
            assert!(c.retry_status().contains(s), "{preset} {s}");
        }
    }
}

#[test]
fn validation_names_the_key_and_the_rule() {
    let cases: Vec<(PolicyBuilder, &str)> = vec![
        (
            Policy::builder().max_attempts(0),
            "max_attempts: must be at least 1, got 0",
        ),
        (
            Policy::builder().max_elapsed(Duration::ZERO),
            "max_elapsed: must be more than 0s, got 0s",
        ),
        (
            Policy::builder().base(ms(200)).cap(ms(100)),
            "backoff.cap: must be >= base (200ms), got 100ms",
        ),
        (
            Policy::builder().factor(0.0),
            "backoff.factor: must be a finite number > 0, got 0.0",
        ),
        (
            Policy::builder().factor(-2.0),
            "backoff.factor: must be a finite number > 0, got -2.0",
        ),
        (
            Policy::builder().factor(f64::NAN),
            "backoff.factor: must be a finite number > 0, got NaN",
        ),
        (
            Policy::builder().factor(f64::INFINITY),
            "backoff.factor: must be a finite number > 0, got inf",
        ),
        (
            Policy::builder().jitter(Jitter::Proportional(1.5)),
            "backoff.jitter_ratio: must be between 0 and 1, got 1.5",
        ),
        (
            Policy::builder().jitter(Jitter::Proportional(f64::NAN)),
            "backoff.jitter_ratio: must be between 0 and 1, got NaN",
        ),
        (
            Policy::builder().retry_status([429, 700]),
            "classify.retry_status: must be status codes from 100 to 599, got 700",
        ),
        (
            Policy::builder().budget(BudgetConfig::new(0, 0, 0, 0)),
            "budget.capacity: must be at least 1 when the budget is enabled, got 0",
        ),
        (
            Policy::builder().budget(BudgetConfig::new(4, 5, 1, 1)),
            "budget.retry_cost: must be <= capacity (4), got 5",
        ),
        (
            Policy::builder().budget(BudgetConfig::new(8, 5, 10, 1)),
            "budget.timeout_cost: must be <= capacity (8), got 10",
        ),
    ];
    for (builder, message) in cases {
        assert_eq!(builder.build().unwrap_err().to_string(), message);
    }
    // A disabled budget's numbers are not checked.
    assert!(Policy::builder()
        .budget(BudgetConfig::new(0, 9, 9, 9).disabled())
        .build()
        .is_ok());
    // A later retry_status without the bad code clears the error.
    assert!(Policy::builder()
        .retry_status([700])
        .retry_status([429])
        .build()
        .is_ok());
}

/// An adapter that settles a first-attempt success without a machine (and so without a
/// clock) must leave the budget as a machine would have.
#[test]
fn first_success_settles_like_a_machine() {
    use redial::machine::Machine;
    use redial::Stop;
    let policy = aws_bucket();
    let budget = policy.rules().budget().expect("the policy has a budget");
    assert!(budget.try_withdraw(20));
    let before = budget.available();

    let stop = Machine::<&Policy>::first_success(policy.rules());
    assert_eq!(stop, Stop::Succeeded { attempts: 1 });
    let refund = budget.available() - before;

    let mut call = Machine::new(&policy, std::time::Instant::now());
    let action = call.on_outcome(
        &redial::Verdict::Success,
        std::time::Instant::now(),
        &mut fastrand::Rng::with_seed(1),
    );
    assert_eq!(action.stop(), Some(&stop));
    assert_eq!(budget.available() - before, 2 * refund);
    assert_eq!(refund, policy.rules().budget_config().success_refund);
}
