#!/usr/bin/env bash
# Cold start (spawn to first /next, the daemon's init_ms) with the pre-fork pool off and on, in the
# same run: every repetition starts a fresh daemon for each setting, alternating, so both see the
# same machine load. One product `echo` function per daemon; `stratus-cold-start -n 1`, as in
# run_benchmarks.sh's cold part. Prints one JSON line per run and the medians.
#
#   BUILD_DIR=build/release REPS=7 MEMORY_MB=128 bench/cold_start/run_prefork_bench.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
REPS=${REPS:-7}
MEMORY_MB=${MEMORY_MB:-128}
POOL_SIZES=${POOL_SIZES:-"0 2"}
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/stratus-prefork-bench.XXXXXX)}
EMULATOR=$BUILD_DIR/bin/stratus-emulator
COLD=$BUILD_DIR/bin/stratus-cold-start
CODE=$BUILD_DIR/functions/stratus
for f in "$EMULATOR" "$COLD" "$CODE/bootstrap"; do [[ -x $f ]] || { echo "missing $f" >&2; exit 1; }; done

DAEMON_PID=""
cleanup() { if [[ -n $DAEMON_PID ]] && kill -0 "$DAEMON_PID" 2>/dev/null; then kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true; fi; }
trap cleanup EXIT

results=$OUT_DIR/results.jsonl
: > "$results"
for rep in $(seq 1 "$REPS"); do
  for pool in $POOL_SIZES; do
    dir=$OUT_DIR/rep$rep-pool$pool
    mkdir -p "$dir/data"
    printf '{"housekeeping_interval_ms": 200, "prefork_pool_size": %d, "functions": [{"name": "cold", "code_dir": "%s", "handler": "echo", "memory_mb": %d, "timeout_s": 3}]}\n' \
      "$pool" "$CODE" "$MEMORY_MB" > "$dir/config.json"
    "$EMULATOR" --config "$dir/config.json" --port 0 --data-dir "$dir/data" > "$dir/daemon.log" 2>&1 &
    DAEMON_PID=$!
    for _ in $(seq 1 1000); do [[ -s $dir/data/emulator.endpoint ]] && break; sleep 0.01; done
    url=$(head -n1 "$dir/data/emulator.endpoint")
    # The pool fills off the io thread within milliseconds; give it (and the daemon) a second to
    # settle, the same wait for both settings.
    sleep 1
    out=$(timeout 60 "$COLD" --url "$url" --function cold -n 1 --body '{}' --poll-ms 1 --max-seconds 30 --json)
    echo "{\"rep\": $rep, \"pool\": $pool, \"result\": $out}" | tee -a "$results"
    kill -TERM "$DAEMON_PID"; wait "$DAEMON_PID" || true; DAEMON_PID=""
  done
done
/usr/bin/python3 - "$results" <<'PY'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
def init_ms(r):
    return r["result"]["init_ms"]["p50"]
def client_ms(r):
    return r["result"]["invoke_latency_us"]["p50"] / 1000.0
by = {}
for r in runs: by.setdefault(r["pool"], []).append(r)
for pool, rs in sorted(by.items()):
    vals = [init_ms(r) for r in rs]
    lat = [client_ms(r) for r in rs]
    print(f"pool {pool}: init_ms median {statistics.median(vals):.2f} ms (runs: {', '.join(f'{v:.2f}' for v in vals)}); "
          f"client cold invoke median {statistics.median(lat):.2f} ms")
if 0 in by and len(by) > 1:
    base = statistics.median(init_ms(r) for r in by[0])
    for pool, rs in sorted(by.items()):
        if pool: print(f"pool {pool} / pool 0 init_ms: {statistics.median(init_ms(r) for r in rs) / base:.2f}x")
PY
