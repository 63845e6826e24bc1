#!/usr/bin/env bash
# Every test of the workspace, on a clean machine: installs what the tests need and is
# missing (redis-server, for the fleet tests, and nginx, for the pacer's tests against a
# real `limit_req`; each test starts its own on a loopback port), then runs
# `cargo test --workspace --all-features`. Extra arguments go to cargo test.
set -euo pipefail
cd "$(dirname "$0")/.."

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
updated=""

# Installs Debian's package $2 when the command $1 is neither on PATH nor in /usr/sbin
# (where nginx lives, off a normal user's PATH; the tests look there too).
install_missing() {
    if command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; then return 0; fi
    echo "$1 is not on PATH nor in /usr/sbin: installing Debian's $2" >&2
    if [ -z "$updated" ]; then
        $sudo apt-get update -qq
        updated=1
    fi
    # The package would start its own service (redis on 6379, nginx on 80, which may be
    # taken or forbidden): the tests start theirs on free ports, so services are kept from
    # starting during the install (policy-rc.d answering 101, "not allowed"), unless the
    # machine already has a policy of its own.
    local policy=/usr/sbin/policy-rc.d added=""
    if [ ! -e "$policy" ]; then
        printf '#!/bin/sh\nexit 101\n' | $sudo tee "$policy" >/dev/null
        $sudo chmod +x "$policy"
        added=1
    fi
    local status=0
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null || status=$?
    if [ -n "$added" ]; then $sudo rm -f "$policy"; fi
    if [ "$status" != 0 ]; then
        # A service that failed to start fails the package's configure step; the binary
        # is what the tests need.
        if command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; then
            echo "apt-get install $2 exited $status, but $1 is installed: going on" >&2
        else
            exit "$status"
        fi
    fi
}

install_missing redis-server redis-server
install_missing nginx nginx-light

exec cargo test --workspace --all-features "$@"
