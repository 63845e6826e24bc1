//! The adapters: the retry core run on real I/O. Private modules, each re-exported flat
//! from the crate root (one path per type); the crate docs' "Adapters" section is their
//! user guide, and docs/ARCHITECTURE.md walks a call through these files.

mod blocking;
mod classify_result;
mod driver;
mod future;
mod http_outcome;
mod notify;
mod options;
mod request_ids;
#[cfg(feature = "reqwest")]
mod reqwest;
#[cfg(feature = "reqwest-middleware")]
mod reqwest_middleware;
mod retry_error;
mod sleep;
mod stream;
mod stream_error;
#[cfg(feature = "tower")]
mod tower;
mod tracing;
#[cfg(feature = "ureq")]
mod ureq;

pub use blocking::{BlockingAttempts, BlockingRetryable, BlockingSleeper, ThreadSleeper};
pub use classify_result::{Classify, ClassifyContext, ClassifyFn, HttpClassify};
pub use future::{Attempts, AttemptsWithContext, DefaultSleep, Retryable, RetryableWithContext};
#[cfg(feature = "json")]
pub use http_outcome::with_error_type;
pub use http_outcome::{transport_kind, HttpOutcome};
pub use notify::{Event, NoNotify, Notify};
pub use options::{AsPolicy, AttemptOutput, Retrying, WithSleeper};
pub use request_ids::RequestIds;
#[cfg(feature = "reqwest")]
#[cfg(feature = "json")]
pub use reqwest::read_error_type;
#[cfg(feature = "reqwest-middleware")]
pub use reqwest_middleware::{MiddlewareAttempts, RetryMiddleware};
pub use retry_error::{Last, Refusal, RetryError};
#[cfg(feature = "futures-timer")]
pub use sleep::FuturesTimerSleeper;
#[cfg(feature = "tokio")]
pub use sleep::TokioSleeper;
#[cfg(feature = "async-io")]
pub use sleep::{AsyncIoSleep, AsyncIoSleeper};
pub use sleep::{DefaultSleeper, MaybeSleeper, NoSleeperChosen, Sleeper};
pub use stream::{retry_stream, Commit, FirstItem, StreamAttempts};
pub use stream_error::{ErrorEvent, StreamError};
#[cfg(feature = "tower")]
pub use tower::{
    KeepInnerTypes, ReplayBody, RetryLayer, RetryService, RetryServiceFuture, TowerLayer,
    TowerMode, WrapInRetryError,
};
#[cfg(feature = "ureq")]
pub use ureq::KeepStatus;
