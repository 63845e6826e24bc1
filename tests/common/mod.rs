//! The retry scenarios every adapter replays (tokio, async-io, futures-executor, blocking),
//! and the core's own decisions on them, which each adapter must reach exactly.
#![allow(dead_code)]

pub mod clock;
pub mod server;
pub mod sse;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use http::{HeaderMap, Method, Response};
use redial::classify::{Outcome, RequestFacts};
use redial::machine::Action;
use redial::sleep::Sleeper;
use redial::{HttpOutcome, Last, RetryError, Retryable};
use redial::{Policy, Preset, StopReason, Transport};

/// A response that borrows headers built beforehand, so making one allocates nothing and
/// costs nothing to speak of: what the allocation and clock tests return from attempts.
#[derive(Clone, Copy, Debug)]
pub struct Canned<'a> {
    pub status: http::StatusCode,
    pub headers: &'a HeaderMap,
}

impl HttpOutcome for Canned<'_> {
    fn outcome(&self) -> Outcome<'_> {
        Outcome::response(self.status, self.headers)
    }
    fn request_id(&self) -> Option<&str> {
        redial::classify::request_id(self.headers)
    }
}

/// One scripted attempt.
#[derive(Clone, Copy, Debug)]
pub enum Step {
    /// A response with this status and these headers.
    Status(u16, &'static [(&'static str, &'static str)]),
    /// A transport failure.
    Fail(Transport),
}

impl Step {
    pub fn result(&self) -> Result<Response<()>, Transport> {
        match *self {
            Step::Status(status, headers) => {
                let mut builder = Response::builder().status(status);
                for (k, v) in headers {
                    builder = builder.header(*k, *v);
                }
                builder.body(()).map_err(|_| Transport::Other)
            }
            Step::Fail(kind) => Err(kind),
        }
    }
}

/// A scenario: a policy, a request, the attempts' outcomes in order, and what must happen.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: &'static str,
    pub preset: Preset,
    pub method: Method,
    pub steps: &'static [Step],
    pub ok: bool,
    pub reason: StopReason,
    pub attempts: u32,
}

impl Scenario {
    /// A fast version of the preset, so real timers finish in milliseconds.
    pub fn policy(&self) -> Policy {
        self.preset
            .builder()
            .base(Duration::from_millis(2))
            .cap(Duration::from_millis(20))
            .build()
            .expect("valid policy")
    }

    pub fn facts(&self) -> RequestFacts {
        RequestFacts::new(&self.method)
    }

    pub fn seed(&self) -> u64 {
        self.name.len() as u64 * 7919
    }
}

const RETRY_AFTER_30MS: &[(&str, &str)] = &[("retry-after-ms", "30")];
const RETRY_AFTER_HOUR: &[(&str, &str)] = &[("retry-after", "3600")];
const NONE: &[(&str, &str)] = &[];
const ID_A: &[(&str, &str)] = &[("request-id", "req_a")];
const ID_B: &[(&str, &str)] = &[("request-id", "req_b")];
const ID_C: &[(&str, &str)] = &[("request-id", "req_c")];

pub fn scenarios() -> Vec<Scenario> {
    use Step::*;
    let s = |name, preset, method, steps, ok, reason, attempts| Scenario {
        name,
        preset,
        method,
        steps,
        ok,
        reason,
        attempts,
    };
    vec![
        s(
            "get_503_then_200",
            Preset::Default,
            Method::GET,
            &[Status(503, NONE), Status(200, NONE)],
            true,
            StopReason::Succeeded,
            2,
        ),
        s(
            "post_529_until_attempts_run_out",
            Preset::Anthropic,
            Method::POST,
            &[Status(529, NONE), Status(529, NONE), Status(529, NONE)],
            false,
            StopReason::AttemptsExhausted,
            3,
        ),
        s(
            "get_400_is_not_retried",
            Preset::Default,
            Method::GET,
            &[Status(400, NONE)],
            false,
            StopReason::NotRetryable,
            1,
        ),
        s(
            "get_429_waits_retry_after_ms",
            Preset::Default,
            Method::GET,
            &[Status(429, RETRY_AFTER_30MS), Status(200, NONE)],
            true,
            StopReason::Succeeded,
            2,
        ),
        s(
            "post_500_not_retried_by_default",
            Preset::Default,
            Method::POST,
            &[Status(500, NONE)],
            false,
            StopReason::NotRetryable,
            1,
        ),
        s(
            "post_500_retried_by_anthropic",
            Preset::Anthropic,
            Method::POST,
            &[Status(500, NONE), Status(200, NONE)],
            true,
            StopReason::Succeeded,
            2,
        ),
        s(
            "post_connect_failure_is_retried",
            Preset::Default,
            Method::POST,
            &[Fail(Transport::Connect), Status(201, NONE)],
            true,
            StopReason::Succeeded,
            2,
        ),
        s(
            "post_reset_is_not_retried_by_default",
            Preset::Default,
            Method::POST,
            &[Fail(Transport::Reset)],
            false,
            StopReason::NotRetryable,
            1,
        ),
        s(
            "get_reset_then_200",
            Preset::Default,
            Method::GET,
            &[Fail(Transport::Reset), Status(200, NONE)],
            true,
            StopReason::Succeeded,
            2,
        ),
        s(
            "hour_long_retry_after_stops",
            Preset::Default,
            Method::GET,
            &[Status(503, RETRY_AFTER_HOUR)],
            false,
            StopReason::HintTooLong,
            1,
        ),
        s(
            "request_ids_are_kept",
            Preset::Default,
            Method::GET,
            &[Status(502, ID_A), Status(502, ID_B), Status(502, ID_C)],
            false,
            StopReason::AttemptsExhausted,
            3,
        ),
    ]
}

