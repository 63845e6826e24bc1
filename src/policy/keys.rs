//! The policy file's keys: one table per section. The reader ([`read`](super::read)), the
//! writer (`Display for Policy`), the "expected one of" list of an unknown key and the JSON
//! Schema ([`schema`](super::schema)) all read these tables, so a key is added in one place.
//!
//! Adding a section (as `[fleet]` was) is one [`Section`] in [`SECTIONS`]: its keys, each with
//! a reader (node → the builder's field, naming the key path in its error), a writer (the
//! builder's field → TOML text) and the value's shape (for the schema). The builder gets
//! the field and its rule; nothing else changes.

#![cfg_attr(not(feature = "serde"), allow(dead_code))]

use core::time::Duration;

use super::builder::RATE_BURST_MAX;
use super::node::Node;
use super::{PolicyBuilder, PolicyError, Preset};
use crate::backoff::{Curve, Jitter};
use crate::budget::BudgetKind;
use crate::classify::{NonIdempotent, StatusSet};
use crate::duration::{self, Exact};
use crate::fleet::FleetConfig;
use crate::machine::OnLongHint;
use crate::pacer::{Engage, PacerConfig};

// `rate.burst`'s doc says its maximum in words.
const _: () = assert!(RATE_BURST_MAX == 10_000, "rate.burst's doc says 10000");

/// One table of the file (`""` is the top level).
#[derive(Debug)]
pub(crate) struct Section {
    /// The table's name; `""` for the top level.
    pub name: &'static str,
    /// One line for the schema and the docs.
    pub doc: &'static str,
    /// Its keys, in the order the writer writes them.
    pub keys: &'static [Key],
}

/// One key: how it is read, written and described.
pub(crate) struct Key {
    pub name: &'static str,
    pub doc: &'static str,
    pub value: Value,
    /// Sets the draft from the node; errors name `path` (the key with its table).
    pub read: fn(&mut Draft, &Node, &str) -> Result<(), PolicyError>,
    /// The value as TOML text, or `None` when the setting is left out.
    pub write: fn(&PolicyBuilder) -> Option<String>,
    /// Written as `# key: ABSENT` when `write` gives nothing (`""`: nothing is written).
    pub absent: &'static str,
}

impl core::fmt::Debug for Key {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name)
    }
}

/// The shape of a key's value, for the JSON Schema.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Value {
    /// A duration string (`500ms`).
    Duration,
    /// A whole number from `min` to `max`.
    Count { min: u32, max: u32 },
    /// A number above (or from) `min`, up to `max` when given.
    Number {
        min: f64,
        min_exclusive: bool,
        max: Option<f64>,
    },
    /// `true` or `false`.
    Bool,
    /// One of these names.
    Choice(fn() -> Vec<&'static str>),
    /// An array of status codes, 100 to 599.
    StatusCodes,
    /// A string (a URL, a name).
    Text,
}

/// What a file sets, before the builder's checks: the builder, and the two keys that are
/// only resolved together (`jitter` and `jitter_ratio`).
#[derive(Debug)]
pub(crate) struct Draft {
    pub b: PolicyBuilder,
    pub jitter: Option<&'static str>,
    pub ratio: Option<f64>,
    /// `budget.kind` was given.
    pub kind_set: bool,
    /// The first key of each budget kind the file gives (its path): a key of the other
    /// kind would be silently ignored.
    pub aws_key: Option<String>,
    pub adaptive_key: Option<String>,
    /// `rate.enabled = false` was given: no pacing, whatever else the table says.
    pub rate_off: bool,
    /// A key of `[rate]` was given: pacing asked for, engaged by any throttle unless
    /// `rate.engage` says otherwise (the presets' own pacer waits for a stated quota).
    pub rate_given: bool,
    pub engage: Option<Engage>,
}

/// The ratio `jitter = "proportional"` takes when neither the file nor the preset gives one:
/// the official Anthropic and OpenAI SDKs take up to 25 % off.
const DEFAULT_JITTER_RATIO: f64 = 0.25;

/// The jitter names, in the order the docs list them.
pub(crate) const JITTERS: [&str; 5] = ["none", "full", "equal", "proportional", "decorrelated"];

