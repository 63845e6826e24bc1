//! The shared scenarios on smol, with async-io's timer.

mod common;

use redial::sleep::AsyncIoSleeper;

#[test]
fn shared_scenarios_reach_the_cores_decisions() {
    smol::block_on(async {
        for s in common::scenarios() {
            let (run, _) = common::run_async(&s, AsyncIoSleeper).await;
            common::check(&s, &run);
        }
    });
}
