//! The adapters: the retry core run on real I/O. Private modules: the crate root's one
//! re-export list gives each public item its one path (the entry points and the hooks at
//! the root, timers under `redial::sleep`, each integration under its own module); the
//! crate docs' "Adapters" section is their user guide, and docs/ARCHITECTURE.md walks a
//! call through these files.

pub(crate) mod blocking;
pub(crate) mod classify;
mod driver;
pub(crate) mod future;
pub(crate) mod http_outcome;
pub(crate) mod notify;
pub(crate) mod options;
pub(crate) mod request_ids;
#[cfg(feature = "reqwest")]
pub(crate) mod reqwest;
#[cfg(feature = "reqwest-middleware")]
pub(crate) mod reqwest_middleware;
pub(crate) mod retry_error;
pub(crate) mod retrying;
pub(crate) mod sleep;
pub(crate) mod stream;
pub(crate) mod stream_error;
#[cfg(feature = "tower")]
pub(crate) mod tower;
mod tracing;
#[cfg(feature = "ureq")]
pub(crate) mod ureq;
