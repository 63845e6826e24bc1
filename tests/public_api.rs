//! The crate root stays what issue 19 chose: the names a call site writes, and the modules
//! that hold the rest. `src/lib.rs` is read as text: every `pub use` and `pub mod` at its
//! top level is a root name, and each must be on the list below. A name added to the root
//! fails here until the list (and the rule at the top of `src/lib.rs`) says why.

use std::collections::BTreeSet;

/// The root's items, as `src/lib.rs` exports them.
const ROOT: &[&str] = &[
    // The policy.
    "Policy",
    "PolicyBuilder",
    "PolicyError",
    "Preset",
    // The entry points, and the call they return.
    "Retryable",
    "RetryableWithContext",
    "BlockingRetryable",
    "retry_stream",
    "Retrying",
    // How a call ends.
    "RetryError",
    "Last",
    "Refusal",
    "RequestIds",
    "Stop",
    "StopReason",
    // What an attempt produced.
    "HttpOutcome",
    "Verdict",
    "Cause",
    "Transport",
    "ErrorType",
    // The hooks.
    "Classify",
    "ClassifyContext",
    "Notify",
    "Event",
    // The rest.
    "Rng",
    "UnknownName",
];

/// The root's public modules: the core's concepts, then the adapters'.
const MODULES: &[&str] = &[
    "backoff",
    "budget",
    "classify",
    "duration",
    "fleet",
    "gate",
    "hints",
    "machine",
    "pacer",
    "policy",
    "sleep",
    "stream",
    "tower",
    "reqwest",
    "reqwest_middleware",
    "ureq",
];

fn lib() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/lib.rs")).expect("src/lib.rs")
}

/// The names a `pub use` statement exports: `a::b::C`, `a::{B, C as D}` → `C`; `B`, `D`.
fn exported(statement: &str) -> Vec<String> {
    let path = statement
        .trim()
        .trim_start_matches("pub use ")
        .trim_end_matches(';')
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    let names = match path.split_once('{') {
        Some((_, group)) => group.trim_end_matches('}').to_string(),
        None => path.clone(),
    };
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|n| {
            let n = n.rsplit(" as ").next().unwrap_or(n);
            n.rsplit("::").next().unwrap_or(n).to_string()
        })
        .collect()
}

/// Every `pub use` statement of `text` (one may span lines), with whether it sits at the
/// top level (not indented, so not inside a module written inline).
fn pub_uses(text: &str) -> Vec<(bool, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if !line.trim_start().starts_with("pub use ") {
            continue;
        }
        let top = !line.starts_with(' ');
        let mut statement = line.to_string();
        while !statement.trim_end().ends_with(';') {
            statement.push_str(lines.next().expect("a `pub use` ends with `;`"));
        }
        out.push((top, statement));
    }
    out
}

#[test]
fn the_root_holds_the_chosen_names_only() {
    let text = lib();
    let found: BTreeSet<String> = pub_uses(&text)
        .into_iter()
        .filter(|(top, _)| *top)
        .flat_map(|(_, s)| exported(&s))
        .collect();
    let chosen: BTreeSet<String> = ROOT.iter().map(|s| s.to_string()).collect();
    let added: Vec<_> = found.difference(&chosen).collect();
    let gone: Vec<_> = chosen.difference(&found).collect();
    assert!(
        added.is_empty() && gone.is_empty(),
        "the root changed: added {added:?}, removed {gone:?}; a new name belongs under the \
         module of its concept unless a call site needs it (see the rule atop src/lib.rs)"
    );
    assert!(found.len() <= 26, "the root holds {} names", found.len());
}

#[test]
fn the_root_modules_are_the_chosen_ones() {
    let found: BTreeSet<String> = lib()
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod "))
        .map(|rest| rest.trim_end_matches([';', '{', ' ']).to_string())
        .collect();
    let chosen: BTreeSet<String> = MODULES.iter().map(|s| s.to_string()).collect();
    assert_eq!(found, chosen, "the root's public modules changed");
}

#[test]
fn every_name_is_exported_once() {
    let mut seen = BTreeSet::new();
    for (_, statement) in pub_uses(&lib()) {
        for name in exported(&statement) {
            assert!(
                seen.insert(name.clone()),
                "src/lib.rs exports `{name}` twice: every public item has one path"
            );
        }
    }
    assert!(
        seen.len() > 40,
        "only {} names read: the parser broke",
        seen.len()
    );
}

#[test]
fn the_old_paths_are_gone() {
    // A few of the 92 names the root held before issue 19, now under their modules.
    let text = lib();
    for moved in [
        "Machine",
        "Jitter",
        "TokioSleeper",
        "RetryLayer",
        "AttemptOutput",
    ] {
        let at_root = pub_uses(&text)
            .into_iter()
            .filter(|(top, _)| *top)
            .any(|(_, s)| exported(&s).iter().any(|n| n == moved));
        assert!(!at_root, "`{moved}` is back at the root");
    }
}
