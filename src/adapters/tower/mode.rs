//! What the service answers: the call's `RetryError` (the default), or the inner
//! service's own types, as tower's `Retry` does.

use core::time::Duration;
use std::time::Instant;

use crate::adapters::driver::{finish, Driver, End};
use crate::adapters::options::{AsPolicy, Options};
use crate::adapters::retry_error::RetryError;

/// How a [`RetryService`](crate::tower::RetryService) ends a call. Implemented by
/// [`WrapInRetryError`] (the default) and [`KeepInnerTypes`].
pub trait TowerMode<R, E> {
    /// The service's error type.
    type Error;

    /// The call's answer from its last result.
    #[doc(hidden)]
    fn answer<P: AsPolicy, C, N>(
        driver: &mut Driver<P>,
        options: &Options<P, C, N>,
        end: End,
        result: Result<R, E>,
        now: impl Fn() -> Instant,
    ) -> Result<R, Self::Error>;

    /// The call's answer when the rate pacer stopped it before an attempt was sent, if
    /// this mode can say so: the inner service's own error type cannot, so with
    /// [`KeepInnerTypes`] the pacer paces but never stops a request.
    #[doc(hidden)]
    fn not_sent<P: AsPolicy, C, N>(
        driver: &mut Driver<P>,
        options: &Options<P, C, N>,
        now: impl Fn() -> Instant,
    ) -> Option<Self::Error>;
}

/// The default: `Ok` is a response the policy calls a success, anything else a
/// [`RetryError`] that holds the last response or error with why the call stopped.
#[derive(Clone, Copy, Debug, Default)]
pub struct WrapInRetryError;

/// The inner service's types, unchanged: the last response comes back `Ok` whatever its
/// status, and the last error as it is, so the layer drops into a hyper-util or axum stack
/// without changing its types. See [`RetryLayer::keep_inner_types`](crate::tower::RetryLayer).
#[derive(Clone, Copy, Debug, Default)]
pub struct KeepInnerTypes;

impl<R, E> TowerMode<R, E> for WrapInRetryError {
    type Error = RetryError<E, R>;

    #[inline]
    fn answer<P: AsPolicy, C, N>(
        driver: &mut Driver<P>,
        options: &Options<P, C, N>,
        end: End,
        result: Result<R, E>,
        now: impl Fn() -> Instant,
    ) -> Result<R, Self::Error> {
        finish(driver, options, end, Some(result), Duration::ZERO, now)
    }

    #[inline]
    fn not_sent<P: AsPolicy, C, N>(
        driver: &mut Driver<P>,
        options: &Options<P, C, N>,
        now: impl Fn() -> Instant,
    ) -> Option<Self::Error> {
        finish::<P, C, N, R, E>(driver, options, End::Stopped, None, Duration::ZERO, now).err()
    }
}

impl<R, E> TowerMode<R, E> for KeepInnerTypes {
    type Error = E;

    #[inline]
    fn answer<P: AsPolicy, C, N>(
        driver: &mut Driver<P>,
        options: &Options<P, C, N>,
        end: End,
        result: Result<R, E>,
        _: impl Fn() -> Instant,
    ) -> Result<R, Self::Error> {
        // The machine hears of a success (the budget's refund) all the same.
        if let End::Succeeded = end {
            driver.succeeded(options);
        }
        result
    }

    #[inline]
    fn not_sent<P: AsPolicy, C, N>(
        _: &mut Driver<P>,
        _: &Options<P, C, N>,
        _: impl Fn() -> Instant,
    ) -> Option<Self::Error> {
        None
    }
}
