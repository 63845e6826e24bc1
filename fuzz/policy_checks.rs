//! The invariants of the `policy_file` fuzz target: the policy file parser (redial's
//! `serde` feature).
//!
//! Kept apart from `checks.rs` because they need that feature, which the main crate's
//! corpus replay test does not always have. The fuzz target `policy_file` compiles this
//! file, and so does `cli/tests/fuzz_corpus.rs` (the CLI always builds redial with
//! `serde`), which replays `fuzz/corpus/policy_file/` under `cargo test`.
//!
//! A corpus file is the text of a policy file, read both as TOML and as JSON. The checks
//! read the same text with the `toml` and `serde_json` crates themselves and restate, from
//! the design's "policy file" section and the builder's documented rules, what the policy
//! must be ([`expected`]): an accepted file must give exactly that policy and satisfy every
//! rule; a rejected one must break some rule and name the key.

use std::collections::BTreeSet;
use std::time::Duration;

use redial::backoff::{Curve, Jitter};
use redial::budget::BudgetKind;
use redial::classify::NonIdempotent;
use redial::machine::OnLongHint;
use redial::{Policy, PolicyError, Preset};
use serde_json::{Map, Value};

/// The keys of each table, as the design lists them; `""` is the top level.
const TABLES: [(&str, &[&str]); 6] = [
    (
        "",
        &[
            "preset",
            "max_attempts",
            "max_elapsed",
            "non_idempotent",
            "backoff",
            "hints",
            "classify",
            "budget",
            "fleet",
        ],
    ),
    (
        "backoff",
        &["kind", "base", "cap", "factor", "jitter", "jitter_ratio"],
    ),
    ("hints", &["honor", "max_hint", "on_long_hint"]),
    ("classify", &["retry_status"]),
    (
        "budget",
        &[
            "enabled",
            "kind",
            "capacity",
            "retry_cost",
            "timeout_cost",
            "success_refund",
            "window",
            "overload_ratio",
            "retry_ratio",
            "min_retries",
        ],
    ),
    ("fleet", &["url", "key", "sync", "ramp", "max_hold"]),
];

/// The `[budget]` keys of the `aws` kind (the token bucket), as paths.
const AWS_KEYS: [&str; 4] = [
    "budget.capacity",
    "budget.retry_cost",
    "budget.timeout_cost",
    "budget.success_refund",
];

/// The `[budget]` keys of the `adaptive` kind, as paths.
const ADAPTIVE_KEYS: [&str; 4] = [
    "budget.window",
    "budget.overload_ratio",
    "budget.retry_ratio",
    "budget.min_retries",
];

/// The adaptive kind's numbers in every preset whose budget is adaptive (the design's
/// "Limits and the budget": window 30 s, overload_ratio 0.1, retry_ratio 2.0, min_retries
/// 0.5).
const ADAPTIVE_DEFAULTS: (Duration, f64, f64, f64) = (Duration::from_secs(30), 0.1, 2.0, 0.5);

/// The largest ratios (`overload_ratio`, `retry_ratio`) and `min_retries` a file may give.
const MAX_RATIO: f64 = 10.0;
const MAX_MIN_RETRIES: f64 = 1e6;

/// `[fleet]`'s defaults (sync 250 ms, gate ramp 10 s, longest hold 60 s) and ranges.
const FLEET_SYNC: Duration = Duration::from_millis(250);
const FLEET_RAMP: Duration = Duration::from_secs(10);
const FLEET_MAX_HOLD: Duration = Duration::from_secs(60);
const FLEET_SYNC_RANGE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_secs(60));
const FLEET_MAX_RAMP: Duration = Duration::from_secs(600);
const FLEET_HOLD_RANGE: (Duration, Duration) = (Duration::from_secs(1), Duration::from_secs(3_600));
const FLEET_KEY_LEN: (usize, usize) = (1, 128);
const FLEET_URL_MAX_LEN: usize = 2_048;
const FLEET_URL_SCHEMES: [&str; 4] = ["redis", "rediss", "redis+unix", "unix"];

/// The ratio `jitter = "proportional"` takes when neither the file nor the preset has one.
const DEFAULT_JITTER_RATIO: f64 = 0.25;

