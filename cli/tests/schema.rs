//! The policy file's JSON Schema: the checked-in copy is the generated one, and every
//! example policy in the repository validates against it.
//!
//! The validator here is written from the JSON Schema spec for the keywords the schema
//! uses (type, enum, pattern, minimum, maximum, exclusiveMinimum, properties,
//! additionalProperties, items), so the check does not go through redial's own parser.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn schema() -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_redial"))
        .arg("schema")
        .output()
        .expect("redial runs");
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).expect("the schema is JSON")
}

/// Every way `value` breaks `schema`, as `path: why`.
fn violations(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    let mut fail = |why: String| out.push(format!("{path}: {why}"));
    if let Some(t) = schema.get("type").and_then(Value::as_str) {
        let ok = match t {
            "object" => value.is_object(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "array" => value.is_array(),
            _ => false,
        };
        if !ok {
            return fail(format!("not of type {t}: {value}"));
        }
    }
    if let Some(choices) = schema.get("enum").and_then(Value::as_array) {
        if !choices.contains(value) {
            fail(format!("{value} is not one of {choices:?}"));
        }
    }
    if let (Some(p), Some(s)) = (
        schema.get("pattern").and_then(Value::as_str),
        value.as_str(),
    ) {
        if !regex::Regex::new(p).expect("a valid pattern").is_match(s) {
            fail(format!("{s:?} does not match {p}"));
        }
    }
    if let Some(x) = value.as_f64() {
        let bound = |k: &str| schema.get(k).and_then(Value::as_f64);
        if bound("minimum").is_some_and(|m| x < m) {
            fail(format!("{x} is below the minimum"));
        }
        if bound("maximum").is_some_and(|m| x > m) {
            fail(format!("{x} is above the maximum"));
        }
        if bound("exclusiveMinimum").is_some_and(|m| x <= m) {
            fail(format!("{x} is not above the exclusive minimum"));
        }
    }
    if let (Some(items), Some(array)) = (schema.get("items"), value.as_array()) {
        for (i, item) in array.iter().enumerate() {
            violations(items, item, &format!("{path}[{i}]"), out);
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        for (key, inner) in object {
            match properties.and_then(|p| p.get(key)) {
                Some(sub) => violations(sub, inner, &format!("{path}.{key}"), out),
                None if closed => out.push(format!("{path}: unknown key {key:?}")),
                None => {}
            }
        }
    }
}

fn check(schema: &Value, doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    violations(schema, doc, "policy", &mut out);
    out
}

/// A policy file as a JSON value, whichever its format.
fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).unwrap()
    } else {
        let table: toml::Table = toml::from_str(&text).unwrap();
        serde_json::to_value(table).unwrap()
    }
}

#[test]
fn the_checked_in_schema_is_the_generated_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_redial"))
        .arg("schema")
        .output()
        .unwrap();
    let checked_in = std::fs::read_to_string(root().join("cli/policy.schema.json")).unwrap();
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        checked_in,
        "run `redial schema > cli/policy.schema.json`"
    );
}

#[test]
fn every_example_policy_validates() {
    let schema = schema();
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in ["cli/tests/fixtures/policies", "fuzz/corpus/policy_file"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let example = path.extension().is_some_and(|e| e == "toml" || e == "json");
            // The corpus holds fuzz inputs, valid or not; its example is the design's.
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if example && (dir.starts_with("cli") || name == "design-example-proportional.toml") {
                files.push(path);
            }
        }
    }
    assert!(files.len() >= 6, "{files:?}");
    for path in &files {
        let found = check(&schema, &read(path));
        assert!(found.is_empty(), "{}: {found:?}", path.display());
        // And redial agrees it is a policy.
        redial::Policy::from_path(path).unwrap();
    }
    // The effective policy `check` prints for every preset is an example too.
    for preset in redial::Preset::ALL {
        let text = redial::Policy::preset(preset).to_toml();
        let table: toml::Table = toml::from_str(&text).unwrap();
        let found = check(&schema, &serde_json::to_value(table).unwrap());
        assert!(found.is_empty(), "{preset}: {found:?}");
    }
}

/// The invalid fixtures that break a single key's rule break the schema too; those that
/// break a rule between keys (or are not TOML or JSON at all) are beyond a schema.
#[test]
fn single_key_mistakes_break_the_schema() {
    let schema = schema();
    let beyond = [
        "cap-below-base",
        "budget-refund-over-capacity",
        "budget-retry-cost-over-capacity",
        "budget-timeout-cost-over-capacity",
        "budget-capacity-zero",
        "jitter-ratio-without-proportional",
        // A duration's range (more than 0s) is beyond a pattern.
        "max-elapsed-zero",
        "not-json",
        "not-toml",
        "not-a-policy-format",
    ];
    for entry in std::fs::read_dir(root().join("cli/tests/fixtures/policies/invalid")).unwrap() {
        let path = entry.unwrap().path();
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if beyond.contains(&stem.as_str()) {
            continue;
        }
        let found = check(&schema, &read(&path));
        assert!(
            !found.is_empty(),
            "{}: the schema accepts it",
            path.display()
        );
    }
}
