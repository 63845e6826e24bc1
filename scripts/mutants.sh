#!/usr/bin/env bash
# Mutation testing of the core, one file at a time (cargo-mutants): every mutant that
# changes what the code does must make a test fail. Equivalent mutants (same behaviour,
# or behaviour no test can observe) are listed with the reason in .cargo/mutants.toml.
#
#   scripts/mutants.sh                 every core file below
#   scripts/mutants.sh src/gate.rs     one file
#
# Each file runs the tests that exercise it: the unit tests beside it (--lib) and the
# integration tests that drive it, not the whole suite (the fleet tests alone take a
# minute and need Redis). Results land in mutants.out/<file>/ (outcomes.json, caught.txt,
# missed.txt, timeout.txt, unviable.txt). Needs `cargo install cargo-mutants --locked`;
# two cores take about an hour for all of it but the budget, and about three hours more
# for the budget's 343 mutants.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v cargo-mutants >/dev/null || {
    echo "cargo-mutants is not installed: cargo install cargo-mutants --locked" >&2
    exit 2
}

# The tests that exercise each file, as cargo test arguments.
tests_for() {
    case "$1" in
        src/backoff.rs) echo "--lib --test machine" ;;
        # clock_reads pins when a decision reads the time (Rules::decisions_need_time).
        src/machine.rs) echo "--lib --test machine --test clock_reads" ;;
        src/gate.rs) echo "--lib --test fleet_gate" ;;
        src/classify.rs) echo "--lib --test classification" ;;
        src/hints.rs | src/hints/*) echo "--lib --test hints" ;;
        # The budget: its unit tests, its integration tests, and the machine's, which hold
        # the adaptive budget against its model (tests/adaptive_model/). The policy file's
        # round-trip properties take 20 s a mutant and make no decision: skipped.
        # clock_reads pins that the AWS bucket needs no clock (Budget::needs_time).
        src/budget/mod.rs) echo "--lib --test budget --test adaptive_rule --test machine --test clock_reads -- --skip policy::write::tests::prop_" ;;
        src/budget/*) echo "--lib --test budget --test adaptive_rule --test machine -- --skip policy::write::tests::prop_" ;;
        *) echo "--lib --tests" ;;
    esac
}

files=("$@")
if [ ${#files[@]} -eq 0 ]; then
    files=(src/backoff.rs src/machine.rs src/gate.rs src/classify.rs src/hints.rs
        src/hints/number.rs src/hints/rate_limit.rs src/hints/retry_after.rs
        src/hints/structured_field.rs src/budget/counts.rs src/budget/aws.rs src/budget/mod.rs
        src/budget/adaptive.rs src/budget/rule.rs)
fi

status=0
for file in "${files[@]}"; do
    out="mutants.out/${file//\//_}"
    mkdir -p "$out"
    echo "== $file ($(tests_for "$file"))" >&2
    # shellcheck disable=SC2046 # the test arguments are words
    cargo mutants --file "$file" --all-features --copy-target true --output "$out" \
        --timeout-multiplier 3 -- $(tests_for "$file") || status=$?
done
exit $status
