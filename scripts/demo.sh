#!/usr/bin/env bash
# A tour of Stratus with the stock AWS CLI: start the emulator, list and invoke functions, deploy a
# new function from a zip, train through it (linreg, Case A, Case C, layers, augment -> Case B ->
# predict, a function URL, optimize and sweep, a Case A under injected faults), each result checked,
# read the metering, and shut down cleanly.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "${repo_root}"

bash scripts/setup.sh release

emulator_bin="build/release/bin/stratus-emulator"
config="config/emulator.json"
product_bootstrap="build/release/functions/stratus/bootstrap"
for required in "${emulator_bin}" "${config}" "${product_bootstrap}"; do
  if [[ ! -f "${required}" ]]; then
    echo "demo.sh: ${required} is missing" >&2
    exit 1
  fi
done

work_dir="$(mktemp -d "${TMPDIR:-/tmp}/stratus-demo.XXXXXX")"
data_dir="${work_dir}/data"
mkdir -p "${data_dir}"
daemon_pid=""

cleanup() {
  local status=$?
  if [[ -n "${daemon_pid}" ]] && kill -0 "${daemon_pid}" 2>/dev/null; then
    kill -TERM "${daemon_pid}" 2>/dev/null || true
    wait "${daemon_pid}" 2>/dev/null || true
  fi
  if ((status != 0)) && [[ -f "${work_dir}/emulator.log" ]]; then
    echo "--- last lines of the emulator log ---" >&2
    tail -n 40 "${work_dir}/emulator.log" >&2 || true
  fi
  rm -rf "${work_dir}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

section() { printf '\n=== %s ===\n' "$*"; }

section "Starting stratus-emulator"
"${emulator_bin}" --config "${config}" --port 0 --data-dir "${data_dir}" \
  >"${work_dir}/emulator.log" 2>&1 &
daemon_pid=$!

endpoint_file="${data_dir}/emulator.endpoint"
for _ in $(seq 1 200); do
  [[ -s "${endpoint_file}" ]] && break
  if ! kill -0 "${daemon_pid}" 2>/dev/null; then
    echo "demo.sh: the emulator exited before it was listening" >&2
    exit 1
  fi
  sleep 0.1
done
if [[ ! -s "${endpoint_file}" ]]; then
  echo "demo.sh: the emulator did not write ${endpoint_file} within 20 s" >&2
  exit 1
fi
endpoint="$(tr -d '[:space:]' <"${endpoint_file}")"
echo "listening on ${endpoint} (pid ${daemon_pid}, data dir ${data_dir})"

# The stock AWS CLI from Debian, pointed at the emulator with throw-away credentials.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
export AWS_PAGER="" AWS_CONFIG_FILE="${work_dir}/aws-config"
export AWS_SHARED_CREDENTIALS_FILE="${work_dir}/aws-credentials"
lambda() { /usr/bin/aws --endpoint-url "${endpoint}" lambda "$@"; }
python() { /usr/bin/python3 "$@"; }

section "aws lambda list-functions"
lambda list-functions --output table \
  --query 'Functions[].{Name:FunctionName,Runtime:Runtime,Handler:Handler,MemoryMB:MemorySize,TimeoutS:Timeout}'

section "aws lambda invoke --function-name echo --log-type Tail"
payload='{"message":"hello from the Stratus demo","numbers":[1,2,3]}'
echo "request payload:  ${payload}"
invoke_result="$(lambda invoke --function-name echo --cli-binary-format raw-in-base64-out \
  --payload "${payload}" --log-type Tail --output json "${work_dir}/echo-response.json")"
echo "response payload: $(cat "${work_dir}/echo-response.json")"
python -c 'import json, sys; r = json.load(sys.stdin); print("status code:", r["StatusCode"], "| function error:", r.get("FunctionError", "none"))' <<<"${invoke_result}"
echo "log tail (X-Amz-Log-Result, base64-decoded):"
python -c 'import base64, json, sys; print(base64.b64decode(json.load(sys.stdin)["LogResult"]).decode(errors="replace").rstrip())' <<<"${invoke_result}" | sed 's/^/  | /'

section "aws lambda create-function demo-echo (zip of ${product_bootstrap})"
package_dir="${work_dir}/package"
mkdir -p "${package_dir}"
cp "${product_bootstrap}" "${package_dir}/bootstrap"
chmod 755 "${package_dir}/bootstrap"  # zip keeps the mode bits; Lambda needs bootstrap executable
(cd "${package_dir}" && zip -q -X "${work_dir}/demo-echo.zip" bootstrap)
lambda create-function --function-name demo-echo --runtime provided.al2023 --handler echo \
  --role arn:aws:iam::000000000000:role/demo --zip-file "fileb://${work_dir}/demo-echo.zip" \
  --output table --query '{Name:FunctionName,Arn:FunctionArn,CodeSize:CodeSize,CodeSha256:CodeSha256,State:State}'

section "aws lambda invoke --function-name demo-echo"
lambda invoke --function-name demo-echo --cli-binary-format raw-in-base64-out \
  --payload '{"deployed":"from a zip"}' --output json "${work_dir}/demo-response.json"
echo "response payload: $(cat "${work_dir}/demo-response.json")"

trainer_bin="${repo_root}/build/release/bin/stratus-trainer"
section "stratus-trainer linreg --target ${endpoint} (serverless gradient descent, JSON payloads)"
"${trainer_bin}" linreg --target "${endpoint}" --samples 40000 --features 16 --workers 8 --epochs 8 \
  --learning-rate 0.5 --report "${work_dir}/linreg-json.json"

section "the same run with zlib-compressed tensor payloads (function gradient_z)"
"${trainer_bin}" linreg --target "${endpoint}" --payload zlib --samples 40000 --features 16 --workers 8 \
  --epochs 8 --learning-rate 0.5 --report "${work_dir}/linreg-zlib.json"

section "the same run in-process (--target local), and whether the models agree bit for bit"
"${trainer_bin}" linreg --target local --samples 40000 --features 16 --workers 8 --epochs 8 \
  --learning-rate 0.5 --report "${work_dir}/linreg-local.json" --quiet
python - "${work_dir}" <<'PY'
import json, sys
runs = {name: json.load(open(f"{sys.argv[1]}/linreg-{name}.json")) for name in ("local", "json", "zlib")}
for name in ("json", "zlib"):
    same = runs[name]["weights"] == runs["local"]["weights"] and runs[name]["bias"] == runs["local"]["bias"]
    print(f"emulator ({name}) vs in-process: weights {'identical' if same else 'DIFFERENT'}, "
          f"cost ${runs[name]['summary']['total_cost_usd']:.8f}, "
          f"average epoch {runs[name]['summary']['average_epoch_ms']:.1f} ms "
          f"(in-process {runs['local']['summary']['average_epoch_ms']:.1f} ms)")
PY

section "S3 on the same port: stage a dataset with stratus-trainer, list it with aws s3, read a shard in a function"
# MNIST and CIFAR-10 files cannot be downloaded here; Case A (CLOUD 2018) is generated from a seed.
"${trainer_bin}" stage --dataset casea --count 20000 --seed 1 --bucket demo-data --shards 4 --target "${endpoint}"
/usr/bin/aws --endpoint-url "${endpoint}" s3 ls --recursive s3://demo-data/
lambda invoke --function-name shard_stats --cli-binary-format raw-in-base64-out \
  --payload '{"bucket":"demo-data","manifest":"datasets/casea/manifest.json","shard":2}' \
  --output json "${work_dir}/shard-stats.json" >/dev/null
echo "shard_stats (shard 2, read back from S3 inside the function): $(cat "${work_dir}/shard-stats.json")"

section "CLOUD 2018 Case A through the emulator, the paper's orchestration on functions"
# 8 workers (one 1,000-sample shard each), merge tree 1,2,8: the trainer stages the data, writes
# the initial model under s3://demo-runs/runs/<run-id>/ and starts the workers with Event invokes;
# the workers train, merge along the tree through S3 and start each round themselves.
"${trainer_bin}" casea --target "${endpoint}" --orchestration functions --workers 8 --merge-tree 1,2,8 \
  --rounds 5 --samples 8000 --seed 1 --bucket demo-runs --report "${work_dir}/casea-functions.json"
/usr/bin/aws --endpoint-url "${endpoint}" s3 ls --recursive "s3://demo-runs/runs/" | grep -E 'model/|rounds/' | sed 's/^/  /'

section "the same Case A in-process (--target local --threads 2), and whether the models agree bit for bit"
"${trainer_bin}" casea --target local --orchestration driver --threads 2 --workers 8 --merge-tree 1,2,8 \
  --rounds 5 --samples 8000 --seed 1 --report "${work_dir}/casea-local.json" --quiet
python - "${work_dir}" <<'PY'
import json, sys
functions = json.load(open(f"{sys.argv[1]}/casea-functions.json"))
local = json.load(open(f"{sys.argv[1]}/casea-local.json"))
same = functions["model_sha256"] == local["model_sha256"]
print(f"functions on the emulator: model_sha256 {functions['model_sha256']}")
print(f"in-process, 2 threads:     model_sha256 {local['model_sha256']}")
print(f"models {'bit-identical' if same else 'DIFFERENT'}; final accuracy {functions['final_accuracy']:.4f}, "
      f"emulated cost ${functions['total_cost_usd']:.8f}")
sys.exit(0 if same else 1)
PY

section "CLOUD 2018 Case C through the emulator: random hyperparameter search, one function per trial"
# Small MNIST-format (IDX) files, generated; 6 trials of 3 epochs, each invocation training at most
# 30 minibatches before it checkpoints to S3 and re-invokes itself (Event invoke, recursion Allow).
python - "${work_dir}/mnist" <<'PY'
import sys
sys.path.insert(0, "tests/integration")
from mnist_files import write_mnist
write_mnist(sys.argv[1], train=600, test=200, seed=7)
PY
for split in train test; do
  "${trainer_bin}" stage --dataset mnist --source "${work_dir}/mnist" --split "${split}" --bucket demo-data \
    --shards 2 --target "${endpoint}" --quiet
done
"${trainer_bin}" casec --target "${endpoint}" --dataset s3://demo-data/datasets/mnist-train/manifest.json \
  --trials 6 --epochs 3 --max-batch-count 60 --batches-per-invocation 30 --seed 1 --bucket demo-runs \
  --report "${work_dir}/casec-emulator.json"
"${trainer_bin}" casec --target local --data "${work_dir}/mnist" --trials 6 --epochs 3 --max-batch-count 60 \
  --seed 1 --report "${work_dir}/casec-local.json" --quiet
python - "${work_dir}" <<'PY'
import json, sys
runs = [json.load(open(f"{sys.argv[1]}/casec-{name}.json")) for name in ("emulator", "local")]
emulator, local = ({t["trial"]: (t["test_accuracy"], t["model_sha256"]) for t in r["trials"]} for r in runs)
print(f"{runs[0]['checkpoints']} checkpoints + self re-invocations on the emulator, none in-process; "
      f"every trial {'bit-identical' if emulator == local else 'DIFFERENT'} to the in-process search")
sys.exit(0 if emulator == local else 1)
PY

section "Layers as functions: stratus-trainer layers, every layer slice its own invocation of 'layer'"
layers_net=(--layers 6,5,3,1 --neurons-per-function 2 --samples 96 --batch-size 16 --epochs 2 --seed 4
  --optimizer adam --learning-rate 0.02 --l2 0.001)
"${trainer_bin}" layers "${layers_net[@]}" --target "${endpoint}" --gradient-check --run-id demo-layers \
  --report "${work_dir}/layers-emulator.json"
"${trainer_bin}" layers "${layers_net[@]}" --target local --gradient-check \
  --report "${work_dir}/layers-local.json" >/dev/null
python - "${work_dir}" <<'PY'
import json, sys
remote, local = (json.load(open(f"{sys.argv[1]}/layers-{n}.json")) for n in ("emulator", "local"))
same = remote["model_sha256"] == local["model_sha256"]
print(f"layers through the emulator: model_sha256 {remote['model_sha256']}")
print(f"layers in-process:           model_sha256 {local['model_sha256']}")
print(f"models {'bit-identical' if same else 'DIFFERENT'}; gradient check "
      f"{'passed' if remote['gradient_check']['passed'] else 'FAILED'} "
      f"(max relative error {remote['gradient_check']['max_relative_error']:.2e})")
if not same or not remote["gradient_check"]["passed"]:
    sys.exit("demo.sh: layers through the emulator differ from in-process or fail the gradient check")
PY

section "Augment -> stage images -> Case B CNN -> predict (generated PNGs, two classes)"
python - "${work_dir}/photos" <<'PY'
import os, sys
sys.path.insert(0, "tests/integration")
from images import png_bytes
for label, offset in (("cat", 0), ("dog", 40)):
    os.makedirs(f"{sys.argv[1]}/{label}", exist_ok=True)
    for i in range(3):
        open(f"{sys.argv[1]}/{label}/img-{i}.png", "wb").write(png_bytes(40, 36, seed=offset + i))
PY
/usr/bin/aws --endpoint-url "${endpoint}" s3 mb s3://demo-images >/dev/null
/usr/bin/aws --endpoint-url "${endpoint}" s3 cp --recursive --quiet "${work_dir}/photos" s3://demo-images/raw/
"${trainer_bin}" augment --target "${endpoint}" --bucket demo-images --input raw/ --output aug/ \
  --per-image 2 --workers 2
"${trainer_bin}" stage --dataset images --images s3://demo-images/aug/ --bucket demo-images --shards 2 \
  --target "${endpoint}"
"${trainer_bin}" caseb --dataset s3://demo-images/datasets/images/manifest.json --workers 2 --merge-tree 1,2 \
  --rounds 2 --batches 2 --batch-size 3 --init tutorial --seed 3 --poll-ms 50 --target "${endpoint}" \
  --bucket demo-images --run-id pets --report "${work_dir}/caseb.json"
final_model="$(/usr/bin/aws --endpoint-url "${endpoint}" s3 ls s3://demo-images/runs/pets/model/ \
  | awk '{print $4}' | sort | tail -n 1)"
if [[ -z "${final_model}" ]]; then
  echo "demo.sh: caseb wrote no model under s3://demo-images/runs/pets/model/" >&2
  exit 1
fi
/usr/bin/aws --endpoint-url "${endpoint}" s3 cp --quiet s3://demo-images/aug/dog/img-0-aug-000.png \
  "${work_dir}/dog.png"
echo "predict with s3://demo-images/runs/pets/model/${final_model} on aug/dog/img-0-aug-000.png:"
"${trainer_bin}" predict --target "${endpoint}" --model "s3://demo-images/runs/pets/model/${final_model}" \
  --image "${work_dir}/dog.png" --top-k 3 --json | tee "${work_dir}/predict.json"
python -c 'import json, sys; a = json.load(open(sys.argv[1])); sys.exit(0 if len(a) == 3 and all(0 <= p <= 1 for p in a.values()) else "demo.sh: predict did not answer 3 probabilities")' \
  "${work_dir}/predict.json"

section "A function URL made with the AWS CLI, called with curl"
function_url="$(lambda create-function-url-config --function-name echo --auth-type NONE \
  --query FunctionUrl --output text)"
echo "FunctionUrl: ${function_url}"
url_answer="$(curl -fsS -H 'content-type: application/json' --data '{"via":"function URL"}' "${function_url}")"
echo "curl -> ${url_answer}"
if [[ "${url_answer}" != *"function URL"* ]]; then
  echo "demo.sh: the function URL did not echo the request body" >&2
  exit 1
fi

section "CLOUD 2018's cost optimizer: stratus-trainer optimize casea (two functions, memory varied)"
small_casea=(--samples 1200 --rounds 3 --batches 4 --batch-size 50 --seed 7 --poll-ms 50 --stall-timeout 120)
"${trainer_bin}" optimize casea --target "${endpoint}" --objective cost --vary memory --workers 2 \
  --start 512,1536 --max-steps 2 "${small_casea[@]}" --report "${work_dir}/optimize.json" \
  --html "${work_dir}/optimize.html"

section "What-if grid: stratus-trainer sweep casea (memory x workers, Pareto front)"
"${trainer_bin}" sweep casea --target "${endpoint}" --memory 512,1024 --workers 2,3 --rounds 2 \
  --samples 1200 --batch-size 50 --seed 7 --poll-ms 50 --stall-timeout 120 \
  --report "${work_dir}/sweep.json" --html "${work_dir}/sweep.html"
for page in optimize.html sweep.html; do
  if ! grep -q '<html' "${work_dir}/${page}"; then
    echo "demo.sh: ${work_dir}/${page} is not an HTML report" >&2
    exit 1
  fi
  echo "HTML report: ${work_dir}/${page} ($(wc -c <"${work_dir}/${page}") bytes)"
done

section "Fault injection: a seeded plan (crashes, S3 SlowDown) and a Case A that survives it"
fault_casea=(--workers 4 --merge-tree 1,2,4 --rounds 2 --samples 4000 --seed 3 --poll-ms 50)
"${trainer_bin}" casea "${fault_casea[@]}" --target local --orchestration driver \
  --report "${work_dir}/faults-baseline.json" --quiet
plan='{"seed": 11, "rules": [
  {"kind": "crash", "function": "*", "schedule": [3, 8], "crash_after_min_ms": 200, "crash_after_max_ms": 300},
  {"kind": "s3_slow_down", "bucket": "demo-faults", "key_prefix": "runs/", "schedule": [5, 20, 40]}]}'