impl Draft {
    pub fn new(b: PolicyBuilder) -> Draft {
        Draft {
            b,
            jitter: None,
            ratio: None,
            kind_set: false,
            aws_key: None,
            adaptive_key: None,
            rate_off: false,
            rate_given: false,
            engage: None,
        }
    }

    /// Resolves the keys read together: `jitter` with `jitter_ratio`, and the budget's
    /// `kind` with the keys of each kind (see the module docs of `policy::file`).
    pub fn finish(mut self) -> (PolicyBuilder, Vec<PolicyError>) {
        let mut errors = Vec::new();
        if self.rate_off {
            self.b.rate = None;
        } else if let (true, Some(rate)) = (self.rate_given, self.b.rate.as_mut()) {
            rate.engage = self.engage.unwrap_or(Engage::Throttle);
        }
        // Files written before there were kinds set the bucket's numbers and mean the bucket.
        let budget = &mut self.b.budget;
        if !self.kind_set {
            match (&self.aws_key, &self.adaptive_key) {
                (Some(_), None) => budget.kind = BudgetKind::Aws,
                (_, Some(_)) => budget.kind = BudgetKind::Adaptive,
                (None, None) => {}
            }
        }
        let (stray, needs) = match budget.kind {
            BudgetKind::Aws => (&self.adaptive_key, BudgetKind::Adaptive),
            _ => (&self.aws_key, BudgetKind::Aws),
        };
        if let Some(path) = stray {
            errors.push(PolicyError::Invalid {
                key: path.clone(),
                rule: format!("set only with kind = \"{needs}\""),
                got: format!("kind = \"{}\"", budget.kind),
            });
        }
        let preset_ratio = match self.b.jitter {
            Jitter::Proportional(r) => Some(r),
            _ => None,
        };
        let name = self.jitter.unwrap_or(self.b.jitter.name());
        let chosen = match name {
            "none" => Jitter::None,
            "full" => Jitter::Full,
            "equal" => Jitter::Equal,
            "decorrelated" => Jitter::Decorrelated,
            _ => Jitter::Proportional(self.ratio.or(preset_ratio).unwrap_or(DEFAULT_JITTER_RATIO)),
        };
        self.b.jitter = chosen;
        if self.ratio.is_some() && !matches!(chosen, Jitter::Proportional(_)) {
            errors.push(PolicyError::Invalid {
                key: "backoff.jitter_ratio".into(),
                rule: "used with jitter = \"proportional\" only".into(),
                got: format!("jitter = \"{name}\""),
            });
        }
        (self.b, errors)
    }
}

/// Every section, the top level first, in the order the writer writes them.
pub(crate) const SECTIONS: [&Section; 7] =
    [&TOP, &BACKOFF, &HINTS, &CLASSIFY, &BUDGET, &FLEET, &RATE];

impl Section {
    /// The key of that name.
    pub fn key(&self, name: &str) -> Option<&'static Key> {
        self.keys.iter().find(|k| k.name == name)
    }

    /// The section of that name (not the top level).
    pub fn named(name: &str) -> Option<&'static Section> {
        SECTIONS
            .into_iter()
            .find(|s| !s.name.is_empty() && s.name == name)
    }

    /// `a, b, c`: the keys the table accepts (at the top level, the tables too).
    pub fn expected(&self) -> String {
        let mut names: Vec<&str> = self.keys.iter().map(|k| k.name).collect();
        if self.name.is_empty() {
            names.extend(SECTIONS.iter().map(|s| s.name).filter(|n| !n.is_empty()));
        }
        names.join(", ")
    }
}

fn quoted(s: impl core::fmt::Display) -> Option<String> {
    Some(string_literal(&s.to_string()))
}

fn presets() -> Vec<&'static str> {
    Preset::ALL.map(|p| p.name()).to_vec()
}
fn non_idempotents() -> Vec<&'static str> {
    NonIdempotent::ALL.map(|n| n.as_str()).to_vec()
}
fn curves() -> Vec<&'static str> {
    Curve::ALL.map(|c| c.as_str()).to_vec()
}
fn jitters() -> Vec<&'static str> {
    JITTERS.to_vec()
}
fn budget_kinds() -> Vec<&'static str> {
    BudgetKind::ALL.map(|k| k.as_str()).to_vec()
}
fn engagements() -> Vec<&'static str> {
    Engage::ALL.map(|e| e.as_str()).to_vec()
}
fn on_long_hints() -> Vec<&'static str> {
    OnLongHint::ALL.map(|c| c.as_str()).to_vec()
}

