//! Replays a fuzz target's checked-in corpus through the target's own checks, for the
//! corpus replay tests (`tests/fuzz_corpus.rs` in the main crate, `cli/tests/fuzz_corpus.rs`
//! in the command line's), which compile this file as a module.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Runs `check` on every file of `corpus/<target>/` and reports all the files that break an
/// invariant, not just the first.
pub fn replay(corpus: &Path, target: &str, check: fn(&[u8])) {
    let dir = corpus.join(target);
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
