//! The policy file: its format ([`file`](mod@file)), every error and warning of a file at once
//! ([`check`]), the limits `redial check` warns past ([`lint`]) and the file's JSON Schema
//! ([`schema`]). The policy itself, its builder and presets are at the crate root:
//! [`Policy`], [`PolicyBuilder`], [`Preset`], [`PolicyError`].
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use redial::policy::{check::check, file::Format};
//!
//! assert!(!check("[backoff]\nbase = \"500ms\"\n", Format::Toml).has_errors());
//! # }
//! ```

// The policy, its builder, presets and errors: defined in `builder.rs`, public at the
// crate root only (one path per type); imported here for the file modules below.
pub(crate) mod builder;
#[cfg(feature = "serde")]
pub mod check;
// Text into nodes, where in it an error is, and nodes into a policy: only the loaders
// (feature `serde`) read a policy file.
#[cfg(feature = "serde")]
mod decode;
pub mod file;
mod keys;
pub mod lint;
mod node;
#[cfg(feature = "serde")]
mod position;
#[cfg(feature = "serde")]
mod read;
pub mod schema;
mod write;

use builder::{Policy, PolicyBuilder, PolicyError, Preset};
