//! What `redial check` says of a policy beyond the builder's rules: settings that cannot be
//! meant (errors) and settings that are legal but probably a mistake (warnings).
//!
//! The builder accepts every policy that runs; these rules refuse the ones that run against
//! their own purpose: a zero base (every retry at once), a wait of more than a day, a retry
//! status that is a success, a budget whose retries cost nothing, hints clamped to zero.
//! They are kept apart from [`PolicyBuilder::build`](crate::PolicyBuilder::build) so that a
//! service loading its policy is never broken by a new check: the check tool (and CI)
//! applies them.
//!
//! ```
//! use redial::policy::lint::Severity;
//! let policy = redial::Policy::from_toml("[budget]\nretry_cost = 0")?;
//! let findings = policy.lint();
//! assert_eq!(findings[0].severity, Severity::Error);
//! assert_eq!(findings[0].to_string(), "budget.retry_cost: must be at least 1 when the budget is enabled: a retry that costs nothing is never stopped by the budget (set budget.enabled = false for no budget), got 0");
//! # Ok::<(), redial::PolicyError>(())
//! ```

use core::fmt;
use core::time::Duration;

use super::{Policy, PolicyBuilder};
use crate::backoff::Curve;
use crate::duration::Exact;
use crate::machine::OnLongHint;

/// The longest duration a setting may hold: a retry wait of more than a day cannot be meant.
///
/// ```
/// let p = redial::Policy::from_toml("[backoff]\ncap = \"25h\"")?;
/// assert_eq!(p.lint()[0].key, "backoff.cap");
/// # Ok::<(), redial::PolicyError>(())
/// ```
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// The most attempts a policy may make: more add load during the very outages that cause
/// them; a call that must keep trying is bounded by `max_elapsed` instead.
///
/// ```
/// let p = redial::Policy::builder().max_attempts(101).build()?;
/// assert_eq!(p.lint()[0].key, "max_attempts");
/// # Ok::<(), redial::PolicyError>(())
/// ```
pub const MAX_ATTEMPTS: u32 = 100;

/// How bad a finding is.
///
/// ```
/// use redial::policy::lint::Severity;
/// assert!(Severity::Error < Severity::Warning, "errors sort first");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Severity {
    /// The policy cannot be meant (or cannot be read): `check` fails.
    Error,
    /// Legal, but probably a mistake: `check` passes unless `--strict`.
    Warning,
}

impl Severity {
    /// `error` or `warning`.
    ///
    /// ```
    /// assert_eq!(redial::policy::lint::Severity::Warning.as_str(), "warning");
    /// ```
    pub const fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

/// One thing wrong with a policy (file): the key, the rule, and where it is when known.
///
/// ```
/// let findings = redial::Policy::from_toml("max_elapsed = \"100ms\"")?.lint();
/// assert_eq!(findings[0].key, "max_elapsed");
/// assert!(findings[0].rule.contains("shorter than the first retry's backoff (500ms)"));
/// # Ok::<(), redial::PolicyError>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Finding {
    /// Error or warning.
    pub severity: Severity,
    /// The key path (`backoff.cap`), `line N` for a syntax error, `policy` for the file.
    pub key: String,
    /// What is wrong and what to do: the message after the key.
    pub rule: String,
    /// The 1-based line in the file, when the key is written there.
    pub line: Option<usize>,
    /// The 1-based column (in characters), when known.
    pub column: Option<usize>,
}

impl Finding {
    fn new(severity: Severity, key: &str, rule: String) -> Finding {
        Finding {
            severity,
            key: key.into(),
            rule,
            line: None,
            column: None,
        }
    }

    /// A policy error as an error finding.
    #[cfg(feature = "serde")]
    pub(crate) fn error(e: &super::PolicyError) -> Finding {
        let key = e.key();
        let text = e.to_string();
        let rule = text
            .strip_prefix(key)
            .and_then(|t| t.strip_prefix(": "))
            .unwrap_or(&text)
            .to_owned();
        Finding::new(Severity::Error, key, rule)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.rule)
    }
}

impl Policy {
    /// What `redial check` says of this policy beyond the builder's rules (see the
    /// [`lint`](crate::policy::lint) module): errors first, then warnings, each naming the
    /// key and why.
    ///
    /// ```
    /// assert!(redial::Policy::default().lint().is_empty());
    /// ```
    pub fn lint(&self) -> Vec<Finding> {
        let mut out = lint(&self.to_builder(), false);
        out.sort_by_key(|f| f.severity);
        out
    }
}

