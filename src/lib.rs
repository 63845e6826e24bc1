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
//! [`adapters`] run all of this on real I/O: an async retry future for any executor, a
//! blocking loop, a stream adapter and a tower layer, with one final [`RetryError`].
//!
//! [`read_error_body`] reads the error type and request id from a JSON error envelope (the
//! `json` feature, on by default), and [`duration`] the human durations of policy files.
//!
//! # Features
//!
//! - `json` (default): [`read_error_body`] reads JSON error envelopes with `serde_json`.
//! - `serde`: policy files in TOML or JSON (`Policy::from_toml`, `from_json`, `from_path`,
//!   `to_toml`, and `Deserialize` for [`Policy`]); the format is documented in `policy::file`.
//! - `tokio`: the [`TokioSleeper`](adapters::sleep) timer, which reads tokio's pausable clock.
//! - `async-io`: the `AsyncIoSleeper` timer, for smol and any executor.
//! - `futures-timer`: the `FuturesTimerSleeper` timer, for any executor and wasm.
//! - `tower`: a retry `Layer` for `http::Request` services ([`adapters`]).
//! - `reqwest`: reqwest's responses and errors classify with no glue code.
//! - `reqwest-middleware`: a retry middleware that replaces reqwest-retry's in one line.
//! - `ureq`: ureq 3's responses and errors classify with no glue code.
//! - `tracing`: a span per retried call and an event per retry.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod adapters;
pub mod backoff;
pub mod budget;
pub mod classify;
pub mod duration;
mod error_body;
pub mod gate;
pub mod hints;
pub mod machine;
pub mod policy;
mod verdict;

pub use backoff::{Backoff, Curve, Jitter};
pub use budget::{Budget, BudgetConfig};
pub use classify::{request_id, Classifier, NonIdempotent, Outcome, RequestFacts, StatusSet};
pub use error_body::{read_error_body, ErrorBody};
pub use hints::{Hint, HintSource};
pub use machine::{Action, Basis, Machine, OnLongHint, Retry, Rules, Stop, StopReason};
pub use policy::{Policy, PolicyBuilder, PolicyError, Preset};
pub use verdict::{Cause, ErrorType, Rule, Transport, UnknownTransport, Verdict};

pub use adapters::{HttpOutcome, RetryError, Retryable, RetryableWithContext, Sleeper};

/// The random generator the machine takes, re-exported so callers need not name
/// `fastrand` in their own `Cargo.toml`.
pub use fastrand::Rng;

/// The README's examples, compiled and run as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeExamples;
