//! `redial` decides whether and when an HTTP call should be tried again.
//!
//! ```
//! use std::time::{Duration, Instant, SystemTime};
//! use http::{HeaderMap, Method, StatusCode};
//! use redial::{Policy, Preset};
//! use redial::classify::{Outcome, RequestFacts};
//! use redial::machine::Action;
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
//!   shared [`budget`]) → an [`Action`](machine::Action). Generic: it knows no HTTP, so a gRPC call or a
//!   database transaction can drive it with its own verdicts.
//! - [`gate`]: when a key's quota is spent, hold first attempts until it resets, then
//!   ramp back up; shared by a fleet with the `redis` feature.
//! - [`Policy`]: configures all of the above, with its [`builder`](Policy::builder) and
//!   the [`Preset`]s; the [`policy`] module reads, checks and lints policy files.
//!
//! The adapters run all of this on real I/O: an async retry future for any executor
//! ([`Retryable`]), a blocking loop ([`BlockingRetryable`]), a stream adapter
//! ([`retry_stream`]) and a tower layer ([`tower::RetryLayer`], feature `tower`), with one
//! final [`RetryError`]. See [Adapters](#adapters) below.
//!
//! [`read_error_body`](classify::read_error_body) reads the error type and request id from a JSON error envelope (the
//! `json` feature, on by default), and [`duration`] the human durations of policy files.
//!
//! # Adapters
//!
//! The core decides; these adapters obey. Each one makes attempts, feeds their outcomes to
//! the [machine] and waits as it says, and none holds any policy logic.
//! Clocks and the random generator live here, never in the core: the monotonic clock and
//! the timer come from a [`Sleeper`](sleep::Sleeper), the wall clock (for HTTP dates) from the same, and
//! the jitter from a [`fastrand::Rng`] seeded per call (or yours, with `.rng(..)`).
//!
//! ```
//! use redial::Retryable;
//! use redial::sleep::TokioSleeper;
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
//! | `tower/` (feature `tower`) | `tower` stacks | `tower::RetryLayer` |
//!
//! Each returns a [`Retrying`] (`retrying.rs`): the options every adapter shares and the
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
//! - `json` (default): [`read_error_body`](classify::read_error_body) reads JSON error
//!   envelopes with `serde_json`.
//! - `serde`: policy files in TOML or JSON (`Policy::from_toml`, `from_json`, `from_path`,
//!   `to_toml`, and `Deserialize` for [`Policy`]); the format is documented in `policy::file`.
//! - `tokio`: the `sleep::TokioSleeper` timer, which reads tokio's pausable clock.
//! - `async-io`: the `sleep::AsyncIoSleeper` timer, for smol and any executor.
//! - `futures-timer`: the `sleep::FuturesTimerSleeper` timer, for any executor and wasm.
//! - `tower`: `tower::RetryLayer`, a retry `Layer` for `http::Request` services.
//! - `reqwest`: reqwest's responses and errors classify with no glue code, and
//!   `reqwest::read_error_type` (with `json`) reads an error body's type.
//! - `ureq`: ureq 3's results classify with their status kept (`ureq::KeepStatus`).
//! - `reqwest-middleware`: `reqwest_middleware::RetryMiddleware`, a drop-in for reqwest-retry's middleware.
//! - `tracing`: a span per retried call and an event per retry.
//! - `redis`: the `fleet` module shares the rate-limit gate, the budget's counters and
//!   the pacer's learned rate among processes that name one key, through Redis.

#![forbid(unsafe_code)]
// docs.rs (nightly, `--cfg docsrs`) marks each item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

// The public API, one rule (issue 19): every public item has exactly one path.
//
// - The root holds what a call site names: the policy (`Policy`, `PolicyBuilder`,
//   `PolicyError`, `Preset`), the entry points and the call they return (`Retryable`,
//   `RetryableWithContext`, `BlockingRetryable`, `retry_stream`, `Retrying`), how a call
//   ends (`RetryError`, `Last`, `Refusal`, `RequestIds`, `Stop`, `StopReason`), what an
//   attempt produced (`HttpOutcome`, `Verdict`, `Cause`, `Transport`, `ErrorType`), the
//   hooks (`Classify`, `ClassifyContext`, `Notify`, `Event`), `Rng` and `UnknownName`.
//   `tests/public_api.rs` fails when this list changes.
// - Everything else lives under the module of its concept, and only there: the core's
//   advanced parts (`machine`, `backoff`, `budget`, `classify`, `hints`, `gate`, `fleet`,
//   `pacer`, `duration`, `policy` for the policy file's tools) and the adapters' (`sleep`
//   for timers, `stream`, and each integration behind its feature: `tower`, `reqwest`,
//   `reqwest_middleware`, `ureq`).
// - The code modules are private: a public module is either a core module whose file is
//   the concept (its root items defined elsewhere, in a private module), or a list below.
//   This file holds the one list of re-exports, each `cfg` written once.
// - Plumbing (the adapters' part types, the traits through which `Retrying` talks to
//   them, the default hooks) is `pub` in a private module: it appears in signatures, so it
//   cannot be `pub(crate)`, but no user can name, implement or depend on it. Those traits
//   are sealed on purpose: an adapter part is this crate's to write.

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
mod stop;
mod verdict;

pub use adapters::blocking::BlockingRetryable;
pub use adapters::classify::{Classify, ClassifyContext};
pub use adapters::future::{Retryable, RetryableWithContext};
pub use adapters::http_outcome::HttpOutcome;
pub use adapters::notify::{Event, Notify};
pub use adapters::request_ids::RequestIds;
pub use adapters::retry_error::{Last, Refusal, RetryError};
pub use adapters::retrying::Retrying;
pub use adapters::stream::retry_stream;
pub use names::UnknownName;
pub use policy::builder::{Policy, PolicyBuilder, PolicyError, Preset};
pub use stop::{Stop, StopReason};
pub use verdict::{Cause, ErrorType, Transport, Verdict};

