//! `redial` decides whether and when an HTTP call should be tried again.
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use http::{HeaderMap, Method, StatusCode};
//! use redial::{Action, Outcome, Policy, Preset, RequestFacts};
//!
//! let policy = Policy::preset(Preset::Anthropic);
//! let mut headers = HeaderMap::new();
//! headers.insert("retry-after", "2".parse()?);
//! let outcome = Outcome::response(StatusCode::from_u16(529)?, &headers);
//! let verdict = policy.classify(&RequestFacts::new(&Method::POST), &outcome, SystemTime::now());
//! let mut call = policy.start(Instant::now());
//! let Action::Retry(retry) = call.on_outcome(&verdict, Instant::now(), &mut fastrand::Rng::new()) else { unreachable!() };
//! assert!(retry.delay >= Duration::from_secs(2) && retry.delay <= Duration::from_millis(2200));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # What it is
//!
//! A retry core that does no I/O. It reads what one attempt produced (a status, headers,
//! an API error type, a transport failure) and answers with an action: retry after this
//! long, or stop and why. It never reads a clock, sleeps, spawns or allocates per attempt:
//! time comes in as arguments (a monotonic [`Instant`](std::time::Instant) for limits, a
//! wall-clock [`SystemTime`](std::time::SystemTime) for HTTP dates) and randomness from a
//! [`fastrand::Rng`] the caller can seed. The same inputs and seed give the same decisions,
//! on any runtime, in tests and in simulations.
//!
//! # The layers
//!
//! - [`classify`]: status, error type, `x-should-retry`, transport failure and the
//!   idempotency of the request → a [`Verdict`]. HTTP-aware, pure.
//! - [`hints`]: `retry-after-ms`, `retry-after`, and the rate-limit reset headers → how long
//!   the server asks us to wait. Total parsers that never panic or allocate.
//! - [`machine`]: one call's state (attempts, elapsed time, [`backoff`] and jitter, the
//!   shared [`budget`]) → an [`Action`]. Generic: it knows no HTTP, so a gRPC call or a
//!   database transaction can drive it with its own verdicts.
//! - [`gate`]: when a key's quota is spent, hold first attempts until it resets, then
//!   ramp back up; shared by a fleet with the `redis` feature.
//! - [`policy`]: the [`Policy`] that configures all of the above, its
//!   [`builder`](Policy::builder) and the [`Preset`]s.
//!
//! The adapters run all of this on real I/O: an async retry future for any executor
//! ([`Retryable`]), a blocking loop ([`BlockingRetryable`]), a stream adapter
//! ([`retry_stream`]) and a tower layer (`RetryLayer`), with one final [`RetryError`]. See
//! [Adapters](#adapters) below.
//!
//! [`read_error_body`] reads the error type and request id from a JSON error envelope (the
//! `json` feature, on by default), and [`duration`] the human durations of policy files.
//!
//! # Adapters
//!
//! The core decides; these adapters obey. Each one makes attempts, feeds their outcomes to
//! the [machine] and waits as it says, and none holds any policy logic.
//! Clocks and the random generator live here, never in the core: the monotonic clock and
//! the timer come from a [`Sleeper`], the wall clock (for HTTP dates) from the same, and
//! the jitter from a [`fastrand::Rng`] seeded per call (or yours, with `.rng(..)`).
//!
//! ```
//! use redial::{Retryable, TokioSleeper};
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
//! | `future.rs` | async code on any executor | [`Retryable::retry`], [`RetryableWithContext::retry_with`] |
//! | `blocking.rs` | threads | [`BlockingRetryable::retry`] |
//! | `stream.rs` | streamed responses (SSE) | [`retry_stream`] |
//! | `tower/` (feature `tower`) | `tower` stacks | `RetryLayer` |
//!
//! Each returns a [`Retrying`]: the options every adapter shares (`options.rs`) and the
//! adapter's own part. The retry loop itself is written once, as a sans-I/O step driver
//! (`driver.rs`): events in (an attempt is due, an attempt finished with this result, a
//! wait did not end at once), commands out (make an attempt, sleep this long, read these
//! clocks, done). It classifies each result, keeps its request id, refuses retries the
//! adapter cannot make, asks the machine and builds the final result; every adapter only
//! obeys its commands, and reads a clock only when the driver asks for it.
//!
//! What an attempt produced is read through [`HttpOutcome`], implemented for
//! `http::Response<B>`, transport errors, and (feature `reqwest`) reqwest's types; every
//! adapter ends a failed call with the same [`RetryError`].
//!
//! # Features
//!
//! - `json` (default): [`read_error_body`] reads JSON error envelopes with `serde_json`.
//! - `serde`: policy files in TOML or JSON (`Policy::from_toml`, `from_json`, `from_path`,
//!   `to_toml`, and `Deserialize` for [`Policy`]); the format is documented in `policy::file`.
//! - `tokio`: the `TokioSleeper` timer, which reads tokio's pausable clock.
//! - `async-io`: the `AsyncIoSleeper` timer, for smol and any executor.
//! - `futures-timer`: the `FuturesTimerSleeper` timer, for any executor and wasm.
//! - `tower`: `RetryLayer`, a retry `Layer` for `http::Request` services.
//! - `reqwest`: reqwest's responses and errors classify with no glue code, and
//!   `read_error_type` (with `json`) reads an error body's type.
//! - `ureq`: ureq 3's results classify with their status kept (`KeepStatus`).
//! - `reqwest-middleware`: `RetryMiddleware`, a drop-in for reqwest-retry's middleware.
//! - `tracing`: a span per retried call and an event per retry.
//! - `redis`: the `fleet` module shares the rate-limit gate and the budget's counters
//!   among processes that name one key, through Redis.

