//! The reader: a decoded policy file ([`Node`]s) into a policy, key by key through the
//! key tables of [`keys`], every error kept with its key path (the [loaders](super::file)
//! return the first, [`check`](super::check) all of them).

use core::fmt;

use super::keys::{self, Draft, Section, SECTIONS};
use super::node::Node;
use super::{Policy, PolicyBuilder, PolicyError, Preset};

/// How many errors one file reports at most; the rest are counted.
pub(crate) const MAX_ERRORS: usize = 100;

/// Turns a parsed file into a policy: the first error, if any (see [`resolve`]).
pub(super) fn load(root: Node) -> Result<Policy, PolicyError> {
    let resolved = resolve(root);
    match resolved.errors.into_iter().next() {
        Some(e) => Err(e),
        None => Ok(resolved.builder.assemble()),
    }
}

/// A parsed file, resolved: the builder every readable key set, and every error found.
#[derive(Debug)]
pub(crate) struct Resolved {
    pub builder: PolicyBuilder,
    /// At most [`MAX_ERRORS`], in the order found: the keys' errors in the order the format
    /// gives the keys, then the builder's rules.
    pub errors: Vec<PolicyError>,
    /// Errors past [`MAX_ERRORS`], counted.
    pub omitted: usize,
    /// The file sets nothing (an empty file, `{}`).
    pub empty: bool,
}

impl Resolved {
    fn push(&mut self, e: PolicyError) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(e);
        } else {
            self.omitted += 1;
        }
    }
}

/// The preset first, then every key through its table's reader, then every rule of the
/// builder; every error is kept (up to [`MAX_ERRORS`]), not only the first.
pub(crate) fn resolve(root: Node) -> Resolved {
    let mut out = Resolved {
        builder: Preset::Default.builder(),
        errors: Vec::new(),
        omitted: 0,
        empty: false,
    };
    let entries = match root {
        Node::Table(entries) => entries,
        other => {
            out.push(keys::wrong_type("policy", "a table", &other));
            return out;
        }
    };
    out.empty = entries.is_empty();
    let top = SECTIONS[0];
    let preset = match entries.iter().find(|(k, _)| k == "preset") {
        Some((_, node)) => match keys::string("preset", node).and_then(|s| s.parse::<Preset>()) {
            Ok(preset) => preset,
            Err(e) => {
                out.push(e);
                Preset::Default
            }
        },
        None => Preset::Default,
    };
    let mut draft = Draft::new(preset.builder());
    for (key, node) in entries {
        if let Some(k) = top.key(&key) {
            if let Err(e) = (k.read)(&mut draft, &node, &key) {
                out.push(e);
            }
        } else if let Some(section) = Section::named(&key) {
            read_section(&mut out, &mut draft, section, node);
        } else {
            out.push(unknown(None, &key, &top.expected()));
        }
    }
    let (builder, errors) = draft.finish();
    for e in errors {
        out.push(e);
    }
    // A rule broken by a key that already has an error would repeat it.
    for e in builder.problems() {
        if !out.errors.iter().any(|seen| seen.key() == e.key()) {
            out.push(e);
        }
    }
    out.builder = builder;
    out
}

fn read_section(out: &mut Resolved, draft: &mut Draft, section: &Section, node: Node) {
    let entries = match node {
        Node::Table(entries) => entries,
        other => return out.push(keys::wrong_type(section.name, "a table", &other)),
    };
    for (key, node) in entries {
        match section.key(&key) {
            Some(k) => {
                let path = format!("{}.{key}", section.name);
                if let Err(e) = (k.read)(draft, &node, &path) {
                    out.push(e);
                }
            }
            None => out.push(unknown(Some(section.name), &key, &section.expected())),
        }
    }
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
pub(crate) struct TomlKey<'a>(pub &'a str);

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backoff::{Curve, Jitter};
    use crate::budget::BudgetConfig;
    use crate::classify::NonIdempotent;
    use crate::machine::OnLongHint;
    use core::time::Duration;

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
            ("retries = 3", "retries: unknown key (expected one of preset, max_attempts, max_elapsed, non_idempotent, backoff, hints, classify, budget, fleet, rate)"),
            ("backoff = 3", "backoff: expected a table, found the integer 3"),
            ("max_attempts = 3\nmax_attempts = 4", "line 2: duplicate key `max_attempts` (column 1)"),
            ("[backoff]\ncap = \"1s\"\n cap = \"2s\"", "line 3: duplicate key `cap` (column 2)"),
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
}
