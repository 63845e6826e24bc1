//! Fuzz target `header_map`: the invariants live in `../checks.rs`, shared with the corpus
//! replay test (`tests/fuzz_corpus.rs`).
#![no_main]

#[path = "../checks.rs"]
#[allow(dead_code)] // each target uses one of the shared checks
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::header_map(data));
