#!/usr/bin/env bash
# Accept rate of Event invokes with and without the durable event journal (async.journal), the
# cost of "202 means on disk". Prints a markdown table of medians and their ratio to stdout
# (progress to stderr). Loopback only; every run bounded in requests and time.
#
#   bench/async_accept/run_accept_bench.sh
#   BUILD_DIR=build/release REPS=5 REQUESTS=20000 bench/async_accept/run_accept_bench.sh
#
# Knobs [defaults]: BUILD_DIR [build/release] (binaries stratus-emulator, stratus-load and the
# test bootstrap must be built), REPS [5], REQUESTS [20000] per run at concurrency 64 (a tenth at
# concurrency 1), OUT_DIR [mktemp] for raw JSON lines, logs and the data directories.
#
# The function has reserved concurrency 0, so accepted events stay queued and never run: the
# numbers are the accept path alone (HTTP, validation, journal append, group-commit fdatasync,
# 202). Journal on and off alternate within every repetition, so both see the same machine load.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
REPS=${REPS:-5}
REQUESTS=${REQUESTS:-20000}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/stratus-accept.XXXXXX)}
mkdir -p "$OUT_DIR"
RESULTS=$OUT_DIR/results.jsonl
: > "$RESULTS"
EMULATOR=$BUILD_DIR/bin/stratus-emulator
LOAD=$BUILD_DIR/bin/stratus-load
BOOTSTRAP_DIR=$BUILD_DIR/tests/functions/cpp
for f in "$EMULATOR" "$LOAD" "$BOOTSTRAP_DIR/bootstrap"; do
  [[ -x $f ]] || { echo "missing $f: build the project first" >&2; exit 2; }
done

log() { echo "[accept $(date +%H:%M:%S)] $*" >&2; }
source "$ROOT/bench/bench_processes.sh"  # wait_for_file

DAEMON_PID=
stop_daemon() {
  if [[ -n $DAEMON_PID ]]; then
    kill -TERM "$DAEMON_PID" 2>/dev/null || true
    timeout 30 tail --pid="$DAEMON_PID" -f /dev/null || kill -KILL "$DAEMON_PID" 2>/dev/null || true
    DAEMON_PID=
  fi
}
trap stop_daemon EXIT

# run_one JOURNAL(true|false) CONCURRENCY COUNT REP
run_one() {
  local journal=$1 concurrency=$2 count=$3 rep=$4
  local dir=$OUT_DIR/run-$rep-$journal-$concurrency
  rm -rf "$dir"
  mkdir -p "$dir/data"
  cat > "$dir/emulator.json" <<JSON
{"async": {"journal": $journal},
 "functions": [{"name": "off", "code_dir": "$BOOTSTRAP_DIR", "handler": "echo",
                "reserved_concurrency": 0}]}
JSON
  "$EMULATOR" --config "$dir/emulator.json" --port 0 --data-dir "$dir/data" \
    > "$dir/stdout" 2> "$dir/stderr" &
  DAEMON_PID=$!
  wait_for_file "$dir/data/emulator.endpoint" 10 || { log "daemon did not start"; cat "$dir/stderr" >&2; exit 1; }
  local url
  url=$(cat "$dir/data/emulator.endpoint")
  local out
  out=$(timeout 300 "$LOAD" --url "$url/2015-03-31/functions/off/invocations" \
    -H "X-Amz-Invocation-Type: Event" -c "$concurrency" -n "$count" --warmup 200 \
    --payload-bytes 1024 --max-seconds 120 --json)
  stop_daemon
  python3 -c '
import json, sys
doc = json.loads(sys.argv[1])
doc.update({"journal": sys.argv[2] == "true", "rep": int(sys.argv[3]), "loadavg": sys.argv[4]})
print(json.dumps(doc))' "$out" "$journal" "$rep" "$(cut -d" " -f1-3 /proc/loadavg)" >> "$RESULTS"
  rm -rf "$dir/data"
  log "rep $rep journal=$journal c=$concurrency: $(python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(round(d["throughput_rps"]), "accepts/s, errors", d["errors"])' "$out")"
}

log "raw results in $RESULTS (data dirs on $(df --output=fstype "$OUT_DIR" | tail -1))"
for rep in $(seq "$REPS"); do
  for c in 1 64; do
    n=$REQUESTS
    (( c == 1 )) && n=$(( REQUESTS / 10 ))
    run_one true "$c" "$n" "$rep"
    run_one false "$c" "$n" "$rep"
  done
done

python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
print("| concurrency | journal on (accepts/s) | journal off (accepts/s) | on/off | p50 on / off (us) | errors |")
print("|---|---|---|---|---|---|")
for c in (1, 64):
    on = [r for r in rows if r["concurrency"] == c and r["journal"]]
    off = [r for r in rows if r["concurrency"] == c and not r["journal"]]
    m_on = statistics.median(r["throughput_rps"] for r in on)
    m_off = statistics.median(r["throughput_rps"] for r in off)
    p_on = statistics.median(r["latency_us"]["p50"] for r in on)
    p_off = statistics.median(r["latency_us"]["p50"] for r in off)
    errors = sum(r["errors"] for r in on + off)
    print(f"| {c} | {m_on:.0f} | {m_off:.0f} | {m_on / m_off:.4f} | {p_on:.0f} / {p_off:.0f} | {errors} |")
PY
