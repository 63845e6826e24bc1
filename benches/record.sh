#!/usr/bin/env bash
# Runs the benches the README's speed table shows, records their medians in
# benches/medians.txt, and rewrites the table from them (tests/readme_speed.rs checks it
# against the recording on every test run). Run it on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench success_overhead --bench retry_then_success --bench next_delay --bench decision
benches/medians.sh > benches/medians.txt
REDIAL_WRITE_README=1 cargo test -q --test readme_speed
