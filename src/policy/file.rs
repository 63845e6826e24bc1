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
//! overload_ratio = 0.1                # adaptive: retries per first attempt after 503/529
//! retry_ratio = 2.0                   # adaptive: retries per first attempt otherwise
//! min_retries = 0.5                   # adaptive: on top of the ratios, per window
//! # capacity = 500                    # aws: the token bucket (without a `kind`, these
//!                                     # keys alone mean kind = "aws", as before kinds)
//! # retry_cost = 5
//! # timeout_cost = 10
//! # success_refund = 1
//! ```
//!
//! Durations are strings in the [`duration`] grammar (`500ms`, `8s`,
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

use core::fmt;
use core::time::Duration;
use std::path::Path;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{Policy, PolicyBuilder, PolicyError, Preset};
use crate::backoff::Jitter;
use crate::budget::{BudgetConfig, BudgetKind};
use crate::duration;

const TOP_KEYS: &str =
    "preset, max_attempts, max_elapsed, non_idempotent, backoff, hints, classify, budget";
const BACKOFF_KEYS: &str = "kind, base, cap, factor, jitter, jitter_ratio";
const HINTS_KEYS: &str = "honor, max_hint, on_long_hint";
const CLASSIFY_KEYS: &str = "retry_status";
const BUDGET_KEYS: &str = "enabled, kind, capacity, retry_cost, timeout_cost, success_refund, window, overload_ratio, retry_ratio, min_retries";

/// The ratio `jitter = "proportional"` takes when neither the file nor the preset gives one:
/// the official Anthropic and OpenAI SDKs take up to 25 % off.
const DEFAULT_JITTER_RATIO: f64 = 0.25;

impl Policy {
    /// Loads a policy from TOML text (see [the policy file format](crate::policy::file)).
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
        let root: Node = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .and_then(|span| text.get(..span.start))
                .map_or(1, |before| before.matches('\n').count() + 1);
            PolicyError::Syntax {
                key: format!("line {line}"),
                message: e.message().trim().to_owned(),
            }
        })?;
        load(root)
    }

    /// Loads a policy from JSON text: the TOML file's shape, tables as objects.
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
        let root: Node = serde_json::from_str(text).map_err(|e| {
            let message = e.to_string();
            // serde_json appends " at line L column C"; the line goes in the key instead.
            let message = match message.rfind(" at line ") {
                Some(at) => message.get(..at).unwrap_or(&message).to_owned(),
                None => message,
            };
            PolicyError::Syntax {
                key: format!("line {}", e.line().max(1)),
                message,
            }
        })?;
        load(root)
    }

    /// Loads a policy file, TOML or JSON by its extension (`.toml`, `.json`).
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
        let read_error = |message: String| PolicyError::Read {
            path: path.display().to_string(),
            message,
        };
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let from_text: fn(&str) -> Result<Policy, PolicyError> = match ext.as_deref() {
            Some("toml") => Policy::from_toml,
            Some("json") => Policy::from_json,
            _ => return Err(read_error("expected a .toml or .json file".into())),
        };
        let text = std::fs::read_to_string(path).map_err(|e| read_error(e.to_string()))?;
        from_text(&text)
    }

    /// Writes every setting as a TOML policy file that [`Policy::from_toml`] loads back
    /// equal. Nothing is left to a preset, so the text reads as the effective policy.
    ///
    /// ```
    /// use redial::{Policy, Preset};
    /// let policy = Policy::preset(Preset::AwsStandard);
    /// let text = policy.to_toml();
    /// assert!(text.contains("cap = \"20s\""));
    /// assert_eq!(Policy::from_toml(&text)?, policy);
    /// # Ok::<(), redial::PolicyError>(())
    /// ```
    pub fn to_toml(&self) -> String {
        // The effective-policy text is valid TOML that loads back to the same policy.
        self.to_string()
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
impl<'de> Deserialize<'de> for Policy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Policy, D::Error> {
        let root = Node::deserialize(deserializer)?;
        load(root).map_err(de::Error::custom)
    }
}

