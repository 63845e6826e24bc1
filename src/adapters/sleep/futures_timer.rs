//! The futures-timer timer (feature `futures-timer`), for any executor and wasm.

use core::time::Duration;

use super::Sleeper;

/// Sleeps with [`futures_timer::Delay`], which needs no runtime at all (a helper thread on
/// native targets, the browser's timers on wasm with its `wasm-bindgen` feature).
///
/// ```
/// use std::time::Duration;
/// use redial::sleep::{FuturesTimerSleeper, Sleeper};
///
/// futures_executor::block_on(FuturesTimerSleeper.sleep(Duration::from_millis(1)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FuturesTimerSleeper;

impl Sleeper for FuturesTimerSleeper {
    type Sleep = futures_timer::Delay;

    fn sleep(&self, duration: Duration) -> futures_timer::Delay {
        futures_timer::Delay::new(duration)
    }
}
