#!/usr/bin/env bash
# What one W3 request costs brokerd and brokerbench over gRPC: syscalls, context switches and CPU
# per request (perf stat on both processes), and brokerd's CPU and switches per thread
# (/proc/PID/task). BENCHMARKS.md, "W3 over gRPC: where brokerd's CPU per request goes".
#
# usage: cmd/brokerbench/w3-cost.sh BROKERD BROKERBENCH [N=5000] [PORT=17501]
# needs: perf with access to syscall tracepoints (root, or perf_event_paranoid <= -1), jq
set -uo pipefail
BROKERD=$1 BENCH=$2 N=${3:-5000} PORT=${4:-17501}
DATA=$(mktemp -d /tmp/w3-cost.XXXXXX)
"$BROKERD" --data-dir "$DATA/d" --listen "127.0.0.1:$PORT" --durability async --log-level warn \
  > "$DATA/brokerd.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$DATA"' EXIT
for ((i = 0; i < 300; i++)); do (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break; sleep 0.1; done
threads() {   # TID name ticks voluntary involuntary
  for t in /proc/$PID/task/*; do
    echo "$(basename "$t") $(tr ' ' _ < "$t/comm") $(awk '{print $14 + $15}' "$t/stat")" \
      "$(awk '/^(voluntary|nonvoluntary)_ctxt_switches/ {print $2}' "$t/status" | paste -sd' ')"
  done | sort -k1,1
}
EV=syscalls:sys_enter_sendmsg,syscalls:sys_enter_recvmsg,syscalls:sys_enter_write,syscalls:sys_enter_read
EV=$EV,syscalls:sys_enter_epoll_wait,syscalls:sys_enter_futex,context-switches,task-clock
threads > "$DATA/threads-before"
perf stat -x, -e "$EV" -p "$PID" -o "$DATA/stat-brokerd" 2>/dev/null &
PERF=$!
sleep 0.3
perf stat -x, -e "$EV" -o "$DATA/stat-bench" "$BENCH" request --addr "127.0.0.1:$PORT" \
  --durability async -n "$N" --payload 128 --json > "$DATA/out.json"
kill -INT $PERF; wait $PERF
threads > "$DATA/threads-after"
echo "loadavg $(cut -d' ' -f1-3 /proc/loadavg)  $(jq -c '{p50_us: .result.p50_us, p99_us: .result.p99_us}' "$DATA/out.json")"
echo "per request (task-clock in ms):"
paste -d, <(grep -v '^#' "$DATA/stat-brokerd" | grep . | cut -d, -f1,3) \
  <(grep -v '^#' "$DATA/stat-bench" | grep . | cut -d, -f1) |
  awk -F, -v n="$N" '{printf "  %-32s brokerd %8.3f  brokerbench %8.3f\n", $2, $1 / n, $3 / n}'
echo "brokerd threads that ran (CPU from 10 ms ticks):"
join "$DATA/threads-before" "$DATA/threads-after" | sort -n | awk -v n="$N" '$7 + $8 + $9 > $3 + $4 + $5 {
  printf "  %-7s %-16s cpu_us/req %6.1f  voluntary/req %5.2f  involuntary/req %5.2f\n",
         $1, $2, ($7 - $3) * 10000 / n, ($8 - $4) / n, ($9 - $5) / n }'