/// `data` is a policy file. Checks, for TOML and for JSON alike:
/// - nothing panics;
/// - a file is accepted exactly when the restated rules ([`expected`]) accept the document
///   the format's own parser reads, and then every setting is the one the document (or its
///   preset) gives;
/// - an accepted policy satisfies every validation rule, read back through its getters;
///   its backoff computes every retry's delay within `cap` without overflow; written back
///   with `to_toml` it loads again equal, and writes the same text;
/// - a rejected file gets a one-line error that starts with a key (a key path in TOML's own
///   syntax, `line N`, or `policy` for a root that is not a table) and says something
///   after it; an unknown key's path leads to a key that is in the file and not in the
///   table's list;
/// - a TOML document written as JSON is accepted or rejected alike, and gives the same
///   policy.
pub fn policy_file(data: &[u8]) {
    let text = String::from_utf8_lossy(data);

    let toml_doc =
        toml::from_str::<toml::Table>(&text)
            .ok()
            .map(|table| match serde_json::to_value(table) {
                Ok(value) => value,
                Err(e) => panic!("a TOML table converts to a JSON value: {e}"),
            });
    let from_toml = Policy::from_toml(&text);
    check_file(&text, "TOML", toml_doc.as_ref(), &from_toml);

    let json_doc = serde_json::from_str::<Value>(&text).ok();
    let from_json = Policy::from_json(&text);
    check_file(&text, "JSON", json_doc.as_ref(), &from_json);

    if let Some(doc) = &toml_doc {
        let json = match serde_json::to_string(doc) {
            Ok(json) => json,
            Err(e) => panic!("a JSON value writes out: {e}"),
        };
        match (&from_toml, Policy::from_json(&json)) {
            (Ok(a), Ok(b)) => assert_eq!(a, &b, "{text:?} as TOML and as JSON {json:?}"),
            (Err(_), Err(_)) => {}
            (a, b) => panic!("{text:?} as TOML: {a:?}; as JSON {json:?}: {b:?}"),
        }
    }
}

/// One format's answer for `text`, against the document its parser reads (`None` when the
/// text is not a document of that format).
fn check_file(text: &str, format: &str, doc: Option<&Value>, loaded: &Result<Policy, PolicyError>) {
    let oracle = match doc {
        Some(doc) => expected(doc),
        None => Err(format!("not {format}")),
    };
    match (loaded, oracle) {
        (Ok(policy), Ok(settings)) => {
            settings.assert_matches(policy, text);
            check_rules(policy);
            check_round_trip(policy);
        }
        (Ok(policy), Err(why)) => {
            panic!("{format} {text:?}: accepted as {policy:?}, but {why}")
        }
        (Err(e), Err(_)) => {
            check_error(text, format, doc, e);
            // A file that reads but breaks a rule: the error names a key whose rule the
            // file really breaks, not just any key. A budget key of the other kind is
            // refused before any rule is checked. A JSON key given twice is refused first,
            // and the document read (serde_json keeps the last value) is not the file.
            let duplicate = format == "JSON" && is_duplicate_key(e);
            if let Some(Ok(file)) = doc.filter(|_| !duplicate).map(described) {
                let broken = if file.misplaced.is_empty() {
                    file.settings.broken_rules()
                } else {
                    file.misplaced
                };
                assert!(
                    broken.contains(&e.key()),
                    "{format} {text:?}: {e} names {:?}, but the rules broken are at {broken:?}",
                    e.key()
                );
            }
        }
        (Err(e), Ok(_)) if format == "JSON" && is_duplicate_key(e) => {
            // JSON allows a key twice and serde_json keeps the last; the design rejects it.
            check_error(text, format, doc, e)
        }
        (Err(e), Ok(settings)) => {
            panic!("{format} {text:?}: rejected ({e}), but every rule holds: {settings:?}")
        }
    }
}

fn is_duplicate_key(e: &PolicyError) -> bool {
    matches!(e, PolicyError::Syntax { message, .. } if message.starts_with("duplicate key"))
}

// ---------------------------------------------------------------------------------------
// The policy a document describes, restated
// ---------------------------------------------------------------------------------------