/// The random generator the machine takes, re-exported so callers need not name
/// `fastrand` in their own `Cargo.toml`.
pub use fastrand::Rng;

pub mod sleep {
    //! Timers and clocks: what the adapters wait with between attempts.
    //!
    //! An async call waits with a [`Sleeper`]: [`DefaultSleeper`] unless `.sleeper(..)` names
    //! another (one of these, or a closure `|d| a_future_that_waits(d)`). A blocking call
    //! waits with a [`BlockingSleeper`]: [`ThreadSleeper`] unless told otherwise. Each runtime's
    //! sleeper is behind its feature (`tokio`, `async-io`, `futures-timer`); with none on,
    //! the default is [`NoSleeperChosen`], and a call must name its sleeper.
    //!
    //! ```
    //! use redial::sleep::FuturesTimerSleeper;
    //! use redial::{Policy, Retryable};
    //!
    //! # futures_executor::block_on(async {
    //! let policy = Policy::default();
    //! let response = (|| async { Ok::<_, std::io::Error>(http::Response::new(())) })
    //!     .retry(&policy)
    //!     .sleeper(FuturesTimerSleeper)
    //!     .await;
    //! assert!(response.is_ok());
    //! # });
    //! ```

    pub use crate::adapters::blocking::{BlockingSleeper, ThreadSleeper};
    #[cfg(feature = "futures-timer")]
    pub use crate::adapters::sleep::FuturesTimerSleeper;
    #[cfg(feature = "tokio")]
    pub use crate::adapters::sleep::TokioSleeper;
    #[cfg(feature = "async-io")]
    pub use crate::adapters::sleep::{AsyncIoSleep, AsyncIoSleeper};
    pub use crate::adapters::sleep::{DefaultSleeper, NoSleeperChosen, Sleeper};
}

pub mod stream {
    //! Streamed responses (SSE): what [`retry_stream`](crate::retry_stream)'s stream yields on
    //! failure ([`StreamError`], an [`ErrorEvent`] read from the stream) and when its output
    //! commits it ([`Commit`], [`FirstItem`]).
    //!
    //! ```
    //! use redial::stream::ErrorEvent;
    //! use redial::ErrorType;
    //!
    //! let event = ErrorEvent::read(br#"{"type":"error","error":{"type":"overloaded_error"}}"#);
    //! assert_eq!(event.error_type, ErrorType::Overloaded);
    //! ```

    pub use crate::adapters::stream::{Commit, FirstItem};
    pub use crate::adapters::stream_error::{ErrorEvent, StreamError};
}

#[cfg(feature = "tower")]
pub mod tower {
    //! tower (feature `tower`): [`RetryLayer`], a retry `Layer` for `http::Request` services,
    //! its [`RetryService`] and [`RetryServiceFuture`], the bodies it can replay
    //! ([`ReplayBody`]) and what its services answer ([`TowerMode`]: [`WrapInRetryError`], or
    //! [`KeepInnerTypes`]).
    //!
    //! ```
    //! use redial::tower::RetryLayer;
    //! use redial::Policy;
    //!
    //! let layer = RetryLayer::new(Policy::default()).notify(|event| eprintln!("{event}"));
    //! # drop(layer);
    //! ```

    pub use crate::adapters::tower::future::RetryServiceFuture;
    pub use crate::adapters::tower::layer::RetryLayer;
    pub use crate::adapters::tower::mode::{KeepInnerTypes, TowerMode, WrapInRetryError};
    pub use crate::adapters::tower::replay::ReplayBody;
    pub use crate::adapters::tower::RetryService;
}

#[cfg(all(feature = "reqwest", feature = "json"))]
pub mod reqwest {
    //! reqwest (features `reqwest` and `json`): [`read_error_type`] reads an error body's type
    //! into the response. reqwest's `Response` and `Error` are [`HttpOutcome`](crate::HttpOutcome)s
    //! with the `reqwest` feature alone: a reqwest call retries with no glue code.
    //!
    //! ```no_run
    //! use redial::{Policy, Retryable};
    //!
    //! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
    //! let client = reqwest::Client::new();
    //! let policy = Policy::default();
    //! let response = (|| async {
    //!     redial::reqwest::read_error_type(client.get("https://example.com").send().await?).await
    //! })
    //! .retry(&policy)
    //! .await?;
    //! # let _ = response;
    //! # Ok(())
    //! # }
    //! ```

    pub use crate::adapters::reqwest::read_error_type;
}

#[cfg(feature = "reqwest-middleware")]
pub mod reqwest_middleware {
    //! reqwest-middleware (feature `reqwest-middleware`): [`RetryMiddleware`], a drop-in for
    //! reqwest-retry's middleware.
    //!
    //! ```
    //! use redial::reqwest_middleware::RetryMiddleware;
    //!
    //! let middleware = RetryMiddleware::new(redial::Policy::default());
    //! # drop(middleware);
    //! ```

    pub use crate::adapters::reqwest_middleware::RetryMiddleware;
}

#[cfg(feature = "ureq")]
pub mod ureq {
    //! ureq 3 (feature `ureq`): its responses and errors are
    //! [`HttpOutcome`](crate::HttpOutcome)s, and [`KeepStatus`] keeps a failed status's
    //! headers for one request.
    //!
    //! ```
    //! use redial::ureq::KeepStatus;
    //!
    //! let agent = ureq::Agent::new_with_defaults();
    //! let request = agent.get("http://localhost:1/").keep_status();
    //! # drop(request);
    //! ```

    pub use crate::adapters::ureq::KeepStatus;
}

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
