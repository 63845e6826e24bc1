//! Replays the checked-in corpora of the fuzz targets that need more than the core: the
//! policy file parser (`policy_file`, redial's `serde` feature, which this crate always
//! turns on) and `redial decide`'s input lines (`decide_line`, this crate's library).
//!
//! The checks live in `fuzz/policy_checks.rs` and `fuzz/cli_checks.rs`, compiled here as
//! modules, so the fuzz targets and this test share one copy; the other targets' corpora
//! are replayed by the main crate's `tests/fuzz_corpus.rs`.

use std::path::{Path, PathBuf};

#[path = "../../fuzz/cli_checks.rs"]
mod cli_checks;
#[path = "../../fuzz/policy_checks.rs"]
mod policy_checks;
#[path = "../../fuzz/replay.rs"]
mod replay;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus")
}

#[test]
fn policy_file_corpus() {
    replay::replay(&corpus(), "policy_file", policy_checks::policy_file);
}

#[test]
fn decide_line_corpus() {
    replay::replay(&corpus(), "decide_line", cli_checks::decide_line);
}