/// Every setting of a policy, as the checks compute it.
#[derive(Clone, Debug)]
struct Settings {
    max_attempts: u32,
    max_elapsed: Option<Duration>,
    non_idempotent: NonIdempotent,
    curve: Curve,
    base: Duration,
    cap: Duration,
    factor: f64,
    jitter: Jitter,
    honor_hints: bool,
    max_hint: Duration,
    on_long_hint: OnLongHint,
    retry_status: BTreeSet<u16>,
    budget_enabled: bool,
    budget_kind: BudgetKind,
    capacity: u32,
    retry_cost: u32,
    timeout_cost: u32,
    success_refund: u32,
    window: Duration,
    overload_ratio: f64,
    retry_ratio: f64,
    min_retries: f64,
    fleet: Option<Fleet>,
}

/// The `[fleet]` table's settings.
#[derive(Clone, Debug)]
struct Fleet {
    url: String,
    key: String,
    sync: Duration,
    ramp: Duration,
    max_hold: Duration,
}

impl Fleet {
    /// The fleet a `[fleet]` table with at least one key names, before its keys are read.
    fn new() -> Fleet {
        Fleet {
            url: String::new(),
            key: String::new(),
            sync: FLEET_SYNC,
            ramp: FLEET_RAMP,
            max_hold: FLEET_MAX_HOLD,
        }
    }

    /// The key of every rule of the design's `[fleet]` table that these settings break.
    fn broken_rules(&self) -> Vec<&'static str> {
        let within = |d: Duration, (lo, hi): (Duration, Duration)| (lo..=hi).contains(&d);
        let key_ok = (FLEET_KEY_LEN.0..=FLEET_KEY_LEN.1).contains(&self.key.len())
            && self
                .key
                .bytes()
                .all(|b| b.is_ascii_graphic() && !matches!(b, b'{' | b'}'));
        // The limit holds for the URL as written, its password masked.
        let url_ok = masked(&self.url).len() <= FLEET_URL_MAX_LEN
            && !self
                .url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
            && self.url.split_once("://").is_some_and(|(scheme, rest)| {
                FLEET_URL_SCHEMES.contains(&scheme) && !rest.is_empty()
            });
        let mut keys = Vec::new();
        for (ok, key) in [
            (url_ok, "fleet.url"),
            (key_ok, "fleet.key"),
            (within(self.sync, FLEET_SYNC_RANGE), "fleet.sync"),
            (self.ramp <= FLEET_MAX_RAMP, "fleet.ramp"),
            (within(self.max_hold, FLEET_HOLD_RANGE), "fleet.max_hold"),
        ] {
            if !ok {
                keys.push(key);
            }
        }
        keys
    }
}

/// What a document describes: its settings, and the budget keys it gives that belong to
/// the other kind (each is an error that names it).
#[derive(Debug)]
struct Described {
    settings: Settings,
    misplaced: Vec<&'static str>,
}

impl Settings {
    /// A preset's settings, read through a preset policy's getters.
    fn of(policy: &Policy) -> Settings {
        let rules = policy.rules();
        let b = rules.backoff();
        let c = policy.classifier();
        let budget = rules.budget_config();
        Settings {
            max_attempts: rules.max_attempts(),
            max_elapsed: rules.max_elapsed(),
            non_idempotent: c.non_idempotent(),
            curve: b.curve(),
            base: b.base(),
            cap: b.cap(),
            factor: b.factor(),
            jitter: b.jitter(),
            honor_hints: c.honor_hints(),
            max_hint: rules.max_hint(),
            on_long_hint: rules.on_long_hint(),
            retry_status: c.retry_status().iter().collect(),
            budget_enabled: budget.enabled,
            budget_kind: budget.kind,
            capacity: budget.capacity,
            retry_cost: budget.retry_cost,
            timeout_cost: budget.timeout_cost,
            success_refund: budget.success_refund,
            window: budget.window,
            overload_ratio: budget.overload_ratio,
            retry_ratio: budget.retry_ratio,
            min_retries: budget.min_retries,
            fleet: policy.fleet_config().map(|f| Fleet {
                url: f.url().to_owned(),
                key: f.key().to_owned(),
                sync: f.sync_interval(),
                ramp: f.gate_config().ramp,
                max_hold: f.gate_config().max_hold,
            }),
        }
    }

