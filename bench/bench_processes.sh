# Sourced by the bench scripts (bench/run_benchmarks.sh, bench/s3/run_s3_bench.sh,
# bench/load/run_warm_ab.sh, bench/async_accept/run_accept_bench.sh): the processes a script
# starts and how it waits for them, so that every script stops only what it started (by pid) and
# every wait is bounded. The sourcing script defines log MESSAGE (its progress, to stderr).

# Processes the script started (it appends each pid); stop_started stops them all.
STARTED_PIDS=()

# SIGTERM to each, then up to 10 s for each to go before SIGKILL. For `trap ... EXIT`.
stop_started() {
  local pid
  for pid in "${STARTED_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid" 2>/dev/null || true; fi
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  done
}

# stop_pid PID: SIGTERM, up to 20 s for a clean exit, then SIGKILL.
stop_pid() {
  kill -TERM "$1" 2>/dev/null || return 0
  local i
  for i in $(seq 1 200); do
    kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "pid $1 ignored SIGTERM for 20 s; killing it"
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# alive NAME PID: fails loudly when a process we started has gone (e.g. something else on the
# machine stopped it), instead of measuring a dead daemon.
alive() {
  kill -0 "$2" 2>/dev/null && return 0
  log "$1 (pid $2) is gone; see its log under $OUT_DIR"
  return 1
}

# wait_for_file FILE SECONDS: until FILE exists and is not empty (a daemon's endpoint file).
wait_for_file() {
  local i
  for i in $(seq 1 $(( $2 * 100 ))); do
    [[ -s $1 ]] && return 0
    sleep 0.01
  done
  return 1
}

# start_floor NAME BINARY: starts a stratus-http-floor on a free loopback port, its endpoint and
# log under $OUT_DIR/NAME.*; sets FLOOR_STARTED_PID and FLOOR_STARTED_URL (its /echo route).
start_floor() {
  rm -f "$OUT_DIR/$1.endpoint"
  "$2" --endpoint-file "$OUT_DIR/$1.endpoint" > "$OUT_DIR/$1.log" 2>&1 &
  FLOOR_STARTED_PID=$!
  STARTED_PIDS+=("$FLOOR_STARTED_PID")
  wait_for_file "$OUT_DIR/$1.endpoint" 10 || { log "$1 server ($2) did not start"; exit 1; }
  FLOOR_STARTED_URL=$(head -n1 "$OUT_DIR/$1.endpoint")/echo
}

# wait_for_idle URL FUNCTION COUNT [SECONDS=30]: polls the emulator's environments endpoint until
# COUNT environments of FUNCTION are idle.
wait_for_idle() {
  local url=$1 function=$2 count=$3 seconds=${4:-30} i
  for i in $(seq 1 $(( seconds * 10 ))); do
    if curl -sf "$url/stratus/v1/environments" | /usr/bin/python3 -c "
import json, sys
envs = json.load(sys.stdin)['environments']
n = sum(1 for e in envs if e['function'] == '$function' and e['state'] == 'idle')
sys.exit(0 if n >= $count else 1)"; then
      return 0
    fi
    sleep 0.1
  done
  log "only some of $count environments of $function became idle"
  return 1
}

loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

# Percent of all CPUs busy over the next 2 seconds. Called while none of our own processes is
# working, it measures what everybody else on the machine is doing (the load average cannot tell
# that apart from our own previous runs).
busy_pct() {
  local a b
  a=$(head -n1 /proc/stat)
  sleep 2
  b=$(head -n1 /proc/stat)
  awk -v a="$a" -v b="$b" 'BEGIN {
    na = split(a, x); split(b, y); total = 0; idle = 0
    for (i = 2; i <= na; i++) { d = y[i] - x[i]; if (i <= 9) total += d; if (i == 5 || i == 6) idle += d }
    pct = 0; if (total > 0) pct = 100 * (total - idle) / total
    printf "%.0f", pct }'
}

# wait_for_quiet: waits while other work keeps more than MAX_BUSY_PCT of the CPUs busy; all waits
# together are bounded by MAX_WAIT_S, after which measurements go on and the busy figure (BUSY) is
# recorded with them. WAITED_S says how long it waited in all.
WAITED_S=0
BUSY=0
wait_for_quiet() {
  BUSY=$(busy_pct)
  while (( BUSY > MAX_BUSY_PCT )); do
    if (( WAITED_S >= MAX_WAIT_S )); then
      log "other work keeps ${BUSY}% of the CPUs busy (load $(loadavg)); wait budget spent, measuring anyway"
      return 0
    fi
    log "other work keeps ${BUSY}% of the CPUs busy (load $(loadavg)); waiting"
    sleep 10
    WAITED_S=$(( WAITED_S + 12 ))
    BUSY=$(busy_pct)
  done
}