const TOP: Section = Section {
    name: "",
    doc: "A retry policy for redial: every key is optional and falls back to the preset.",
    keys: &[
        Key {
            name: "preset",
            doc: "The preset every other key falls back to.",
            value: Value::Choice(presets),
            // Read first, by `load`, since every other key falls back to it.
            read: |_, _, _| Ok(()),
            write: |_| None,
            absent: "",
        },
        Key {
            name: "max_attempts",
            doc: "Attempts in all, the first included (3 means 2 retries).",
            value: Value::Count {
                min: 1,
                max: u32::MAX,
            },
            read: |d, n, p| {
                d.b.max_attempts = uint(p, n)?;
                Ok(())
            },
            write: |b| Some(b.max_attempts.to_string()),
            absent: "",
        },
        Key {
            name: "max_elapsed",
            doc: "No retry is made whose wait would end past this much time since the call began.",
            value: Value::Duration,
            read: |d, n, p| {
                d.b.max_elapsed = Some(duration(p, n)?);
                Ok(())
            },
            write: |b| b.max_elapsed.and_then(|d| quoted(Exact(d))),
            absent: "none (no limit)",
        },
        Key {
            name: "non_idempotent",
            doc: "When a request that is not idempotent (POST, PATCH) is retried.",
            value: Value::Choice(non_idempotents),
            read: |d, n, p| {
                d.b.non_idempotent = choice(p, n, non_idempotents)?;
                Ok(())
            },
            write: |b| quoted(b.non_idempotent),
            absent: "",
        },
    ],
};

const BACKOFF: Section = Section {
    name: "backoff",
    doc: "The delay before each retry when the server gives none.",
    keys: &[
        Key {
            name: "kind",
            doc: "The curve of the raw delays.",
            value: Value::Choice(curves),
            read: |d, n, p| {
                d.b.curve = choice(p, n, curves)?;
                Ok(())
            },
            write: |b| quoted(b.curve),
            absent: "",
        },
        Key {
            name: "base",
            doc: "The first retry's raw delay.",
            value: Value::Duration,
            read: |d, n, p| {
                d.b.base = duration(p, n)?;
                Ok(())
            },
            write: |b| quoted(Exact(b.base)),
            absent: "",
        },
        Key {
            name: "cap",
            doc: "The longest backoff delay; at least base.",
            value: Value::Duration,
            read: |d, n, p| {
                d.b.cap = duration(p, n)?;
                Ok(())
            },
            write: |b| quoted(Exact(b.cap)),
            absent: "",
        },
        Key {
            name: "factor",
            doc: "The exponential curve's factor.",
            value: Value::Number {
                min: 0.0,
                min_exclusive: true,
                max: None,
            },
            read: |d, n, p| {
                d.b.factor = float(p, n)?;
                Ok(())
            },
            // `{:?}` writes the shortest text that parses back to the same f64, always with
            // a `.` or an exponent, which TOML reads as a float.
            write: |b| Some(format!("{:?}", b.factor)),
            absent: "",
        },
        Key {
            name: "jitter",
            doc: "How each raw delay is spread.",
            value: Value::Choice(jitters),
            read: |d, n, p| {
                d.jitter = Some(choice::<JitterName>(p, n, jitters)?.0);
                Ok(())
            },
            write: |b| quoted(b.jitter.name()),
            absent: "",
        },
        Key {
            name: "jitter_ratio",
            doc: "The most the proportional jitter takes off, from 0 to 1.",
            value: Value::Number {
                min: 0.0,
                min_exclusive: false,
                max: Some(1.0),
            },
            read: |d, n, p| {
                d.ratio = Some(float(p, n)?);
                Ok(())
            },
            write: |b| match b.jitter {
                Jitter::Proportional(r) => Some(format!("{r:?}")),
                _ => None,
            },
            absent: "",
        },
    ],
};