    fn assert_matches(&self, policy: &Policy, text: &str) {
        let got = Settings::of(policy);
        // `Backoff` documents that it holds delays in whole nanoseconds (up to about 584
        // years) and that longer settings saturate; the rules were checked before.
        let saturated = |d: Duration| d.min(Duration::from_nanos(u64::MAX));
        let mut expected = self.clone();
        expected.base = saturated(self.base);
        expected.cap = saturated(self.cap);
        // Debug prints every field, floats included, so equal text is equal settings
        // (and -0.0 and 0.0 are told apart only where the file told them apart).
        assert_eq!(
            format!("{got:?}"),
            format!("{expected:?}"),
            "{text:?}: the policy is not what the file says"
        );
        assert_eq!(
            policy.rules().budget().is_some(),
            self.budget_enabled,
            "{text:?}: a budget exactly when enabled"
        );
    }

    /// The key of every rule these settings break, restated from the design's policy
    /// file section: the error for a rejected file must name one of them.
    fn broken_rules(&self) -> Vec<&'static str> {
        let mut keys = Vec::new();
        let mut broken = |rule: bool, key| {
            if rule {
                keys.push(key);
            }
        };
        broken(self.max_attempts < 1, "max_attempts");
        broken(self.max_elapsed == Some(Duration::ZERO), "max_elapsed");
        broken(self.base > self.cap, "backoff.cap");
        broken(
            !(self.factor.is_finite() && self.factor > 0.0),
            "backoff.factor",
        );
        broken(
            matches!(self.jitter, Jitter::Proportional(r) if !(0.0..=1.0).contains(&r)),
            "backoff.jitter_ratio",
        );
        broken(
            self.retry_status.iter().any(|c| !(100..=599).contains(c)),
            "classify.retry_status",
        );
        // The bucket's numbers are checked only when it is on; the adaptive kind's
        // always (a disabled adaptive budget is still written back to a file).
        if self.budget_enabled && self.budget_kind == BudgetKind::Aws {
            broken(self.capacity < 1, "budget.capacity");
            broken(self.retry_cost > self.capacity, "budget.retry_cost");
            broken(self.timeout_cost > self.capacity, "budget.timeout_cost");
            broken(self.success_refund > self.capacity, "budget.success_refund");
        }
        if self.budget_kind == BudgetKind::Adaptive {
            broken(self.window.is_zero(), "budget.window");
            for (value, most, key) in [
                (self.overload_ratio, MAX_RATIO, "budget.overload_ratio"),
                (self.retry_ratio, MAX_RATIO, "budget.retry_ratio"),
                (self.min_retries, MAX_MIN_RETRIES, "budget.min_retries"),
            ] {
                broken(!(0.0..=most).contains(&value), key);
            }
        }
        if let Some(fleet) = &self.fleet {
            keys.extend(fleet.broken_rules());
        }
        keys
    }

    /// The design's rules ([`broken_rules`](Self::broken_rules)); `Err` names the first one
    /// broken.
    fn validate(&self) -> Result<(), String> {
        match self.broken_rules().first() {
            Some(key) => Err(format!("{key} in {self:?}")),
            None => Ok(()),
        }
    }
}

/// The policy a document describes, or why it describes none.
fn expected(doc: &Value) -> Result<Settings, String> {
    let Described {
        settings,
        misplaced,
    } = described(doc)?;
    if let Some(key) = misplaced.first() {
        return Err(format!("{key} with budget kind {}", settings.budget_kind));
    }
    settings.validate()?;
    Ok(settings)
}

/// The budget kind of each preset, from the design: `aws-standard` keeps the AWS bucket
/// exact, every other preset has the adaptive default.
fn preset_budget_kind(preset: Preset) -> BudgetKind {
    match preset {
        Preset::AwsStandard => BudgetKind::Aws,
        _ => BudgetKind::Adaptive,
    }
}

