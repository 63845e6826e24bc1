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

mod common;

use std::cell::Cell;
use std::hint::black_box;

use common::{calls, Canned};
use http::HeaderMap;
use redial::{Policy, Transport};

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

fn main() {
    let policy = common::adapter_policy();
    let headers = HeaderMap::new();
    // `cargo bench` passes `--bench`; a name picks one body.
    let name = std::env::args().skip(1).find(|a| !a.starts_with('-'));
    for (body, run) in BODIES {
        match &name {
            Some(n) if n == body => run(&policy, &headers, CALLS),
            Some(_) => {}
            None => run(&policy, &headers, 1),
        }
    }
}