/// The waits and the stop the core itself decides for a scenario, with the same seed.
pub fn core_decisions(s: &Scenario) -> (Vec<Duration>, StopReason) {
    let policy = s.policy();
    let mut rng = fastrand::Rng::with_seed(s.seed());
    let start = Instant::now();
    let mut machine = policy.start(start);
    let mut waits = Vec::new();
    for step in s.steps {
        let result = step.result();
        let empty = HeaderMap::new();
        let outcome = match &result {
            Ok(r) => Outcome::response(r.status(), r.headers()),
            Err(kind) => Outcome::Transport(*kind),
        };
        let _ = &empty;
        let verdict = policy.classify(&s.facts(), &outcome, SystemTime::now());
        match machine.on_outcome(&verdict, start, &mut rng) {
            Action::Retry(r) => waits.push(r.delay),
            Action::Stop(stop) => return (waits, stop.reason()),
        }
    }
    panic!("{}: the script ran out before the machine stopped", s.name);
}

/// What an adapter did with a scenario.
#[derive(Debug)]
pub struct Run {
    pub result: Result<Response<()>, RetryError<Transport, Response<()>>>,
    pub waits: Vec<Duration>,
    pub calls: u32,
    pub notified: Vec<u32>,
}

/// Checks a run against the scenario and the core's own decisions.
pub fn check(s: &Scenario, run: &Run) {
    let (core_waits, core_reason) = core_decisions(s);
    assert_eq!(
        run.waits, core_waits,
        "{}: waits differ from the core's",
        s.name
    );
    assert_eq!(
        core_reason, s.reason,
        "{}: the scenario disagrees with the core",
        s.name
    );
    assert_eq!(run.calls, s.attempts, "{}: attempts made", s.name);
    let expected_notes: Vec<u32> = (1..s.attempts).collect();
    match &run.result {
        Ok(response) => {
            assert!(s.ok, "{}: succeeded, expected {:?}", s.name, s.reason);
            assert!(response.status().is_success());
            if s.attempts > 1 {
                assert_eq!(run.notified, expected_notes, "{}: notify per retry", s.name);
            }
        }
        Err(err) => {
            assert!(!s.ok, "{}: failed with {err}", s.name);
            assert_eq!(err.reason(), s.reason, "{}: {err}", s.name);
            assert_eq!(err.attempts(), s.attempts, "{}: {err}", s.name);
            // The last attempt's own result is handed back, whichever it was.
            match (s.steps.last(), err.last()) {
                (Some(Step::Status(status, _)), Last::Response(r)) => {
                    assert_eq!(r.status().as_u16(), *status, "{}", s.name)
                }
                (Some(Step::Fail(kind)), Last::Error(e)) => assert_eq!(e, kind, "{}", s.name),
                (step, last) => panic!("{}: last step {step:?}, error holds {last:?}", s.name),
            }
            if s.name == "request_ids_are_kept" {
                let ids: Vec<&str> = err.request_ids().iter().collect();
                assert_eq!(ids, ["req_a", "req_b", "req_c"]);
            }
            assert_eq!(run.notified, expected_notes, "{}: notify per retry", s.name);
        }
    }
    for (wait, step) in run.waits.iter().zip(s.steps) {
        if let Step::Status(429, RETRY_AFTER_30MS) = step {
            // An honoured hint plus at most a tenth of it.
            assert!(*wait >= Duration::from_millis(30) && *wait <= Duration::from_millis(33));
        }
    }
}

/// A sleeper that records every wait and delegates to a real one (its clock too).
#[derive(Clone, Debug)]
pub struct Recording<S> {
    pub inner: S,
    pub waits: Arc<Mutex<Vec<Duration>>>,
}

impl<S> Recording<S> {
    pub fn new(inner: S) -> Self {
        Recording {
            inner,
            waits: Arc::default(),
        }
    }

    pub fn waits(&self) -> Vec<Duration> {
        self.waits.lock().expect("not poisoned").clone()
    }
}

impl<S: Sleeper> Sleeper for Recording<S> {
    type Sleep = S::Sleep;

    fn sleep(&self, duration: Duration) -> S::Sleep {
        self.waits.lock().expect("not poisoned").push(duration);
        self.inner.sleep(duration)
    }

    fn now(&self) -> Instant {
        self.inner.now()
    }
}

/// Runs a scenario through the retry future with this sleeper, on whatever executor
/// awaits it.
pub async fn run_async<S: Sleeper + Clone>(s: &Scenario, sleeper: S) -> (Run, S) {
    let policy = s.policy();
    let recording = Recording::new(sleeper.clone());
    let mut calls = 0u32;
    let mut notified = Vec::new();
    let steps = s.steps;
    let result = (|| {
        let step = steps.get(calls as usize).copied();
        calls += 1;
        async move { step.map_or(Err(Transport::Other), |s| s.result()) }
    })
    .retry(&policy)
    .facts(s.facts())
    .sleeper(recording.clone())
    .notify(|event| notified.push(event.attempt()))
    .rng(fastrand::Rng::with_seed(s.seed()))
    .await;
    let waits = recording.waits();
    (
        Run {
            result,
            waits,
            calls,
            notified,
        },
        sleeper,
    )
}

/// A policy that paces (waits of up to 5 s for a slot) and makes one attempt: a 429 comes
/// back to the test, and teaches the pacer of the request's scope.
pub fn paced_once() -> Policy {
    let mut rate = redial::pacer::PacerConfig::default();
    rate.max_wait = Duration::from_secs(5);
    Policy::builder()
        .pace(rate)
        .max_attempts(1)
        .build()
        .expect("a valid policy")
}
