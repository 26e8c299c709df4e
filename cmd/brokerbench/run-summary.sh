#!/usr/bin/env bash
# BENCHMARKS.md's summary table from one run: W1 (sync and async), W2 and W3 against the embedded
# engine and over gRPC (a real brokerd on 127.0.0.1), interleaved rep by rep with the peers
# (../shared/bench-peers/run-peers.sh with REPS=1 per rep: Redis Streams, NATS JetStream), so the
# ratios compare figures taken minutes apart on the same machine.
# Output: single runs (label, workload, metric, value, run) in /tmp/brokerbench-summary-raw.tsv,
# the summary (median, min, max) on stdout and in /tmp/brokerbench-summary.tsv.
#
# usage: cmd/brokerbench/run-summary.sh        (from the repository root, after building
#                                                brokerbench and brokerd)
# env:   BUILD=build/ci  REPS=3  N=200000  W3N=20000  PAYLOAD=128  PORT=17191  PEERS="redis nats"
#        SKIP_INSTALL=1 is passed on to run-peers.sh; SKIP_PEERS=1 measures the broker only
set -uo pipefail

BUILD="${BUILD:-build/ci}"
BENCH="$BUILD/cmd/brokerbench/brokerbench"
BROKERD="$BUILD/cmd/brokerd/brokerd"
REPS="${REPS:-3}"
N="${N:-200000}"
W3N="${W3N:-20000}"
PAYLOAD="${PAYLOAD:-128}"
PORT="${PORT:-17191}"
PEERS_SCRIPT="$(cd "$(dirname "$0")" && pwd)/../../../shared/bench-peers/run-peers.sh"
DATA=/tmp/brokerbench-summary-data
RAW=/tmp/brokerbench-summary-raw.tsv
OUT=/tmp/brokerbench-summary.tsv
BROKERD_PID=""
BROKERD_LOG=/tmp/brokerbench-summary-brokerd.log

log() { echo "[run-summary $(date +%T)] $*" >&2; }

# shellcheck source=bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

run() {   # run REP TARGET(embedded|grpc) DURABILITY LABEL WORKLOAD COMMAND FLAGS...
  local rep=$1 target=$2 durability=$3 label=$4 workload=$5 json
  shift 5
  local where=(--data-dir "$DATA" --durability "$durability")
  if [ "$target" = grpc ]; then
    start_brokerd "$durability" || return
    where=(--addr "127.0.0.1:$PORT" --durability "$durability")
  else
    rm -rf "$DATA"
    sync
  fi
  log "rep $rep: $label (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  if json=$(timeout 900 "$BENCH" "$@" --payload "$PAYLOAD" "${where[@]}" --json); then
    case "$workload" in
      W1) record "$rep" "$label" W1 "$json" msgs_per_s latency_p50_us latency_p99_us ;;
      W2) record "$rep" "$label" W2 "$json" msgs_per_s ;;
      W3) record "$rep" "$label" W3 "$json" p50_us p99_us p999_us ;;
    esac
  else
    log "FAILED: $label"
    printf '%s\t%s\tfailed_runs\t1\t%s\n' "$label" "$workload" "$rep" >> "$RAW"
  fi
  [ "$target" = grpc ] && stop_brokerd
  rm -rf "$DATA"
}

peers() {   # peers REP: one rep of every peer; its single runs join ours under run number REP
  [ -z "${SKIP_PEERS:-}" ] || return 0
  log "rep $1: peers (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  PEERS="${PEERS:-redis nats}" REPS=1 "$PEERS_SCRIPT" "$N" "$PAYLOAD" > /dev/null
  awk -F'\t' -v OFS='\t' -v rep="$1" '$1 != "env" { $5 = rep; print }' /tmp/peers-raw.tsv >> "$RAW"
}

summarize() {   # same summary as ../shared/bench-peers/run-peers.sh
  awk -F'\t' -f "$(dirname "$0")/summarize.awk" "$RAW"
}

main() {
  [ -x "$BENCH" ] && [ -x "$BROKERD" ] || { echo "build $BUILD first (brokerd, brokerbench)" >&2; exit 2; }
  command -v jq >/dev/null || { echo "needs jq (apt-get install jq)" >&2; exit 2; }
  : > "$RAW"
  trap 'stop_brokerd; rm -rf "$DATA"' EXIT
  log "N=$N W3N=$W3N payload=$PAYLOAD reps=$REPS on $(nproc) CPUs"
  local rep t
  for ((rep = 1; rep <= REPS; rep++)); do
    peers "$rep"
    for t in embedded grpc; do
      # W1 as the peers': one message per call, 1000 in flight, distinct random payloads.
      run "$rep" "$t" sync "$t-sync" W1 publish --window 1000 --batch 1 -n "$N"
      run "$rep" "$t" async "$t-async" W1 publish --window 1000 --batch 1 -n "$N"
      # W2: pre-published, each message acked on its own; W3: one requester.
      run "$rep" "$t" async "$t-async" W2 consume -n "$N"
      run "$rep" "$t" async "$t-async" W3 request -n "$W3N"
    done
  done
  summarize | tee "$OUT"
}

main
