#!/usr/bin/env bash
# Runs Stratus's end-to-end benchmarks in one go and prints a markdown table of medians to stdout
# (progress goes to stderr). Everything talks to 127.0.0.1 only; every wait is bounded.
#
#   bench/run_benchmarks.sh                    # builds into build/release, 5 repetitions
#   BUILD_DIR=build/h-bench REPS=3 bench/run_benchmarks.sh
#
# Environment knobs (defaults in brackets):
#   BUILD_DIR [build/release]  configured with Ninja/Release here if it is not configured yet
#   JOBS [2]                    build parallelism (the reference machine has 2 cores)
#   REPS [5]                    repetitions of every measurement; the table shows medians
#   WARM_SECONDS [3]            measured seconds of each warm load run
#   MAX_BUSY_PCT [20]           before each repetition, wait while other processes keep more than
#                               this percentage of all CPUs busy (measured over 2 s) ...
#   MAX_WAIT_S [600]            ... but wait no longer than this in total
#   OUT_DIR [mktemp]            raw JSON lines (results.jsonl), daemon logs and data directories
#   SKIP_BUILD [0]              1: use the binaries already in BUILD_DIR
#   SCALE_SLEEP_MS [5000]       how long each of the 200 invokes sleeps; it must outlast the whole
#                               ramp, or late requests reuse environments and fewer than 200 start
#
# What is measured (see bench/RESULTS.md for the numbers and the budgets):
#   floor      stratus-http-floor (the project's HttpServer echoing POST bodies): the raw loopback
#              HTTP round trip, concurrency 1 and 64, 1 KB JSON bodies
#   warm       invoke of the product bootstrap's `echo` (1769 MB = 1 vCPU, 64 provisioned
#              environments), 1 KB payloads, concurrency 1 and 64, after a warm-up; interleaved
#              with the floor runs so both see the same machine load; also concurrency 1 at 128 MB
#   cold       a fresh daemon, one invoke: init_ms (spawn to first /next) and the client's latency
#   scale      a fresh daemon, 200 concurrent invokes of the test bootstrap's `sleep` (SCALE_SLEEP_MS):
#              time from the first request until 200 environments are ready, and their init_ms
#   rss        VmRSS of a freshly started daemon with config/emulator.json and no invocations
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-2}
REPS=${REPS:-5}
WARM_SECONDS=${WARM_SECONDS:-3}
MAX_BUSY_PCT=${MAX_BUSY_PCT:-20}
MAX_WAIT_S=${MAX_WAIT_S:-600}
SKIP_BUILD=${SKIP_BUILD:-0}
SCALE_SLEEP_MS=${SCALE_SLEEP_MS:-5000}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/stratus-bench.XXXXXX)}
mkdir -p "$OUT_DIR"
RESULTS=$OUT_DIR/results.jsonl
: > "$RESULTS"

