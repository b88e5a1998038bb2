#!/usr/bin/env bash
# A/B of the daemon's CPU per warm invoke between two builds, against the HTTP floor, measured in
# the same run (bench/RESULTS.md, "Daemon-only cuts"). Both daemons run the product `echo`
# (1769 MB, 64 provisioned, as bench/run_benchmarks.sh's warm part); in each repetition the floor,
# build A and build B take turns (A/B order alternates per repetition) at concurrency 1 and 64
# with 1 KB payloads. CPU = utime + stime of the daemon (or floor) process from /proc/<pid>/stat
# around each stratus-load call, divided by the requests sent (warm-up included). Loopback only;
# every wait is bounded; only the processes this script starts are stopped (by pid).
#
#   BEFORE=/work/main/build/release AFTER=build/release bench/load/run_warm_ab.sh
#
# Knobs: BEFORE, AFTER (build dirs, required), REPS [3], WARM_SECONDS [3], OUT_DIR [mktemp],
# PROVISIONED [64]. stratus-load comes from BEFORE. The floor is the shared HttpServer, so each
# build's own floor server runs too: "floor" is BEFORE's, "floor_after" AFTER's (the same figures
# when the HTTP layer did not change). Prints a markdown table of medians to stdout.
set -euo pipefail

BEFORE=${BEFORE:?set BEFORE to the build dir of the reference (e.g. main)}
AFTER=${AFTER:?set AFTER to the build dir under test}
REPS=${REPS:-3}
WARM_SECONDS=${WARM_SECONDS:-3}
PROVISIONED=${PROVISIONED:-64}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/stratus-warm-ab.XXXXXX)}
mkdir -p "$OUT_DIR"
RESULTS=$OUT_DIR/results.jsonl
: > "$RESULTS"
LOAD=$BEFORE/bin/stratus-load
FLOOR=$BEFORE/bin/stratus-http-floor
CLK_TCK=$(getconf CLK_TCK)

log() { echo "[warm-ab $(date +%H:%M:%S)] $*" >&2; }

# Processes we start, so that only they are stopped (by pid) on exit; the bounded waits.
source "$(dirname "${BASH_SOURCE[0]}")/../bench_processes.sh"
trap stop_started EXIT

cpu_ticks() {  # PID: utime + stime of every thread, in clock ticks
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$1/stat"
}

# start_daemon NAME BUILD_DIR: sets DAEMON_PID and DAEMON_URL.
start_daemon() {
  local dir=$OUT_DIR/$1
  rm -rf "$dir"; mkdir -p "$dir/data"
  printf '{"housekeeping_interval_ms": 200, "functions": [{"name": "echo", "code_dir": "%s", "handler": "echo", "memory_mb": 1769, "timeout_s": 3, "provisioned": %d}]}\n' \
    "$2/functions/stratus" "$PROVISIONED" > "$dir/config.json"
  "$2/bin/stratus-emulator" --config "$dir/config.json" --port 0 --data-dir "$dir/data" > "$dir/daemon.log" 2>&1 &
  DAEMON_PID=$!
  STARTED_PIDS+=("$DAEMON_PID")
  wait_for_file "$dir/data/emulator.endpoint" 10 || { log "daemon $1 did not start"; cat "$dir/daemon.log" >&2; exit 1; }
  DAEMON_URL=$(head -n1 "$dir/data/emulator.endpoint")
}

# measure NAME REP PID URL CONCURRENCY WARMUP: one stratus-load run, one line of results.jsonl.
measure() {
  local before after out
  before=$(cpu_ticks "$3")
  out=$("$LOAD" --url "$4" -c "$5" --warmup "$6" --payload-bytes 1024 --duration "$WARM_SECONDS" --json)
  after=$(cpu_ticks "$3")
  /usr/bin/python3 -c '
import json, sys
doc = json.loads(sys.argv[1])
name, rep, ticks, tck, warmup = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
sent = doc["count"] + warmup
doc.update({"bench": name, "rep": rep, "cpu_us_per_request": ticks / tck * 1e6 / sent,
            "loadavg": open("/proc/loadavg").read().split()[:3]})
print(json.dumps(doc))' "$out" "$1" "$2" "$(( after - before ))" "$CLK_TCK" "$6" >> "$RESULTS"
}

