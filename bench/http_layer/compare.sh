#!/usr/bin/env bash
# Before/after comparison of the shared HTTP layer: CPU per exchange of stratus-http-floor and CPU
# per warm invoke of the daemon (echo, 1769 MB, 64 provisioned), for two builds, interleaved.
# Usage: compare.sh BEFORE_BIN_DIR AFTER_BIN_DIR OUT_DIR [REPS] [SECONDS]
# Each BIN_DIR holds stratus-emulator, stratus-http-floor and stratus-load; functions are taken
# from BIN_DIR/../functions/stratus. Prints one line per measurement:
#   build kind concurrency rep requests cpu_us_per_request throughput_rps p50_us
set -euo pipefail
BEFORE=$1 AFTER=$2 OUT=$3 REPS=${4:-3} SECONDS_EACH=${5:-3}
mkdir -p "$OUT"
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_file() { for _ in $(seq 1 200); do [ -s "$1" ] && return 0; sleep 0.05; done; return 1; }

declare -A FLOOR_PID FLOOR_URL DAEMON_PID DAEMON_URL
for name in before after; do
  dir=$BEFORE; [ "$name" = after ] && dir=$AFTER
  rm -rf "$OUT/$name"; mkdir -p "$OUT/$name/data"
  "$dir/stratus-http-floor" --endpoint-file "$OUT/$name/floor.endpoint" > "$OUT/$name/floor.log" 2>&1 &
  FLOOR_PID[$name]=$!; PIDS+=($!)
  printf '{"housekeeping_interval_ms": 200, "functions": [{"name": "echo", "code_dir": "%s", "handler": "echo", "memory_mb": 1769, "timeout_s": 3, "provisioned": 64}]}\n' \
    "$(cd "$dir/../functions/stratus" && pwd)" > "$OUT/$name/config.json"
  "$dir/stratus-emulator" --config "$OUT/$name/config.json" --port 0 --data-dir "$OUT/$name/data" > "$OUT/$name/daemon.log" 2>&1 &
  DAEMON_PID[$name]=$!; PIDS+=($!)
  wait_file "$OUT/$name/floor.endpoint"; wait_file "$OUT/$name/data/emulator.endpoint"
  FLOOR_URL[$name]=$(head -n1 "$OUT/$name/floor.endpoint")/echo
  DAEMON_URL[$name]=$(head -n1 "$OUT/$name/data/emulator.endpoint")/2015-03-31/functions/echo/invocations
done
for name in before after; do
  base=${DAEMON_URL[$name]%%/2015-03-31*}
  for _ in $(seq 1 300); do
    n=$(curl -sf "$base/stratus/v1/environments" | /usr/bin/python3 -c "import json,sys; print(sum(1 for e in json.load(sys.stdin)['environments'] if e['state']=='idle'))" || echo 0)
    [ "$n" -ge 64 ] && break; sleep 0.1
  done
  "$BEFORE/stratus-load" --url "${DAEMON_URL[$name]}" -c 64 -n 5000 --json > /dev/null
done

measure() {  # measure NAME KIND C REP URL PID WARMUP
  local t0 t1 out
  t0=$(cpu_ticks "$6")
  out=$("$BEFORE/stratus-load" --url "$5" -c "$3" --warmup "$7" --payload-bytes 1024 --duration "$SECONDS_EACH" --max-seconds 20 --json)
  t1=$(cpu_ticks "$6")
  echo "$out" > "$OUT/$1-$2-c$3-rep$4.json"
  /usr/bin/python3 -c "
import json,sys,os
r=json.loads(sys.argv[1]); hz=os.sysconf('SC_CLK_TCK'); n=r['count']+int(sys.argv[4])
bad=r['errors']+r['non_2xx']+r.get('function_errors',0)
print(sys.argv[2], '%d' % n, '%.2f' % ((int(sys.argv[3]))*1e6/hz/n), '%.0f' % r['throughput_rps'], r['latency_us']['p50'], 'bad=%d' % bad)
" "$out" "$1 $2 c$3 rep$4" "$((t1 - t0))" "$7"
}

for rep in $(seq 1 "$REPS"); do
  echo "# rep $rep load $(cut -d' ' -f1-3 /proc/loadavg)"
  for name in before after; do
    measure "$name" floor 1 "$rep" "${FLOOR_URL[$name]}" "${FLOOR_PID[$name]}" 2000
    measure "$name" invoke 1 "$rep" "${DAEMON_URL[$name]}" "${DAEMON_PID[$name]}" 2000
    measure "$name" floor 64 "$rep" "${FLOOR_URL[$name]}" "${FLOOR_PID[$name]}" 5000
    measure "$name" invoke 64 "$rep" "${DAEMON_URL[$name]}" "${DAEMON_PID[$name]}" 5000
  done
done