/// The findings for a builder; `empty` when the file it came from set nothing.
pub(crate) fn lint(b: &PolicyBuilder, empty: bool) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut error = |key: &str, rule: String| out.push(Finding::new(Severity::Error, key, rule));
    if b.max_attempts > MAX_ATTEMPTS {
        error(
            "max_attempts",
            format!(
                "must be at most {MAX_ATTEMPTS}: more attempts only add load during the outages \
                 that cause them (bound the time with max_elapsed instead), got {}",
                b.max_attempts
            ),
        );
    }
    for (key, value) in [
        ("max_elapsed", b.max_elapsed),
        ("backoff.base", Some(b.base)),
        ("backoff.cap", Some(b.cap)),
        ("hints.max_hint", Some(b.max_hint)),
    ] {
        if let Some(d) = value.filter(|d| *d > MAX_DURATION) {
            error(
                key,
                format!(
                    "must be at most {}: a wait longer than a day cannot be meant, got {}",
                    Exact(MAX_DURATION),
                    Exact(d)
                ),
            );
        }
    }
    if b.base.is_zero() {
        error(
            "backoff.base",
            "must be more than 0s: with a base of 0s every backoff delay is 0s, so every \
             retry is made at once, got 0s"
                .into(),
        );
    }
    let successes: Vec<String> = b
        .retry_status
        .iter()
        .filter(|c| *c < 400)
        .map(|c| c.to_string())
        .collect();
    if !successes.is_empty() {
        error(
            "classify.retry_status",
            format!(
                "must hold error statuses (400 to 599): 1xx to 3xx are successes, which are \
                 never retried, got {}",
                successes.join(", ")
            ),
        );
    }
    let budget = &b.budget;
    if budget.enabled && budget.kind == crate::budget::BudgetKind::Aws {
        for (key, cost) in [
            ("budget.retry_cost", budget.retry_cost),
            ("budget.timeout_cost", budget.timeout_cost),
        ] {
            if cost == 0 {
                error(
                    key,
                    "must be at least 1 when the budget is enabled: a retry that costs nothing \
                     is never stopped by the budget (set budget.enabled = false for no budget), \
                     got 0"
                        .into(),
                );
            }
        }
    }
    if b.honor_hints && b.max_hint.is_zero() && b.on_long_hint == OnLongHint::Clamp {
        error(
            "hints.max_hint",
            "must be more than 0s with on_long_hint = \"clamp\": every wait a server asks for \
             would be cut to 0s and retried at once, the opposite of what it asked, got 0s"
                .into(),
        );
    }

    let mut warn = |key: &str, rule: String| out.push(Finding::new(Severity::Warning, key, rule));
    if empty {
        warn(
            "policy",
            "the file sets nothing, so it is the default preset: write preset = \"default\" \
             to say so"
                .into(),
        );
    }
    let first = b.base.min(b.cap);
    if let Some(limit) = b.max_elapsed.filter(|l| *l < first && !l.is_zero()) {
        warn(
            "max_elapsed",
            format!(
                "{} is shorter than the first retry's backoff ({}): most retries will not be \
                 made",
                Exact(limit),
                Exact(first)
            ),
        );
    }
    if b.honor_hints && b.max_hint.is_zero() && b.on_long_hint == OnLongHint::Stop {
        warn(
            "hints.max_hint",
            "0s with on_long_hint = \"stop\": every server hint longer than 0s stops the call"
                .into(),
        );
    }
    if b.curve == Curve::Exponential && b.factor.is_finite() && b.factor > 0.0 && b.factor < 1.0 {
        warn(
            "backoff.factor",
            format!(
                "{:?} is below 1: each exponential delay is shorter than the one before",
                b.factor
            ),
        );
    }
    if b.retry_status.iter().next().is_none() {
        warn(
            "classify.retry_status",
            "is empty: no status is retried, only transport failures and error types".into(),
        );
    }
    out
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;
    use crate::Preset;

    fn findings(toml: &str) -> Vec<String> {
        let b = crate::Policy::from_toml(toml).unwrap().to_builder();
        lint(&b, false)
            .iter()
            .map(|f| format!("{} {}", f.severity.as_str(), f.key))
            .collect()
    }

    #[test]
    fn presets_have_no_findings() {
        for preset in Preset::ALL {
            assert_eq!(lint(&preset.builder(), false), vec![], "{preset}");
        }
    }

    /// Issue 13, item 4: policies that defeat themselves passed `check`.
    #[test]
    fn issue_13_self_defeating_policies_are_refused_by_key() {
        let cases = [
            (
                "[hints]\nmax_hint = \"0s\"\non_long_hint = \"clamp\"",
                "error hints.max_hint",
            ),
            (
                "[backoff]\nbase = \"0s\"\ncap = \"0s\"",
                "error backoff.base",
            ),
            ("[backoff]\ncap = \"99999999999h\"", "error backoff.cap"),
            ("max_attempts = 4294967295", "error max_attempts"),
            ("[budget]\nretry_cost = 0", "error budget.retry_cost"),
            ("[budget]\ntimeout_cost = 0", "error budget.timeout_cost"),
            (
                "[classify]\nretry_status = [200, 304, 503]",
                "error classify.retry_status",
            ),
            ("max_elapsed = \"100ms\"", "warning max_elapsed"),
            ("[hints]\nmax_hint = \"0s\"", "warning hints.max_hint"),
            ("[backoff]\nfactor = 0.5", "warning backoff.factor"),
            (
                "[classify]\nretry_status = []",
                "warning classify.retry_status",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(findings(text), vec![want.to_string()], "{text}");
        }
    }

    #[test]
    fn the_limits_themselves_pass() {
        let text = "max_attempts = 100\nmax_elapsed = \"24h\"\n[backoff]\ncap = \"24h\"\n[budget]\nenabled = false\nretry_cost = 0";
        assert_eq!(findings(text), Vec::<String>::new());
    }

    #[test]
    fn an_empty_file_is_a_warning() {
        let b = Preset::Default.builder();
        let found = lint(&b, true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].severity, Severity::Warning);
        assert_eq!(found[0].key, "policy");
    }
}