/// The settings a document writes, before the rules are checked.
fn described(doc: &Value) -> Result<Described, String> {
    let top = object("policy", doc)?;
    known_keys("", top)?;
    let preset = match top.get("preset") {
        None => Preset::Default,
        Some(v) => {
            let name = string("preset", v)?;
            Preset::ALL
                .into_iter()
                .find(|p| p.name() == name)
                .ok_or(format!("preset {name:?}"))?
        }
    };
    let mut s = Settings::of(&Policy::preset(preset));
    // The budget's kind (and the adaptive kind's numbers) are restated, not read: a preset
    // with the wrong kind gives a policy these settings do not match.
    s.budget_kind = preset_budget_kind(preset);
    if s.budget_kind == BudgetKind::Adaptive {
        (s.window, s.overload_ratio, s.retry_ratio, s.min_retries) = ADAPTIVE_DEFAULTS;
    }
    s.fleet = None;
    if let Some(v) = top.get("max_attempts") {
        s.max_attempts = uint("max_attempts", v)?;
    }
    if let Some(v) = top.get("max_elapsed") {
        s.max_elapsed = Some(duration("max_elapsed", v)?);
    }
    if let Some(v) = top.get("non_idempotent") {
        s.non_idempotent = choice(
            "non_idempotent",
            v,
            &[
                ("when_safe", NonIdempotent::WhenSafe),
                ("always", NonIdempotent::Always),
                ("never", NonIdempotent::Never),
            ],
        )?;
    }
    if let Some(v) = top.get("backoff") {
        backoff(&mut s, object("backoff", v)?)?;
    }
    if let Some(v) = top.get("hints") {
        let t = object("hints", v)?;
        known_keys("hints", t)?;
        if let Some(v) = t.get("honor") {
            s.honor_hints = boolean("hints.honor", v)?;
        }
        if let Some(v) = t.get("max_hint") {
            s.max_hint = duration("hints.max_hint", v)?;
        }
        if let Some(v) = t.get("on_long_hint") {
            s.on_long_hint = choice(
                "hints.on_long_hint",
                v,
                &[("stop", OnLongHint::Stop), ("clamp", OnLongHint::Clamp)],
            )?;
        }
    }
    if let Some(v) = top.get("classify") {
        let t = object("classify", v)?;
        known_keys("classify", t)?;
        if let Some(v) = t.get("retry_status") {
            let Value::Array(items) = v else {
                return Err("classify.retry_status is not an array".into());
            };
            let mut codes = BTreeSet::new();
            for item in items {
                let code = item
                    .as_i64()
                    .ok_or(format!("classify.retry_status holds {item}"))?;
                codes.insert(u16::try_from(code).map_err(|_| format!("status {code}"))?);
            }
            s.retry_status = codes;
        }
    }
    let mut misplaced = Vec::new();
    if let Some(v) = top.get("budget") {
        misplaced = budget(&mut s, object("budget", v)?)?;
    }
    if let Some(v) = top.get("fleet") {
        s.fleet = fleet(object("fleet", v)?)?;
    }
    Ok(Described {
        settings: s,
        misplaced,
    })
}

