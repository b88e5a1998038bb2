#!/usr/bin/env bash
# Serverless gradient descent benchmarks (issue: runtime client, gradient functions, trainer):
#  1. in-process epoch time of `stratus-trainer linreg --target local` vs numpy on 1,000,000 x 100;
#  2. the emulator path's overhead per epoch (8 workers) for json and zlib payloads, against the
#     in-process epoch measured in the same run.
# Prints JSON lines; bench/RESULTS.md records the medians. Usage: bench/linreg/run_linreg_bench.sh
#
# Since linreg runs on the fan-out engine, `--target local` is the in-process invoker: the very
# gradient handler the bootstrap serves, called with the same request bytes. An in-process epoch
# therefore includes encoding and decoding each shard's request (zlib tensors here: JSON numbers
# would be a 1.2 GB request at the default size); the kernel alone is measured by
# stratus-linear-gradient-throughput (tests/unit/functions).
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
bin="${repo_root}/build/release/bin"
rows="${ROWS:-1000000}"
features="${FEATURES:-100}"
epochs="${EPOCHS:-7}"
median_epoch_ms() { /usr/bin/python3 -c 'import json,sys,statistics; r=[json.loads(l) for l in sys.stdin if l.startswith("{")]; print(statistics.median(e["wall_ms"] for e in r[1:]))'; }

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
local_ms=$("${bin}/stratus-trainer" linreg --target local --payload zlib --samples "${rows}" --features "${features}" \
  --workers 1 --epochs "${epochs}" --json | median_epoch_ms)
numpy_json=$(/usr/bin/python3 "${repo_root}/bench/linreg/numpy_gd.py" --rows "${rows}" --features "${features}" --epochs "${epochs}")
echo "{\"benchmark\":\"local_epoch_vs_numpy\",\"rows\":${rows},\"features\":${features},\"stratus_local_median_epoch_ms\":${local_ms},\"numpy\":${numpy_json}}"

# Emulator path: a fresh daemon with the product functions at 1769 MB (one vCPU each).
# Each shard must fit Lambda's 6 MB sync payload limit: 20,000 x 100 over 8 workers is ~4.6 MB of JSON.
small_rows="${EMULATOR_ROWS:-20000}"
work="$(mktemp -d)"
trap 'kill -TERM ${daemon:-0} 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "${work}"' EXIT
cat > "${work}/config.json" <<JSON
{"functions": [
  {"name": "gradient", "code_dir": "${repo_root}/build/release/functions/stratus", "handler": "gradient", "memory_mb": 1769, "timeout_s": 120},
  {"name": "gradient_z", "code_dir": "${repo_root}/build/release/functions/stratus", "handler": "gradient_z", "memory_mb": 1769, "timeout_s": 120}
]}
JSON
"${bin}/stratus-emulator" --config "${work}/config.json" --port 0 --data-dir "${work}/data" --log-level warn &
daemon=$!
for _ in $(seq 100); do [[ -s "${work}/data/emulator.endpoint" ]] && break; sleep 0.1; done
endpoint=$(cat "${work}/data/emulator.endpoint")
local8_ms=$("${bin}/stratus-trainer" linreg --target local --payload zlib --samples "${small_rows}" --features "${features}" \
  --workers 8 --epochs "${epochs}" --json | median_epoch_ms)
for payload in json zlib; do
  remote_ms=$("${bin}/stratus-trainer" linreg --target "${endpoint}" --payload "${payload}" --samples "${small_rows}" \
    --features "${features}" --workers 8 --epochs "${epochs}" --json | median_epoch_ms)
  echo "{\"benchmark\":\"emulator_overhead\",\"payload\":\"${payload}\",\"rows\":${small_rows},\"features\":${features},\"workers\":8,\"local_median_epoch_ms\":${local8_ms},\"emulator_median_epoch_ms\":${remote_ms}}"
done