/// Turns a parsed file into a policy: the preset first, then every key through the
/// builder's setters, then the builder's own checks.
fn load(root: Node) -> Result<Policy, PolicyError> {
    let entries = table("policy", root)?;
    let preset = match entries.iter().find(|(k, _)| k == "preset") {
        Some((_, node)) => string("preset", node)?.parse::<Preset>()?,
        None => Preset::Default,
    };
    let mut b = preset.builder();
    for (key, node) in entries {
        b = match key.as_str() {
            "preset" => b,
            "max_attempts" => b.max_attempts(uint(&key, &node)?),
            "max_elapsed" => b.max_elapsed(duration(&key, &node)?),
            "non_idempotent" => b.non_idempotent(string(&key, &node)?.parse()?),
            "backoff" => backoff(b, node)?,
            "hints" => hints(b, node)?,
            "classify" => classify(b, node)?,
            "budget" => budget(b, node)?,
            _ => return Err(unknown(None, &key, TOP_KEYS)),
        };
    }
    b.build()
}

fn backoff(mut b: PolicyBuilder, node: Node) -> Result<PolicyBuilder, PolicyError> {
    let mut jitter: Option<(String, &'static str)> = None;
    let mut ratio = None;
    for (key, node) in table("backoff", node)? {
        let path = format!("backoff.{key}");
        b = match key.as_str() {
            "kind" => b.curve(string(&path, &node)?.parse()?),
            "base" => b.base(duration(&path, &node)?),
            "cap" => b.cap(duration(&path, &node)?),
            "factor" => b.factor(float(&path, &node)?),
            "jitter" => {
                jitter = Some((path.clone(), jitter_name(&path, &node)?));
                b
            }
            "jitter_ratio" => {
                ratio = Some(float(&path, &node)?);
                b
            }
            _ => return Err(unknown(Some("backoff"), &key, BACKOFF_KEYS)),
        };
    }
    let preset_ratio = match b.jitter {
        Jitter::Proportional(r) => Some(r),
        _ => None,
    };
    let name = match &jitter {
        Some((_, name)) => *name,
        None => b.jitter.name(),
    };
    let chosen = match name {
        "none" => Jitter::None,
        "full" => Jitter::Full,
        "equal" => Jitter::Equal,
        "decorrelated" => Jitter::Decorrelated,
        _ => Jitter::Proportional(ratio.or(preset_ratio).unwrap_or(DEFAULT_JITTER_RATIO)),
    };
    if ratio.is_some() && !matches!(chosen, Jitter::Proportional(_)) {
        return Err(PolicyError::Invalid {
            key: "backoff.jitter_ratio".into(),
            rule: "used with jitter = \"proportional\" only".into(),
            got: format!("jitter = \"{name}\""),
        });
    }
    Ok(b.jitter(chosen))
}

fn jitter_name(path: &str, node: &Node) -> Result<&'static str, PolicyError> {
    let s = string(path, node)?;
    ["none", "full", "equal", "proportional", "decorrelated"]
        .into_iter()
        .find(|name| *name == s)
        .ok_or_else(|| PolicyError::Invalid {
            key: path.into(),
            rule: "one of none, full, equal, proportional, decorrelated".into(),
            got: format!("{s:?}"),
        })
}

fn hints(mut b: PolicyBuilder, node: Node) -> Result<PolicyBuilder, PolicyError> {
    for (key, node) in table("hints", node)? {
        let path = format!("hints.{key}");
        b = match key.as_str() {
            "honor" => b.honor_hints(boolean(&path, &node)?),
            "max_hint" => b.max_hint(duration(&path, &node)?),
            "on_long_hint" => b.on_long_hint(string(&path, &node)?.parse()?),
            _ => return Err(unknown(Some("hints"), &key, HINTS_KEYS)),
        };
    }
    Ok(b)
}

