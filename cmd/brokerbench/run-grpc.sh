#!/usr/bin/env bash
# W1-W3 over gRPC against a real brokerd (issue 5's figures), REPS times each, interleaved, each
# rep on a fresh brokerd data directory under /tmp; then the peers (Redis Streams, NATS JetStream)
# with ../shared/bench-peers/run-peers.sh in the same session, so the ratios compare like with
# like on the same machine minutes apart.
# Output: TSV (label, workload, metric, value, run) of single runs in /tmp/brokerbench-grpc-raw.tsv,
# the summary (median, min, max) on stdout and in /tmp/brokerbench-grpc-results.tsv; the peers'
# summary in /tmp/peers-results.tsv.
#
# usage: cmd/brokerbench/run-grpc.sh            (from the repository root, after a release build)
# env:   BUILD=build/release  REPS=3  N=500000  W3N=20000  PORT=17190  PEERS="redis nats"
#        SKIP_PEERS=1 to measure brokerd only; SKIP_INSTALL=1 is passed on to run-peers.sh
set -uo pipefail

BUILD="${BUILD:-build/release}"
BENCH="$BUILD/cmd/brokerbench/brokerbench"
BROKERD="$BUILD/cmd/brokerd/brokerd"
REPS="${REPS:-3}"
N="${N:-500000}"
W3N="${W3N:-20000}"
PORT="${PORT:-17190}"
DATA=/tmp/brokerbench-grpc-data
RAW=/tmp/brokerbench-grpc-raw.tsv
OUT=/tmp/brokerbench-grpc-results.tsv
BROKERD_PID=""
BROKERD_LOG=/tmp/brokerbench-grpc-brokerd.log

log() { echo "[run-grpc $(date +%T)] $*" >&2; }

# shellcheck source=bench-lib.sh
source "$(dirname "$0")/bench-lib.sh"

run() {   # run REP DURABILITY LABEL WORKLOAD COMMAND FLAGS...
  local rep=$1 durability=$2 label=$3 workload=$4 json
  shift 4
  start_brokerd "$durability" || return
  log "rep $rep: $label (loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  if json=$(timeout 900 "$BENCH" "$@" --addr "127.0.0.1:$PORT" --json); then
    case "$workload" in
      W1) record "$rep" "$label" W1 "$json" msgs_per_s latency_p50_us latency_p99_us ;;
      W2) record "$rep" "$label" W2 "$json" msgs_per_s ;;
      W3) record "$rep" "$label" W3 "$json" requests_per_s p50_us p99_us p999_us ;;
    esac
  else
    log "FAILED: $label"
    printf '%s\t%s\tfailed_runs\t1\t%s\n' "$label" "$workload" "$rep" >> "$RAW"
  fi
  stop_brokerd
}

summarize() {   # same summary as ../shared/bench-peers/run-peers.sh
  awk -F'\t' -f "$(dirname "$0")/summarize.awk" "$RAW"
}

main() {
  [ -x "$BENCH" ] && [ -x "$BROKERD" ] || { echo "build $BUILD first (brokerd, brokerbench)" >&2; exit 2; }
  command -v jq >/dev/null || { echo "needs jq (apt-get install jq)" >&2; exit 2; }
  : > "$RAW"
  trap 'stop_brokerd; rm -rf "$DATA"' EXIT
  log "N=$N W3N=$W3N reps=$REPS"
  local rep
  for ((rep = 1; rep <= REPS; rep++)); do
    # W1: one message per publish call, 1000 in flight per producer, as the peers' W1.
    run "$rep" async grpc-async-w1000 W1 publish --durability async --window 1000 --batch 1 -n "$N"
    run "$rep" async grpc-async-w1000-p2c2 W1 publish --durability async --window 1000 --batch 1 \
      -n "$N" --producers 2 --connections 2
    run "$rep" sync grpc-sync-w1000 W1 publish --durability sync --window 1000 --batch 1 -n "$N"
    # W2: pre-published, each message acked on its own.
    run "$rep" async grpc-async W2 consume -n "$N"
    run "$rep" async grpc-async-c2 W2 consume -n "$N" --consumers 2 --connections 2
    run "$rep" sync grpc-sync W2 consume -n "$N"
    # W3: one requester, then 16.
    run "$rep" async grpc-async-r1 W3 request -n "$W3N"
    run "$rep" async grpc-async-r16 W3 request -n "$W3N" --requesters 16
  done
  summarize | tee "$OUT"
  if [ -z "${SKIP_PEERS:-}" ]; then
    PEERS="${PEERS:-redis nats}" "$(dirname "$0")/../../../shared/bench-peers/run-peers.sh" \
      > /dev/null
    cat /tmp/peers-results.tsv
  fi
}

main
