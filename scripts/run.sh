#!/usr/bin/env bash
# Installs dependencies, builds the release binaries and runs the main job: brokerd serving an
# embedded broker on ./broker-data at 127.0.0.1:7070 (flags after `--` go to brokerd, e.g.
# ./scripts/run.sh -- --listen 127.0.0.1:7071; without the `--` they go to brokerd as well). Stop it with Ctrl-C (SIGINT): it drains and closes.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh --main
# The release preset builds the test tiers and brokerbench only where their packages are
# installed (AUTO); either way only what the main job runs is built here (and brokerctl, which
# README's first five minutes use): the tests are scripts/test.sh's business.
cmake --preset release
cmake --build --preset release --target brokerd brokerctl
if [[ "${1:-}" == "--" ]]; then shift; fi  # the separator is this script's, not a brokerd flag
exec ./build/release/cmd/brokerd/brokerd --data-dir ./broker-data "$@"
