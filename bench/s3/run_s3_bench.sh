#!/usr/bin/env bash
# S3 object-store benchmark: the emulator's S3 endpoint (fsync on, and fsync off) against moto_server
# and against plain file operations on the same filesystem, all measured in the same run,
# repetition by repetition (interleaved), so that every contender sees the same machine load.
# Prints a markdown table of medians to stdout (progress on stderr); raw JSON lines go to
# $OUT_DIR/results.jsonl, and bench/s3/summarize_s3.py re-prints the table from them.
# Everything binds and talks to 127.0.0.1 only; every wait is bounded; the processes it starts
# (two emulators, one moto_server, the loopback floor server) are stopped by pid on exit.
#
#   bench/s3/run_s3_bench.sh
#   BUILD_DIR=build/h-s3bench REPS=3 bench/s3/run_s3_bench.sh
#
# Environment knobs (defaults in brackets):
#   BUILD_DIR [build/release]  configured with Ninja/Release here if it is not configured yet
#   JOBS [2]                    build parallelism
#   SKIP_BUILD [0]              1: use the binaries already in BUILD_DIR
#   REPS [5]                    repetitions of every measurement; the table shows medians
#   SIZE_MB [256]               size of the single-stream object, MiB
#   PAIRS_SECONDS [5]           measured seconds of each small-object run
#   PAIRS_CONCURRENCY [16]      connections of each small-object run
#   PAIRS_BYTES [4096]          size of each small object
#   MOTO [moto_server on PATH, else /root/.pyenv/shims/moto_server]
#   MAX_BUSY_PCT [25]           before each repetition, wait while other processes keep more than
#                               this percentage of all CPUs busy (measured over 2 s) ...
#   MAX_WAIT_S [300]            ... but wait no longer than this in total
#   OUT_DIR [mktemp -d]         results.jsonl, logs; data/ under it holds every server's data, the
#                               source file and the reference copies (one filesystem)
#   KEEP_DATA [0]               1: leave data/ in place on exit (it holds several 256 MiB files)
#
# What is measured, per repetition:
#   reference   cp of the SIZE_MB file to a new file on the same filesystem (no sync: page cache),
#               cat of the file to /dev/null (page cache), openssl dgst -md5 of the file (the ETag's
#               hash, as the emulator computes it, through OpenSSL)
#   floor       the same curl commands against bench/s3/loopback_floor.py, which sends the file with
#               sendfile(2) and throws uploads away: what curl and loopback TCP manage on their own
#   single      curl -T (PUT, no Expect: 100-continue) and curl -o /dev/null (GET) of the file,
#               timed by curl (%{time_total}), for the emulator with fsync on, with fsync off, and
#               moto_server; the CPU time the server used for each transfer (from /proc/<pid>/stat)
#   pairs       stratus-s3-bench: PAIRS_CONCURRENCY keep-alive connections doing PUT+GET pairs of
#               PAIRS_BYTES objects for PAIRS_SECONDS, after 1 s of warm-up, against each server
# Every request to every server carries the same dummy (unverified) Authorization header: moto_server
# answers GETs of private objects without one with 403 (its anonymous-access ACL check); the
# emulator (SigV4 checking off, the default) and moto both ignore the signature itself.
# `sync -f` on the data filesystem runs (untimed) before every timed step, so no step pays for the
# write-back of an earlier one.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD_DIR=${BUILD_DIR:-$ROOT/build/release}
[[ $BUILD_DIR = /* ]] || BUILD_DIR=$ROOT/$BUILD_DIR
JOBS=${JOBS:-2}
SKIP_BUILD=${SKIP_BUILD:-0}
REPS=${REPS:-5}
SIZE_MB=${SIZE_MB:-256}
PAIRS_SECONDS=${PAIRS_SECONDS:-5}
PAIRS_CONCURRENCY=${PAIRS_CONCURRENCY:-16}
PAIRS_BYTES=${PAIRS_BYTES:-4096}
MAX_BUSY_PCT=${MAX_BUSY_PCT:-25}
MAX_WAIT_S=${MAX_WAIT_S:-300}
if [[ -z ${MOTO:-} ]]; then
  MOTO=$(command -v moto_server || true)
  [[ -n $MOTO ]] || MOTO=/root/.pyenv/shims/moto_server
fi
OUT_DIR=${OUT_DIR:-$(mktemp -d /tmp/stratus-s3-bench.XXXXXX)}
mkdir -p "$OUT_DIR"
[[ $OUT_DIR = /* ]] || OUT_DIR=$(cd "$OUT_DIR" && pwd)
DATA=$OUT_DIR/data
RESULTS=$OUT_DIR/results.jsonl
: > "$RESULTS"
AUTH='Authorization: AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000'

log() { echo "[s3-bench $(date +%H:%M:%S)] $*" >&2; }

# ---------------------------------------------------------------------------------------------
# Build
if [[ $SKIP_BUILD != 1 ]]; then
  if [[ ! -f $BUILD_DIR/build.ninja ]]; then
    log "configuring $BUILD_DIR"
    cmake -S "$ROOT" -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release >&2
  fi
  log "building (-j$JOBS)"
  cmake --build "$BUILD_DIR" -j"$JOBS" --target stratus-emulator stratus-s3-bench >&2
fi
EMULATOR=$BUILD_DIR/bin/stratus-emulator
PAIRS=$BUILD_DIR/bin/stratus-s3-bench
for f in "$EMULATOR" "$PAIRS" "$MOTO"; do
  [[ -x $f ]] || { log "missing $f"; exit 1; }
done
for tool in curl openssl python3; do
  command -v "$tool" > /dev/null || { log "missing $tool"; exit 1; }
done

# ---------------------------------------------------------------------------------------------
# Processes we start, so that only they are stopped (by pid) on exit; the bounded waits.
source "$ROOT/bench/bench_processes.sh"
cleanup() {
  stop_started
  # The data is only interesting while measuring (results and logs stay).
  if [[ ${KEEP_DATA:-0} != 1 ]]; then rm -rf "$DATA" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'log "stopped: line $LINENO: $BASH_COMMAND failed"' ERR

# start_emulator NAME FSYNC(true|false): sets EMU_PID and EMU_PORT.
start_emulator() {
  local dir=$DATA/$1
  rm -rf "$dir"
  mkdir -p "$dir/data"
  printf '{"s3": {"fsync": %s}}\n' "$2" > "$dir/config.json"
  "$EMULATOR" --config "$dir/config.json" --port 0 --bind 127.0.0.1 --data-dir "$dir/data" \
    > "$OUT_DIR/$1.log" 2>&1 &
  EMU_PID=$!
  STARTED_PIDS+=("$EMU_PID")
  if ! wait_for_file "$dir/data/emulator.endpoint" 15; then
    log "emulator $1 did not start; log:"; cat "$OUT_DIR/$1.log" >&2; exit 1
  fi
  local url
  url=$(head -n1 "$dir/data/emulator.endpoint")
  EMU_PORT=${url##*:}
  EMU_PORT=${EMU_PORT%%/*}
}

# A free loopback port (for moto_server, which cannot pick one itself). Racy in theory only.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_moto: sets MOTO_PID and MOTO_PORT. moto keeps objects in memory and spools big ones to
# TMPDIR, which is pointed at the data filesystem.
start_moto() {
  local dir=$DATA/moto i
  mkdir -p "$dir/tmp"
  MOTO_PORT=$(free_port)
  TMPDIR=$dir/tmp "$MOTO" -H 127.0.0.1 -p "$MOTO_PORT" > "$OUT_DIR/moto.log" 2>&1 &
  MOTO_PID=$!
  STARTED_PIDS+=("$MOTO_PID")
  for i in $(seq 1 300); do
    if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$MOTO_PORT/"; then return 0; fi
    alive moto_server "$MOTO_PID" || exit 1
    sleep 0.1
  done
  log "moto_server did not answer within 30 s; log:"; cat "$OUT_DIR/moto.log" >&2; exit 1
}

# CPU seconds (user + system) a process has used so far, its threads included.
cpu_s() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"
}

# record BENCH TARGET REP JSON
record() {
  python3 -c '
import json, sys
try:
    doc = json.loads(sys.argv[4])
except ValueError:
    doc = {"failed": True, "output": sys.argv[4]}
doc.update({"bench": sys.argv[1], "target": sys.argv[2], "rep": int(sys.argv[3]), "loadavg": sys.argv[5],
            "foreign_busy_pct": int(sys.argv[6])})
print(json.dumps(doc))' "$1" "$2" "$3" "$4" "$(loadavg)" "$BUSY" >> "$RESULTS"
}

settle() { sync -f "$DATA" 2>/dev/null || sync; }

now_ns() { date +%s%N; }

# timed_json BYTES CMD...: runs CMD, prints {"seconds", "mb_per_s"} (MB = 10^6 bytes).
timed_json() {
  local bytes=$1 t0 t1
  shift
  t0=$(now_ns)
  "$@"
  t1=$(now_ns)
  python3 -c 'import json, sys; s = (int(sys.argv[2]) - int(sys.argv[1])) / 1e9
print(json.dumps({"seconds": s, "mb_per_s": int(sys.argv[3]) / s / 1e6, "bytes": int(sys.argv[3])}))' "$t0" "$t1" "$bytes"
}

# curl_transfer PID put|get URL: one single-stream transfer timed by curl, with the server's CPU.
curl_transfer() {
  local pid=$1 kind=$2 url=$3 c0 c1 out rc=0
  c0=$(cpu_s "$pid")
  if [[ $kind == put ]]; then
    out=$(curl -sS --max-time 300 -T "$SRC" -H "$AUTH" -H 'Expect:' -H 'Content-Type: application/octet-stream' \
            -o "$OUT_DIR/last-put-response" -w '%{http_code} %{time_total} %{size_upload}' "$url") || rc=$?
  else
    out=$(curl -sS --max-time 300 -H "$AUTH" -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "$url") || rc=$?
  fi
  c1=$(cpu_s "$pid")
  python3 -c '
import json, sys
rc, out, want, c0, c1 = int(sys.argv[1]), sys.argv[2].split(), int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5])
doc = {"curl_rc": rc, "server_cpu_s": c1 - c0}
if len(out) == 3:
    status, seconds, size = int(out[0]), float(out[1]), int(float(out[2]))
    doc.update({"status": status, "seconds": seconds, "bytes": size,
                "mb_per_s": size / seconds / 1e6 if seconds > 0 else 0})
doc["ok"] = rc == 0 and doc.get("status") == 200 and doc.get("bytes") == want
print(json.dumps(doc))' "$rc" "$out" "$SIZE_BYTES" "$c0" "$c1"
}

# ---------------------------------------------------------------------------------------------
# Machine
mkdir -p "$DATA/ref"
{
  echo "machine: nproc $(nproc); $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'); kernel $(uname -r); $(awk '/MemTotal/ {printf "%.1f GB RAM", $2 / 1048576}' /proc/meminfo)"
  echo "filesystem of the data: $(df -T "$DATA" | awk 'NR == 2 {print $2 " on " $1}')"
  echo "commit: $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$ROOT" diff --quiet 2>/dev/null || echo ' (working tree has changes)')"
  echo "curl: $(curl --version | head -n1 | cut -d' ' -f1-2); moto: $("$MOTO" --version 2>/dev/null || python3 -c 'import moto; print(moto.__version__)' 2>/dev/null || echo '?')"
  echo "load average at start: $(loadavg)"
} > "$OUT_DIR/machine.txt"
cat "$OUT_DIR/machine.txt" >&2

SIZE_BYTES=$(( SIZE_MB * 1024 * 1024 ))
SRC=$DATA/ref/source.bin
log "writing the ${SIZE_MB} MiB source file"
head -c "$SIZE_BYTES" /dev/urandom > "$SRC"
cat "$SRC" > /dev/null

start_emulator emu-fsync true
EMU_FSYNC_PID=$EMU_PID EMU_FSYNC_PORT=$EMU_PORT
start_emulator emu-nofsync false
EMU_NOFSYNC_PID=$EMU_PID EMU_NOFSYNC_PORT=$EMU_PORT
start_moto
rm -f "$OUT_DIR/floor.port"
python3 "$ROOT/bench/s3/loopback_floor.py" --file "$SRC" --port-file "$OUT_DIR/floor.port" > "$OUT_DIR/floor.log" 2>&1 &
FLOOR_PID=$!
STARTED_PIDS+=("$FLOOR_PID")
wait_for_file "$OUT_DIR/floor.port" 10 || { log "loopback floor server did not start"; cat "$OUT_DIR/floor.log" >&2; exit 1; }
FLOOR_PORT=$(cat "$OUT_DIR/floor.port")
log "emulator (fsync) on $EMU_FSYNC_PORT, emulator (no fsync) on $EMU_NOFSYNC_PORT, moto_server on $MOTO_PORT, floor on $FLOOR_PORT"
TARGETS=(emu-fsync emu-nofsync moto)
declare -A PID_OF=([emu-fsync]=$EMU_FSYNC_PID [emu-nofsync]=$EMU_NOFSYNC_PID [moto]=$MOTO_PID)
declare -A PORT_OF=([emu-fsync]=$EMU_FSYNC_PORT [emu-nofsync]=$EMU_NOFSYNC_PORT [moto]=$MOTO_PORT)
for t in "${TARGETS[@]}"; do
  code=$(curl -s -o "$OUT_DIR/create-$t.txt" -w '%{http_code}' --max-time 30 -X PUT -H "$AUTH" \
           "http://127.0.0.1:${PORT_OF[$t]}/big") || true
  [[ $code == 200 ]] || { log "creating bucket 'big' on $t: HTTP $code"; cat "$OUT_DIR/create-$t.txt" >&2; exit 1; }
done

wait_for_quiet
echo "load average when measuring began: $(loadavg); other processes kept ${BUSY}% of the CPUs busy" >> "$OUT_DIR/machine.txt"

for rep in $(seq 1 "$REPS"); do
  (( rep == 1 )) || wait_for_quiet
  log "repetition $rep of $REPS (load $(loadavg), others ${BUSY}% busy)"

  # Reference: the same bytes through plain file operations on the same filesystem.
  settle
  rm -f "$DATA/ref/copy.bin"
  record ref_copy local "$rep" "$(timed_json "$SIZE_BYTES" cp "$SRC" "$DATA/ref/copy.bin")"
  rm -f "$DATA/ref/copy.bin"
  settle
  record ref_read local "$rep" "$(timed_json "$SIZE_BYTES" sh -c 'cat "$1" > /dev/null' sh "$SRC")"
  record ref_md5 local "$rep" "$(timed_json "$SIZE_BYTES" sh -c 'openssl dgst -md5 "$1" > /dev/null' sh "$SRC")"

  # The loopback floor: curl against a server that does (almost) nothing.
  settle
  record put floor "$rep" "$(curl_transfer "$FLOOR_PID" put "http://127.0.0.1:$FLOOR_PORT/floor")"
  record get floor "$rep" "$(curl_transfer "$FLOOR_PID" get "http://127.0.0.1:$FLOOR_PORT/floor")"
  alive "loopback floor" "$FLOOR_PID"

  # Single-stream PUT then GET of the same key, server by server.
  for t in "${TARGETS[@]}"; do
    url=http://127.0.0.1:${PORT_OF[$t]}/big/object-$SIZE_MB
    settle
    record put "$t" "$rep" "$(curl_transfer "${PID_OF[$t]}" put "$url")"
    settle
    record get "$t" "$rep" "$(curl_transfer "${PID_OF[$t]}" get "$url")"
    alive "$t" "${PID_OF[$t]}"
  done

  # Small-object PUT+GET pairs.
  for t in "${TARGETS[@]}"; do
    settle
    c0=$(cpu_s "${PID_OF[$t]}")
    out=$(timeout $(( PAIRS_SECONDS + 120 )) "$PAIRS" --port "${PORT_OF[$t]}" --bucket small -H "$AUTH" \
            --key-prefix "r$rep-" -c "$PAIRS_CONCURRENCY" --object-bytes "$PAIRS_BYTES" \
            --duration "$PAIRS_SECONDS" --warmup 1 --max-seconds $(( PAIRS_SECONDS + 60 )) --json) \
      || log "  pairs against $t reported a problem: $out"
    c1=$(cpu_s "${PID_OF[$t]}")
    out=$(python3 -c 'import json, sys
try:
    d = json.loads(sys.argv[1]); d["server_cpu_s_with_warmup"] = float(sys.argv[3]) - float(sys.argv[2]); print(json.dumps(d))
except ValueError:
    print(sys.argv[1])' "$out" "$c0" "$c1")
    record pairs "$t" "$rep" "$out"
    alive "$t" "${PID_OF[$t]}"
  done
done
echo "load average at the end: $(loadavg); waited ${WAITED_S}s in total for a quieter machine" >> "$OUT_DIR/machine.txt"

# ---------------------------------------------------------------------------------------------
python3 "$ROOT/bench/s3/summarize_s3.py" "$RESULTS" "$OUT_DIR/machine.txt"
log "raw results in $RESULTS (bench/s3/summarize_s3.py $RESULTS re-prints the table)"
