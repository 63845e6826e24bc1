//! Fuzz target `policy_file`: the invariants live in `../policy_checks.rs`, shared with the
//! corpus replay test (`cli/tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../policy_checks.rs"]
mod policy_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| policy_checks::policy_file(data));
