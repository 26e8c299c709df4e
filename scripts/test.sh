#!/usr/bin/env bash
# README's test command and exactly what .ci/run runs. Installs dependencies, then for each stage
# configures, builds (warnings are errors) and runs the stage's ctest tiers, so each prints ctest's
# summary:
#   ci          every tier (unit, integration, crash, kafka, soak smoke), optimised build
#   asan-ubsan  unit, integration and kafka under AddressSanitizer + UndefinedBehaviorSanitizer
#               (Debug)
#   tsan        the engine tiers under ThreadSanitizer: the unit and crash tests that run without
#               gRPC (the tsan build preset builds only those; tests/tsan.supp, docs/testing.md)
# Usage: scripts/test.sh [stage]...   (default: ci asan-ubsan tsan, in that order; stops at the
# first failing stage). Times on the 2-core machine are in docs/testing.md.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

# Objects of -g builds name the directory they were built in, so ccache would only hit for the
# same checkout path; with these a fresh clone anywhere reuses the cache of an earlier run.
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"

declare -A labels=([ci]='' [asan-ubsan]='unit|integration|kafka' [tsan]='unit|crash')
stages=("$@")
if ((${#stages[@]} == 0)); then stages=(ci asan-ubsan tsan); fi
for stage in "${stages[@]}"; do
  if [[ ! -v "labels[$stage]" ]]; then
    echo "test.sh: unknown stage '$stage' (ci, asan-ubsan, tsan)" >&2
    exit 2
  fi
done

summary=()
for stage in "${stages[@]}"; do
  start=$SECONDS
  echo "=== test.sh: stage $stage: configure and build"
  cmake --preset "$stage"
  cmake --build --preset "$stage"
  built=$SECONDS
  echo "=== test.sh: stage $stage: tests ${labels[$stage]:+(labels ${labels[$stage]})}"
  # The test presets set the sanitizer options (UBSan halts on its first report; TSan reads
  # tests/tsan.supp), so a sanitizer report fails the test.
  ctest --preset "$stage" ${labels[$stage]:+-L "${labels[$stage]}"}
  summary+=("$stage: build $((built - start)) s, tests $((SECONDS - built)) s")
done
echo "=== test.sh: all stages passed in $SECONDS s"
printf '  %s\n' "${summary[@]}"
