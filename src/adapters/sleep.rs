//! What the async adapters need from a runtime: a timer, and the time.

use core::future::Future;
use core::time::Duration;
use std::time::{Instant, SystemTime};

#[cfg(feature = "async-io")]
#[path = "sleep/async_io.rs"]
mod async_io_sleeper;
#[cfg(feature = "futures-timer")]
#[path = "sleep/futures_timer.rs"]
mod futures_timer_sleeper;
#[cfg(feature = "tokio")]
#[path = "sleep/tokio.rs"]
mod tokio_sleeper;

#[cfg(feature = "async-io")]
pub use async_io_sleeper::{AsyncIoSleep, AsyncIoSleeper};
#[cfg(feature = "futures-timer")]
pub use futures_timer_sleeper::FuturesTimerSleeper;
#[cfg(feature = "tokio")]
pub use tokio_sleeper::TokioSleeper;

/// A timer: the one thing the async adapters need from a runtime.
///
/// `sleep` must not complete before `duration` has passed by [`now`](Sleeper::now)'s
/// clock, and should not panic for any duration (a duration too long for the runtime can
/// simply never complete). The future it returns may be dropped before it completes: the
/// retry future does so when it is itself dropped mid-sleep.
///
/// ```
/// use std::time::Duration;
/// use redial::sleep::Sleeper;
///
/// // A closure is a sleeper: here, one that never waits.
/// let sleeper = |_: Duration| std::future::ready(());
/// futures_executor::block_on(sleeper.sleep(Duration::from_millis(500)));
/// ```
///
/// # Sleepers
///
/// What the async adapters need from a runtime: a timer, and the time.
///
/// A [`Sleeper`] turns a [`Duration`] into a future that completes after it. That is all
/// the retry future, the stream adapter and the tower layer ask of a runtime, so they run
/// on any executor. One sleeper per runtime ships behind its feature:
///
/// | feature | sleeper | runs on |
/// |---|---|---|
/// | `tokio` | [`TokioSleeper`] | a tokio runtime (its paused clock included) |
/// | `async-io` | [`AsyncIoSleeper`] | smol, async-std, or any executor (async-io drives its own timers) |
/// | `futures-timer` | [`FuturesTimerSleeper`] | any executor, wasm included |
///
/// Any closure `Fn(Duration) -> impl Future<Output = ()>` is a sleeper too, and a type of
/// your own takes a few lines:
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use std::task::{Context, Poll};
/// use std::time::Duration;
/// use redial::sleep::Sleeper;
///
/// /// A sleeper for tests: it records each wait and completes at once.
/// #[derive(Clone, Default)]
/// struct Instantly(std::sync::Arc<std::sync::Mutex<Vec<Duration>>>);
///
/// impl Sleeper for Instantly {
///     type Sleep = std::future::Ready<()>;
///     fn sleep(&self, duration: Duration) -> Self::Sleep {
///         if let Ok(mut waits) = self.0.lock() {
///             waits.push(duration);
///         }
///         std::future::ready(())
///     }
/// }
///
/// let sleeper = Instantly::default();
/// futures_executor::block_on(sleeper.sleep(Duration::from_secs(30)));
/// assert_eq!(*sleeper.0.lock().unwrap(), [Duration::from_secs(30)]);
/// ```
///
/// A sleeper also tells the time: [`Sleeper::now`] is the monotonic clock the retry
/// machine measures `max_elapsed` with, and [`Sleeper::wall`] the wall clock that HTTP
/// dates are read against. Both default to the system's; [`TokioSleeper`] answers with
/// tokio's clock, so a test with a paused clock sees the waits it asked for, to the
/// nanosecond, without waiting.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a `Sleeper`: the retried call has no timer to wait between attempts",
    label = "no sleeper chosen for this call",
    note = "choose one with `.sleeper(redial::sleep::TokioSleeper)` (feature `tokio`), `.sleeper(redial::sleep::AsyncIoSleeper)` (feature `async-io`), `.sleeper(redial::sleep::FuturesTimerSleeper)` (feature `futures-timer`), or `.sleeper(|d| a_future_that_waits(d))`",
    note = "or enable one of those features of redial: its sleeper becomes the default"
)]
pub trait Sleeper {
    /// The future `sleep` returns.
    type Sleep: Future<Output = ()>;

    /// A future that completes once `duration` has passed.
    ///
    /// ```
    /// use std::time::Duration;
    /// use redial::sleep::{FuturesTimerSleeper, Sleeper};
    /// futures_executor::block_on(FuturesTimerSleeper.sleep(Duration::from_millis(1)));
    /// ```
    fn sleep(&self, duration: Duration) -> Self::Sleep;

