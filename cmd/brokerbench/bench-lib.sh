# Shell helpers shared by run-grpc.sh and run-summary.sh (sourced, not run). The caller sets
# BROKERD (binary), DATA (data directory), PORT, BROKERD_LOG, RAW (TSV of single runs) and
# BROKERD_PID="", and defines log().

start_brokerd() {   # start_brokerd DURABILITY: a fresh brokerd on 127.0.0.1:$PORT, data in $DATA
  rm -rf "$DATA"
  sync
  "$BROKERD" --data-dir "$DATA" --listen "127.0.0.1:$PORT" --durability "$1" --log-level warn \
    > "$BROKERD_LOG" 2>&1 &
  BROKERD_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do   # until it accepts connections (bounded: 30 s)
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then return 0; fi
    kill -0 "$BROKERD_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "brokerd did not start: $(tail -3 "$BROKERD_LOG")"
  return 1
}

stop_brokerd() {
  [ -n "$BROKERD_PID" ] || return 0
  kill -TERM "$BROKERD_PID" 2>/dev/null
  wait "$BROKERD_PID" 2>/dev/null
  BROKERD_PID=""
}

record() {   # record REP LABEL WORKLOAD JSON METRIC...: one row per metric, + loadavg. A metric
             # is a field of .result, or a path like cpu.cpu_us_per_msg (rows without a value skipped)
  local rep=$1 label=$2 workload=$3 json=$4 m path value
  shift 4
  for m in "$@"; do
    path=".result.$m"
    [[ $m == *.* ]] && path=".$m"
    value=$(jq "$path" <<< "$json")
    [ "$value" = null ] && continue
    printf '%s\t%s\t%s\t%s\t%s\n' "$label" "$workload" "$m" "$value" "$rep" >> "$RAW"
  done
  printf '%s\t%s\tloadavg1_before\t%s\t%s\n' "$label" "$workload" \
    "$(jq .config.loadavg1_before <<< "$json")" "$rep" >> "$RAW"
}

brokerd_ticks() {   # CPU time brokerd used so far (utime + stime), in clock ticks of 10 ms
  awk '{ print $14 + $15 }' "/proc/$BROKERD_PID/stat"
}
