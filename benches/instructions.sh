#!/usr/bin/env bash
# Instructions per call of each adapter bench body (benches/instructions.rs), counted by
# callgrind: repeatable to a few instructions on a machine whose wall time is not.
#
#   benches/instructions.sh [BODY...]
#
# Needs valgrind. Prints one line per body: its name and instructions per call.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v valgrind >/dev/null; then
    echo "instructions.sh: needs valgrind" >&2
    exit 1
fi
cargo bench --bench instructions --no-run 2>/dev/null
bin=$(cargo bench --bench instructions --no-run --message-format=json 2>/dev/null |
    jq -r 'select(.executable != null and .target.name == "instructions") | .executable' | tail -1)
calls=100000

if [ "$#" -gt 0 ]; then
    bodies=("$@")
else
    bodies=()
    for kind in success retry; do
        for b in hand_written redial_http redial_closure redial_adaptive backon tower; do
            bodies+=("${kind}_$b")
        done
    done
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for body in "${bodies[@]}"; do
    kind=${body%%_*}
    fn=${body#*_}
    valgrind --tool=callgrind --callgrind-out-file="$out/$body" \
        --toggle-collect="instructions::$kind::$fn" "$bin" "$body" >/dev/null 2>&1
    total=$(grep -m1 '^summary:' "$out/$body" | awk '{ print $2 }')
    printf '%-28s %8d instructions per call\n' "$body" $((total / calls))
done