const HINTS: Section = Section {
    name: "hints",
    doc: "Server hints: retry-after and the rate-limit headers.",
    keys: &[
        Key {
            name: "honor",
            doc: "Whether server hints are read.",
            value: Value::Bool,
            read: |d, n, p| {
                d.b.honor_hints = boolean(p, n)?;
                Ok(())
            },
            write: |b| Some(b.honor_hints.to_string()),
            absent: "",
        },
        Key {
            name: "max_hint",
            doc: "The longest server hint honoured as it is.",
            value: Value::Duration,
            read: |d, n, p| {
                d.b.max_hint = duration(p, n)?;
                Ok(())
            },
            write: |b| quoted(Exact(b.max_hint)),
            absent: "",
        },
        Key {
            name: "on_long_hint",
            doc: "What a longer hint does: stop the call, or wait max_hint.",
            value: Value::Choice(on_long_hints),
            read: |d, n, p| {
                d.b.on_long_hint = choice(p, n, on_long_hints)?;
                Ok(())
            },
            write: |b| quoted(b.on_long_hint.as_str()),
            absent: "",
        },
    ],
};

const CLASSIFY: Section = Section {
    name: "classify",
    doc: "Which responses are retryable.",
    keys: &[Key {
        name: "retry_status",
        doc: "The retryable statuses; replaces the default table's set.",
        value: Value::StatusCodes,
        read: |d, n, p| {
            d.b = d.b.clone().retry_status(status_codes(p, n)?);
            Ok(())
        },
        write: |b| Some(status_list(&b.retry_status)),
        absent: "",
    }],
};

const BUDGET: Section = Section {
    name: "budget",
    doc: "The retry budget, shared by every clone of a policy.",
    keys: &[
        Key {
            name: "enabled",
            doc: "Whether retries draw on a budget.",
            value: Value::Bool,
            read: |d, n, p| {
                d.b.budget.enabled = boolean(p, n)?;
                Ok(())
            },
            write: |b| Some(b.budget.enabled.to_string()),
            absent: "",
        },
        Key {
            name: "kind",
            doc: "The budget's algorithm: adaptive (a share of recent first attempts) or aws (the AWS SDKs' token bucket).",
            value: Value::Choice(budget_kinds),
            read: |d, n, p| {
                d.kind_set = true;
                d.b.budget.kind = choice(p, n, budget_kinds)?;
                Ok(())
            },
            write: |b| quoted(b.budget.kind),
            absent: "",
        },
        Key {
            name: "capacity",
            doc: "aws: tokens the bucket holds when full.",
            value: Value::Count { min: 0, max: u32::MAX },
            read: |d, n, p| {
                d.aws_key.get_or_insert_with(|| p.into());
                d.b.budget.capacity = uint(p, n)?;
                Ok(())
            },
            write: |b| aws(b).then(|| b.budget.capacity.to_string()),
            absent: "",
        },
        Key {
            name: "retry_cost",
            doc: "aws: tokens a retry takes.",
            value: Value::Count { min: 0, max: u32::MAX },
            read: |d, n, p| {
                d.aws_key.get_or_insert_with(|| p.into());
                d.b.budget.retry_cost = uint(p, n)?;
                Ok(())
            },
            write: |b| aws(b).then(|| b.budget.retry_cost.to_string()),
            absent: "",
        },
        Key {
            name: "timeout_cost",
            doc: "aws: tokens a retry after a transport timeout takes.",
            value: Value::Count { min: 0, max: u32::MAX },
            read: |d, n, p| {
                d.aws_key.get_or_insert_with(|| p.into());
                d.b.budget.timeout_cost = uint(p, n)?;
                Ok(())
            },
            write: |b| aws(b).then(|| b.budget.timeout_cost.to_string()),
            absent: "",
        },
        Key {
            name: "success_refund",
            doc: "aws: tokens a call that succeeds at once gives back.",
            value: Value::Count { min: 0, max: u32::MAX },
            read: |d, n, p| {
                d.aws_key.get_or_insert_with(|| p.into());
                d.b.budget.success_refund = uint(p, n)?;
                Ok(())
            },
            write: |b| aws(b).then(|| b.budget.success_refund.to_string()),
            absent: "",
        },
        Key {
            name: "window",
            doc: "adaptive: how far back the counts reach.",
            value: Value::Duration,
            read: |d, n, p| {
                d.adaptive_key.get_or_insert_with(|| p.into());
                d.b.budget.window = duration(p, n)?;
                Ok(())
            },
            write: |b| (!aws(b)).then(|| format!("\"{}\"", Exact(b.budget.window))),
            absent: "",
        },
        Key {
            name: "overload_ratio",
            doc: "adaptive: retries per first attempt once retries since the last success reach the run's allowance, and for 503/529 while most attempts fail.",
            value: Value::Number {
                min: 0.0,
                min_exclusive: false,
                max: Some(10.0),
            },
            read: |d, n, p| {
                d.adaptive_key.get_or_insert_with(|| p.into());
                d.b.budget.overload_ratio = float(p, n)?;
                Ok(())
            },
            write: |b| (!aws(b)).then(|| format!("{:?}", b.budget.overload_ratio)),
            absent: "",
        },
        Key {
            name: "retry_ratio",
            doc: "adaptive: retries per first attempt for failures that look like bad luck.",
            value: Value::Number {
                min: 0.0,
                min_exclusive: false,
                max: Some(10.0),
            },
            read: |d, n, p| {
                d.adaptive_key.get_or_insert_with(|| p.into());
                d.b.budget.retry_ratio = float(p, n)?;
                Ok(())
            },
            write: |b| (!aws(b)).then(|| format!("{:?}", b.budget.retry_ratio)),
            absent: "",
        },
        Key {
            name: "min_retries",
            doc: "adaptive: retries allowed per window on top of retry_ratio, for failures that look like bad luck.",
            value: Value::Number {
                min: 0.0,
                min_exclusive: false,
                max: Some(1e6),
            },
            read: |d, n, p| {
                d.adaptive_key.get_or_insert_with(|| p.into());
                d.b.budget.min_retries = float(p, n)?;
                Ok(())
            },
            write: |b| (!aws(b)).then(|| format!("{:?}", b.budget.min_retries)),
            absent: "",
        },
    ],
};

