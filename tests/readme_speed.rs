//! The README's speed table is written from a recorded bench run, never by hand: this test
//! renders it from `benches/medians.txt` (what `benches/medians.sh` printed after the run)
//! and fails when the README's table is anything else. `benches/record.sh` runs the
//! benches, records the medians and rewrites the table (`REDIAL_WRITE_README=1`).

use std::collections::HashMap;
use std::path::Path;

const BEGIN: &str = "<!-- speed table: written by benches/record.sh from benches/medians.txt -->";
const END: &str = "<!-- end of the speed table -->";

/// The columns, and for each row its bench group and each column's bench name in it
/// (`None`: the crate has no such thing).
const COLUMNS: [&str; 7] = [
    "redial",
    "hand-written",
    "backon",
    "tokio-retry",
    "tower",
    "backoff",
    "retry-policies",
];

type Row = (&'static str, &'static str, [Option<&'static str>; 7]);

const ROWS: [Row; 6] = [
    (
        "next jittered delay",
        "next_delay/steady",
        [
            Some("redial/backoff"),
            Some("hand-written"),
            Some("backon"),
            Some("tokio-retry"),
            None,
            Some("backoff"),
            Some("retry-policies"),
        ],
    ),
    (
        "fresh per-call state + 3 delays",
        "next_delay/fresh+3",
        [
            Some("redial/backoff"),
            Some("hand-written"),
            Some("backon"),
            Some("tokio-retry"),
            None,
            Some("backoff"),
            Some("retry-policies"),
        ],
    ),
    (
        "whole 429 decision (classify, hint, delay, default budget)",
        "decision/429 delay-seconds",
        [
            Some("redial, adaptive"),
            Some("hand-written"),
            None,
            None,
            None,
            None,
            None,
        ],
    ),
    (
        "200 path of that decision",
        "decision/200",
        [
            Some("redial, adaptive"),
            Some("hand-written"),
            None,
            None,
            None,
            None,
            None,
        ],
    ),
    (
        "async call that succeeds at once (default budget)",
        "success_overhead",
        [
            Some("redial/http, adaptive budget"),
            Some("hand-written"),
            Some("backon"),
            Some("tokio-retry"),
            Some("tower"),
            Some("backoff"),
            None,
        ],
    ),
    (
        "async call, two retries, then success (no-op sleeper, adaptive budget)",
        "retry_then_success/no-op sleeper",
        [
            Some("redial/http, adaptive budget"),
            Some("hand-written"),
            Some("backon"),
            None,
            Some("tower"),
            None,
            None,
        ],
    ),
];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// `benches/medians.txt`: a bench id, its median and `ns`, a line each.
fn medians() -> HashMap<String, f64> {
    let text = std::fs::read_to_string(root().join("benches/medians.txt")).expect("recorded");
    text.lines()
        .filter_map(|line| {
            let line = line.trim_end().strip_suffix("ns")?.trim_end();
            let (id, value) = line.rsplit_once(' ')?;
            Some((id.trim().to_string(), value.parse().ok()?))
        })
        .collect()
}

/// The table, as the README holds it between its markers.
fn table() -> String {
    let m = medians();
    let mut out = format!("| | {} |\n|---|", COLUMNS.join(" | "));
    out.push_str(&"---:|".repeat(COLUMNS.len()));
    out.push('\n');
    for (label, group, cells) in ROWS {
        out.push_str(&format!("| {label} |"));
        for cell in cells {
            let text = match cell {
                None => "—".to_string(),
                Some(name) => {
                    let id = format!("{group}/{name}");
                    let ns = m.get(&id).unwrap_or_else(|| panic!("{id} is not recorded"));
                    format!("{ns:.1} ns")
                }
            };
            out.push_str(&format!(" {text} |"));
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_readme_speed_table_is_the_recorded_run() {
    let path = root().join("README.md");
    let readme = std::fs::read_to_string(&path).expect("README.md");
    let start = readme.find(BEGIN).expect("the table's first marker") + BEGIN.len();
    let end = readme.find(END).expect("the table's last marker");
    let written = format!("\n{}", table());
    if std::env::var_os("REDIAL_WRITE_README").is_some() {
        let new = format!("{}{}{}", &readme[..start], written, &readme[end..]);
        std::fs::write(&path, new).expect("README.md written");
        return;
    }
    assert_eq!(
        &readme[start..end],
        written,
        "README's speed table is not the recorded run's: run benches/record.sh"
    );
}
