#!/usr/bin/env bash
# Installs dependencies, builds with warnings as errors and runs every test tier through ctest.
# This is README's test command and exactly what .ci/run runs.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh
cmake --preset ci
cmake --build --preset ci
ctest --preset ci
