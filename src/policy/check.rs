//! Checking a policy file as `redial check` does: every error of the file at once, in file
//! order, each with its line and column, then the [`lint`] findings (feature
//! `serde`).
//!
//! ```
//! use redial::policy::check::check;
//! use redial::policy::file::Format;
//!
//! let report = check("max_attempts = 0\n[backoff]\nbase = \"2s\"\ncap = \"1s\"\n", Format::Toml);
//! assert!(report.policy.is_none());
//! let found: Vec<String> = report.findings.iter().map(|f| format!("{}:{}", f.line.unwrap(), f.key)).collect();
//! assert_eq!(found, ["1:max_attempts", "4:backoff.cap"]);
//! ```

use std::collections::HashMap;

use super::decode::{decode, text_of};
use super::file::Format;
use super::lint::{self, Finding, Severity};
use super::position::{line_column, Located};
use super::read::{resolve, TomlKey};
use super::Policy;

/// What `check` found in one file.
///
/// ```
/// use redial::policy::{check::check, file::Format};
/// let report = check("max_elapsed = \"100ms\"", Format::Toml);
/// assert!(report.policy.is_some());
/// assert_eq!(report.findings[0].key, "max_elapsed");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Report {
    /// The policy, when the file has no error (warnings allowed).
    pub policy: Option<Policy>,
    /// Every error and warning, in file order (those of no line last).
    pub findings: Vec<Finding>,
    /// Errors past the first 100, counted but not listed.
    pub omitted: usize,
}

impl Report {
    /// The report on a text that does not parse: its one error, where it is.
    fn unreadable(located: Located) -> Report {
        let mut finding = Finding::error(&located.error);
        finding.rule = located.bare;
        finding.line = located.line;
        finding.column = located.column;
        Report {
            policy: None,
            findings: vec![finding],
            omitted: 0,
        }
    }

    /// Whether any finding is an error.
    ///
    /// ```
    /// use redial::policy::{check::check, file::Format};
    /// assert!(!check("max_attempts = 2", Format::Toml).has_errors());
    /// ```
    pub fn has_errors(&self) -> bool {
        self.omitted > 0 || self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    /// Whether any finding is a warning.
    ///
    /// ```
    /// use redial::policy::{check::check, file::Format};
    /// assert!(check("", Format::Toml).has_warnings());
    /// ```
    pub fn has_warnings(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.severity == Severity::Warning)
    }
}

/// Checks a policy text of a format. Texts over [`MAX_BYTES`](super::file::MAX_BYTES) get
/// one error.
///
/// ```
/// use redial::policy::{check::check, file::Format};
/// let report = check("{\"budget\": {\"retry_cost\": 0}}", Format::Json);
/// assert!(report.has_errors());
/// assert_eq!(report.findings[0].key, "budget.retry_cost");
/// assert_eq!(report.findings[0].column, Some(13));
/// ```
pub fn check(text: &str, format: Format) -> Report {
    let root = match decode(text, format) {
        Ok(root) => root,
        Err(located) => return Report::unreadable(*located),
    };
    let resolved = resolve(root);
    let mut findings: Vec<Finding> = resolved.errors.iter().map(Finding::error).collect();
    // The lint too, but not on a key that already has an error.
    for f in lint::lint(&resolved.builder, resolved.empty) {
        if !findings.iter().any(|seen| seen.key == f.key) {
            findings.push(f);
        }
    }
    let has_errors = findings.iter().any(|f| f.severity == Severity::Error);
    let policy = (!has_errors).then(|| resolved.builder.clone().assemble());
    let places = places(text, format);
    for f in &mut findings {
        let at = match f.key.as_str() {
            "policy" => Some(0),
            key => places.get(key).copied(),
        };
        if let Some(at) = at {
            let (line, column) = line_column(text, at);
            f.line = Some(line);
            f.column = Some(column);
        }
    }
    // Stable: findings of one line keep the order they were found in.
    findings.sort_by_key(|f| (f.line.unwrap_or(usize::MAX), f.column.unwrap_or(0)));
    Report {
        policy,
        findings,
        omitted: resolved.omitted,
    }
}

/// Checks policy bytes of a format: text that is not UTF-8 gets one error with its place.
///
/// ```
/// use redial::policy::{check::check_bytes, file::Format};
/// let report = check_bytes(b"max_attempts = 2\n# \xff".to_vec(), Format::Toml);
/// assert_eq!(report.findings[0].line, Some(2));
/// ```
pub fn check_bytes(bytes: Vec<u8>, format: Format) -> Report {
    match text_of(bytes) {
        Ok(text) => check(&text, format),
        Err(located) => Report::unreadable(*located),
    }
}

