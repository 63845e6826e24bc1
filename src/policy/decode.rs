//! Decoding: a policy text of a [`Format`] into [`Node`]s, the format-neutral tree the
//! [reader](super::read) turns into a policy, or the syntax error at its line and column,
//! with the fix where it is known. Bytes that are not UTF-8 get the same kind of error.

use super::file::{too_large, Format, MAX_BYTES};
use super::node::Node;
use super::position::{line_column, Located};
use super::PolicyError;

/// Bytes as UTF-8 text, or an error that says where the first invalid byte is.
pub(crate) fn text_of(bytes: Vec<u8>) -> Result<String, Box<Located>> {
    String::from_utf8(bytes).map_err(|e| {
        let at = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let byte = bytes.get(at).copied().unwrap_or(0);
        let before = String::from_utf8_lossy(bytes.get(..at).unwrap_or(&[])).into_owned();
        let (line, column) = line_column(&before, before.len());
        Located::syntax(
            line,
            column,
            format!(
                "not UTF-8 text (byte 0x{byte:02X}); save the file as UTF-8 (policy files are \
                 text, TOML or JSON)"
            ),
            "",
        )
    })
}

/// Decodes a text of a format into a node, or says where and why it is not one.
pub(crate) fn decode(text: &str, format: Format) -> Result<Node, Box<Located>> {
    if text.len() > MAX_BYTES {
        let message = format!("the text is {} bytes, {}", text.len(), too_large());
        return Err(Box::new(Located {
            bare: message.clone(),
            error: PolicyError::Syntax {
                key: "policy".into(),
                message,
            },
            line: None,
            column: None,
        }));
    }
    match format {
        Format::Toml => toml::from_str::<Node>(text).map_err(|e| {
            let at = e.span().map_or(0, |span| span.start);
            let (line, column) = line_column(text, at);
            let mut message = e.message().trim().to_owned();
            if message == "duplicate key" {
                // The toml crate points at the key but does not name it.
                if let Some(key) = e.span().and_then(|s| text.get(s)) {
                    message = format!("duplicate key `{}`", key.trim());
                }
            }
            let hint = match Format::sniff(text) {
                Format::Json => "; the text is JSON: name the file .json",
                Format::Toml => "",
            };
            Located::syntax(line, column, message, hint)
        }),
        Format::Json => serde_json::from_str::<Node>(text).map_err(|e| {
            let message = e.to_string();
            // serde_json appends " at line L column C"; the line goes in the key instead.
            let message = match message.rfind(" at line ") {
                Some(at) => message.get(..at).unwrap_or(&message).to_owned(),
                None => message,
            };
            let (line, column) = (e.line().max(1), e.column().max(1));
            let here = text
                .lines()
                .nth(line - 1)
                .and_then(|l| l.get(l.char_indices().nth(column - 1).map_or(l.len(), |c| c.0)..))
                .unwrap_or("");
            let hint = if text.starts_with('\u{feff}') {
                "; the file starts with a byte order mark (U+FEFF), which JSON does not allow: \
                 save it as UTF-8 without BOM"
            } else if ["NaN", "Infinity", "-Infinity", "nan", "inf"]
                .iter()
                .any(|w| here.starts_with(w))
            {
                "; JSON has no NaN or Infinity: write a finite number"
            } else if Format::sniff(text) == Format::Toml {
                "; the text is not a JSON object: if it is TOML, name the file .toml"
            } else {
                ""
            };
            Located::syntax(line, column, message, hint)
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Policy;

    #[test]
    fn json_errors_name_the_key_path_or_the_line() {
        let got = Policy::from_json(r#"{"budget": {"capacity": -5}}"#).unwrap_err();
        assert_eq!(got.to_string(), "budget.capacity: must be >= 0, got -5");
        let got = Policy::from_json("{\n\"max_attempts\": 3,\n}").unwrap_err();
        assert_eq!(got.key(), "line 3");
        let got = Policy::from_json(r#"{"max_attempts": 3, "max_attempts": 4}"#).unwrap_err();
        assert_eq!(
            got.to_string(),
            "line 1: duplicate key `max_attempts` (column 38)"
        );
        let got = Policy::from_json("[1]").unwrap_err();
        assert_eq!(got.to_string(), "policy: expected a table, found an array");
        let got = Policy::from_json(r#"{"max_elapsed": null}"#).unwrap_err();
        assert_eq!(
            got.to_string(),
            "max_elapsed: expected a duration string such as \"500ms\", found null"
        );
    }

    /// Issue 13, item 3: the duplicate-key scan compared every key with every key before
    /// it (160,000 keys took 15.9 s). Counted, not timed: a linear check makes about one
    /// comparison per key (hash collisions only), a scan n²/2.
    #[test]
    fn issue_13_loading_is_linear_in_the_number_of_keys() {
        use super::super::node::de::COMPARISONS;
        let n = 20_000;
        let mut json = String::from("{");
        for i in 0..n {
            json.push_str(&format!("\"k{i}\": {i},"));
        }
        json.push_str("\"last\": 0}");
        COMPARISONS.with(|c| c.set(0));
        let err = serde_json::from_str::<Policy>(&json).unwrap_err();
        let made = COMPARISONS.with(|c| c.get());
        assert!(made <= n, "{made} comparisons for {n} keys");
        assert!(err.to_string().starts_with("k0: unknown key"), "{err}");
        // And the duplicate is still found.
        let err = Policy::from_json(r#"{"a": 1, "b": 2, "a": 3}"#).unwrap_err();
        assert!(err.to_string().contains("duplicate key `a`"), "{err}");
    }

    /// Issue 13, item 2: a policy text has a stated size bound, answered with a clear error.
    #[test]
    fn issue_13_a_policy_over_the_size_limit_is_refused() {
        let text = format!("# {}\nmax_attempts = 2\n", "x".repeat(MAX_BYTES));
        let err = Policy::from_toml(&text).unwrap_err().to_string();
        assert!(
            err.contains("more than") || err.contains("larger than"),
            "{err}"
        );
        assert!(err.contains("256 KiB"), "{err}");
        let just = format!("# {}\nmax_attempts = 2\n", "x".repeat(MAX_BYTES - 40));
        assert!(Policy::from_toml(&just).is_ok());
    }

    /// Issue 13, item 5: each message says where, and what to do.
    #[test]
    fn issue_13_messages_name_the_place_and_the_fix() {
        type Load = fn(&str) -> Result<Policy, PolicyError>;
        let cases: [(&str, Load, &str); 5] = [
            (
                "{\"max_attempts\": 2}",
                Policy::from_toml,
                "the text is JSON: name the file .json",
            ),
            (
                "max_attempts = 2\n",
                Policy::from_json,
                "if it is TOML, name the file .toml",
            ),
            (
                "\u{feff}{\"max_attempts\": 2}",
                Policy::from_json,
                "byte order mark (U+FEFF)",
            ),
            (
                "{\"backoff\": {\"factor\": NaN}}",
                Policy::from_json,
                "JSON has no NaN or Infinity",
            ),
            (
                "{\n  \"backoff\": {\"factor\": NaN}}",
                Policy::from_json,
                "line 2: expected value (column 25)",
            ),
        ];
        for (text, load, want) in cases {
            let got = load(text).unwrap_err().to_string();
            assert!(got.contains(want), "{text:?}\n got: {got}\nwant: {want}");
        }
        // A BOM is fine in TOML (the spec allows it).
        assert!(Policy::from_toml("\u{feff}max_attempts = 2").is_ok());
        let located = text_of(b"max_attempts = 2\n# caf\xe9\n".to_vec()).unwrap_err();
        assert_eq!(
            located.error.to_string(),
            "line 2: not UTF-8 text (byte 0xE9); save the file as UTF-8 (policy files are text, TOML or JSON) (column 6)"
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 512, ..proptest::prelude::ProptestConfig::default() })]

        #[test]
        fn prop_loading_never_panics(text in "\\PC{0,200}") {
            let _ = Policy::from_toml(&text);
            let _ = Policy::from_json(&text);
        }
    }
}
