//! The policy file's JSON Schema (draft 2020-12), generated from the same key tables as the
//! reader, for editors and for validation outside Rust.
//!
//! The schema says what the reader accepts key by key: the names, the value types, the
//! choices, the duration grammar, the ranges of single values. Rules between keys (`cap >=
//! base`, the budget's costs within its capacity) and `redial check`'s lint are beyond it.
//!
//! ```
//! let schema = redial::policy::schema::json_schema();
//! assert!(schema.contains(r#""max_attempts": {"#));
//! assert!(schema.contains(r#""additionalProperties": false"#));
//! ```

use core::fmt::Write;

use super::keys::{Key, Section, Value, SECTIONS};

/// The duration grammar of [`duration`](crate::duration), as a regular expression.
///
/// ```
/// assert!(redial::policy::schema::DURATION_PATTERN.contains("ms"));
/// ```
pub const DURATION_PATTERN: &str = r"^(0|([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$";

/// The JSON Schema of a policy file, pretty-printed, ending with a newline.
///
/// ```
/// let schema = redial::policy::schema::json_schema();
/// assert!(schema.starts_with("{\n  \"$schema\""));
/// ```
pub fn json_schema() -> String {
    let mut out = String::new();
    let top = SECTIONS[0];
    out.push_str("{\n");
    out.push_str("  \"$schema\": \"https://json-schema.org/draft/2020-12/schema\",\n");
    let _ = writeln!(out, "  \"title\": \"redial policy file\",");
    let _ = writeln!(out, "  \"description\": {},", quote(top.doc));
    out.push_str("  \"type\": \"object\",\n  \"additionalProperties\": false,\n");
    out.push_str("  \"properties\": {\n");
    let mut entries: Vec<String> = top.keys.iter().map(|k| key(k, 4)).collect();
    entries.extend(
        SECTIONS
            .iter()
            .filter(|s| !s.name.is_empty())
            .map(|s| section(s)),
    );
    out.push_str(&entries.join(",\n"));
    out.push_str("\n  }\n}\n");
    out
}

fn section(s: &Section) -> String {
    let keys: Vec<String> = s.keys.iter().map(|k| key(k, 8)).collect();
    format!(
        "    {}: {{\n      \"description\": {},\n      \"type\": \"object\",\n      \"additionalProperties\": false,\n      \"properties\": {{\n{}\n      }}\n    }}",
        quote(s.name),
        quote(s.doc),
        keys.join(",\n")
    )
}

fn key(k: &Key, indent: usize) -> String {
    let pad = " ".repeat(indent);
    let mut fields = vec![format!("\"description\": {}", quote(k.doc))];
    match k.value {
        Value::Duration => {
            fields.push("\"type\": \"string\"".into());
            fields.push(format!("\"pattern\": {}", quote(DURATION_PATTERN)));
        }
        Value::Count { min, max } => {
            fields.push("\"type\": \"integer\"".into());
            fields.push(format!("\"minimum\": {min}"));
            fields.push(format!("\"maximum\": {max}"));
        }
        Value::Number {
            min,
            min_exclusive,
            max,
        } => {
            fields.push("\"type\": \"number\"".into());
            let name = if min_exclusive {
                "exclusiveMinimum"
            } else {
                "minimum"
            };
            fields.push(format!("\"{name}\": {min}"));
            if let Some(max) = max {
                fields.push(format!("\"maximum\": {max}"));
            }
        }
        Value::Bool => fields.push("\"type\": \"boolean\"".into()),
        Value::Choice(names) => {
            let names: Vec<String> = names().into_iter().map(quote).collect();
            fields.push(format!("\"enum\": [{}]", names.join(", ")));
        }
        Value::Text => fields.push("\"type\": \"string\"".into()),
        Value::StatusCodes => {
            fields.push("\"type\": \"array\"".into());
            fields.push(
                "\"items\": {\"type\": \"integer\", \"minimum\": 100, \"maximum\": 599}".into(),
            );
        }
    }
    let inner = fields
        .iter()
        .map(|f| format!("{pad}  {f}"))
        .collect::<Vec<_>>()
        .join(",\n");
    format!("{pad}{}: {{\n{inner}\n{pad}}}", quote(k.name))
}

/// A JSON string.
fn quote(s: &str) -> String {
    super::keys::string_literal(s)
}
