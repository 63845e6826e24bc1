#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 30), one after another.
#
#   fuzz/run.sh [SECONDS] [TARGET...]
#
# Meant for CI (a short run on every change) and for long runs by hand. It installs
# cargo-fuzz when it is missing, runs on the stable toolchain (RUSTC_BOOTSTRAP=1 lets
# cargo-fuzz pass its nightly-only flags), and never writes into the checked-in seed
# corpora: new inputs go to a scratch corpus (FUZZ_SCRATCH, default fuzz/target/corpus).
# A crash or a broken invariant leaves its input in fuzz/artifacts/<target>/ and makes the
# script exit non-zero after every target has run; add that input to fuzz/corpus/<target>/
# once it is fixed, and `cargo test` replays it from then on.
#
# The targets (`cargo fuzz list`), each asserting the design's invariants, not just "no panic":
#   retry_after   Retry-After and retry-after-ms values              checks.rs
#   rate_limit    one value through every rate-limit header family   checks.rs
#   header_map    a whole response's headers through hint extraction checks.rs
#   error_body    the JSON error envelope reader                     checks.rs
#   machine       arbitrary verdicts and times through the machine   checks.rs
#   policy_file   a policy file, as TOML and as JSON                 policy_checks.rs
#   decide_line   input lines of `redial decide`                     cli_checks.rs
# `cargo test` replays the checked-in corpora: the first five in tests/fuzz_corpus.rs, the
# last two (which need redial's `serde` feature and the CLI's library) in
# cli/tests/fuzz_corpus.rs.
#
# FUZZ_SANITIZER picks the sanitizer (default none: the core forbids unsafe code, and
# without ASan each target runs several times as many inputs).
set -euo pipefail

seconds="${1:-30}"
shift || true
cd "$(dirname "$0")"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "run.sh: installing cargo-fuzz" >&2
    cargo install cargo-fuzz --locked
fi

export RUSTC_BOOTSTRAP=1
sanitizer="${FUZZ_SANITIZER:-none}"
scratch="${FUZZ_SCRATCH:-$PWD/target/corpus}"

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# -a: debug assertions (and so overflow checks) on, as in tests.
cargo fuzz build -a -s "$sanitizer"

failed=()
summary=()
for target in "${targets[@]}"; do
    mkdir -p "$scratch/$target" "artifacts/$target"
    log="$scratch/$target.log"
    echo "== $target: ${seconds}s" >&2
    # The scratch corpus comes first, so that libFuzzer writes new inputs there; the
    # checked-in seeds are read only.
    # A target with a dictionary (dict/<target>.dict: the keys and words of a text format)
    # gets it, so that the fuzzer splices whole keywords rather than finding them by chance.
    extra=()
    if [ -f "dict/$target.dict" ]; then
        extra+=("-dict=dict/$target.dict")
    fi
    if cargo fuzz run -a -s "$sanitizer" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -print_final_stats=1 "${extra[@]}" \
        >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$target")
        tail -n 40 "$log" >&2
    fi
    # libFuzzer's final stats: stat::number_of_executed_units is the count of inputs run.
    runs=$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")
    corpus=$(find "$scratch/$target" -type f | wc -l)
    summary+=("$(printf '%-12s %-6s %12s runs  %6s scratch corpus files' "$target" "$status" "$runs" "$corpus")")
done

printf '%s\n' "${summary[@]}"
if [ "${#failed[@]}" -gt 0 ]; then
    echo "run.sh: invariants broken in: ${failed[*]} (inputs in fuzz/artifacts/)" >&2
    exit 1
fi