fn classify(mut b: PolicyBuilder, node: Node) -> Result<PolicyBuilder, PolicyError> {
    for (key, node) in table("classify", node)? {
        let path = format!("classify.{key}");
        b = match key.as_str() {
            "retry_status" => {
                let Node::Array(items) = node else {
                    return Err(wrong_type(&path, "an array of status codes", &node));
                };
                let mut codes = Vec::with_capacity(items.len());
                for item in &items {
                    let Node::Int(code) = *item else {
                        return Err(wrong_type(&path, "an array of status codes", item));
                    };
                    // Codes that fit no u16 are out of range too; the builder checks the rest.
                    let code = u16::try_from(code).map_err(|_| PolicyError::Invalid {
                        key: path.clone(),
                        rule: "status codes from 100 to 599".into(),
                        got: code.to_string(),
                    })?;
                    codes.push(code);
                }
                b.retry_status(codes)
            }
            _ => return Err(unknown(Some("classify"), &key, CLASSIFY_KEYS)),
        };
    }
    Ok(b)
}

fn budget(b: PolicyBuilder, node: Node) -> Result<PolicyBuilder, PolicyError> {
    let mut config: BudgetConfig = b.budget;
    // A key of the other kind would be silently ignored: the first one seen, per kind.
    let (mut aws_key, mut adaptive_key, mut kind_set) = (None, None, false);
    for (key, node) in table("budget", node)? {
        let path = format!("budget.{key}");
        match key.as_str() {
            "capacity" | "retry_cost" | "timeout_cost" | "success_refund" => {
                aws_key = aws_key.or(Some(path.clone()))
            }
            "window" | "overload_ratio" | "retry_ratio" | "min_retries" => {
                adaptive_key = adaptive_key.or(Some(path.clone()))
            }
            "kind" => kind_set = true,
            _ => {}
        }
        match key.as_str() {
            "enabled" => config.enabled = boolean(&path, &node)?,
            "kind" => config.kind = string(&path, &node)?.parse()?,
            "window" => config.window = duration(&path, &node)?,
            "overload_ratio" => config.overload_ratio = float(&path, &node)?,
            "retry_ratio" => config.retry_ratio = float(&path, &node)?,
            "min_retries" => config.min_retries = float(&path, &node)?,
            "capacity" => config.capacity = uint(&path, &node)?,
            "retry_cost" => config.retry_cost = uint(&path, &node)?,
            "timeout_cost" => config.timeout_cost = uint(&path, &node)?,
            "success_refund" => config.success_refund = uint(&path, &node)?,
            _ => return Err(unknown(Some("budget"), &key, BUDGET_KEYS)),
        }
    }
    // Files written before there were kinds set the bucket's numbers and mean the bucket.
    if !kind_set {
        if aws_key.is_some() && adaptive_key.is_none() {
            config.kind = BudgetKind::Aws;
        } else if adaptive_key.is_some() {
            config.kind = BudgetKind::Adaptive;
        }
    }
    let (stray, needs) = match config.kind {
        BudgetKind::Adaptive => (aws_key, BudgetKind::Aws),
        BudgetKind::Aws => (adaptive_key, BudgetKind::Adaptive),
    };
    if let Some(path) = stray {
        return Err(PolicyError::invalid(
            &path,
            &format!("set only with kind = \"{needs}\""),
            format!("kind = \"{}\"", config.kind),
        ));
    }
    Ok(b.budget(config))
}

/// A key no table of `table` (the top level when `None`) has. Its path writes the key as
/// TOML would: bare where it can be, quoted otherwise, so that an empty key reads `""`
/// rather than nothing and a key holding a dot cannot pass for a path.
fn unknown(table: Option<&str>, key: &str, expected: &str) -> PolicyError {
    let key = match table {
        Some(table) => format!("{table}.{}", TomlKey(key)),
        None => TomlKey(key).to_string(),
    };
    PolicyError::UnknownKey {
        key,
        expected: expected.into(),
    }
}

/// A key as TOML writes it (TOML 1.0, "Keys"): bare when it is one or more of
/// `A-Za-z0-9_-`, otherwise a basic string with quotation marks, backslashes and control
/// characters escaped (TOML requires it of all but U+0080 to U+009F; escaping those too keeps
/// an error message on one line).
struct TomlKey<'a>(&'a str);