{
  echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); kernel $(uname -r)"
  echo "before: $BEFORE; after: $AFTER; load average at start: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$OUT_DIR/machine.txt" >&2

start_floor floor "$FLOOR"; FLOOR_PID=$FLOOR_STARTED_PID FLOOR_URL=$FLOOR_STARTED_URL
start_floor floor_after "$AFTER/bin/stratus-http-floor"
FLOOR_AFTER_PID=$FLOOR_STARTED_PID FLOOR_AFTER_URL=$FLOOR_STARTED_URL

start_daemon before "$BEFORE"; BEFORE_PID=$DAEMON_PID; BEFORE_URL=$DAEMON_URL/2015-03-31/functions/echo/invocations
wait_for_idle "$DAEMON_URL" echo "$PROVISIONED" 60
start_daemon after "$AFTER"; AFTER_PID=$DAEMON_PID; AFTER_URL=$DAEMON_URL/2015-03-31/functions/echo/invocations
wait_for_idle "$DAEMON_URL" echo "$PROVISIONED" 60
# Every provisioned environment touched once before measuring.
"$LOAD" --url "$BEFORE_URL" -c 64 -n 5000 --json > /dev/null
"$LOAD" --url "$AFTER_URL" -c 64 -n 5000 --json > /dev/null

for rep in $(seq 1 "$REPS"); do
  order=(before after)
  (( rep % 2 == 0 )) && order=(after before)
  for c in 1 64; do
    warmup=$(( c == 1 ? 2000 : 5000 ))
    measure "floor_c$c" "$rep" "$FLOOR_PID" "$FLOOR_URL" "$c" "$warmup"
    measure "floor_after_c$c" "$rep" "$FLOOR_AFTER_PID" "$FLOOR_AFTER_URL" "$c" "$warmup"
    for side in "${order[@]}"; do
      if [[ $side == before ]]; then pid=$BEFORE_PID url=$BEFORE_URL; else pid=$AFTER_PID url=$AFTER_URL; fi
      measure "${side}_c$c" "$rep" "$pid" "$url" "$c" "$warmup"
    done
  done
  for pid in "$BEFORE_PID" "$AFTER_PID" "$FLOOR_PID" "$FLOOR_AFTER_PID"; do kill -0 "$pid" || { log "pid $pid is gone"; exit 1; }; done
  log "repetition $rep done (load $(cut -d' ' -f1-3 /proc/loadavg))"
done

/usr/bin/python3 - "$RESULTS" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
by = {}
for r in rows:
    by.setdefault(r["bench"], {})[r["rep"]] = r
bad = [r["bench"] for r in rows if r["errors"] or r["non_2xx"] or r["function_errors"] or r["transport_errors"]]
def med(bench, f):
    return statistics.median(f(r) for r in by[bench].values())
def ratio(a, b, f):  # median over repetitions of a/b within each repetition
    return statistics.median(f(by[a][k]) / f(by[b][k]) for k in by[a])
cpu = lambda r: r["cpu_us_per_request"]
rps = lambda r: r["throughput_rps"]
p50 = lambda r: r["latency_us"]["p50"]
print("| Measurement (median of %d) | Floor (before's) | Floor (after's) | Before | After | Before/its floor | After/before's floor | After/its floor | After/before |" % len(by["floor_c64"]))
print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
for c in (64, 1):
    for label, f, unit in (("CPU per request", cpu, "us"), ("Throughput", rps, "req/s"), ("p50 latency", p50, "us")):
        fl, fa, b, a = (med(f"{s}_c{c}", f) for s in ("floor", "floor_after", "before", "after"))
        print(f"| {label}, c={c} ({unit}) | {fl:,.1f} | {fa:,.1f} | {b:,.1f} | {a:,.1f} | "
              f"{ratio(f'before_c{c}', f'floor_c{c}', f):.2f}x | {ratio(f'after_c{c}', f'floor_c{c}', f):.2f}x | "
              f"{ratio(f'after_c{c}', f'floor_after_c{c}', f):.2f}x | "
              f"{ratio(f'after_c{c}', f'before_c{c}', f):.2f}x |")
print()
print("errors in:", ", ".join(bad) if bad else "none")
for bench in sorted(by):
    print(bench, "cpu us/req per rep:", [round(cpu(by[bench][k]), 1) for k in sorted(by[bench])],
          "rps:", [round(rps(by[bench][k])) for k in sorted(by[bench])])
PY