/// `[budget]`, with the kind rules of the policy file's docs: `kind` picks the algorithm;
/// without it, the keys given pick it (the bucket's keys alone mean `aws`, as files were
/// written before kinds; an adaptive key means `adaptive`), and with neither the preset's
/// kind stays. Returns the keys given of the other kind (each one is refused); where the
/// file mixes both kinds and names none, either kind's keys may be the one refused.
fn budget(s: &mut Settings, t: &Map<String, Value>) -> Result<Vec<&'static str>, String> {
    known_keys("budget", t)?;
    if let Some(v) = t.get("enabled") {
        s.budget_enabled = boolean("budget.enabled", v)?;
    }
    let kind = t
        .get("kind")
        .map(|v| {
            choice(
                "budget.kind",
                v,
                &[("adaptive", BudgetKind::Adaptive), ("aws", BudgetKind::Aws)],
            )
        })
        .transpose()?;
    let [capacity, retry_cost, timeout_cost, success_refund] = AWS_KEYS;
    for (path, field) in [
        (capacity, &mut s.capacity),
        (retry_cost, &mut s.retry_cost),
        (timeout_cost, &mut s.timeout_cost),
        (success_refund, &mut s.success_refund),
    ] {
        if let Some(v) = t.get(leaf(path)) {
            *field = uint(path, v)?;
        }
    }
    let [window, overload_ratio, retry_ratio, min_retries] = ADAPTIVE_KEYS;
    if let Some(v) = t.get(leaf(window)) {
        s.window = duration(window, v)?;
    }
    for (path, field) in [
        (overload_ratio, &mut s.overload_ratio),
        (retry_ratio, &mut s.retry_ratio),
        (min_retries, &mut s.min_retries),
    ] {
        if let Some(v) = t.get(leaf(path)) {
            *field = number(path, v)?;
        }
    }
    let given = |paths: [&'static str; 4]| -> Vec<&'static str> {
        paths
            .into_iter()
            .filter(|path| t.contains_key(leaf(path)))
            .collect()
    };
    let (aws, adaptive) = (given(AWS_KEYS), given(ADAPTIVE_KEYS));
    let misplaced = match kind {
        Some(kind) => {
            s.budget_kind = kind;
            match kind {
                BudgetKind::Aws => adaptive,
                _ => aws,
            }
        }
        None => match (aws.is_empty(), adaptive.is_empty()) {
            (false, true) => {
                s.budget_kind = BudgetKind::Aws;
                Vec::new()
            }
            (true, false) => {
                s.budget_kind = BudgetKind::Adaptive;
                Vec::new()
            }
            (false, false) => [aws, adaptive].concat(),
            (true, true) => Vec::new(),
        },
    };
    Ok(misplaced)
}

/// `[fleet]`: a table with at least one key names a fleet, whose `url` and `key` are empty
/// until given (and so refused) and whose durations default to the design's; an empty
/// table names none.
fn fleet(t: &Map<String, Value>) -> Result<Option<Fleet>, String> {
    known_keys("fleet", t)?;
    if t.is_empty() {
        return Ok(None);
    }
    let mut f = Fleet::new();
    if let Some(v) = t.get("url") {
        f.url = string("fleet.url", v)?.to_owned();
    }
    if let Some(v) = t.get("key") {
        f.key = string("fleet.key", v)?.to_owned();
    }
    for (key, path, field) in [
        ("sync", "fleet.sync", &mut f.sync),
        ("ramp", "fleet.ramp", &mut f.ramp),
        ("max_hold", "fleet.max_hold", &mut f.max_hold),
    ] {
        if let Some(v) = t.get(key) {
            *field = duration(path, v)?;
        }
    }
    Ok(Some(f))
}

/// `[backoff]`, with the jitter rules of the policy file's docs: `jitter_ratio` only with
/// proportional jitter; proportional jitter without one keeps the preset's ratio when the
/// preset's jitter is proportional, and takes 0.25 otherwise.
fn backoff(s: &mut Settings, t: &Map<String, Value>) -> Result<(), String> {
    known_keys("backoff", t)?;
    if let Some(v) = t.get("kind") {
        s.curve = choice(
            "backoff.kind",
            v,
            &[
                ("exponential", Curve::Exponential),
                ("constant", Curve::Constant),
                ("linear", Curve::Linear),
            ],
        )?;
    }
    if let Some(v) = t.get("base") {
        s.base = duration("backoff.base", v)?;
    }
    if let Some(v) = t.get("cap") {
        s.cap = duration("backoff.cap", v)?;
    }
    if let Some(v) = t.get("factor") {
        s.factor = number("backoff.factor", v)?;
    }
    let ratio = t
        .get("jitter_ratio")
        .map(|v| number("backoff.jitter_ratio", v))
        .transpose()?;
    let preset_ratio = match s.jitter {
        Jitter::Proportional(r) => Some(r),
        _ => None,
    };
    let name = match t.get("jitter") {
        Some(v) => string("backoff.jitter", v)?,
        None => s.jitter.name(),
    };
    s.jitter = match name {
        "none" => Jitter::None,
        "full" => Jitter::Full,
        "equal" => Jitter::Equal,
        "decorrelated" => Jitter::Decorrelated,
        "proportional" => {
            Jitter::Proportional(ratio.or(preset_ratio).unwrap_or(DEFAULT_JITTER_RATIO))
        }
        other => return Err(format!("jitter {other:?}")),
    };
    if ratio.is_some() && name != "proportional" {
        return Err(format!("jitter_ratio with jitter {name:?}"));
    }
    Ok(())
}