    /// The monotonic clock this timer runs on. Defaults to [`Instant::now`].
    ///
    /// ```
    /// use redial::sleep::{FuturesTimerSleeper, Sleeper};
    /// assert!(FuturesTimerSleeper.now() <= std::time::Instant::now());
    /// ```
    fn now(&self) -> Instant {
        Instant::now()
    }

    /// The wall clock, for HTTP dates and rate-limit reset timestamps. Defaults to
    /// [`SystemTime::now`].
    ///
    /// ```
    /// use redial::sleep::{FuturesTimerSleeper, Sleeper};
    /// assert!(FuturesTimerSleeper.wall() > std::time::SystemTime::UNIX_EPOCH);
    /// ```
    fn wall(&self) -> SystemTime {
        SystemTime::now()
    }
}

impl<F, Fut> Sleeper for F
where
    F: Fn(Duration) -> Fut,
    Fut: Future<Output = ()>,
{
    type Sleep = Fut;

    fn sleep(&self, duration: Duration) -> Fut {
        self(duration)
    }
}

/// The sleeper used when none is given: [`TokioSleeper`] with the `tokio` feature, else
/// [`AsyncIoSleeper`] with `async-io`, else [`FuturesTimerSleeper`] with `futures-timer`,
/// else [`NoSleeperChosen`], which makes `.await` fail to compile until a sleeper is chosen.
///
/// Because cargo unifies features, another crate in the build can turn on `tokio` and
/// change this default; a library should name its sleeper with `.sleeper(..)`.
#[cfg(feature = "tokio")]
pub type DefaultSleeper = TokioSleeper;
/// The sleeper used when none is given (see the `tokio` build of these docs).
#[cfg(all(not(feature = "tokio"), feature = "async-io"))]
pub type DefaultSleeper = AsyncIoSleeper;
/// The sleeper used when none is given (see the `tokio` build of these docs).
#[cfg(all(
    not(feature = "tokio"),
    not(feature = "async-io"),
    feature = "futures-timer"
))]
pub type DefaultSleeper = FuturesTimerSleeper;
/// The sleeper used when none is given: none at all, since no sleeper feature is on.
/// Choose one with `.sleeper(..)`.
#[cfg(not(any(feature = "tokio", feature = "async-io", feature = "futures-timer")))]
pub type DefaultSleeper = NoSleeperChosen;

/// Stands in for a sleeper when no sleeper feature is enabled, until one is chosen with
/// `.sleeper(..)`. A call that still holds it does not compile, and the error says what to
/// do: choose a sleeper, or enable a sleeper feature.
///
/// ```compile_fail,E0277
/// use redial::sleep::NoSleeperChosen;
/// use redial::{Policy, Retryable};
/// let policy = Policy::default();
/// let call = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
///     .retry(&policy)
///     .sleeper(NoSleeperChosen::default());
/// futures_executor::block_on(call); // error: no sleeper chosen for this retried call
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoSleeperChosen<T = ()>(core::marker::PhantomData<T>);

impl Default for NoSleeperChosen {
    fn default() -> Self {
        NoSleeperChosen(core::marker::PhantomData)
    }
}

/// Never implemented: the bound that keeps [`NoSleeperChosen`] from being a [`Sleeper`]
/// while letting the compiler say so with `Sleeper`'s own message (what to do), rather
/// than one about closures.
#[cfg_attr(
    any(feature = "tokio", feature = "async-io", feature = "futures-timer"),
    allow(dead_code)
)]
pub trait SleeperChosen {}

impl<T: SleeperChosen> Sleeper for NoSleeperChosen<T> {
    type Sleep = core::future::Pending<()>;

    fn sleep(&self, _: Duration) -> Self::Sleep {
        core::future::pending()
    }
}

/// A [`Sleeper`], or [`NoSleeperChosen`], the stand-in for one not chosen yet: what the type of
/// a call that has not been given `.sleeper(..)` holds. Nothing to implement: every
/// `Sleeper` is one.
///
/// Sealed on purpose: a bound of the adapters' types, in a private module, so
/// no user can name or implement it.
pub trait MaybeSleeper {
    /// The wait the sleeper makes.
    type Sleep;
}

impl<S: Sleeper> MaybeSleeper for S {
    type Sleep = S::Sleep;
}

impl MaybeSleeper for NoSleeperChosen {
    type Sleep = core::future::Pending<()>;
}