const FLEET: Section = Section {
    name: "fleet",
    doc: "Fleet sharing on Redis: processes that name one key share the rate-limit gate and the budget's counts (joined with the redis feature).",
    keys: &[
        Key {
            name: "url",
            doc: "The Redis URL, redis://[:password@]host[:port][/db]; written back with its password as ***.",
            value: Value::Text,
            read: |d, n, p| {
                fleet(d).url = string(p, n)?.to_owned();
                Ok(())
            },
            write: |b| b.fleet.as_ref().and_then(|f| quoted(f.masked_url())),
            absent: "",
        },
        Key {
            name: "key",
            doc: "The fleet key: a service, or one API key (1 to 128 printable ASCII characters, no braces).",
            value: Value::Text,
            read: |d, n, p| {
                fleet(d).key = string(p, n)?.to_owned();
                Ok(())
            },
            write: |b| b.fleet.as_ref().and_then(|f| quoted(f.key())),
            absent: "",
        },
        Key {
            name: "sync",
            doc: "How often each process exchanges its state with Redis (10ms to 1m; default 250ms).",
            value: Value::Duration,
            read: |d, n, p| {
                fleet(d).sync = duration(p, n)?;
                Ok(())
            },
            write: |b| b.fleet.as_ref().and_then(|f| quoted(Exact(f.sync))),
            absent: "",
        },
        Key {
            name: "ramp",
            doc: "The longest ramp after a rate-limit reset: held first attempts come back over as long as the hold lasted, up to this (default 10s; 0s: the hint's spread only).",
            value: Value::Duration,
            read: |d, n, p| {
                fleet(d).gate.ramp = duration(p, n)?;
                Ok(())
            },
            write: |b| b.fleet.as_ref().and_then(|f| quoted(Exact(f.gate.ramp))),
            absent: "",
        },
        Key {
            name: "max_hold",
            doc: "The longest the rate-limit gate holds first attempts (1s to 1h; default 60s).",
            value: Value::Duration,
            read: |d, n, p| {
                fleet(d).gate.max_hold = duration(p, n)?;
                Ok(())
            },
            write: |b| b.fleet.as_ref().and_then(|f| quoted(Exact(f.gate.max_hold))),
            absent: "",
        },
    ],
};