/// A key path's last key (`budget.window` → `window`).
fn leaf(path: &str) -> &str {
    path.rsplit_once('.').map_or(path, |(_, key)| key)
}

fn known_keys(table: &str, t: &Map<String, Value>) -> Result<(), String> {
    let known = table_keys(table).unwrap_or(&[]);
    match t.keys().find(|k| !known.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown key {k:?} in table {table:?}")),
        None => Ok(()),
    }
}

fn table_keys(table: &str) -> Option<&'static [&'static str]> {
    TABLES
        .iter()
        .find(|(t, _)| *t == table)
        .map(|(_, keys)| *keys)
}

fn object<'v>(key: &str, v: &'v Value) -> Result<&'v Map<String, Value>, String> {
    match v {
        // The `toml` crate hands a date to serde as a one-key table of this name.
        Value::Object(m) if !m.contains_key("$__toml_private_datetime") => Ok(m),
        other => Err(format!("{key} = {other}, not a table")),
    }
}

fn string<'v>(key: &str, v: &'v Value) -> Result<&'v str, String> {
    v.as_str().ok_or(format!("{key} = {v}, not a string"))
}

fn boolean(key: &str, v: &Value) -> Result<bool, String> {
    v.as_bool().ok_or(format!("{key} = {v}, not a boolean"))
}

/// A whole number (not a float, even `3.0`) from 0 to `u32::MAX`.
fn uint(key: &str, v: &Value) -> Result<u32, String> {
    let n = match v {
        Value::Number(n) if n.is_u64() || n.is_i64() => n,
        other => return Err(format!("{key} = {other}, not a whole number")),
    };
    n.as_u64()
        .and_then(|n| u32::try_from(n).ok())
        .ok_or(format!("{key} = {n} is out of range"))
}

fn number(key: &str, v: &Value) -> Result<f64, String> {
    v.as_f64().ok_or(format!("{key} = {v}, not a number"))
}

fn duration(key: &str, v: &Value) -> Result<Duration, String> {
    let s = string(key, v)?;
    redial::duration::parse(s).map_err(|e| format!("{key}: {e}"))
}

fn choice<T: Copy>(key: &str, v: &Value, choices: &[(&str, T)]) -> Result<T, String> {
    let s = string(key, v)?;
    choices
        .iter()
        .find(|(name, _)| *name == s)
        .map(|(_, value)| *value)
        .ok_or(format!("{key} = {s:?}, not one of the choices"))
}

// ---------------------------------------------------------------------------------------
// Accepted policies
// ---------------------------------------------------------------------------------------

/// Every validation rule, read back from the built policy's getters, and the backoff's
/// promise that no delay passes `cap` and nothing overflows.
fn check_rules(policy: &Policy) {
    let settings = Settings::of(policy);
    if let Err(rule) = settings.validate() {
        panic!("accepted {policy:?}, which breaks a rule: {rule}");
    }
    let rules = policy.rules();
    // Only the aws kind holds tokens; the adaptive kind starts having seen nothing.
    if let Some(budget) = rules
        .budget()
        .filter(|_| rules.budget_config().kind == redial::budget::BudgetKind::Aws)
    {
        assert_eq!(
            budget.available(),
            rules.budget_config().capacity,
            "a new budget starts full"
        );
    }
    let b = rules.backoff();
    let mut rng = redial::Rng::with_seed(5);
    let mut previous = b.base();
    for n in [
        1,
        2,
        3,
        10,
        31,
        32,
        63,
        64,
        65,
        1_000,
        u32::MAX / 2,
        u32::MAX,
    ] {
        let raw = b.raw(n);
        assert!(
            raw <= b.cap(),
            "retry {n}: raw {raw:?} above cap {:?}",
            b.cap()
        );
        let delay = b.delay(n, previous, &mut rng);
        assert!(
            delay <= b.cap(),
            "retry {n}: {delay:?} above cap {:?}",
            b.cap()
        );
        previous = delay;
    }
}

