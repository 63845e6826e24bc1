//! Replays every checked-in fuzz corpus file through the fuzz targets' own checks.
//!
//! The checks live in `fuzz/checks.rs` and are compiled here as a module, so the fuzz
//! targets and this test share one copy. This runs under plain `cargo test`, with no fuzzer
//! installed: whatever a fuzzing run once found (and was added to `fuzz/corpus/<target>/`)
//! stays fixed.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

#[path = "../fuzz/checks.rs"]
mod checks;

/// Runs `check` on every file of `fuzz/corpus/<target>/` and reports all the files that
/// break an invariant, not just the first.
fn replay(target: &str, check: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    files.retain(|p| p.is_file());
    files.sort();
    assert!(
        !files.is_empty(),
        "no corpus for {target} in {}",
        dir.display()
    );

    let failed: Vec<String> = files
        .iter()
        .filter(|path| {
            let data = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            catch_unwind(AssertUnwindSafe(|| check(&data))).is_err()
        })
        .map(|path| path.display().to_string())
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} {target} corpus files break an invariant (messages above):\n{}",
        failed.len(),
        files.len(),
        failed.join("\n")
    );
}

#[test]
fn retry_after_corpus() {
    replay("retry_after", checks::retry_after);
}

#[test]
fn rate_limit_corpus() {
    replay("rate_limit", checks::rate_limit);
}

#[test]
fn header_map_corpus() {
    replay("header_map", checks::header_map);
}

#[test]
fn error_body_corpus() {
    replay("error_body", checks::error_body);
}

#[test]
fn machine_corpus() {
    replay("machine", checks::machine);
}
