#!/usr/bin/env bash
# S3 before/after in one run: two emulator binaries (BEFORE_EMULATOR, AFTER_EMULATOR), each with
# fsync on and off, all four running at once; every repetition measures, in this order, MD5 over
# the same bytes (openssl dgst -md5, the reference for PUT), a single-stream curl PUT of the
# SIZE_MB file to each server, and stratus-s3-bench PUT+GET pairs against each. Same tools and
# options as run_s3_bench.sh (no moto, no busy-machine wait: use the ratios). Loopback only; the
# servers are stopped by pid on exit.
#
#   BEFORE_EMULATOR=old/bin/stratus-emulator REPS=5 bench/s3/run_s3_before_after.sh
#
# SKIP_PAIRS=1 measures only MD5 and the PUTs. ALT_EMULATOR (optional) adds a third binary ("alt", e.g. a variant of the after build) to every
# repetition. Every daemon gets the same config apart from fsync. Each PUT also records the
# daemon's CPU seconds (/proc/<pid>/stat) and the load average.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
AFTER_EMULATOR=${AFTER_EMULATOR:-$BUILD_DIR/bin/stratus-emulator}
BEFORE_EMULATOR=${BEFORE_EMULATOR:?set BEFORE_EMULATOR to the binary to compare against}
PAIRS=$BUILD_DIR/bin/stratus-s3-bench
REPS=${REPS:-5}
SIZE_MB=${SIZE_MB:-256}
PAIRS_SECONDS=${PAIRS_SECONDS:-5}
OUT_DIR=${OUT_DIR:-$(mktemp -d /var/tmp/stratus-s3-ba.XXXXXX)}
AUTH='Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000'
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done; rm -rf "$OUT_DIR/data"; }
trap cleanup EXIT
mkdir -p "$OUT_DIR/data"
SRC=$OUT_DIR/data/src.bin
head -c $(( SIZE_MB * 1024 * 1024 )) /dev/urandom > "$SRC"
declare -A PORT SERVER_PID
NAMES=(before-fsync before-nofsync after-fsync after-nofsync)
[[ -n ${ALT_EMULATOR:-} ]] && NAMES+=(alt-fsync alt-nofsync)
for name in "${NAMES[@]}"; do
  bin=$BEFORE_EMULATOR; [[ $name == after-* ]] && bin=$AFTER_EMULATOR; [[ $name == alt-* ]] && bin=$ALT_EMULATOR
  fsync=true; [[ $name == *nofsync ]] && fsync=false
  dir=$OUT_DIR/data/$name; mkdir -p "$dir/data"
  printf '{"s3": {"fsync": %s}}\n' "$fsync" > "$dir/config.json"
  "$bin" --config "$dir/config.json" --port 0 --bind 127.0.0.1 --data-dir "$dir/data" > "$OUT_DIR/$name.log" 2>&1 &
  PIDS+=($!); SERVER_PID[$name]=$!
  for _ in $(seq 1 1500); do [[ -s $dir/data/emulator.endpoint ]] && break; sleep 0.01; done
  url=$(head -n1 "$dir/data/emulator.endpoint"); p=${url##*:}; PORT[$name]=${p%%/*}
  for b in big small; do curl -sf -o /dev/null -X PUT -H "$AUTH" "http://127.0.0.1:${PORT[$name]}/$b"; done
done
RES=$OUT_DIR/results.jsonl; : > "$RES"
now() { date +%s.%N; }
cpu_s() { awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$1/stat"; }
for rep in $(seq 1 "$REPS"); do
  sync -f "$SRC"
  t0=$(now); openssl dgst -md5 "$SRC" > /dev/null; t1=$(now)
  echo "{\"rep\":$rep,\"what\":\"md5\",\"mb_s\":$(echo "$SIZE_MB*1.048576/($t1-$t0)" | bc -l)}" >> "$RES"
  for name in "${NAMES[@]}"; do
    sync -f "$SRC"
    c0=$(cpu_s "${SERVER_PID[$name]}")
    out=$(curl -sS --max-time 300 -T "$SRC" -H "$AUTH" -H 'Expect:' -o /dev/null -w '%{http_code} %{time_total}' \
          "http://127.0.0.1:${PORT[$name]}/big/object")
    c1=$(cpu_s "${SERVER_PID[$name]}")
    [[ ${out%% *} == 200 ]] || echo "PUT to $name: $out" >&2
    echo "{\"rep\":$rep,\"what\":\"put\",\"server\":\"$name\",\"mb_s\":$(echo "$SIZE_MB*1.048576/${out##* }" | bc -l),\"cpu_s\":$(awk -v a="$c0" -v b="$c1" 'BEGIN{printf "%.3f", b - a}'),\"load1\":$(cut -d' ' -f1 /proc/loadavg)}" >> "$RES"
  done
  for name in "${NAMES[@]}"; do
    [[ -n ${SKIP_PAIRS:-} ]] && break
    sync -f "$SRC"
    out=$(timeout $(( PAIRS_SECONDS + 120 )) "$PAIRS" --port "${PORT[$name]}" --bucket small -H "$AUTH" \
            --key-prefix "r$rep-" -c 16 --object-bytes 4096 --duration "$PAIRS_SECONDS" --warmup 1 \
            --max-seconds $(( PAIRS_SECONDS + 60 )) --json)
    echo "{\"rep\":$rep,\"what\":\"pairs\",\"server\":\"$name\",\"result\":$out}" >> "$RES"
  done
  echo "{\"rep\":$rep,\"what\":\"load\",\"loadavg\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >> "$RES"
  echo "rep $rep done (load $(cut -d' ' -f1-3 /proc/loadavg))" >&2
done
/usr/bin/python3 - "$RES" <<'PY'
import json, statistics as st, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
reps = sorted({r["rep"] for r in rows})
def val(r):
    if r["what"] == "pairs":
        res = r["result"]
        return res.get("pairs_per_s", res.get("pairs_per_second", res.get("rate")))
    return r["mb_s"]
md5 = {r["rep"]: r["mb_s"] for r in rows if r["what"] == "md5"}
print(f"MD5 (openssl dgst) MB/s: median {st.median(md5.values()):.0f} ({', '.join(f'{v:.0f}' for v in md5.values())})")
names = [n for n in ("before-fsync", "before-nofsync", "after-fsync", "after-nofsync", "alt-fsync", "alt-nofsync")
         if any(r.get("server") == n for r in rows)]
print("load averages:", "; ".join(r["loadavg"] for r in rows if r["what"] == "load"))
for what in ("put", "pairs"):
    for name in names:
        vals = {r["rep"]: val(r) for r in rows if r["what"] == what and r["server"] == name}
        if not vals:
            continue
        line = f"{what} {name}: median {st.median(vals.values()):.0f} ({', '.join(f'{v:.0f}' for v in vals.values())})"
        if what == "put":
            line += f"; vs MD5 {st.median(vals[k] / md5[k] for k in reps):.2f}x"
            cpu = [r["cpu_s"] for r in rows if r["what"] == what and r["server"] == name]
            line += f"; daemon CPU {st.median(cpu):.2f} s"
        if not name.startswith("before"):
            before = {r["rep"]: val(r) for r in rows if r["what"] == what and r["server"] == "before" + name[name.index("-"):]}
            line += f"; after/before {st.median(vals[k] / before[k] for k in reps):.2f}x"
        print(line)
PY
