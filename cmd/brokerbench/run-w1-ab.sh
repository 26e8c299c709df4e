#!/usr/bin/env bash
# Embedded W1 (one message per call, window 1000), brokerbench binaries alternated run by run:
# engine and producer CPU per message (brokerbench's `cpu` block), and page faults and context
# switches per message (`perf stat` over the whole process). Wall-clock msgs/s is printed too, but
# on a shared machine it says more about the load than about the build.
#
# usage: cmd/brokerbench/run-w1-ab.sh REPS N sync|async LABEL=BROKERBENCH[:ENV=VALUE ...] ...
#   e.g. cmd/brokerbench/run-w1-ab.sh 3 200000 sync base=/tmp/base/brokerbench \
#          final=build/ci/cmd/brokerbench/brokerbench
# output (TSV): rep label loadavg_before msgs/s engine_cpu_us producer_cpu_us task_clock_us
#               page_faults/msg context_switches/msg msgs/commit
# needs: perf, jq
set -u
REPS=$1
N=$2
DURABILITY=$3
shift 3
for ((rep = 1; rep <= REPS; rep++)); do
  for spec in "$@"; do
    label=${spec%%=*}
    rest=${spec#*=}
    binary=${rest%%:*}
    envs=()
    [[ $rest == *:* ]] && read -r -a envs <<< "${rest#*:}"
    dir=$(mktemp -d /tmp/w1ab.XXXXXX)
    json=$(env "${envs[@]}" perf stat -x, -e task-clock,page-faults,context-switches \
      -o "$dir/perf" "$binary" publish --durability "$DURABILITY" --window 1000 --batch 1 -n "$N" \
      --payload 128 --data-dir "$dir/d" --json)
    stat() { grep ",$1" "$dir/perf" | cut -d, -f1; }
    jq -r --arg name "$label" --arg rep "$rep" --argjson n "$N" --argjson tc "$(stat task-clock)" \
      --argjson pf "$(stat page-faults)" --argjson cs "$(stat context-switches)" \
      '[$rep, $name, .config.loadavg1_before, (.result.msgs_per_s | floor),
        .cpu.engine_cpu_us_per_msg, .cpu.producers_cpu_us_per_msg, ($tc * 1000 / $n),
        ($pf / $n), ($cs / $n), .write_stats.messages_per_commit] | @tsv' <<< "$json"
    rm -rf "$dir"
  done
done
