//! Fuzz target `decide_line`: the invariants live in `../cli_checks.rs`, shared with the
//! corpus replay test (`cli/tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../cli_checks.rs"]
mod cli_checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| cli_checks::decide_line(data));
