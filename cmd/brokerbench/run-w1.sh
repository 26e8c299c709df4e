#!/usr/bin/env bash
# The W1 matrix of BENCHMARKS.md: `brokerbench publish` in the four configurations that issue 2's
# targets name, REPS times each (interleaved: rep 1 of every configuration, then rep 2, ...), each
# run on a fresh data directory under /tmp, `sync` before every run (as run-peers.sh does).
# Output: the same TSV as ../shared/bench-peers (peer, workload, metric, median, min, max, runs) on
# stdout and in /tmp/brokerbench-results.tsv; single runs in /tmp/brokerbench-raw.tsv.
#
# usage: cmd/brokerbench/run-w1.sh            (from the repository root, after a release build)
# env:   BIN=build/release/cmd/brokerbench/brokerbench  REPS=3  N=1000000  SEQ_N=20000
#        PAYLOAD=128  DATA=/tmp/brokerbench-data
set -uo pipefail

BIN="${BIN:-build/release/cmd/brokerbench/brokerbench}"
REPS="${REPS:-3}"
N="${N:-1000000}"
SEQ_N="${SEQ_N:-20000}"   # window 1 runs at fsync speed: 20000 sequential publishes
PAYLOAD="${PAYLOAD:-128}"
DATA="${DATA:-/tmp/brokerbench-data}"
RAW=/tmp/brokerbench-raw.tsv
OUT=/tmp/brokerbench-results.tsv

log() { echo "[run-w1 $(date +%T)] $*" >&2; }

# label and brokerbench flags of each configuration
CONFIGS=(
  "broker-sync-w1000-b1|--durability sync --window 1000 --batch 1 --messages $N"
  "broker-sync-w1000-b100|--durability sync --window 1000 --batch 100 --messages $N"
  "broker-async-w1000-b100|--durability async --window 1000 --batch 100 --messages $N"
  "broker-sync-w1-b1|--durability sync --window 1 --batch 1 --messages $SEQ_N"
)
METRICS=(msgs_per_s MB_per_s elapsed_s latency_p50_us latency_p99_us latency_p999_us latency_max_us)
STATS=(messages_per_commit messages_per_synced_commit synced_commits_per_s)
CPU=(cpus_used cpu_us_per_msg producers_cpu_us_per_msg engine_cpu_us_per_msg)

run_one() {   # run_one REP LABEL FLAGS
  local rep=$1 label=$2 flags=$3 json
  rm -rf "$DATA"
  sync
  log "rep $rep: $label (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  # shellcheck disable=SC2086 # flags are meant to be split
  if ! json=$(timeout 900 "$BIN" publish $flags --payload "$PAYLOAD" --data-dir "$DATA" --json); then
    log "FAILED: $label"
    printf '%s\tW1\tfailed_runs\t1\t%s\n' "$label" "$rep" >> "$RAW"
    return
  fi
  local m
  for m in "${METRICS[@]}"; do
    printf '%s\tW1\t%s\t%s\t%s\n' "$label" "$m" "$(jq ".result.$m" <<< "$json")" "$rep" >> "$RAW"
  done
  for m in "${STATS[@]}"; do
    printf '%s\tW1\t%s\t%s\t%s\n' "$label" "$m" "$(jq ".write_stats.$m" <<< "$json")" "$rep" >> "$RAW"
  done
  for m in "${CPU[@]}"; do
    printf '%s\tW1\t%s\t%s\t%s\n' "$label" "$m" "$(jq ".cpu.$m" <<< "$json")" "$rep" >> "$RAW"
  done
  printf '%s\tW1\tloadavg1_before\t%s\t%s\n' "$label" "$(jq .config.loadavg1_before <<< "$json")" \
    "$rep" >> "$RAW"
}

summarize() {   # same summary as ../shared/bench-peers/run-peers.sh
  awk -F'\t' -f "$(dirname "$0")/summarize.awk" "$RAW"
}

main() {
  [ -x "$BIN" ] || { echo "no brokerbench at $BIN: build the release preset first" >&2; exit 2; }
  command -v jq >/dev/null || { echo "needs jq (apt-get install jq)" >&2; exit 2; }
  : > "$RAW"
  trap 'rm -rf "$DATA"' EXIT
  log "N=$N SEQ_N=$SEQ_N payload=$PAYLOAD reps=$REPS data=$DATA ($(findmnt -no FSTYPE -T /tmp))"
  local rep c
  for ((rep = 1; rep <= REPS; rep++)); do
    for c in "${CONFIGS[@]}"; do run_one "$rep" "${c%%|*}" "${c#*|}"; done
  done
  summarize | tee "$OUT"
}

main
