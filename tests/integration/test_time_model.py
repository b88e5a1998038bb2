"""Modeled AWS time (issue 10): a CPU-bound function's modeled duration does not depend on how
oversubscribed the 2-core host is, at 1769 MB (1 vCPU) and at 512 MB (0.29 vCPU, CFS quota); an
S3-heavy function's modeled S3 time follows the configured profile; the figures reach the response
headers, the log tail, /stratus/v1/usage and /metrics; time_model "off" turns them off."""

import base64
import concurrent.futures
import json
import os
import sys
import statistics
import subprocess
import time

from conftest import code_dir_with_cpp_bootstrap, cpp_function, default_config

ITERATIONS = 40_000_000  # about 85 ms of CPU on this machine: the whole test takes seconds
CONCURRENT = 16
TOLERANCE = 0.10


def measured_duration(result):
    tail = base64.b64decode(result.headers["x-amz-log-result"]).decode()
    report = [line for line in tail.splitlines() if line.startswith("REPORT ")][-1]
    return float(report.split("\tDuration: ")[1].split(" ")[0])


ASK_MODELED = {"X-Amz-Log-Type": "Tail", "X-Stratus-Modeled": "1"}


def spin(emulator, function):
    result = emulator.invoke_raw(function, json.dumps({"iterations": ITERATIONS}).encode(),
                                 headers=ASK_MODELED, timeout=120)
    assert result.status == 200, result
    assert "x-amz-function-error" not in result.headers, result
    return result


def alone_reference(emulator, function):
    """(measured duration of the function run alone, its modeled duration with the sibling vCPU
    busy, quiet?, the band of modeled durations alone runs give). The machine is shared (other
    builds and tests), so a run counts as alone only when its measured duration is within 5% of its
    CPU work at the function's share; the quietest of a bounded number of tries is used.

    The host's two vCPUs may be hyperthreads of one core: a thread gets less done per CPU-second
    while its sibling is busy, so the same work's CPU time, and with it the modeled duration, moves
    with what runs on the other vCPU (seen: 20-29% at 512 MB). The concurrent runs have their
    sibling busy with other spinners for some of the time only (quota-throttled ones leave it idle
    in between), so the alone runs are made both ways: next to a spinning process (one thread, so
    the host is still not oversubscribed) and next to an idle sibling. The band between the two is
    what the same work's modeled duration is on this host, however loaded."""
    sibling = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        measured, busy_modeled, quiet = _quietest_alone_run(emulator, function)
    finally:
        sibling.kill()
        sibling.wait()
    _, idle_modeled, _ = _quietest_alone_run(emulator, function)
    return measured, busy_modeled, quiet, (min(busy_modeled, idle_modeled), max(busy_modeled, idle_modeled))


def _quietest_alone_run(emulator, function):
    # The quietest of the runs for the measured figure; the median of their modeled figures, so
    # one run that caught its sibling idle does not set the reference.
    best = None
    modeled_runs = []
    for attempt in range(30):
        result = spin(emulator, function)
        measured = measured_duration(result)
        modeled_runs.append(float(result.headers["x-stratus-modeled-duration-ms"]))
        work = float(result.headers["x-stratus-modeled-cpu-ms"])  # CPU time / share
        if best is None or measured < best[0]:
            best = (measured, measured <= work * 1.05 + 2)
        if best[1] and attempt >= 4:
            break
    return best[0], statistics.median(modeled_runs), best[1]


