//! Policy files: the same policy for every service, written once (feature `serde`).
//!
//! A policy file is TOML, or the same shape in JSON. Every key is optional and falls back
//! to the preset named by `preset` (`default` when absent):
//!
//! ```toml
//! preset = "default"                  # default | anthropic | openai | aws-standard
//! max_attempts = 4                    # attempts in all, the first included
//! max_elapsed = "30s"                 # no retry whose wait would end past this
//! non_idempotent = "when_safe"        # when_safe | always | never
//!
//! [backoff]
//! kind = "exponential"                # exponential | constant | linear
//! base = "200ms"
//! cap = "5s"
//! factor = 2.0
//! jitter = "full"                     # none | full | equal | proportional | decorrelated
//! jitter_ratio = 0.25                 # only with jitter = "proportional"
//!
//! [hints]
//! honor = true
//! max_hint = "60s"
//! on_long_hint = "stop"               # stop | clamp
//!
//! [classify]
//! retry_status = [408, 425, 429, 500, 502, 503, 504, 529]   # replaces the table's set
//!
//! [budget]
//! enabled = true
//! kind = "adaptive"                   # adaptive | aws
//! window = "30s"                      # adaptive: how far back the counts reach
//! overload_ratio = 0.1                # adaptive: retries per first attempt once nothing works
//! retry_ratio = 2.0                   # adaptive: retries per first attempt otherwise
//! min_retries = 0.5                   # adaptive: on top of the ratios, per window
//! # capacity = 500                    # aws: the token bucket (without a `kind`, these
//!                                     # keys alone mean kind = "aws", as before kinds)
//! # retry_cost = 5
//! # timeout_cost = 10
//! # success_refund = 1
//! ```
//!
//! Durations are strings in the [`duration`](crate::duration) grammar (`500ms`, `8s`,
//! `2m`, `6m0s`). `jitter = "proportional"` without a `jitter_ratio` keeps the preset's
//! ratio when the preset's jitter is proportional too, and takes 0.25 (the official SDKs'
//! "minus up to 25 %") otherwise; a `jitter_ratio` beside any other jitter is rejected, as
//! it would be silently ignored. There is no way to write "no `max_elapsed`": leave the key
//! out (no preset sets one).
//!
//! Loading checks everything and names the key, with its table, in every error: unknown
//! keys, values of the wrong type, names that are not one of the choices, durations that do
//! not parse, and every rule of [`PolicyBuilder::build`](crate::PolicyBuilder::build)
//! (which the file layer calls, rather than repeating its rules).
//!
//! ```
//! use redial::Policy;
//!
//! let policy = Policy::from_toml(r#"
//!     preset = "anthropic"
//!     max_attempts = 5
//!     [backoff]
//!     cap = "20s"
//! "#)?;
//! assert_eq!(policy.rules().max_attempts(), 5);
//!
//! let err = Policy::from_toml("[backoff]\njitter_ratio = 1.5\n").unwrap_err();
//! assert_eq!(err.to_string(), "backoff.jitter_ratio: must be used with jitter = \"proportional\" only, got jitter = \"full\"");
//! let err = Policy::from_toml("[backoff]\njitter = \"proportional\"\njitter_ratio = 1.5\n").unwrap_err();
//! assert_eq!(err.to_string(), "backoff.jitter_ratio: must be between 0 and 1, got 1.5");
//! # Ok::<(), redial::PolicyError>(())
//! ```
//!
//! [`Policy`] also implements `serde::Deserialize` in this shape, so a service can keep its
//! retry policy inside its own configuration file, and [`Policy::to_toml`] writes every
//! setting back out.
//!
//! Limits: a policy text (or file) holds at most [`MAX_BYTES`] (256 KiB); `from_path` reads
//! no more than that, so a wrong path (`/dev/zero`) is refused at once. Loading is linear in
//! the number of keys. A syntax error is `line N: what (column C)`, with the fix where it is
//! known (a JSON text named `.toml`, a byte order mark in JSON, `NaN`, bytes that are not
//! UTF-8). `from_*` return the first error; [`check`](super::check) returns them all, in
//! file order, with `redial check`'s refusals and warnings ([`lint`](super::lint)).
//!
//! Every key is declared once, in the key tables of `src/policy/keys.rs`: the reader, the
//! writer, the "expected one of" list of an unknown key and the JSON Schema
//! ([`schema`](super::schema)) all read them.

// Loading is split by step, one file each: bytes from a path or a reader (this file), text
// into nodes (`decode.rs`), nodes into a policy (`read.rs`) and a policy back into text
// (`write.rs`); `position.rs` says where in the text an error is.

#![cfg_attr(not(feature = "serde"), allow(dead_code))]

#[cfg(feature = "serde")]
use std::path::Path;

#[cfg(feature = "serde")]
use serde::de::{self, Deserialize, Deserializer};