#![forbid(unsafe_code)]
// docs.rs (nightly, `--cfg docsrs`) marks each item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

mod adapters;
pub mod backoff;
pub mod budget;
pub mod classify;
mod draw;
pub mod duration;
mod error_body;
pub mod fleet;
pub mod gate;
pub mod hints;
pub mod machine;
mod names;
pub mod pacer;
pub mod policy;
mod verdict;

pub use backoff::{Backoff, Curve, Jitter, UnknownCurve};
pub use budget::{Budget, BudgetConfig, BudgetKind, Counts, Throttle, UnknownBudgetKind};
pub use classify::{
    request_id, Classifier, NonIdempotent, Outcome, RequestFacts, StatusSet, UnknownNonIdempotent,
};
pub use error_body::{read_error_body, ErrorBody};
pub use hints::{Hint, HintSource};
pub use machine::{
    Action, Basis, Machine, OnLongHint, Retry, Rules, Stop, StopReason, UnknownOnLongHint,
};
pub use policy::{Policy, PolicyBuilder, PolicyError, Preset};
pub use verdict::{Cause, ErrorType, Rule, Transport, UnknownTransport, Verdict};

// The adapters, one path each: every type at the root.
// Reading an error type from a body needs `json`: without it these do not exist, rather
// than compile and never find one (issue 12).
#[cfg(feature = "reqwest")]
#[cfg(feature = "json")]
pub use adapters::read_error_type;
#[cfg(feature = "json")]
pub use adapters::with_error_type;
#[cfg(feature = "futures-timer")]
pub use adapters::FuturesTimerSleeper;
#[cfg(feature = "ureq")]
pub use adapters::KeepStatus;
#[cfg(feature = "tokio")]
pub use adapters::TokioSleeper;
pub use adapters::{
    retry_stream, transport_kind, AsPolicy, AttemptOutput, Attempts, AttemptsWithContext,
    BlockingAttempts, BlockingRetryable, BlockingSleeper, Classify, ClassifyContext, ClassifyFn,
    Commit, DefaultSleep, DefaultSleeper, ErrorEvent, Event, FirstItem, HttpClassify, HttpOutcome,
    Last, MaybeSleeper, NoNotify, NoSleeperChosen, Notify, Refusal, RequestIds, RetryError,
    Retryable, RetryableWithContext, Retrying, Sleeper, StreamAttempts, StreamError, ThreadSleeper,
    WithSleeper,
};
#[cfg(feature = "async-io")]
pub use adapters::{AsyncIoSleep, AsyncIoSleeper};
#[cfg(feature = "tower")]
pub use adapters::{
    KeepInnerTypes, ReplayBody, RetryLayer, RetryService, RetryServiceFuture, TowerLayer,
    TowerMode, WrapInRetryError,
};
#[cfg(feature = "reqwest-middleware")]
pub use adapters::{MiddlewareAttempts, RetryMiddleware};

/// The random generator the machine takes, re-exported so callers need not name
/// `fastrand` in their own `Cargo.toml`.
pub use fastrand::Rng;

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