def test_cpu_bound_modeled_duration_ignores_oversubscription(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(functions=[
        cpp_function("spin1769", "spin", code, memory_mb=1769, timeout_s=60),
        cpp_function("spin512", "spin", code, memory_mb=512, timeout_s=60),
    ]))
    for function in ("spin1769", "spin512"):
        spin(emulator, function)  # warm one environment
        alone, alone_modeled, quiet, (low, high) = alone_reference(emulator, function)
        with concurrent.futures.ThreadPoolExecutor(CONCURRENT) as pool:
            results = list(pool.map(lambda _: spin(emulator, function), range(CONCURRENT)))
        modeled = [float(r.headers["x-stratus-modeled-duration-ms"]) for r in results]
        measured = [measured_duration(r) for r in results]
        print(function, "alone measured", alone, "quiet" if quiet else "(host busy)", "modeled alone",
              alone_modeled, "band", low, "-", high, "concurrent measured median", statistics.median(measured),
              "concurrent modeled", min(modeled), "-", max(modeled))
        # The host really was oversubscribed: 16 one-vCPU (or 0.29) functions on 2 cores.
        # (16 x 0.29 vCPU is only 2.3x what 2 cores give, so the bar is set by the share.)
        share = min(1.0, (1769 if function == "spin1769" else 512) / 1769)
        expected_slowdown = CONCURRENT * share / (os.cpu_count() or 2)
        # 0.6, not 1: the 16 environments start one after another (most are cold), so they do not
        # all overlap for the whole run; 6.3x of the expected 8x was seen in a full parallel suite.
        assert statistics.median(measured) > 0.6 * expected_slowdown * alone_modeled, (function, measured, alone_modeled)
        # Against the alone runs' own modeled durations: the alone-measured one is not a stable
        # reference here (bench/time_model/validate.py records that comparison), and the modeled one
        # moves with the hyperthread sibling's load (alone_reference). The concurrent runs' modeled
        # duration (their median) within 10% of that band; every single one within 20%: 16
        # environments thrashing two cores' caches (and the parallel test suite around them) inflate
        # a few runs' CPU time itself. Oversubscription alone would put them 2.3-8x above it.
        median = statistics.median(modeled)
        assert low * (1 - TOLERANCE) <= median <= high * (1 + TOLERANCE), (function, low, high, modeled)
        for value in modeled:
            assert low * (1 - 2 * TOLERANCE) <= value <= high * (1 + 2 * TOLERANCE), (function, value, low, high, modeled)