impl fmt::Display for TomlKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = self.0;
        let bare = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
        if !key.is_empty() && key.chars().all(bare) {
            return f.write_str(key);
        }
        f.write_str("\"")?;
        for c in key.chars() {
            match c {
                '"' => f.write_str("\\\"")?,
                '\\' => f.write_str("\\\\")?,
                '\u{8}' => f.write_str("\\b")?,
                '\t' => f.write_str("\\t")?,
                '\n' => f.write_str("\\n")?,
                '\u{c}' => f.write_str("\\f")?,
                '\r' => f.write_str("\\r")?,
                c if c.is_control() => write!(f, "\\u{:04X}", c as u32)?,
                c => write!(f, "{c}")?,
            }
        }
        f.write_str("\"")
    }
}

fn wrong_type(path: &str, expected: &str, found: &Node) -> PolicyError {
    PolicyError::Syntax {
        key: path.into(),
        message: format!("expected {expected}, found {found}"),
    }
}

fn table(path: &str, node: Node) -> Result<Vec<(String, Node)>, PolicyError> {
    match node {
        Node::Table(entries) => Ok(entries),
        other => Err(wrong_type(path, "a table", &other)),
    }
}

fn string<'a>(path: &str, node: &'a Node) -> Result<&'a str, PolicyError> {
    match node {
        Node::Str(s) => Ok(s),
        other => Err(wrong_type(path, "a string", other)),
    }
}

fn boolean(path: &str, node: &Node) -> Result<bool, PolicyError> {
    match *node {
        Node::Bool(b) => Ok(b),
        ref other => Err(wrong_type(path, "true or false", other)),
    }
}

fn uint(path: &str, node: &Node) -> Result<u32, PolicyError> {
    match *node {
        Node::Int(i) => u32::try_from(i).map_err(|_| PolicyError::Invalid {
            key: path.into(),
            rule: if i < 0 { ">= 0" } else { "<= 4294967295" }.into(),
            got: i.to_string(),
        }),
        ref other => Err(wrong_type(path, "a whole number", other)),
    }
}

fn float(path: &str, node: &Node) -> Result<f64, PolicyError> {
    match *node {
        Node::Float(f) => Ok(f),
        // Whole numbers are numbers too (`factor = 2`); i128 → f64 may round, which is fine
        // for a factor or a ratio.
        Node::Int(i) => Ok(i as f64),
        ref other => Err(wrong_type(path, "a number", other)),
    }
}

fn duration(path: &str, node: &Node) -> Result<Duration, PolicyError> {
    let Node::Str(s) = node else {
        return Err(wrong_type(
            path,
            "a duration string such as \"500ms\"",
            node,
        ));
    };
    duration::parse(s).map_err(|_| PolicyError::Invalid {
        key: path.into(),
        rule: "a duration such as 500ms, 8s or 2m".into(),
        got: format!("{s:?}"),
    })
}

/// A parsed file, format-neutral: what TOML and JSON (and any serde format) have in common.
/// Tables keep their keys in the order the format gives them.
#[derive(Debug)]
enum Node {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Datetime,
    Array(Vec<Node>),
    Table(Vec<(String, Node)>),
}

impl fmt::Display for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Null => f.write_str("null"),
            Node::Bool(b) => write!(f, "{b}"),
            Node::Int(i) => write!(f, "the integer {i}"),
            Node::Float(x) => write!(f, "the number {x:?}"),
            Node::Str(s) => write!(f, "the string {s:?}"),
            Node::Datetime => f.write_str("a date"),
            Node::Array(_) => f.write_str("an array"),
            Node::Table(_) => f.write_str("a table"),
        }
    }
}

