#!/usr/bin/env bash
# Flake hunt: runs a stage's whole ctest suite several times in a row while stress-ng keeps every
# core busy, so a wait that races, a timeout too tight for a loaded machine or a reused port or
# directory shows up here rather than in CI. Rerun it after big changes (docs/testing.md).
#
# Usage: scripts/flake-hunt.sh [runs] [stage]   (defaults: 5 runs of the `ci` stage)
#   LOAD_WORKERS=N   stress-ng CPU workers (default: one per core)
#   LOGS=DIR         where each run's ctest log goes (default: build/flake-hunt)
# Exits non-zero if any run had a failing test; the summary names every failure and its run.
set -euo pipefail
cd "$(dirname "$0")/.."

runs="${1:-5}"
stage="${2:-ci}"
declare -A labels=([ci]='' [asan-ubsan]='unit|integration' [tsan]='unit|crash')
if [[ ! -v "labels[$stage]" ]]; then
  echo "flake-hunt.sh: unknown stage '$stage' (ci, asan-ubsan, tsan)" >&2
  exit 2
fi
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "flake-hunt.sh: runs must be a positive number, not '$runs'" >&2
  exit 2
fi

./scripts/install-deps.sh
if ! command -v stress-ng >/dev/null; then
  SUDO=""
  if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends stress-ng
fi

export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$PWD}"
export CCACHE_NOHASHDIR="${CCACHE_NOHASHDIR:-1}"
cmake --preset "$stage"
cmake --build --preset "$stage"

logs="${LOGS:-build/flake-hunt}"
mkdir -p "$logs"
workers="${LOAD_WORKERS:-$(nproc)}"
stress-ng --cpu "$workers" --timeout 0 --quiet &
load_pid=$!
trap 'kill "$load_pid" 2>/dev/null || true; wait "$load_pid" 2>/dev/null || true' EXIT

failures=()
for ((run = 1; run <= runs; run++)); do
  log="$logs/run-$run.log"
  start=$SECONDS
  echo "=== flake-hunt: run $run of $runs (stage $stage, $workers stress-ng CPU workers)"
  if ctest --preset "$stage" ${labels[$stage]:+-L "${labels[$stage]}"} >"$log" 2>&1; then
    echo "    passed in $((SECONDS - start)) s"
  else
    echo "    FAILED in $((SECONDS - start)) s; log: $log"
    while read -r line; do failures+=("run $run: $line"); done \
      < <(sed -n '/The following tests FAILED/,$p' "$log" | grep -E '^\s+[0-9]+ - ' || true)
  fi
  grep -E 'tests passed|load average' "$log" | tail -1 | sed 's/^/    /' || true
done

echo "=== flake-hunt: $runs runs of stage $stage under load, ${#failures[@]} failing test runs"
if ((${#failures[@]} > 0)); then
  printf '  %s\n' "${failures[@]}"
  exit 1
fi