const RATE: Section = Section {
    name: "rate",
    doc: "Rate pacing: every attempt waits for the slot a learned-rate token bucket gives it (a 429 cuts the rate, successes grow it back, a stated quota is paced to). Every preset paces, engaged only by a 429 that says how long to wait; this table given, by any 429 unless engage says hint.",
    keys: &[
        Key {
            name: "enabled",
            doc: "Pacing on (true, what any key of this table means) or off (false: not even the presets' pacer).",
            value: Value::Bool,
            read: |d, n, p| {
                let on = boolean(p, n)?;
                d.rate_off = !on;
                rate(d);
                Ok(())
            },
            write: |b| match b.rate {
                None => Some("false".into()),
                Some(r) if r == PacerConfig::on_quota() => None,
                Some(_) => Some("true".into()),
            },
            absent: "",
        },
        Key {
            name: "engage",
            doc: "What starts the pacer learning: throttle (any 429; the default once this table is given), hint (only a 429 that says how long to wait, with Retry-After or a reset), or quota (only a 429 that states the server's quota, or a wait longer than a second, checked before it holds: the presets' pacer, which a brown-out of 429s never slows).",
            value: Value::Choice(engagements),
            read: |d, n, p| {
                d.engage = Some(choice(p, n, engagements)?);
                rate(d);
                Ok(())
            },
            write: |b| given_rate(b).and_then(|r| quoted(r.engage)),
            absent: "",
        },
        Key {
            name: "max_wait",
            doc: "The longest an attempt waits for its slot; past it (or past max_elapsed) the call stops with rate_limited (1ms to 1h; default 10s).",
            value: Value::Duration,
            read: |d, n, p| {
                rate(d).max_wait = duration(p, n)?;
                Ok(())
            },
            write: |b| given_rate(b).and_then(|r| quoted(Exact(r.max_wait))),
            absent: "",
        },
        Key {
            name: "burst",
            // The doc's maximum is the rule's.
            doc: "Attempts that may go at once after a quiet spell (1 to 10000; default 1: evenly spaced).",
            value: Value::Count { min: 1, max: RATE_BURST_MAX },
            read: |d, n, p| {
                rate(d).burst = uint(p, n)?;
                Ok(())
            },
            write: |b| given_rate(b).map(|r| r.burst.to_string()),
            absent: "",
        },
        Key {
            name: "settle",
            doc: "Throttles this soon after a cut do not cut again: they answer attempts sent at the old rate (at most 1m; default 250ms).",
            value: Value::Duration,
            read: |d, n, p| {
                rate(d).settle = duration(p, n)?;
                Ok(())
            },
            write: |b| given_rate(b).and_then(|r| quoted(Exact(r.settle))),
            absent: "",
        },
    ],
};

/// The pacing the draft sets, on with the defaults at its first key.
fn rate(d: &mut Draft) -> &mut PacerConfig {
    d.rate_given = true;
    d.b.rate.get_or_insert_with(PacerConfig::default)
}

/// The pacing a written `[rate]` table states: none for the presets' own, which a file
/// without the table gets.
fn given_rate(b: &PolicyBuilder) -> Option<PacerConfig> {
    b.rate.filter(|r| *r != PacerConfig::on_quota())
}

/// The fleet the draft names, made empty at its first key (an empty `url` or `key` is
/// then reported by the builder's checks).
fn fleet(d: &mut Draft) -> &mut FleetConfig {
    d.b.fleet.get_or_insert_with(|| FleetConfig::new("", ""))
}

/// `text` double-quoted, as TOML's basic strings and JSON's strings both read it: `"` and
/// `\` escaped, and the control characters both forbid there written `\uXXXX`; every
/// other character as it is. Rust's `{:?}` is not that: it writes some printable
/// characters as `\u{200b}`, which neither reads.
pub(super) fn string_literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\u{0}'..='\u{1f}' | '\u{7f}' => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Whether the budget is the AWS bucket (its keys are written; the adaptive ones are not).
fn aws(b: &PolicyBuilder) -> bool {
    b.budget.kind == BudgetKind::Aws
}

