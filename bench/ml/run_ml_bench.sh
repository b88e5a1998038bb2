#!/usr/bin/env bash
# The ML engine against PyTorch CPU (one thread each), in the same run, interleaved:
#   REPS times: stratus-ml-bench (Case A and Case B worker rounds, Google Benchmark) then
#   torch_reference.py (the same rounds in PyTorch), each under /usr/bin/time;
# then the layer benchmarks once, the PyTorch cross-check once, and a summary
# (bench/ml/summarize_ml.py) of medians and ratios. Results in $OUT_DIR.
#
# Before each repetition it waits (up to MAX_WAIT_S) until other processes use at most
# MAX_BUSY_PCT of the CPUs, and records what it saw (the machine is shared).
#
#   BUILD_DIR=build/release REPS=5 MAX_BUSY_PCT=30 MAX_WAIT_S=300 OUT_DIR=/tmp/stratus-ml-bench \
#     bench/ml/run_ml_bench.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
BUILD_DIR=${BUILD_DIR:-build/release}
REPS=${REPS:-5}
OUT_DIR=${OUT_DIR:-/tmp/stratus-ml-bench}
MAX_BUSY_PCT=${MAX_BUSY_PCT:-30}
MAX_WAIT_S=${MAX_WAIT_S:-300}
mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/*.json "$OUT_DIR"/*.jsonl "$OUT_DIR"/*.time
cmake --build "$BUILD_DIR" --target stratus-ml-bench stratus-ml-crosscheck-dump >/dev/null
BENCH="$BUILD_DIR/bin/stratus-ml-bench"

busy_pct() {  # CPU busy % over one second, from /proc/stat
  read -r _ a b c idle1 rest < /proc/stat; t1=$((a + b + c + idle1))
  sleep 1
  read -r _ a b c idle2 rest < /proc/stat; t2=$((a + b + c + idle2))
  echo $(( 100 - 100 * (idle2 - idle1) / (t2 - t1 + 1) ))
}

wait_quiet() {  # prints the busy % finally seen
  local waited=0 busy
  busy=$(busy_pct)
  while [ "$busy" -gt "$MAX_BUSY_PCT" ] && [ "$waited" -lt "$MAX_WAIT_S" ]; do
    sleep 4; waited=$((waited + 5)); busy=$(busy_pct)
  done
  echo "$busy"
}

for i in $(seq 1 "$REPS"); do
  busy=$(wait_quiet)
  echo "repetition $i/$REPS: machine busy ${busy}% before it" | tee -a "$OUT_DIR/busy.txt"
  /usr/bin/time -f "%e %M" -o "$OUT_DIR/engine_$i.time" \
    "$BENCH" --benchmark_filter='BM_Case[AB]Round' --benchmark_format=json \
    > "$OUT_DIR/engine_$i.json"
  /usr/bin/time -f "%e %M" -o "$OUT_DIR/torch_$i.time" \
    /usr/bin/python3 bench/ml/torch_reference.py 3 > "$OUT_DIR/torch_$i.json"
done
"$BENCH" --benchmark_filter='Peak|Gemm|Layer|NormPool|Fc1' --benchmark_repetitions=3 \
  --benchmark_report_aggregates_only=true --benchmark_format=json > "$OUT_DIR/layers.json"
/usr/bin/python3 bench/ml/torch_crosscheck.py "$BUILD_DIR/bin/stratus-ml-crosscheck-dump" \
  "$OUT_DIR/crosscheck" > "$OUT_DIR/crosscheck.json"
/usr/bin/python3 bench/ml/summarize_ml.py "$OUT_DIR"