/// `to_toml` writes a file that loads back equal (but for a fleet URL's password, written
/// `***`) and writes the same text again.
fn check_round_trip(policy: &Policy) {
    let text = policy.to_toml();
    match Policy::from_toml(&text) {
        Ok(again) => {
            let mut want = Settings::of(policy);
            let url = want.fleet.as_mut().map(|f| &mut f.url);
            if let Some(url) = url.filter(|url| masked(url) != **url) {
                *url = masked(url);
                assert_eq!(
                    format!("{:?}", Settings::of(&again)),
                    format!("{want:?}"),
                    "written as {text}"
                );
            } else {
                assert_eq!(&again, policy, "written as {text}");
            }
            assert_eq!(again.to_toml(), text, "written twice");
        }
        Err(e) => panic!("{policy:?} written as\n{text}\ndoes not load: {e}"),
    }
}

/// A Redis URL as the writer writes it, restated from the policy file's docs: the password
/// (what follows the first `:` of the user information, before the authority's last `@`;
/// the authority ends at the first `/` after `://`) becomes `***`.
fn masked(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

// ---------------------------------------------------------------------------------------
// Rejected files
// ---------------------------------------------------------------------------------------

/// The error names a key, and says something about it on the same line.
fn check_error(text: &str, format: &str, doc: Option<&Value>, e: &PolicyError) {
    let key = e.key();
    let message = e.to_string();
    let context = format!("{format} {text:?}: {e:?}");
    assert!(!key.is_empty(), "{context}: names no key");
    let Some(rest) = message.strip_prefix(key).and_then(|m| m.strip_prefix(": ")) else {
        panic!("{context}: {message:?} does not start with its key");
    };
    assert!(
        !rest.trim().is_empty(),
        "{context}: says nothing after the key"
    );
    assert!(!message.contains(['\n', '\r']), "{context}: not one line");

    if let Some(line) = key.strip_prefix("line ") {
        let n: usize = line
            .parse()
            .unwrap_or_else(|_| panic!("{context}: {key:?} is not a line number"));
        let lines = text.split('\n').count();
        assert!((1..=lines).contains(&n), "{context}: line {n} of {lines}");
        assert!(
            matches!(e, PolicyError::Syntax { .. }),
            "{context}: only a syntax error names a line"
        );
        return;
    }
    if key == "policy" {
        assert!(
            doc.is_some_and(|d| object("policy", d).is_err()),
            "{context}: `policy` for a root that is a table"
        );
        return;
    }
    let path = key_path(key).unwrap_or_else(|| panic!("{context}: {key:?} is no TOML key path"));
    let (table, name) = match path.as_slice() {
        [name] => ("", name.as_str()),
        [table, name] if table_keys(table).is_some() && !table.is_empty() => {
            (table.as_str(), name.as_str())
        }
        _ => panic!("{context}: {key:?} is no key of a policy file"),
    };
    let known = table_keys(table).unwrap_or(&[]).contains(&name);
    match e {
        PolicyError::UnknownKey { .. } => {
            assert!(!known, "{context}: {key:?} is a known key");
            // The key is in the file, under that table.
            if let Some(doc) = doc {
                let under = if table.is_empty() {
                    Some(doc)
                } else {
                    doc.get(table)
                };
                assert!(
                    under.and_then(|t| t.get(name)).is_some(),
                    "{context}: {key:?} is not in the file"
                );
            }
        }
        _ => {
            let is_table = table.is_empty() && table_keys(name).is_some();
            assert!(known || is_table, "{context}: {key:?} is no known key");
        }
    }
}

/// A dotted key as TOML reads it (`backoff.cap`, `budget."a b"`, `""`), read by the `toml`
/// crate itself; `None` when it is not one.
fn key_path(key: &str) -> Option<Vec<String>> {
    let table: toml::Table = toml::from_str(&format!("{key} = 0")).ok()?;
    let mut path = Vec::new();
    let mut node = &table;
    loop {
        let mut entries = node.iter();
        let (name, value) = entries.next()?;
        if entries.next().is_some() {
            return None;
        }
        path.push(name.clone());
        match value {
            toml::Value::Table(inner) => node = inner,
            toml::Value::Integer(0) => return Some(path),
            _ => return None,
        }
    }
}
