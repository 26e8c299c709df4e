#!/usr/bin/env bash
# W2 over gRPC, two builds alternated run by run: brokerd's and brokerbench's CPU per consumed
# message (consume phase only: `brokerbench consume --server-pid`) and brokerd's system calls and
# context switches per message (`perf stat` over brokerd's whole life, so the untimed pre-publish of
# the same N messages is inside them, equally for both builds). Wall-clock msgs/s is printed too,
# but on a shared machine it says more about the load than about the build.
#
# usage: cmd/brokerbench/run-w2-ab.sh REPS N LABEL=BROKERD_BUILD:BROKERBENCH_BUILD ...
#   e.g. cmd/brokerbench/run-w2-ab.sh 5 200000 before=/tmp/base/build/ci:/tmp/base/build/ci \
#          after=build/ci:build/ci
# output (TSV): label rep msgs/s brokerd_cpu_us brokerd_sys_us client_cpu_us brokerd_syscalls/msg
#               brokerd_context_switches/msg loadavg_before loadavg_after
# needs: perf, jq, python3 (a free port)
set -u
REPS=$1
N=$2
shift 2
for ((rep = 1; rep <= REPS; rep++)); do
  for spec in "$@"; do
    label=${spec%%=*}
    rest=${spec#*=}
    server_build=${rest%%:*}
    client_build=${rest#*:}
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    data=$(mktemp -d /tmp/w2ab.XXXXXX)
    "$server_build/cmd/brokerd/brokerd" --data-dir "$data/d" --listen "127.0.0.1:$port" \
      --durability async --log-level warn > "$data/log" 2>&1 &
    brokerd_pid=$!
    for ((i = 0; i < 300; i++)); do   # until it accepts connections (bounded: 30 s)
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
    perf stat -x, -e context-switches,raw_syscalls:sys_enter -p "$brokerd_pid" -o "$data/stat" &
    perf_pid=$!
    sleep 0.2   # perf attached
    json=$("$client_build/cmd/brokerbench/brokerbench" consume -n "$N" --payload 128 \
      --addr "127.0.0.1:$port" --server-pid "$brokerd_pid" --json)
    kill -INT "$perf_pid"
    wait "$perf_pid" 2>/dev/null
    kill -TERM "$brokerd_pid"
    wait "$brokerd_pid"
    cs=$(grep context-switches "$data/stat" | cut -d, -f1)
    sc=$(grep sys_enter "$data/stat" | cut -d, -f1)
    jq -r --arg l "$label" --arg rep "$rep" --arg cs "$cs" --arg sc "$sc" --arg n "$N" \
      '[$l, $rep, .result.msgs_per_s, .cpu.server_cpu_us_per_msg, .cpu.server_cpu_system_us_per_msg,
        .cpu.cpu_us_per_msg, (($sc | tonumber) / ($n | tonumber)), (($cs | tonumber) / ($n | tonumber)),
        .config.loadavg1_before, .config.loadavg1_after] | @tsv' <<< "$json"
    rm -rf "$data"
  done
done
