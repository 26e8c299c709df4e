#!/usr/bin/env bash
# Builds and runs the test tiers under sanitizers (docs/testing.md):
#   asan-ubsan: unit, integration and crash tiers under AddressSanitizer + UndefinedBehaviorSanitizer
#   tsan:       the engine tiers (unit, crash) under ThreadSanitizer with tests/tsan.supp
# Usage: scripts/test-sanitizers.sh [asan-ubsan|tsan]...   (default: both, in that order)
# Each preset builds in build/<preset>. Timings (2 cores, docs/testing.md): with a warm ccache about
# 2 min build + 3-5 min tests for asan-ubsan and 2 min + 1 min for tsan; cold, each build takes
# 15-20 min.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

# Debug builds put the working directory into the objects, so by default ccache only hits for the
# same checkout path; these let a fresh clone elsewhere reuse the cache.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

# gcc's UBSan prints a report and carries on; make it fail the test instead.
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1}"

run() {
  local preset=$1 labels=$2 start=$SECONDS
  cmake --preset "$preset"
  cmake --build --preset "$preset"
  ctest --preset "$preset" -L "$labels" -j 2 --timeout 900
  echo "test-sanitizers: $preset ($labels) passed in $((SECONDS - start)) s"
}

presets=("$@")
if ((${#presets[@]} == 0)); then presets=(asan-ubsan tsan); fi
for preset in "${presets[@]}"; do
  case "$preset" in
    asan-ubsan) run asan-ubsan 'unit|integration|crash' ;;
    tsan) run tsan 'unit|crash' ;;
    *) echo "test-sanitizers: unknown preset '$preset' (asan-ubsan, tsan)" >&2; exit 2 ;;
  esac
done