#[cfg(feature = "serde")]
use super::decode::{decode, text_of};
#[cfg(feature = "serde")]
use super::node::Node;
#[cfg(feature = "serde")]
use super::read::load;
#[cfg(feature = "serde")]
use super::Policy;
use super::PolicyError;

/// The largest policy file (or policy text) read: 256 KiB. Real policies are a few hundred
/// bytes; the limit keeps a mistaken path (`/dev/zero`, a log file) from filling memory.
/// A text this size takes at most a few tens of MB while it is parsed.
///
/// ```
/// let text = format!("# {}\n", "x".repeat(redial::policy::file::MAX_BYTES));
/// assert!(redial::Policy::from_toml(&text).is_err());
/// ```
pub const MAX_BYTES: usize = 256 * 1024;

#[cfg(feature = "serde")]
impl Policy {
    /// Loads a policy from TOML text (see [the policy file format](crate::policy::file)).
    /// Texts over [`MAX_BYTES`] are refused.
    ///
    /// ```
    /// use std::time::Duration;
    /// let policy = redial::Policy::from_toml("max_elapsed = \"30s\"\n[hints]\non_long_hint = \"clamp\"\n")?;
    /// assert_eq!(policy.rules().max_elapsed(), Some(Duration::from_secs(30)));
    ///
    /// let err = redial::Policy::from_toml("max_atempts = 4").unwrap_err();
    /// assert!(err.to_string().starts_with("max_atempts: unknown key"));
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Policy, PolicyError> {
        load(decode(text, Format::Toml).map_err(|l| l.error)?)
    }

    /// Loads a policy from JSON text: the TOML file's shape, tables as objects. Texts over
    /// [`MAX_BYTES`] are refused.
    ///
    /// ```
    /// let policy = redial::Policy::from_json(r#"{"preset": "openai", "budget": {"enabled": false}}"#)?;
    /// assert!(policy.rules().budget().is_none());
    ///
    /// let err = redial::Policy::from_json(r#"{"backoff": {"base": 500}}"#).unwrap_err();
    /// assert_eq!(err.to_string(), "backoff.base: expected a duration string such as \"500ms\", found the integer 500");
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Policy, PolicyError> {
        load(decode(text, Format::Json).map_err(|l| l.error)?)
    }

    /// Loads a policy file, TOML or JSON by its extension (`.toml`, `.json`). At most
    /// [`MAX_BYTES`] are read: a longer file (or `/dev/zero`) is refused at once.
    ///
    /// ```
    /// let path = std::env::temp_dir().join(format!("redial-doc-{}.toml", std::process::id()));
    /// std::fs::write(&path, "max_attempts = 4\n")?;
    /// let policy = redial::Policy::from_path(&path)?;
    /// assert_eq!(policy.rules().max_attempts(), 4);
    /// # std::fs::remove_file(&path)?;
    ///
    /// let err = redial::Policy::from_path("retry.yaml").unwrap_err();
    /// assert_eq!(err.to_string(), "retry.yaml: expected a .toml or .json file");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_path(path: impl AsRef<Path>) -> Result<Policy, PolicyError> {
        let path = path.as_ref();
        let format = Format::of_path(path)?;
        let text = read_path(path)?;
        load(decode(&text, format).map_err(|l| l.error)?)
    }
}

/// Reads a policy in the policy file's shape from any serde format (the budget is a fresh
/// one). Errors name the key path within the policy's own table.
///
/// ```
/// use serde::Deserialize;
///
/// #[derive(Deserialize)]
/// struct ServiceConfig {
///     upstream: String,
///     retry: redial::Policy,
/// }
///
/// let config: ServiceConfig = serde_json::from_str(r#"{"upstream": "https://api.example.com", "retry": {"max_attempts": 5}}"#)?;
/// assert_eq!(config.retry.rules().max_attempts(), 5);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[cfg(feature = "serde")]
impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Policy, D::Error> {
        let root = Node::deserialize(deserializer)?;
        load(root).map_err(de::Error::custom)
    }
}

/// The two formats of a policy file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// TOML (`.toml`).
    Toml,
    /// JSON (`.json`): the same shape, tables as objects.
    Json,
}

impl Format {
    /// The format a path's extension names (`.toml`, `.json`, in any case).
    ///
    /// ```
    /// use redial::policy::file::Format;
    /// assert_eq!(Format::of_path("retry.JSON".as_ref())?, Format::Json);
    /// assert!(Format::of_path("retry.yaml".as_ref()).is_err());
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn of_path(path: &std::path::Path) -> Result<Format, PolicyError> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("toml") => Ok(Format::Toml),
            Some("json") => Ok(Format::Json),
            _ => Err(PolicyError::Read {
                path: path.display().to_string(),
                message: "expected a .toml or .json file".into(),
            }),
        }
    }

    /// The format a text looks like: JSON when it opens with `{`, TOML otherwise (for
    /// text without a name, such as standard input).
    ///
    /// ```
    /// use redial::policy::file::Format;
    /// assert_eq!(Format::sniff(" {\"max_attempts\": 2}"), Format::Json);
    /// assert_eq!(Format::sniff("max_attempts = 2"), Format::Toml);
    /// ```
    pub fn sniff(text: &str) -> Format {
        match text
            .trim_start_matches('\u{feff}')
            .trim_start()
            .as_bytes()
            .first()
        {
            Some(b'{') => Format::Json,
            _ => Format::Toml,
        }
    }

    /// `TOML` or `JSON`.
    ///
    /// ```
    /// assert_eq!(redial::policy::file::Format::Json.name(), "JSON");
    /// ```
    pub fn name(self) -> &'static str {
        match self {
            Format::Toml => "TOML",
            Format::Json => "JSON",
        }
    }
}

