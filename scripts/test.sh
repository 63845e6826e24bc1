#!/usr/bin/env bash
# Every test of the workspace, on a clean machine: installs what the tests need and is
# missing (redis-server, for the fleet tests, which start their own on a loopback port),
# then runs `cargo test --workspace --all-features`. Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v redis-server >/dev/null 2>&1; then
    echo "redis-server is not on PATH: installing Debian's package" >&2
    sudo=""
    if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq redis-server >/dev/null
    # The package starts a server on port 6379; the tests use their own.
fi

exec cargo test --workspace --all-features "$@"
