//! Replays every checked-in fuzz corpus file through the fuzz targets' own checks.
//!
//! The checks live in `fuzz/checks.rs` and are compiled here as a module, so the fuzz
//! targets and this test share one copy. This runs under plain `cargo test`, with no fuzzer
//! installed: whatever a fuzzing run once found (and was added to `fuzz/corpus/<target>/`)
//! stays fixed. The targets that need the command line's crate (`policy_file`,
//! `decide_line`) are replayed by `cli/tests/fuzz_corpus.rs`.

use std::path::{Path, PathBuf};

#[path = "../fuzz/checks.rs"]
mod checks;
#[path = "../fuzz/replay.rs"]
mod replay;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus")
}

#[test]
fn retry_after_corpus() {
    replay::replay(&corpus(), "retry_after", checks::retry_after);
}

#[test]
fn rate_limit_corpus() {
    replay::replay(&corpus(), "rate_limit", checks::rate_limit);
}

#[test]
fn header_map_corpus() {
    replay::replay(&corpus(), "header_map", checks::header_map);
}

#[test]
fn error_body_corpus() {
    replay::replay(&corpus(), "error_body", checks::error_body);
}

#[test]
fn machine_corpus() {
    replay::replay(&corpus(), "machine", checks::machine);
}