def test_s3_heavy_function_follows_the_profile(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    profile = {"read": {"first_byte_ms": 40, "mb_per_s": 50}, "write": {"first_byte_ms": 70, "mb_per_s": 20}}
    emulator = start_emulator(default_config(
        s3_profile=profile,
        functions=[cpp_function("s3heavy", "s3_transfer", code, memory_mb=1769, timeout_s=60)]))
    emulator.s3_client().create_bucket(Bucket="modeled")
    size, gets = 4_000_000, 5
    event = {"bucket": "modeled", "key": "blob", "bytes": size, "gets": gets}
    for attempt in range(2):  # cold, then warm
        result = emulator.invoke_raw("s3heavy", json.dumps(event).encode(),
                                     headers=ASK_MODELED, timeout=120)
        assert result.status == 200 and "x-amz-function-error" not in result.headers, result
        expected = (70 + size / 20e6 * 1000) + gets * (40 + size / 50e6 * 1000)
        assert int(result.headers["x-stratus-modeled-s3-requests"]) == 1 + gets
        assert abs(float(result.headers["x-stratus-modeled-s3-ms"]) - expected) < 0.05
        modeled = float(result.headers["x-stratus-modeled-duration-ms"])
        cpu = float(result.headers["x-stratus-modeled-cpu-ms"])
        other = float(result.headers["x-stratus-modeled-other-ms"])
        assert abs(modeled - (expected + cpu + other)) < 0.05
        # Loopback S3 is far faster than the profile: the measured time is not what is modeled.
        assert other < 0.5 * expected
    # The operator's own S3 requests (key "test") are not attributed to any environment.
    usage = emulator.usage()
    assert usage["functions"]["s3heavy"]["modeled"]["invocations"] == 2
    assert abs(usage["functions"]["s3heavy"]["modeled"]["s3_ms"] - 2 * expected) < 0.2


def test_modeled_figures_in_log_usage_and_metrics(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(functions=[cpp_function("spin", "spin", code, memory_mb=1024, timeout_s=60)]))
    result = spin(emulator, "spin")
    tail = base64.b64decode(result.headers["x-amz-log-result"]).decode()
    modeled_line = [line for line in tail.splitlines() if line.startswith("MODELED ")]
    assert len(modeled_line) == 1 and "Init Duration:" in modeled_line[0]
    duration = float(result.headers["x-stratus-modeled-duration-ms"])
    init = float(result.headers["x-stratus-modeled-init-ms"])
    billed = int(result.headers["x-stratus-modeled-billed-ms"])
    assert billed == max(1, -int(-(duration + init) // 1))  # ceil, init billed (custom runtime)
    cost = float(result.headers["x-stratus-modeled-cost-usd"])
    assert abs(cost - (0.2e-6 + 1024 / 1024 * billed / 1000 * 0.0000166667)) < 1e-12
    usage = emulator.usage()["functions"]["spin"]["modeled"]
    assert usage["invocations"] == 1 and usage["billed_ms"] == billed
    assert abs(usage["cost_usd"] - cost) < 1e-9
    metrics = emulator.request("GET", "/metrics").body.decode()
    assert f'stratus_modeled_billed_milliseconds_total{{function="spin"}} {billed}' in metrics
    # The log stream on disk has the same line.
    emulator.function_logs_once("spin", lambda logs: any(line.startswith("MODELED ") for line in logs.splitlines()))


def test_modeled_headers_only_when_asked(start_emulator, tmp_path):
    """AWS sends no X-Stratus-Modeled-* headers, so by default neither does the emulator; a caller
    asks with X-Stratus-Modeled: 1. The MODELED log line is written either way."""
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(functions=[cpp_function("spin", "spin", code, memory_mb=1024)]))
    payload = json.dumps({"iterations": 1000}).encode()
    names = {"duration-ms", "billed-ms", "init-ms", "cpu-ms", "s3-ms", "other-ms", "s3-requests", "cost-usd"}

    def modeled_of(headers):
        result = emulator.invoke_raw("spin", payload, headers=headers)
        assert result.status == 200 and "x-amz-function-error" not in result.headers, result
        return {h[len("x-stratus-modeled-"):]: v for h, v in result.headers.items()
                if h.startswith("x-stratus-modeled-")}, result

    for headers in ({"X-Amz-Log-Type": "Tail"}, {"X-Amz-Log-Type": "Tail", "X-Stratus-Modeled": "0"}):
        modeled, result = modeled_of(headers)
        assert modeled == {}, modeled
        tail = base64.b64decode(result.headers["x-amz-log-result"]).decode()
        assert len([line for line in tail.splitlines() if line.startswith("MODELED ")]) == 1, tail
    modeled, result = modeled_of({"X-Stratus-Modeled": "1"})
    assert set(modeled) == names, modeled
    assert modeled["init-ms"] == "0.00" and int(modeled["billed-ms"]) >= 1
    assert float(modeled["duration-ms"]) > 0
    # A value other than 0 or 1 is refused like any other bad parameter.
    refused = emulator.invoke_raw("spin", payload, headers={"X-Stratus-Modeled": "yes"})
    assert refused.status == 400, refused
    assert refused.headers["x-amzn-errortype"].startswith("InvalidParameterValue"), refused.headers
    assert emulator.usage()["functions"]["spin"]["invocations"] == 3


def test_ended_environments_leave_no_descriptors(start_emulator, tmp_path):
    """The daemon keeps each environment's schedstat files open between invocations; they, like the
    environment's other descriptors, are closed when the environment ends. Every invoke of "crash"
    ends its environment; ten of them must not grow the daemon's descriptor count."""
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(functions=[cpp_function("crash", "crash", code)]))
    pid = emulator.process.pid

    def crash_once():
        result = emulator.invoke_raw("crash", b"{}", headers={"X-Stratus-Modeled": "1"})
        assert result.status == 200 and result.headers.get("x-amz-function-error") == "Unhandled", result

    def settled_fd_count():
        # The pre-fork pool refills in the background; take the smallest of a few readings.
        counts = []
        for _ in range(10):
            counts.append(len(os.listdir(f"/proc/{pid}/fd")))
            time.sleep(0.05)
        return min(counts)

    crash_once()
    baseline = settled_fd_count()
    for _ in range(10):
        crash_once()
    # A leak of the probe's descriptors (task directory + one per thread) would add 20 or more.
    assert settled_fd_count() <= baseline + 3, (baseline, os.listdir(f"/proc/{pid}/fd"))


def test_time_model_off(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(time_model="off",
                                             functions=[cpp_function("spin", "spin", code, memory_mb=1024)]))
    result = spin(emulator, "spin")
    assert not [h for h in result.headers if h.startswith("x-stratus-modeled-")]
    assert "MODELED " not in base64.b64decode(result.headers["x-amz-log-result"]).decode()
    assert emulator.usage()["functions"]["spin"]["modeled"]["invocations"] == 0


def test_bad_time_model_config_is_refused(tmp_path):
    from conftest import Emulator, EMULATOR_BIN
    import subprocess
    for bad in ({"time_model": "gcp"}, {"s3_profile": {"read": {"first_byte_ms": -1}}},
                {"s3_profile": {"write": {"mb_per_s": 0}}}, {"s3_profile": {"other": {}}}):
        config = tmp_path / "bad.json"
        config.write_text(json.dumps(bad))
        out = subprocess.run([str(EMULATOR_BIN), "--config", str(config), "--port", "0",
                              "--data-dir", str(tmp_path / "d")], capture_output=True, text=True, timeout=20)
        assert out.returncode != 0
        assert "config field" in out.stderr + out.stdout, (bad, out.stderr)
