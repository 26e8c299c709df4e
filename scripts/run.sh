#!/usr/bin/env bash
# Installs dependencies, builds the release binaries and runs the main job: an end-to-end run of
# the embedded engine (brokerbench publish into ./broker-data, sync durability), printing its
# throughput and latency.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake --preset release
cmake --build --preset release
exec ./build/release/cmd/brokerbench/brokerbench publish --data-dir ./broker-data "$@"
