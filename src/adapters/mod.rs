//! Adapters: the retry core, run on real I/O.
//!
//! The core decides; these adapters obey. Each one makes attempts, feeds their outcomes to
//! the [machine](crate::machine) and waits as it says, and none holds any policy logic.
//! Clocks and the random generator live here, never in the core: the monotonic clock and
//! the timer come from a [`Sleeper`], the wall clock (for HTTP dates) from the same, and
//! the jitter from a [`fastrand::Rng`] seeded per call (or yours, with `.rng(..)`).
//!
//! ```
//! use redial::adapters::{Retryable, TokioSleeper};
//! use redial::{Policy, Preset};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let policy = Policy::preset(Preset::Anthropic);
//! let mut statuses = [529, 429, 200].into_iter();
//! let send = || {
//!     let status = statuses.next().unwrap_or(200);
//!     async move { http::Response::builder().status(status).body(()).map_err(|_| redial::Transport::Other) }
//! };
//! let response = send.retry(&policy).sleeper(TokioSleeper).await;
//! assert_eq!(response.map(|r| r.status().as_u16()).ok(), Some(200));
//! # }
//! ```
//!
//! | adapter | for | entry point |
//! |---|---|---|
//! | [`future`] | async code on any executor | [`Retryable::retry`], [`RetryableWithContext::retry_with`] |
//! | [`blocking`] | threads | [`BlockingRetryable::retry`] |
//! | [`stream`] | streamed responses (SSE) | [`retry_stream`] |
//! | [`tower`] (feature `tower`) | `tower` stacks | [`RetryLayer`](tower::RetryLayer) |
//! | [`reqwest_middleware`] (feature `reqwest-middleware`) | reqwest-middleware clients | [`RetryMiddleware`](reqwest_middleware::RetryMiddleware) |
//!
//! What an attempt produced is read through [`HttpOutcome`], implemented for
//! `http::Response<B>`, transport errors, and (feature `reqwest`) reqwest's types; every
//! adapter ends a failed call with the same [`RetryError`].
//!
//! # Features
//!
//! - `tokio`: [`TokioSleeper`], which also reads tokio's (pausable) clock.
//! - `async-io`: [`AsyncIoSleeper`], for smol and any executor.
//! - `futures-timer`: [`FuturesTimerSleeper`], for any executor and wasm.
//! - `tower`: the [`RetryLayer`](tower::RetryLayer) and its service.
//! - `reqwest`: [`HttpOutcome`] for `reqwest::Response` and `reqwest::Error`.
//! - `reqwest-middleware`: [`RetryMiddleware`](reqwest_middleware::RetryMiddleware), a
//!   drop-in for reqwest-retry's middleware.
//! - `ureq`: [`HttpOutcome`] for ureq 3's errors, and
//!   [`keep_status`](ureq::KeepStatus::keep_status) to keep a failed response's headers.
//! - `tracing`: a span per retried call and an event per retry.

pub mod blocking;
mod driver;
pub mod error;
pub mod future;
pub mod hooks;
pub mod outcome;
#[cfg(feature = "reqwest")]
pub mod reqwest;
#[cfg(feature = "reqwest-middleware")]
pub mod reqwest_middleware;
pub mod sleep;
pub mod stream;
#[cfg(feature = "tower")]
pub mod tower;
#[cfg(feature = "ureq")]
pub mod ureq;

pub use blocking::{BlockingRetry, BlockingRetryable, BlockingSleeper, ThreadSleeper};
pub use error::{Last, Refusal, RequestIds, RetryError};
pub use future::{
    RetryCall, RetryCallWithContext, RetryFuture, RetryFutureWithContext, Retryable,
    RetryableWithContext,
};
pub use hooks::{Classify, ClassifyContext, ClassifyFn, Event, HttpClassify, NoNotify, Notify};
#[cfg(feature = "json")]
pub use outcome::with_error_type;
pub use outcome::{transport_kind, HttpOutcome};
#[cfg(feature = "futures-timer")]
pub use sleep::FuturesTimerSleeper;
#[cfg(feature = "tokio")]
pub use sleep::TokioSleeper;
#[cfg(feature = "async-io")]
pub use sleep::{AsyncIoSleep, AsyncIoSleeper};
pub use sleep::{DefaultSleeper, NoSleeper, Sleeper};
pub use stream::{retry_stream, RetryStream, RetryStreamBuilder, StreamError};