/// The key under which the `toml` crate hands a TOML date to a generic visitor.
const TOML_DATETIME_KEY: &str = "$__toml_private_datetime";

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a policy setting")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Node, E> {
        Ok(Node::Int(v.into()))
    }

    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Node, E> {
        Ok(Node::Int(i128::try_from(v).unwrap_or(i128::MAX)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        Node::deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Node>()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries: Vec<(String, Node)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value::<Node>()?;
            if key == TOML_DATETIME_KEY {
                return Ok(Node::Datetime);
            }
            if entries.iter().any(|(k, _)| *k == key) {
                // TOML rejects these itself; JSON parsers would keep the last one silently.
                return Err(de::Error::custom(format_args!("duplicate key `{key}`")));
            }
            entries.push((key, value));
        }
        Ok(Node::Table(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::Curve;
    use crate::classify::{NonIdempotent, StatusSet};
    use crate::machine::OnLongHint;
    use proptest::prelude::*;

    fn err(toml: &str) -> String {
        match Policy::from_toml(toml) {
            Ok(p) => panic!("accepted {toml:?} as {p:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_design_example_loads() {
        let text = r#"
preset = "default"
max_attempts = 4
max_elapsed = "30s"
non_idempotent = "when_safe"        # when_safe | always | never

[backoff]
kind = "exponential"                # exponential | constant | linear
base = "200ms"
cap = "5s"
factor = 2.0
jitter = "proportional"
jitter_ratio = 0.25                 # for proportional

[hints]
honor = true
max_hint = "60s"
on_long_hint = "stop"               # stop | clamp

[classify]
retry_status = [408, 425, 429, 500, 502, 503, 504, 529]

[budget]
enabled = true
capacity = 500
retry_cost = 5
timeout_cost = 10
success_refund = 1
"#;
        let expected = Policy::builder()
            .max_attempts(4)
            .max_elapsed(Duration::from_secs(30))
            .base(Duration::from_millis(200))
            .cap(Duration::from_secs(5))
            .jitter(Jitter::Proportional(0.25))
            // The bucket's numbers with no `kind`: the AWS bucket, as before kinds.
            .budget(BudgetConfig::aws())
            .build()
            .unwrap();
        assert_eq!(Policy::from_toml(text).unwrap(), expected);
    }

    #[test]
    fn an_empty_file_is_the_default_preset() {
        assert_eq!(Policy::from_toml("").unwrap(), Policy::default());
        assert_eq!(Policy::from_json("{}").unwrap(), Policy::default());
    }

    #[test]
    fn every_key_falls_back_to_the_named_preset() {
        for preset in Preset::ALL {
            let text = format!("preset = \"{preset}\"");
            assert_eq!(Policy::from_toml(&text).unwrap(), Policy::preset(preset));
        }
        let p = Policy::from_toml("preset = \"anthropic\"\nmax_attempts = 5").unwrap();
        let expected = Preset::Anthropic.builder().max_attempts(5).build().unwrap();
        assert_eq!(p, expected);
    }

    #[test]
    fn every_key_reaches_its_setter() {
        let text = r#"
max_attempts = 7
max_elapsed = "2m"
non_idempotent = "never"
[backoff]
kind = "linear"
base = "100ms"
cap = "3s"
factor = 3
jitter = "decorrelated"
[hints]
honor = false
max_hint = "10s"
on_long_hint = "clamp"
[classify]
retry_status = [503]
[budget]
enabled = false
kind = "aws"
capacity = 50
retry_cost = 2
timeout_cost = 4
success_refund = 3
"#;
        let expected = Policy::builder()
            .max_attempts(7)
            .max_elapsed(Duration::from_secs(120))
            .non_idempotent(NonIdempotent::Never)
            .curve(Curve::Linear)
            .base(Duration::from_millis(100))
            .cap(Duration::from_secs(3))
            .factor(3.0)
            .jitter(Jitter::Decorrelated)
            .honor_hints(false)
            .max_hint(Duration::from_secs(10))
            .on_long_hint(OnLongHint::Clamp)
            .retry_status([503])
            .budget(BudgetConfig::new(50, 2, 4, 3).disabled())
            .build()
            .unwrap();
        assert_eq!(Policy::from_toml(text).unwrap(), expected);
    }

    #[test]
    fn json_has_the_same_shape() {
        let json = r#"{"preset": "aws-standard", "max_attempts": 2,
            "backoff": {"jitter": "equal"}, "classify": {"retry_status": [429]}}"#;
        let toml = "preset = \"aws-standard\"\nmax_attempts = 2\n[backoff]\njitter = \"equal\"\n[classify]\nretry_status = [429]";
        assert_eq!(
            Policy::from_json(json).unwrap(),
            Policy::from_toml(toml).unwrap()
        );
    }

    #[test]
    fn proportional_jitter_takes_the_presets_ratio_or_a_quarter() {
        let p = Policy::from_toml("preset = \"openai\"\n[backoff]\njitter_ratio = 0.5").unwrap();
        assert_eq!(p.rules().backoff().jitter(), Jitter::Proportional(0.5));
        let p = Policy::from_toml("[backoff]\njitter = \"proportional\"").unwrap();
        assert_eq!(p.rules().backoff().jitter(), Jitter::Proportional(0.25));
        let p =
            Policy::from_toml("[backoff]\njitter = \"proportional\"\njitter_ratio = 0").unwrap();
        assert_eq!(p.rules().backoff().jitter(), Jitter::Proportional(0.0));
    }

    #[test]
    fn errors_name_the_key_path_and_the_rule() {
        let cases = [
            ("max_attempts = 0", "max_attempts: must be at least 1, got 0"),
            ("max_attempts = -1", "max_attempts: must be >= 0, got -1"),
            ("max_attempts = 4294967296", "max_attempts: must be <= 4294967295, got 4294967296"),
            ("max_attempts = \"3\"", "max_attempts: expected a whole number, found the string \"3\""),
            ("max_attempts = 2.5", "max_attempts: expected a whole number, found the number 2.5"),
            ("max_elapsed = \"0s\"", "max_elapsed: must be more than 0s, got 0s"),
            ("max_elapsed = \"30 seconds\"", "max_elapsed: must be a duration such as 500ms, 8s or 2m, got \"30 seconds\""),
            ("max_elapsed = 30", "max_elapsed: expected a duration string such as \"500ms\", found the integer 30"),
            ("max_elapsed = 1979-05-27", "max_elapsed: expected a duration string such as \"500ms\", found a date"),
            ("non_idempotent = \"sometimes\"", "non_idempotent: must be one of when_safe, always, never, got \"sometimes\""),
            ("preset = \"google\"", "preset: must be one of default, anthropic, openai, aws-standard, got \"google\""),
            ("[backoff]\nbase = \"200ms\"\ncap = \"100ms\"", "backoff.cap: must be >= base (200ms), got 100ms"),
            ("[backoff]\nfactor = 0", "backoff.factor: must be a finite number > 0, got 0.0"),
            ("[backoff]\nfactor = -2.0", "backoff.factor: must be a finite number > 0, got -2.0"),
            ("[backoff]\nfactor = nan", "backoff.factor: must be a finite number > 0, got NaN"),
            ("[backoff]\nkind = \"fibonacci\"", "backoff.kind: must be one of exponential, constant, linear, got \"fibonacci\""),
            ("[backoff]\njitter = \"some\"", "backoff.jitter: must be one of none, full, equal, proportional, decorrelated, got \"some\""),
            ("[backoff]\njitter = \"proportional\"\njitter_ratio = -0.1", "backoff.jitter_ratio: must be between 0 and 1, got -0.1"),
            ("[backoff]\njitter = \"full\"\njitter_ratio = 0.5", "backoff.jitter_ratio: must be used with jitter = \"proportional\" only, got jitter = \"full\""),
            ("[backoff]\nbase = 1", "backoff.base: expected a duration string such as \"500ms\", found the integer 1"),
            ("[backoff]\nbse = \"1s\"", "backoff.bse: unknown key (expected one of kind, base, cap, factor, jitter, jitter_ratio)"),
            ("[hints]\nhonor = \"yes\"", "hints.honor: expected true or false, found the string \"yes\""),
            ("[hints]\non_long_hint = \"wait\"", "hints.on_long_hint: must be one of stop, clamp, got \"wait\""),
            ("[hints]\nmax = \"1s\"", "hints.max: unknown key (expected one of honor, max_hint, on_long_hint)"),
            ("[classify]\nretry_status = [429, 600]", "classify.retry_status: must be status codes from 100 to 599, got 600"),
            ("[classify]\nretry_status = [429, 70000]", "classify.retry_status: must be status codes from 100 to 599, got 70000"),
            ("[classify]\nretry_status = [\"429\"]", "classify.retry_status: expected an array of status codes, found the string \"429\""),
            ("[classify]\nretry_status = 429", "classify.retry_status: expected an array of status codes, found the integer 429"),
            ("[budget]\nkind = \"aws\"\ncapacity = 0", "budget.capacity: must be at least 1 when the budget is enabled, got 0"),
            ("[budget]\nkind = \"aws\"\ncapacity = 4", "budget.retry_cost: must be <= capacity (4), got 5"),
            ("[budget]\nkind = \"aws\"\ntimeout_cost = 501", "budget.timeout_cost: must be <= capacity (500), got 501"),
            ("preset = \"aws-standard\"\n[budget]\nsuccess_refund = 501", "budget.success_refund: must be <= capacity (500), got 501"),
            ("[budget]\nkind = \"adaptive\"\ncapacity = 100", "budget.capacity: must be set only with kind = \"aws\", got kind = \"adaptive\""),
            ("[budget]\nwindow = \"1m\"\ncapacity = 100", "budget.capacity: must be set only with kind = \"aws\", got kind = \"adaptive\""),
            ("[budget]\nkind = \"aws\"\nwindow = \"1m\"", "budget.window: must be set only with kind = \"adaptive\", got kind = \"aws\""),
            ("[budget]\nkind = \"lifo\"", "budget.kind: must be one of adaptive, aws, got \"lifo\""),
            ("[budget]\nwindow = \"0s\"", "budget.window: must be more than 0s, got 0s"),
            ("[budget]\noverload_ratio = -0.5", "budget.overload_ratio: must be a number from 0 to 10, got -0.5"),
            ("[budget]\nretry_ratio = 11", "budget.retry_ratio: must be a number from 0 to 10, got 11.0"),
            ("[budget]\ncost = 1", "budget.cost: unknown key (expected one of enabled, kind, capacity, retry_cost, timeout_cost, success_refund, window, overload_ratio, retry_ratio, min_retries)"),
            ("retries = 3", "retries: unknown key (expected one of preset, max_attempts, max_elapsed, non_idempotent, backoff, hints, classify, budget)"),
            ("backoff = 3", "backoff: expected a table, found the integer 3"),
            ("max_attempts = 3\nmax_attempts = 4", "line 2: duplicate key"),
            ("max_attempts = ", "line 1: string values must be quoted, expected literal string"),
        ];
        for (text, want) in cases {
            let got = err(text);
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
        }
    }

    /// An empty unknown key gave the message ": unknown key", naming nothing (found by the
    /// `policy_file` fuzz target's invariant: every error names a key).
    #[test]
    fn issue_5_an_empty_or_quoted_unknown_key_is_named_as_toml_writes_it() {
        let cases = [
            ("\"\" = 1", "\"\": unknown key"),
            ("[backoff]\n\"\" = 1", "backoff.\"\": unknown key"),
            ("\"max.attempts\" = 1", "\"max.attempts\": unknown key"),
            (
                "[budget]\n\"cap acity\" = 1",
                "budget.\"cap acity\": unknown key",
            ),
            (
                "\"a\\\"b\\\\c\\n\\u0001\" = 1",
                r#""a\"b\\c\n\u0001": unknown key"#,
            ),
            ("\"r\u{e9}tries\" = 1", "\"r\u{e9}tries\": unknown key"),
        ];
        for (text, want) in cases {
            let got = err(text);
            assert!(got.starts_with(want), "{text:?}\n got: {got}\nwant: {want}");
        }
        let got = Policy::from_json(r#"{"hints": {"": true}}"#).unwrap_err();
        assert_eq!(got.key(), "hints.\"\"");
    }

    #[test]
    fn json_errors_name_the_key_path_or_the_line() {
        let got = Policy::from_json(r#"{"budget": {"capacity": -5}}"#).unwrap_err();
        assert_eq!(got.to_string(), "budget.capacity: must be >= 0, got -5");
        let got = Policy::from_json("{\n\"max_attempts\": 3,\n}").unwrap_err();
        assert_eq!(got.key(), "line 3");
        let got = Policy::from_json(r#"{"max_attempts": 3, "max_attempts": 4}"#).unwrap_err();
        assert_eq!(got.to_string(), "line 1: duplicate key `max_attempts`");
        let got = Policy::from_json("[1]").unwrap_err();
        assert_eq!(got.to_string(), "policy: expected a table, found an array");
        let got = Policy::from_json(r#"{"max_elapsed": null}"#).unwrap_err();
        assert_eq!(
            got.to_string(),
            "max_elapsed: expected a duration string such as \"500ms\", found null"
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
    fn to_toml_writes_every_preset_back() {
        for preset in Preset::ALL {
            let policy = Policy::preset(preset);
            let text = policy.to_toml();
            assert_eq!(Policy::from_toml(&text).unwrap(), policy, "{text}");
        }
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

    fn any_duration() -> impl Strategy<Value = Duration> {
        prop_oneof![
            (0u64..100_000).prop_map(Duration::from_millis),
            (0u64..10_000_000, 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
            (any::<u64>(), 0u32..1_000_000_000).prop_map(|(s, n)| Duration::new(s, n)),
        ]
    }

    fn any_f64() -> impl Strategy<Value = f64> {
        prop_oneof![
            0.0f64..10.0,
            0.0f64..=1.0,
            any::<f64>(),
            Just(f64::NAN),
            Just(-0.0),
        ]
    }

    fn any_u32() -> impl Strategy<Value = u32> {
        prop_oneof![0u32..1000, any::<u32>()]
    }

    fn any_builder() -> impl Strategy<Value = PolicyBuilder> {
        let limits = (
            any_u32(),
            proptest::option::of(any_duration()),
            prop_oneof![
                Just(NonIdempotent::WhenSafe),
                Just(NonIdempotent::Always),
                Just(NonIdempotent::Never)
            ],
        );
        let backoff = (
            prop_oneof![
                Just(Curve::Exponential),
                Just(Curve::Constant),
                Just(Curve::Linear)
            ],
            any_duration(),
            any_duration(),
            any_f64(),
            prop_oneof![
                Just(Jitter::None),
                Just(Jitter::Full),
                Just(Jitter::Equal),
                any_f64().prop_map(Jitter::Proportional),
                Just(Jitter::Decorrelated),
            ],
        );
        let hints = (
            any::<bool>(),
            any_duration(),
            prop_oneof![Just(OnLongHint::Stop), Just(OnLongHint::Clamp)],
        );
        let classify = proptest::collection::vec(50u16..700, 0..20);
        let budget = (any::<bool>(), any_u32(), any_u32(), any_u32(), any_u32());
        (limits, backoff, hints, classify, budget).prop_map(
            |(
                (attempts, elapsed, non_idem),
                (curve, base, cap, factor, jitter),
                (honor, max_hint, on_long),
                codes,
                (enabled, capacity, retry_cost, timeout_cost, refund),
            )| {
                let mut budget = BudgetConfig::new(capacity, retry_cost, timeout_cost, refund);
                budget.enabled = enabled;
                let b = Policy::builder()
                    .max_attempts(attempts)
                    .non_idempotent(non_idem)
                    .curve(curve)
                    .base(base)
                    .cap(cap)
                    .factor(factor)
                    .jitter(jitter)
                    .honor_hints(honor)
                    .max_hint(max_hint)
                    .on_long_hint(on_long)
                    .retry_status(codes)
                    .budget(budget);
                match elapsed {
                    Some(limit) => b.max_elapsed(limit),
                    None => b.no_max_elapsed(),
                }
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, max_global_rejects: 100_000, ..ProptestConfig::default() })]

        #[test]
        fn prop_policy_written_as_toml_loads_back_equal(builder in any_builder()) {
            let built = builder.build();
            prop_assume!(built.is_ok());
            let policy = built.unwrap();
            let text = policy.to_toml();
            let loaded = Policy::from_toml(&text);
            prop_assert_eq!(loaded.as_ref(), Ok(&policy), "{}", text);
        }

        #[test]
        fn prop_loading_never_panics(text in "\\PC{0,200}") {
            let _ = Policy::from_toml(&text);
            let _ = Policy::from_json(&text);
        }

        #[test]
        fn prop_retry_status_round_trips(codes in proptest::collection::vec(100u16..600, 0..200)) {
            let policy = Policy::builder().retry_status(codes.iter().copied()).build().unwrap();
            let set: StatusSet = codes.into_iter().collect();
            let loaded = Policy::from_toml(&policy.to_toml()).unwrap();
            prop_assert_eq!(*loaded.classifier().retry_status(), set);
        }
    }
}
