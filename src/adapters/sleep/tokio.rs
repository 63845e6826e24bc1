//! The tokio timer (feature `tokio`).

use core::time::Duration;
use std::time::Instant;

use super::Sleeper;

/// Sleeps with [`tokio::time::sleep`] and reads tokio's clock, so that a test whose
/// runtime has a paused clock (`#[tokio::test(start_paused = true)]`) runs its waits in
/// virtual time and measures them exactly.
///
/// Needs a tokio runtime with its timer enabled, like everything in `tokio::time`.
///
/// ```
/// use std::time::Duration;
/// use redial::sleep::{Sleeper, TokioSleeper};
///
/// # tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build()?.block_on(async {
/// let before = TokioSleeper.now();
/// TokioSleeper.sleep(Duration::from_secs(30)).await; // instant: the clock is paused
/// assert_eq!(TokioSleeper.now() - before, Duration::from_secs(30));
/// # });
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    type Sleep = tokio::time::Sleep;

    fn sleep(&self, duration: Duration) -> tokio::time::Sleep {
        // tokio turns a deadline past its horizon into "far future" rather than panicking.
        tokio::time::sleep(duration)
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}