/// `[429, 503]`, or ten codes a line when there are many, so that "every 5xx" stays
/// readable.
fn status_list(set: &StatusSet) -> String {
    let codes: Vec<String> = set.iter().map(|c| c.to_string()).collect();
    if codes.len() <= 12 {
        return format!("[{}]", codes.join(", "));
    }
    let mut out = String::from("[\n");
    for row in codes.chunks(10) {
        out.push_str("   ");
        for code in row {
            out.push(' ');
            out.push_str(code);
            out.push(',');
        }
        out.push('\n');
    }
    out.push(']');
    out
}

// ---------------------------------------------------------------------------------------
// Reading one value; every error names the key path.
// ---------------------------------------------------------------------------------------

pub(crate) fn wrong_type(path: &str, expected: &str, found: &Node) -> PolicyError {
    PolicyError::Syntax {
        key: path.into(),
        message: format!("expected {expected}, found {found}"),
    }
}

pub(crate) fn string<'a>(path: &str, node: &'a Node) -> Result<&'a str, PolicyError> {
    match node {
        Node::Str(s) => Ok(s),
        other => Err(wrong_type(path, "a string", other)),
    }
}

/// One of `names`, parsed by its type's `FromStr`; the error lists the names.
fn choice<T: core::str::FromStr>(
    path: &str,
    node: &Node,
    names: fn() -> Vec<&'static str>,
) -> Result<T, PolicyError> {
    let s = string(path, node)?;
    s.parse::<T>().map_err(|_| PolicyError::Invalid {
        key: path.into(),
        rule: format!("one of {}", names().join(", ")),
        got: format!("{s:?}"),
    })
}

/// A jitter name: a choice too, though `Jitter` has no `FromStr` (it carries a ratio).
struct JitterName(&'static str);

impl core::str::FromStr for JitterName {
    type Err = ();
    fn from_str(s: &str) -> Result<JitterName, ()> {
        JITTERS
            .into_iter()
            .find(|n| *n == s)
            .map(JitterName)
            .ok_or(())
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

fn status_codes(path: &str, node: &Node) -> Result<Vec<u16>, PolicyError> {
    const WHAT: &str = "an array of status codes";
    let Node::Array(items) = node else {
        return Err(wrong_type(path, WHAT, node));
    };
    let mut codes = Vec::with_capacity(items.len());
    for item in items {
        let Node::Int(code) = *item else {
            return Err(wrong_type(path, WHAT, item));
        };
        // Codes that fit no u16 are out of range too; the builder checks the rest.
        let code = u16::try_from(code).map_err(|_| PolicyError::Invalid {
            key: path.into(),
            rule: "status codes from 100 to 599".into(),
            got: code.to_string(),
        })?;
        codes.push(code);
    }
    Ok(codes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(url: &str) -> String {
        FleetConfig::new(url, "svc").masked_url()
    }

    #[test]
    fn a_redis_url_is_written_without_its_password() {
        assert_eq!(
            masked("redis://:hunter2@10.0.0.7:6379/0"),
            "redis://:***@10.0.0.7:6379/0"
        );
        assert_eq!(
            masked("rediss://app:hunter2@cache:6380"),
            "rediss://app:***@cache:6380"
        );
        assert_eq!(masked("redis://app@cache"), "redis://app@cache");
        assert_eq!(masked("redis://cache:6379"), "redis://cache:6379");
        assert_eq!(masked("unix:///run/redis.sock"), "unix:///run/redis.sock");
        assert_eq!(masked("no scheme"), "no scheme");
        // Masking twice changes nothing, so the written URL is the one validated.
        assert_eq!(masked(&masked("redis://u:@h/0")), masked("redis://u:@h/0"));
    }

    #[test]
    #[cfg(feature = "serde")]
    fn strings_are_written_as_toml_reads_them() {
        // Found by the policy_file fuzz target: `{:?}` wrote U+200B as `\u{200b}`.
        for text in ["h\u{200b}x", "a\"b\\c", "tab\there", "\u{7f}\u{1}", "é"] {
            let written = format!("v = {}", string_literal(text));
            let back: toml::Table = toml::from_str(&written).expect(&written);
            assert_eq!(back["v"].as_str(), Some(text), "{written}");
        }
    }

    #[test]
    fn the_top_level_expects_its_keys_then_its_tables() {
        assert_eq!(
            TOP.expected(),
            "preset, max_attempts, max_elapsed, non_idempotent, backoff, hints, classify, budget, fleet, rate"
        );
    }
}
