//! Instructions per call of the adapter benches' bodies, for callgrind, which counts them
//! repeatably where wall time on a shared machine is not:
//!
//! ```sh
//! benches/instructions.sh            # every body, instructions per call
//! ```
//!
//! Run by hand, `cargo bench --bench instructions -- NAME` runs one body `CALLS` times in
//! a function of its own (`success::BODY` or `retry::BODY` for the names `success_BODY` and
//! `retry_BODY`), which the script tells callgrind to count. Without a name it runs each
//! once, as a smoke test, so that `cargo bench` passes through it.
//!
//! `decision_aws` and `decision_adaptive` are one retry decision each, as the `decision`
//! bench's `429 delay-seconds` rows make it (classify a 429 with `retry-after: 17`, a new
//! machine, its decision), with the AWS bucket (deep enough never to run dry) and with the
//! default `adaptive` budget. No call in that loop ever succeeds, so the adaptive budget
//! soon refuses about 9 decisions in 10, as it would a failing server's retries: the rows
//! compare a mostly refused decision with an allowed one. What an allowed adaptive retry
//! costs is `retry_redial_adaptive` against `retry_redial_http`.

mod common;

use std::cell::Cell;
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime};

use common::{calls, Canned};
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use redial::budget::BudgetConfig;
use redial::classify::{Outcome, RequestFacts};
use redial::{ErrorType, Policy, Transport};

/// The default (adaptive) budget's policy, made once: `redial_adaptive` shows what that
/// budget adds to `redial_http`, which runs with the AWS bucket.
fn adaptive() -> &'static Policy {
    static ADAPTIVE: std::sync::OnceLock<Policy> = std::sync::OnceLock::new();
    ADAPTIVE.get_or_init(common::adaptive_policy)
}

/// Calls per body: enough that setup is noise.
const CALLS: u32 = 100_000;

/// Each body, as `(name, run)`: `run` makes `calls` calls.
type Body = (&'static str, fn(&Policy, &HeaderMap, u32));

macro_rules! bodies {
    ($($name:ident: |$policy:ident, $op:ident| $call:expr;)*) => {
        mod success {
            use super::*;
            $(
                #[inline(never)]
                pub fn $name(policy: &Policy, headers: &HeaderMap, times: u32) {
                    let $policy = policy;
                    let $op = || async { Ok::<_, Transport>(black_box(Canned::ok(headers))) };
                    for _ in 0..times {
                        black_box($call);
                    }
                }
            )*
        }
        mod retry {
            use super::*;
            $(
                #[inline(never)]
                pub fn $name(policy: &Policy, headers: &HeaderMap, times: u32) {
                    let $policy = policy;
                    let n = Cell::new(0);
                    let flaky = common::flaky(&n, Canned::ok(headers));
                    for _ in 0..times {
                        n.set(0);
                        let $op = flaky.clone();
                        black_box($call);
                    }
                }
            )*
        }
        const BODIES: &[Body] = &[
            $((concat!("success_", stringify!($name)), success::$name),)*
            $((concat!("retry_", stringify!($name)), retry::$name),)*
        ];
    };
}

bodies! {
    hand_written: |policy, op| { let _ = policy; calls::hand_written(op) };
    redial_http: |policy, op| calls::redial_http(policy, op);
    redial_closure: |policy, op| calls::redial_closure(policy, op);
    redial_adaptive: |policy, op| { let _ = policy; calls::redial_http(adaptive(), op) };
    backon: |policy, op| { let _ = policy; calls::backon(op) };
    tower: |policy, op| { let _ = policy; calls::tower(op) };
}

/// One retry decision per call on a 429 with `retry-after: 17`, for a POST.
mod decision {
    use super::*;

    /// `times` decisions, each 1µs after the last, as calls come (the adaptive budget reads
    /// the time: at a frozen instant its window would never move).
    fn run(policy: &Policy, times: u32) {
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, HeaderValue::from_static("17"));
        let outcome = Outcome::response(StatusCode::TOO_MANY_REQUESTS, &headers)
            .with_error_type(ErrorType::RateLimit);
        let post = RequestFacts::new(&Method::POST);
        let wall = SystemTime::UNIX_EPOCH;
        let mut rng = fastrand::Rng::with_seed(7);
        let mut at = Instant::now();
        for _ in 0..times {
            at += Duration::from_micros(1);
            let verdict = policy.classify(black_box(&post), black_box(&outcome), wall);
            let mut call = policy.start(at);
            black_box(common::obey(call.on_outcome(&verdict, at, &mut rng)));
        }
    }

    #[inline(never)]
    pub fn aws(_: &Policy, _: &HeaderMap, times: u32) {
        let deep = common::build(Policy::builder().budget(BudgetConfig::new(u32::MAX, 5, 10, 1)));
        run(&deep, times);
    }

    #[inline(never)]
    pub fn adaptive(_: &Policy, _: &HeaderMap, times: u32) {
        run(&common::build(Policy::builder()), times);
    }
}

const DECISIONS: &[Body] = &[
    ("decision_aws", decision::aws),
    ("decision_adaptive", decision::adaptive),
];

fn main() {
    let policy = common::adapter_policy();
    let headers = HeaderMap::new();
    // `cargo bench` passes `--bench`; a name picks one body.
    let name = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    for (body, run) in BODIES.iter().chain(DECISIONS) {
        match &name {
            Some(n) if n == body => run(&policy, &headers, CALLS),
            Some(_) => {}
            None => run(&policy, &headers, 1),
        }
    }
}
