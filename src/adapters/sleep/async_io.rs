//! The async-io timer (feature `async-io`), for smol and any other executor.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use core::time::Duration;

use super::Sleeper;

/// Sleeps with [`async_io::Timer`], which async-io's own driver thread fires, so it works
/// under smol, async-std or any executor (`futures::executor::block_on` included).
///
/// ```
/// use std::time::Duration;
/// use redial::sleep::{AsyncIoSleeper, Sleeper};
///
/// smol::block_on(AsyncIoSleeper.sleep(Duration::from_millis(1)));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AsyncIoSleeper;

impl Sleeper for AsyncIoSleeper {
    type Sleep = AsyncIoSleep;

    fn sleep(&self, duration: Duration) -> AsyncIoSleep {
        // `Timer::after` turns an overflowing deadline into a timer that never fires.
        AsyncIoSleep {
            timer: async_io::Timer::after(duration),
        }
    }
}

/// The future of [`AsyncIoSleeper::sleep`]: an [`async_io::Timer`] whose output is `()`.
#[derive(Debug)]
pub struct AsyncIoSleep {
    timer: async_io::Timer,
}

impl Future for AsyncIoSleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // `Timer` is `Unpin`, so no projection is needed.
        Pin::new(&mut self.timer).poll(cx).map(|_| ())
    }
}
