#!/usr/bin/env bash
# Prints the median of every benchmark of the last `cargo bench` run, in nanoseconds,
# one line per benchmark, grouped as criterion ran them:
#
#   cargo bench && benches/medians.sh
#
# Criterion prints a confidence interval of the mean; the medians are steadier on a
# shared machine and are what benches/README.md records. Needs jq.
set -euo pipefail

dir="${CARGO_TARGET_DIR:-$(dirname "$0")/../target}/criterion"
if ! command -v jq >/dev/null; then
    echo "medians.sh: needs jq" >&2
    exit 1
fi
if [ ! -d "$dir" ]; then
    echo "medians.sh: no results in $dir: run cargo bench first" >&2
    exit 1
fi

find "$dir" -path '*/new/benchmark.json' | sort | while read -r bench; do
    estimates="$(dirname "$bench")/estimates.json"
    [ -f "$estimates" ] || continue
    id=$(jq -r .full_id "$bench")
    median=$(jq -r '.median.point_estimate' "$estimates")
    printf '%-55s %10.1f ns\n' "$id" "$median"
done