/// Where each key of the file is written (byte offset of the key), by key path as errors
/// name it (`backoff.cap`, `budget."a b"`): the top level and one level of tables.
fn places(text: &str, format: Format) -> HashMap<String, usize> {
    let mut out = HashMap::new();
    match format {
        Format::Toml => {
            let Ok(root) = toml::de::DeTable::parse(text) else {
                return out;
            };
            for (key, value) in root.get_ref() {
                let name = TomlKey(key.get_ref()).to_string();
                out.entry(name.clone()).or_insert(key.span().start);
                if let toml::de::DeValue::Table(table) = value.get_ref() {
                    for (inner, _) in table {
                        let path = format!("{name}.{}", TomlKey(inner.get_ref()));
                        out.entry(path).or_insert(inner.span().start);
                    }
                }
            }
        }
        Format::Json => json_places(text, &mut out),
    }
    out
}

/// The keys of a JSON text's top object and of the objects directly in it, found by
/// scanning its strings and brackets (the text has parsed already, so it is valid JSON).
fn json_places(text: &str, out: &mut HashMap<String, usize>) {
    // One entry per open bracket: is it an object, and its current key.
    let mut stack: Vec<(bool, Option<String>)> = Vec::new();
    let mut expect_key = false;
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'{' => {
                stack.push((true, None));
                expect_key = true;
            }
            b'[' => {
                stack.push((false, None));
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => expect_key = matches!(stack.last(), Some((true, _))),
            b'"' => {
                let start = i;
                i += 1;
                while let Some(&c) = bytes.get(i) {
                    match c {
                        b'\\' => i += 2,
                        b'"' => break,
                        _ => i += 1,
                    }
                }
                if expect_key {
                    let key = text
                        .get(start..=i)
                        .and_then(|raw| serde_json::from_str::<String>(raw).ok())
                        .unwrap_or_default();
                    let path: Option<Vec<String>> = stack
                        .iter()
                        .take(stack.len().saturating_sub(1))
                        .map(|(_, k)| k.as_deref().map(|k| TomlKey(k).to_string()))
                        .collect();
                    if let Some(mut path) = path.filter(|p| p.len() <= 1 && stack.len() <= 2) {
                        path.push(TomlKey(&key).to_string());
                        out.entry(path.join(".")).or_insert(start);
                    }
                    if let Some(last) = stack.last_mut() {
                        last.1 = Some(key);
                    }
                    expect_key = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn places_of(report: &Report) -> Vec<String> {
        report
            .findings
            .iter()
            .map(|f| {
                format!(
                    "{} {}:{} {}",
                    f.severity.as_str(),
                    f.line.unwrap_or(0),
                    f.column.unwrap_or(0),
                    f.key
                )
            })
            .collect()
    }

    #[test]
    fn every_error_of_a_file_at_once_in_file_order() {
        let text = "max_attempts = 0\nretries = 3\n[backoff]\nfactor = -1\nbase = \"2s\"\ncap = \"1s\"\n[budget]\ncapacity = 0\n";
        let report = check(text, Format::Toml);
        assert!(report.policy.is_none());
        assert_eq!(
            places_of(&report),
            [
                "error 1:1 max_attempts",
                "error 2:1 retries",
                "error 4:1 backoff.factor",
                "error 6:1 backoff.cap",
                "error 8:1 budget.capacity",
            ]
        );
    }

    #[test]
    fn json_keys_have_lines_too() {
        let text = "{\n  \"max_attempts\": 0,\n  \"backoff\": {\"cap\": \"1ms\", \"base\": \"2s\"},\n  \"hints\": {\"honor\": 3}\n}";
        let report = check(text, Format::Json);
        assert_eq!(
            places_of(&report),
            [
                "error 2:3 max_attempts",
                "error 3:15 backoff.cap",
                "error 4:13 hints.honor",
            ]
        );
    }

    #[test]
    fn a_syntax_error_has_its_line_and_column() {
        let report = check("max_attempts = 3\nmax_attempts = 4\n", Format::Toml);
        assert_eq!(places_of(&report), ["error 2:1 line 2"]);
        assert!(
            report.findings[0].rule.contains("`max_attempts`"),
            "{:?}",
            report.findings
        );
    }

    #[test]
    fn warnings_alone_keep_the_policy() {
        let report = check("{}", Format::Json);
        assert!(report.policy.is_some());
        assert!(report.has_warnings() && !report.has_errors());
        assert_eq!(places_of(&report), ["warning 1:1 policy"]);
    }

    #[test]
    fn lint_errors_have_the_line_of_their_key() {
        let report = check(
            "[hints]\non_long_hint = \"clamp\"\nmax_hint = \"0s\"\n",
            Format::Toml,
        );
        assert!(report.policy.is_none());
        assert_eq!(places_of(&report), ["error 3:1 hints.max_hint"]);
    }
}
