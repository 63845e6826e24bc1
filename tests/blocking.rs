//! The shared scenarios through the blocking adapter, sleeping the thread.

mod common;

use std::time::Duration;

use redial::sleep::{BlockingSleeper, ThreadSleeper};
use redial::BlockingRetryable;
use redial::Transport;

#[test]
fn shared_scenarios_reach_the_cores_decisions() {
    for s in common::scenarios() {
        let policy = s.policy();
        let mut waits = Vec::new();
        let mut calls = 0u32;
        let mut notified = Vec::new();
        let result = (|| {
            let step = s.steps.get(calls as usize).copied();
            calls += 1;
            step.map_or(Err(Transport::Other), |s| s.result())
        })
        .retry(&policy)
        .facts(s.facts())
        .sleeper(|d: Duration| {
            waits.push(d);
            ThreadSleeper.sleep(d);
        })
        .notify(|event| notified.push(event.attempt()))
        .rng(fastrand::Rng::with_seed(s.seed()))
        .call();
        let run = common::Run {
            result,
            waits,
            calls,
            notified,
        };
        common::check(&s, &run);
    }
}