/// Reads at most [`MAX_BYTES`] of a file, as UTF-8 text.
#[cfg(feature = "serde")]
pub(crate) fn read_path(path: &Path) -> Result<String, PolicyError> {
    let bytes = read_file(path)?;
    text_of(bytes).map_err(|l| l.error)
}

/// Reads at most [`MAX_BYTES`] of a file: a longer one (or `/dev/zero`) is refused after
/// `MAX_BYTES + 1` bytes, never read on.
///
/// ```
/// let err = redial::policy::file::read_file("/no/such/retry.toml".as_ref()).unwrap_err();
/// assert!(err.to_string().starts_with("/no/such/retry.toml: "));
/// ```
#[cfg(feature = "serde")]
pub fn read_file(path: &Path) -> Result<Vec<u8>, PolicyError> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| PolicyError::Read {
        path: name.clone(),
        message: e.to_string(),
    })?;
    read_limited(file, &name)
}

/// Reads at most [`MAX_BYTES`] from a reader (standard input, say), naming it `name` in
/// the error.
///
/// ```
/// let bytes = redial::policy::file::read_limited(&b"max_attempts = 2"[..], "-")?;
/// assert_eq!(bytes.len(), 16);
/// let err = redial::policy::file::read_limited(std::io::repeat(b'#'), "-").unwrap_err();
/// assert!(err.to_string().contains("256 KiB"));
/// # Ok::<(), redial::PolicyError>(())
/// ```
#[cfg(feature = "serde")]
pub fn read_limited(reader: impl std::io::Read, name: &str) -> Result<Vec<u8>, PolicyError> {
    use std::io::Read;
    let read_error = |message: String| PolicyError::Read {
        path: name.to_owned(),
        message,
    };
    let mut bytes = Vec::new();
    // One byte more than the limit tells "at the limit" from "over it" without reading on.
    reader
        .take(MAX_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| read_error(e.to_string()))?;
    if bytes.len() > MAX_BYTES {
        return Err(read_error(too_large()));
    }
    Ok(bytes)
}

#[cfg(feature = "serde")]
pub(super) fn too_large() -> String {
    format!(
        "larger than the {} KiB a policy file may hold; is it the right file?",
        MAX_BYTES / 1024
    )
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;

    /// Issue 13, item 2: `check` on a symlink to /dev/zero grew to 3.7 GB; at most
    /// MAX_BYTES + 1 bytes are read now.
    #[cfg(unix)]
    #[test]
    fn issue_13_dev_zero_is_refused_after_the_limit() {
        let path = std::env::temp_dir().join(format!("redial-zero-{}.toml", std::process::id()));
        let _ = std::fs::remove_file(&path);
        std::os::unix::fs::symlink("/dev/zero", &path).unwrap();
        let err = Policy::from_path(&path).unwrap_err();
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(err, PolicyError::Read { .. }), "{err:?}");
        assert!(
            err.to_string()
                .ends_with("larger than the 256 KiB a policy file may hold; is it the right file?"),
            "{err}"
        );
    }

    #[test]
    fn from_path_picks_the_format_by_extension() {
        let dir = std::env::temp_dir();
        let id = std::process::id();
        let toml = dir.join(format!("redial-test-{id}.TOML"));
        let json = dir.join(format!("redial-test-{id}.json"));
        std::fs::write(&toml, "max_attempts = 2").unwrap();
        std::fs::write(&json, r#"{"max_attempts": 2}"#).unwrap();
        let a = Policy::from_path(&toml).unwrap();
        let b = Policy::from_path(&json).unwrap();
        std::fs::remove_file(&toml).unwrap();
        std::fs::remove_file(&json).unwrap();
        assert_eq!(a, b);
        let missing = Policy::from_path(dir.join("redial-no-such-file.toml")).unwrap_err();
        assert!(matches!(missing, PolicyError::Read { .. }), "{missing:?}");
    }

    #[test]
    fn deserialize_names_the_path_inside_the_policy() {
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Service {
            retry: Policy,
        }
        let e = serde_json::from_str::<Service>(r#"{"retry": {"backoff": {"factor": -1}}}"#)
            .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("backoff.factor: must be a finite number > 0, got -1.0"),
            "{e}"
        );
    }
}
