#!/usr/bin/env bash
# BENCHMARKS.md's summary table from one run: W1 (sync and async), W2 and W3 against the embedded
# engine and over gRPC (a real brokerd on 127.0.0.1), interleaved rep by rep with the peers
# (../shared/bench-peers/run-peers.sh with REPS=1 per rep: Redis Streams, NATS JetStream), so the
# ratios compare figures taken minutes apart on the same machine.
# Output: single runs (label, workload, metric, value, run) in /tmp/brokerbench-summary-raw.tsv,
# the summary (median, min, max) on stdout and in /tmp/brokerbench-summary.tsv. Besides rates and
# latencies, ours carry CPU per message (cpu.cpu_us_per_msg: the brokerbench process;
# cpu.server_cpu_us_per_msg: brokerd's, over gRPC) and every run its load average before.
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

run() {   # run REP TARGET(embedded|grpc) DURABILITY LABEL WORKLOAD COUNT COMMAND FLAGS...
  local rep=$1 target=$2 durability=$3 label=$4 workload=$5 count=$6 json ticks=""
  shift 6
  local where=(--data-dir "$DATA" --durability "$durability")
  if [ "$target" = grpc ]; then
    start_brokerd "$durability" || return
    where=(--addr "127.0.0.1:$PORT" --durability "$durability")
    [ "$workload" = W2 ] && where+=(--server-pid "$BROKERD_PID")  # its consume phase only
    ticks=$(brokerd_ticks)
  else
    rm -rf "$DATA"
    sync
  fi
  log "rep $rep: $label (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  if json=$(timeout 900 "$BENCH" "$@" -n "$count" --payload "$PAYLOAD" "${where[@]}" --json); then
    # CPU per message: brokerbench's whole process (embedded: engine + clients) and, over gRPC,
    # brokerd's (W1, W3: from /proc around the run; W2: consume phase, from brokerbench).
    if [ -n "$ticks" ] && [ "$workload" != W2 ]; then
      json=$(jq --argjson us "$(( ($(brokerd_ticks) - ticks) * 10000 ))" --argjson n "$count" \
        '.cpu.server_cpu_us_per_msg = ($us / $n)' <<< "$json")
    fi
    case "$workload" in
      W1) record "$rep" "$label" W1 "$json" msgs_per_s latency_p50_us latency_p99_us \
            cpu.cpu_us_per_msg cpu.engine_cpu_us_per_msg cpu.server_cpu_us_per_msg \
            write_stats.sync_write_mean_us ;;
      W2) record "$rep" "$label" W2 "$json" msgs_per_s cpu.cpu_us_per_msg \
            cpu.server_cpu_us_per_msg ;;
      W3) record "$rep" "$label" W3 "$json" p50_us p99_us p999_us cpu.cpu_us_per_msg \
            cpu.server_cpu_us_per_msg ;;
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
  log "N=$N W3N=$W3N payload=$PAYLOAD reps=$REPS on $(nproc) CPUs ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(uname -r), commit $(git rev-parse --short HEAD 2>/dev/null), $(date -u +%FT%TZ)"
  local rep t
  for ((rep = 1; rep <= REPS; rep++)); do
    peers "$rep"
    for t in embedded grpc; do
      # W1 as the peers': one message per call, 1000 in flight, distinct random payloads.
      run "$rep" "$t" sync "$t-sync" W1 "$N" publish --window 1000 --batch 1
      run "$rep" "$t" async "$t-async" W1 "$N" publish --window 1000 --batch 1
      # W2: pre-published, each message acked on its own; W3: one requester.
      run "$rep" "$t" async "$t-async" W2 "$N" consume
      run "$rep" "$t" async "$t-async" W3 "$W3N" request
    done
  done
  summarize | tee "$OUT"
}

main