log() { echo "[bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Build
if [[ $SKIP_BUILD != 1 ]]; then
  if [[ ! -f $BUILD_DIR/build.ninja ]]; then
    log "configuring $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
  fi
  log "building (-j$JOBS)"
  cmake --build "$BUILD_DIR" -j"$JOBS" --target stratus-emulator stratus-bootstrap \
    stratus-test-function stratus-load stratus-http-floor stratus-cold-start >&2
fi
EMULATOR=$BUILD_DIR/bin/stratus-emulator
LOAD=$BUILD_DIR/bin/stratus-load
FLOOR=$BUILD_DIR/bin/stratus-http-floor
COLD=$BUILD_DIR/bin/stratus-cold-start
PRODUCT_CODE=$BUILD_DIR/functions/stratus
TEST_CODE=$BUILD_DIR/tests/functions/cpp
for f in "$EMULATOR" "$LOAD" "$FLOOR" "$COLD" "$PRODUCT_CODE/bootstrap" "$TEST_CODE/bootstrap"; do
  [[ -x $f ]] || { log "missing $f"; exit 1; }
done

# ---------------------------------------------------------------------------------------------
# Processes we start, so that only they are stopped (by pid) on exit; the bounded waits.
source "$ROOT/bench/bench_processes.sh"
trap stop_started EXIT
trap 'log "stopped: line $LINENO: $BASH_COMMAND failed"' ERR

# start_daemon NAME CONFIG: sets DAEMON_PID and DAEMON_URL.
start_daemon() {
  local dir=$OUT_DIR/$1
  rm -rf "$dir"
  mkdir -p "$dir/data"
  "$EMULATOR" --config "$2" --port 0 --data-dir "$dir/data" > "$dir/daemon.log" 2>&1 &
  DAEMON_PID=$!
  STARTED_PIDS+=("$DAEMON_PID")
  if ! wait_for_file "$dir/data/emulator.endpoint" 10; then
    log "daemon $1 did not start; log:"; cat "$dir/daemon.log" >&2; exit 1
  fi
  DAEMON_URL=$(head -n1 "$dir/data/emulator.endpoint")
}

# record BENCH REP JSON: one line of results.jsonl, with the load average at that moment.
record() {
  python3 -c '
import json, sys
try:
    doc = json.loads(sys.argv[3])
except ValueError:
    doc = {"failed": True, "output": sys.argv[3]}
doc.update({"bench": sys.argv[1], "rep": int(sys.argv[2]), "loadavg": sys.argv[4],
            "foreign_busy_pct": int(sys.argv[5])})
print(json.dumps(doc))' "$1" "$2" "$3" "$(loadavg)" "$BUSY" >> "$RESULTS"
}

# ---------------------------------------------------------------------------------------------
# Configs
write_config() {  # write_config FILE FUNCTIONS_JSON
  printf '{"housekeeping_interval_ms": 200, "functions": [%s]}\n' "$2" > "$1"
}
WARM_CONFIG=$OUT_DIR/warm.json
write_config "$WARM_CONFIG" "
  {\"name\": \"echo\", \"code_dir\": \"$PRODUCT_CODE\", \"handler\": \"echo\", \"memory_mb\": 1769,
   \"timeout_s\": 3, \"provisioned\": 64},
  {\"name\": \"echo128\", \"code_dir\": \"$PRODUCT_CODE\", \"handler\": \"echo\", \"memory_mb\": 128,
   \"timeout_s\": 3}"
for mem in 128 1769; do
  write_config "$OUT_DIR/cold-$mem.json" "
  {\"name\": \"cold\", \"code_dir\": \"$PRODUCT_CODE\", \"handler\": \"echo\", \"memory_mb\": $mem,
   \"timeout_s\": 3}"
  write_config "$OUT_DIR/scale-$mem.json" "
  {\"name\": \"sleeper\", \"code_dir\": \"$TEST_CODE\", \"handler\": \"sleep\", \"memory_mb\": $mem,
   \"timeout_s\": $(( SCALE_SLEEP_MS / 1000 + 10 ))}"
done
# The default config, with its code_dir pointing at this build (it is relative to config/).
DEFAULT_CONFIG=$OUT_DIR/default.json
python3 - "$ROOT/config/emulator.json" "$PRODUCT_CODE" "$DEFAULT_CONFIG" <<'PY'
import json, sys
config = json.load(open(sys.argv[1]))
for f in config.get("functions", []):
    f["code_dir"] = sys.argv[2]
json.dump(config, open(sys.argv[3], "w"), indent=1)
PY

# ---------------------------------------------------------------------------------------------
# Machine
{
  echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); kernel $(uname -r)"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (working tree has changes)')"
  echo "load average at start: $(loadavg)"
} > "$OUT_DIR/machine.txt"
cat "$OUT_DIR/machine.txt" >&2
wait_for_quiet
echo "load average when measuring began: $(loadavg); other processes kept ${BUSY}% of the CPUs busy" >> "$OUT_DIR/machine.txt"

# ---------------------------------------------------------------------------------------------
# Floor and warm invokes, interleaved per repetition.
log "warm invokes and the HTTP floor ($REPS repetitions, ${WARM_SECONDS}s each)"
start_floor floor "$FLOOR"; FLOOR_PID=$FLOOR_STARTED_PID FLOOR_URL=$FLOOR_STARTED_URL

start_daemon warm "$WARM_CONFIG"
WARM_PID=$DAEMON_PID
INVOKE_URL=$DAEMON_URL/2015-03-31/functions/echo/invocations
INVOKE128_URL=$DAEMON_URL/2015-03-31/functions/echo128/invocations
wait_for_idle "$DAEMON_URL" echo 64
# A first warm-up at concurrency 64 touches every provisioned environment once.
"$LOAD" --url "$INVOKE_URL" -c 64 -n 5000 --json > /dev/null
"$LOAD" --url "$INVOKE128_URL" -c 1 -n 1000 --json > /dev/null
alive daemon "$WARM_PID"

for rep in $(seq 1 "$REPS"); do
  wait_for_quiet
  common=(--payload-bytes 1024 --duration "$WARM_SECONDS" --json)
  record floor_c1 "$rep" "$("$LOAD" --url "$FLOOR_URL" -c 1 --warmup 2000 "${common[@]}")"
  record invoke_c1 "$rep" "$("$LOAD" --url "$INVOKE_URL" -c 1 --warmup 2000 "${common[@]}")"
  record floor_c64 "$rep" "$("$LOAD" --url "$FLOOR_URL" -c 64 --warmup 5000 "${common[@]}")"
  record invoke_c64 "$rep" "$("$LOAD" --url "$INVOKE_URL" -c 64 --warmup 5000 "${common[@]}")"
  record invoke128_c1 "$rep" "$("$LOAD" --url "$INVOKE128_URL" -c 1 --warmup 500 "${common[@]}")"
  alive daemon "$WARM_PID"
  alive "floor server" "$FLOOR_PID"
  log "  repetition $rep done (load $(loadavg))"
done
stop_pid "$WARM_PID"
stop_pid "$FLOOR_PID"

# ---------------------------------------------------------------------------------------------
# Single cold start and 0 -> 200 environments, each on a fresh daemon.
for mem in 128 1769; do
  log "cold start and 0 -> 200 environments at $mem MB ($REPS repetitions)"
  for rep in $(seq 1 "$REPS"); do
    wait_for_quiet
    start_daemon "cold-$mem-$rep" "$OUT_DIR/cold-$mem.json"
    out=$("$COLD" --url "$DAEMON_URL" --function cold -n 1 --body '{}' --poll-ms 1 --max-seconds 30 --json) \
      || log "  cold start run $rep at $mem MB reported a problem: $out"
    record "cold_$mem" "$rep" "$out"
    stop_pid "$DAEMON_PID"

    start_daemon "scale-$mem-$rep" "$OUT_DIR/scale-$mem.json"
    out=$("$COLD" --url "$DAEMON_URL" --function sleeper -n 200 --body "{\"ms\":$SCALE_SLEEP_MS}" --poll-ms 5 \
            --max-seconds 60 --json) || log "  0->200 run $rep at $mem MB reported a problem: $out"
    record "scale_$mem" "$rep" "$out"
    stop_pid "$DAEMON_PID"
    log "  repetition $rep done (load $(loadavg))"
  done
done

# ---------------------------------------------------------------------------------------------
# Idle daemon RSS with the default config.
log "idle daemon RSS ($REPS repetitions)"
for rep in $(seq 1 "$REPS"); do
  start_daemon "idle-$rep" "$DEFAULT_CONFIG"
  sleep 1
  rss_kb=$(awk '/^VmRSS:/ {print $2}' "/proc/$DAEMON_PID/status")
  record idle_rss "$rep" "{\"rss_kb\": $rss_kb}"
  stop_pid "$DAEMON_PID"
done
echo "load average at the end: $(loadavg); waited ${WAITED_S}s in total for a quieter machine" >> "$OUT_DIR/machine.txt"

# ---------------------------------------------------------------------------------------------
# Summary
python3 "$ROOT/bench/summarize_results.py" "$RESULTS" "$OUT_DIR/machine.txt" --quiet-pct "$MAX_BUSY_PCT"
log "raw results in $RESULTS (bench/summarize_results.py $RESULTS re-prints the table)"