echo "PUT ${endpoint}/stratus/v1/faults: ${plan}"
curl -fsS -X PUT --data "${plan}" "${endpoint}/stratus/v1/faults" >/dev/null
echo "(the 3rd worker start is SIGKILLed 0.2-0.3 s in, mid-round: its alive record stays behind but its"
echo " heartbeat stops; once the record's lease (6 s, --lease-ms) has run out, the trainer's --revive-after 3"
echo " check invokes the worker again, so that round takes about 7-10 s instead of the minute until Lambda's"
echo " own async retry, which then finds the worker's chain taken and steps aside)"
"${trainer_bin}" casea "${fault_casea[@]}" --target "${endpoint}" --bucket demo-faults --revive-after 3 \
  --report "${work_dir}/faults-run.json"
curl -fsS -X DELETE "${endpoint}/stratus/v1/faults" >/dev/null
echo "DELETE ${endpoint}/stratus/v1/faults: plan removed"
python - "${work_dir}" <<'PY'
import json, sys
run, baseline = (json.load(open(f"{sys.argv[1]}/faults-{n}.json")) for n in ("run", "baseline"))
faults = run["faults"]
print(f"faults the report lists ({faults['injected']} injected during the run):")
for f in faults["list"][:10]:
    print(f"  {f['kind']:<14} request {f.get('request_id', '?')}  {f.get('detail', '')}")
if len(faults["list"]) > 10:
    print(f"  ... and {len(faults['list']) - 10} more")
same = run["model_sha256"] == baseline["model_sha256"]
print(f"with faults: model_sha256 {run['model_sha256']}")
print(f"fault-free:  model_sha256 {baseline['model_sha256']}")
if not same:
    sys.exit("demo.sh: the run under faults ended with a different model than the fault-free one")
if not faults["list"]:
    sys.exit("demo.sh: the plan injected no fault into the run")
print("models bit-identical: the run survived every injected fault")
PY

section "GET ${endpoint}/stratus/v1/usage"
curl -fsS "${endpoint}/stratus/v1/usage" | python -m json.tool

section "Stopping the emulator (SIGTERM)"
kill -TERM "${daemon_pid}"
daemon_status=0
wait "${daemon_pid}" || daemon_status=$?
daemon_pid=""
echo "stratus-emulator exited with status ${daemon_status}"
if ((daemon_status != 0)); then
  exit 1
fi
