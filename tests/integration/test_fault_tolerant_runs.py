"""Training runs that survive injected faults: for every fault kind, a small Case A in both
orchestrations (functions: Event invokes, merges through S3; driver: the trainer invokes each worker)
and linreg finish with the same model as the fault-free run, and the emulator counted the faults.
One emulator serves every kind (the plan is swapped through the admin API); runs are small. Its
async retries come after 60 ms (retry_delay_scale 0.001); a worker SIGKILLed mid-round with
Lambda's retry far off is revived by the trainer once its alive record's lease runs out (its own
emulator, the last test)."""

import json
import os
import subprocess
import time

import pytest

from conftest import BIN_DIR, BUILD_DIR, Emulator, default_config

TRAINER = str(BIN_DIR / "stratus-trainer")
PRODUCT_CODE = BUILD_DIR / "functions" / "stratus"
FUNCTION = "model_averaging"

# Small Case A: 4 workers, tree 1,2,4, 2 rounds on 4,000 samples; short stall detection so lost
# events are re-sent quickly.
CASE_A = ["--workers", 4, "--merge-tree", "1,2,4", "--rounds", 2, "--samples", 4000, "--seed", 3,
          "--poll-ms", 50]
LINREG = ["--samples", 3000, "--features", 6, "--workers", 4, "--epochs", 3, "--seed", 5]
# Small layers-as-functions network: 6 steps of 3+2+1 slices forward and backward (72 `layer`
# invocations), every step's batch, parameters, activations and gradients in S3 under runs/.
LAYERS = ["--layers", "6,5,3,1", "--neurons-per-function", 2, "--samples", 48, "--batch-size", 16,
          "--epochs", 2, "--seed", 4, "--optimizer", "adam", "--learning-rate", 0.02]
# Event faults cannot reach the layers workload: the trainer calls every slice request-response.
LAYER_KINDS = ["crash", "straggler", "invoke_latency", "throttle", "s3_latency", "s3_slow_down",
               "s3_internal_error"]

# One plan per kind, aimed at the run's function and bucket; schedules where an exact hit matters.
PLANS = {
    "drop_event": {"kind": "drop_event", "function": FUNCTION, "schedule": [2, 7]},
    "duplicate_event": {"kind": "duplicate_event", "function": FUNCTION, "probability": 0.4},
    "crash": {"kind": "crash", "function": "*", "schedule": [3, 8], "crash_after_min_ms": 0,
              "crash_after_max_ms": 150},
    "straggler": {"kind": "straggler", "function": "*", "schedule": [2, 6], "factor": 5},
    "invoke_latency": {"kind": "invoke_latency", "function": "*", "probability": 0.3, "latency_ms": 150},
    "throttle": {"kind": "throttle", "function": "*", "probability": 0.2},
    "s3_latency": {"kind": "s3_latency", "bucket": "*", "key_prefix": "runs/", "probability": 0.1,
                   "latency_ms": 100},
    "s3_slow_down": {"kind": "s3_slow_down", "bucket": "*", "key_prefix": "runs/", "probability": 0.05},
    "s3_internal_error": {"kind": "s3_internal_error", "bucket": "*", "key_prefix": "runs/", "probability": 0.05},
}


def trainer_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    return env


def run(tmp_path, name, command, *args, timeout=240, html=False):
    report = tmp_path / f"{name}.json"
    extra = ["--html", str(tmp_path / f"{name}.html")] if html else []
    completed = subprocess.run([TRAINER, command, *[str(a) for a in args], "--report", str(report), *extra],
                               capture_output=True, text=True, env=trainer_env(), timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-4000:] + completed.stdout[-2000:]
    result = json.loads(report.read_text())
    # The table ends with the fault list: the total, then a line per kind and handling.
    faults = result["faults"]
    if faults["record"]:
        assert f"faults: {faults['injected']} injected during the run" in completed.stdout, completed.stdout
        for kind, entry in faults["by_kind"].items():
            for how, n in entry["handled"].items():
                assert any(line.split()[:2] == [kind, str(n)] and line.endswith(how)
                           for line in completed.stdout.splitlines()), (kind, how, completed.stdout)
    if html:
        page = (tmp_path / f"{name}.html").read_text()
        assert '<table id="faults-by-kind">' in page or not faults["list"]
        for f in faults["list"]:
            assert f["request_id"] in page
    return result


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    work = tmp_path_factory.mktemp("fault-runs")
    common = {"code_dir": str(PRODUCT_CODE), "memory_mb": 1769, "timeout_s": 60}
    functions = [{"name": FUNCTION, "handler": FUNCTION, "recursive_loop": "Allow", **common},
                 {"name": "gradient", "handler": "gradient", **common},
                 {"name": "layer", "handler": "layer", **common}]
    emu = Emulator(work / "emu", default_config(functions=functions)).start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    work = tmp_path_factory.mktemp("baselines")
    casea = run(work, "casea", "casea", *CASE_A, "--target", "local", "--orchestration", "driver")
    linreg = run(work, "linreg", "linreg", *LINREG, "--target", "local")
    layers = run(work, "layers", "layers", *LAYERS, "--target", "local")
    return {"casea": casea, "linreg": linreg, "layers": layers}


REVIVED_AFTER_LEASE = "revived by the trainer (--revive-after: no live lease left); a late retry steps aside"

# How the run may deal with each kind (the report's "handled"), by where the fault struck: calls the
# trainer made request-response (driver, linreg, layers), or the functions orchestration's events.
SYNC_HANDLING = {
    "crash": {"retried by the trainer's fan-out", "the invocation ended before the kill",
              "answered anyway (the kill came as the invocation ended)"},
    "straggler": {"waited for"},
    "invoke_latency": {"waited for"},
    "throttle": {"retried after back-off by the trainer's fan-out"},
    "s3_latency": {"waited for"},
    "s3_slow_down": {"retried with back-off by the S3 client"},
    "s3_internal_error": {"retried with back-off by the S3 client"},
}
EVENT_HANDLING = dict(SYNC_HANDLING, **{
    "drop_event": {"re-sent by the trainer's stall detection (--revive-after)"},
    "duplicate_event": {"ran twice; results keyed by (run, round, worker): the second run changed nothing"},
    "crash": {"retried by Lambda's async retry (the event runs again)", "the invocation ended before the kill",
              REVIVED_AFTER_LEASE},
    "straggler": {"waited for (an Event invocation)"},
    "invoke_latency": {"waited for"},
    "throttle": {"retried after back-off by the caller's Event invoke"},
})


def recorded(emulator, report, functions, bucket=None):
    """The emulator's record of the faults it injected in the report's window on the run's
    functions and bucket: (kind, request id) pairs."""
    window = report["faults"]["window"]
    out = []
    for entry in emulator.get_json("/stratus/v1/faults")["recent"]:
        if "detail" in entry or not window["from"] <= entry["time"] <= window["to"]:
            continue
        target = entry["target"]
        if target in functions or (bucket and target.split("/", 1)[0] == bucket):
            out.append((entry["kind"], entry["request_id"]))
    return sorted(out)


def check_fault_list(emulator, report, kind, injected_during, functions, bucket=None, events=False,
                     backup=False):
    """The report lists exactly the faults the emulator recorded for the run, each with its request
    id and an expected way it was handled; by_kind sums to the list."""
    faults = report["faults"]
    assert faults["record"], faults
    listed = sorted((f["kind"], f["request_id"]) for f in faults["list"])
    assert listed == recorded(emulator, report, functions, bucket), faults
    assert all(f["request_id"] for f in faults["list"])
    assert faults["injected"] == len(listed)
    # Request-response runs leave nothing behind: every fault the emulator counted during the run
    # is on its list. The functions orchestration's last S3 requests may trail the trainer's end.
    if events:
        assert len(listed) <= injected_during
    else:
        assert len(listed) == injected_during, (len(listed), injected_during, faults)
    assert sum(k["count"] for k in faults["by_kind"].values()) == len(listed)
    # Event faults cannot reach request-response runs: nothing to list there.
    expected = (EVENT_HANDLING if events else SYNC_HANDLING).get(kind, set())
    if backup:
        expected = {"backed up"}
    for f in faults["list"]:
        assert f["kind"] == kind
        assert any(f["handled"].startswith(e) for e in expected), (f, expected)
    if kind == "throttle" and not events:
        assert faults["trainer"]["throttled"] == len(listed)
    if kind == "crash":
        # At least one SIGKILL struck (its note is the fault's detail), and every one was retried.
        fired = [f for f in faults["list"] if "detail" in f]
        assert fired, faults["list"]
        if not events:  # each call a SIGKILL failed was retried (one the kill raced may have answered)
            retried = [f for f in fired if f["handled"] == "retried by the trainer's fan-out"]
            assert faults["trainer"]["function_errors"] + faults["trainer"]["timed_out"] >= len(retried)
    print(f"  {report['workload']} {report.get('configuration', {}).get('orchestration', '')}: "
          f"{json.dumps(faults['by_kind'])} trainer {json.dumps(faults['trainer'])}")
    return len(listed)


def set_plan(emulator, kind, seed, crash_within_ms=None):
    """crash_within_ms: the SIGKILL comes within this many ms of the invocation's start (0: at once).
    The driver's worker calls take some tens of ms, linreg's and the layers' a few: a later kill
    would find the invocation ended."""
    rule = PLANS[kind]
    if kind == "crash" and crash_within_ms is not None:
        rule = dict(rule, crash_after_max_ms=crash_within_ms)
    answer = emulator.request("PUT", "/stratus/v1/faults", json.dumps({"seed": seed, "rules": [rule]}))
    assert answer.status == 200, answer


def injected(emulator, kind):
    return sum(emulator.usage().get("faults", {}).get(kind, {}).values())


@pytest.mark.parametrize("kind", list(PLANS))
def test_case_a_and_linreg_survive(emulator, baselines, tmp_path, kind):
    url = emulator.url
    bucket = f"runs-{kind}".replace("_", "-")
    before = injected(emulator, kind)
    set_plan(emulator, kind, seed=11)
    listed = {}
    mark = injected(emulator, kind)
    functions = run(tmp_path, "functions", "casea", *CASE_A, "--target", url, "--bucket", bucket,
                    "--revive-after", 3, html=True)
    assert functions["model_sha256"] == baselines["casea"]["model_sha256"], kind
    listed["functions"] = check_fault_list(emulator, functions, kind, injected(emulator, kind) - mark,
                                           {FUNCTION}, bucket, events=True)
    # A fresh plan per run: each meets its schedule's faults.
    set_plan(emulator, kind, seed=11, crash_within_ms=20)
    mark = injected(emulator, kind)
    driver = run(tmp_path, "driver", "casea", *CASE_A, "--target", url, "--orchestration", "driver",
                 "--bucket", bucket)
    assert driver["model_sha256"] == baselines["casea"]["model_sha256"], kind
    listed["driver"] = check_fault_list(emulator, driver, kind, injected(emulator, kind) - mark, {FUNCTION}, bucket)
    set_plan(emulator, kind, seed=11, crash_within_ms=0)
    mark = injected(emulator, kind)
    linreg = run(tmp_path, "linreg", "linreg", *LINREG, "--target", url, html=True)
    assert linreg["weights"] == baselines["linreg"]["weights"] and linreg["bias"] == baselines["linreg"]["bias"]
    listed["linreg"] = check_fault_list(emulator, linreg, kind, injected(emulator, kind) - mark, {"gradient"})
    emulator.request("DELETE", "/stratus/v1/faults")
    # The faults happened (S3 faults only strike the Case A runs' S3 traffic).
    assert injected(emulator, kind) > before, emulator.get_json("/stratus/v1/faults")
    print(f"{kind}: {injected(emulator, kind) - before} injected; listed by the reports: {listed}")


@pytest.mark.parametrize("kind", LAYER_KINDS)
def test_layers_survive(emulator, baselines, tmp_path, kind):
    before = injected(emulator, kind)
    bucket = f"layers-{kind}".replace("_", "-")
    set_plan(emulator, kind, seed=13, crash_within_ms=0)
    try:
        report = run(tmp_path, "layers", "layers", *LAYERS, "--target", emulator.url,
                     "--bucket", bucket, "--run-id", f"faults-{kind}".replace("_", "-"), html=True)
    finally:
        emulator.request("DELETE", "/stratus/v1/faults")
    assert report["model_sha256"] == baselines["layers"]["model_sha256"], kind
    assert [s["loss"] for s in report["steps"]] == [s["loss"] for s in baselines["layers"]["steps"]]
    assert injected(emulator, kind) > before, emulator.get_json("/stratus/v1/faults")
    listed = check_fault_list(emulator, report, kind, injected(emulator, kind) - before, {"layer"}, bucket)
    print(f"layers {kind}: {injected(emulator, kind) - before} injected, {listed} listed by the report")


def test_driver_backs_up_stragglers_and_the_first_answer_wins(emulator, baselines, tmp_path):
    """Two worker calls slowed 100-fold: once one has run twice the median time of its round's
    answered calls, the fan-out sends an identical second call (to an idle, warm environment),
    whose answer is used; the model is bit-identical and the report says a backup was launched."""
    plan = {"kind": "straggler", "function": FUNCTION, "schedule": [2, 6], "factor": 100}
    emulator.request("PUT", "/stratus/v1/faults", json.dumps({"seed": 17, "rules": [plan]}))
    mark = injected(emulator, "straggler")
    try:
        driver = run(tmp_path, "backup", "casea", *CASE_A, "--target", emulator.url, "--orchestration", "driver",
                     "--bucket", "runs-backup", "--backup-after-median", 2, "--backup-after", 5)
    finally:
        emulator.request("DELETE", "/stratus/v1/faults")
    assert driver["model_sha256"] == baselines["casea"]["model_sha256"]
    faults = driver["faults"]
    # Both stragglers were backed up (a slow cold start may have been too).
    assert sum(r["backups"] for r in driver["rounds"]) == faults["trainer"]["backups"] >= 2, driver["rounds"]
    assert check_fault_list(emulator, driver, "straggler", injected(emulator, "straggler") - mark,
                            {FUNCTION}, "runs-backup", backup=True) == 2
    assert all(f["handled"].startswith("backed up") for f in faults["list"]), faults["list"]


def test_layers_back_up_stragglers_and_the_first_answer_wins(emulator, baselines, tmp_path):
    """The same for the layers workload: a backed-up slice's twin computes the same objects (the
    straggler, finishing later, writes identical bytes or finds them written), so the model stays
    bit-identical.

    Backed up after 50 ms, not by the median: a slice call is a few ms, mostly S3 round trips,
    which SIGSTOP pacing does not slow (they complete while the process is stopped), so the
    100-fold straggler takes only ~200 ms; on a loaded machine the other calls' median grew to a
    third of that and the straggler answered before 3x the median ('waited for'). 50 ms is less
    than one pacing period, so every straggler passes it; loaded machines back up more calls than
    the two stragglers, which the run must (and does) absorb."""
    plan = {"kind": "straggler", "function": "layer", "schedule": [5, 30], "factor": 100}
    emulator.request("PUT", "/stratus/v1/faults", json.dumps({"seed": 19, "rules": [plan]}))
    mark = injected(emulator, "straggler")
    try:
        report = run(tmp_path, "layers-backup", "layers", *LAYERS, "--target", emulator.url,
                     "--bucket", "layers-backup", "--run-id", "faults-backup", "--backup-after-median", 3,
                     "--backup-after", 0.05, html=True)
    finally:
        emulator.request("DELETE", "/stratus/v1/faults")
    assert report["model_sha256"] == baselines["layers"]["model_sha256"]
    faults = report["faults"]
    assert sum(s["backups"] for s in report["steps"]) == faults["trainer"]["backups"] >= 2
    assert check_fault_list(emulator, report, "straggler", injected(emulator, "straggler") - mark,
                            {"layer"}, "layers-backup", backup=True) == 2


# Case A in the functions orchestration, long enough (16 rounds, some seconds) that a worker killed
# 0.5-0.7 s into its invocation is killed mid-run, after it wrote its alive record.
KILLED_RUN = ["--workers", 4, "--merge-tree", "1,2,4", "--rounds", 16, "--samples", 4000, "--seed", 3,
              "--poll-ms", 50]


def test_a_sigkilled_worker_is_revived_once_its_lease_runs_out_before_lambdas_retry(start_emulator, tmp_path):
    """The 3rd worker start is SIGKILLed mid-round: its alive record stays behind (deadline: the
    function's 60 s timeout) but is no longer refreshed. Lambda's retry of the killed event comes
    15 s later (retry_delay_scale 0.25); the trainer (--revive-after 1, --lease-ms 2000) revives
    the worker once the lease has run out, so the run ends before that retry and before the dead
    record's deadline, with the fault-free model. The late retry then runs, finds the worker's
    chain taken by the revived hop and steps aside: the model stays, its record is gone."""
    common = {"code_dir": str(PRODUCT_CODE), "memory_mb": 1769, "timeout_s": 60}
    config = default_config(functions=[{"name": FUNCTION, "handler": FUNCTION, "recursive_loop": "Allow",
                                        **common}])
    config["async"] = {"retry_delay_scale": 0.25}
    emu = start_emulator(config)
    baseline = run(tmp_path, "killed-baseline", "casea", *KILLED_RUN, "--target", "local",
                   "--orchestration", "driver")
    plan = {"kind": "crash", "function": FUNCTION, "schedule": [3], "crash_after_min_ms": 500,
            "crash_after_max_ms": 700}
    assert emu.request("PUT", "/stratus/v1/faults", json.dumps({"seed": 5, "rules": [plan]})).status == 200
    try:
        report = run(tmp_path, "killed", "casea", *KILLED_RUN, "--target", emu.url, "--bucket", "killed",
                     "--run-id", "killed-worker", "--revive-after", 1, "--lease-ms", 2000)
    finally:
        emu.request("DELETE", "/stratus/v1/faults")
    assert report["model_sha256"] == baseline["model_sha256"]
    fired = [f for f in report["faults"]["list"] if "detail" in f]
    assert len(fired) == 1, report["faults"]
    assert fired[0]["handled"] == REVIVED_AFTER_LEASE, fired
    assert sum(r["revived"] for r in report["rounds"]) >= 1, report["rounds"]
    killed_id = fired[0]["request_id"]
    start_line = f"START RequestId: {killed_id}"
    # Lambda's retry of the killed event had not run when the run ended: the revival carried it.
    assert emu.function_logs(FUNCTION).count(start_line) == 1

    s3 = emu.s3_client()
    prefix = "runs/killed-worker/"

    def keys(under):
        return [o["Key"] for o in s3.list_objects_v2(Bucket="killed", Prefix=prefix + under).get("Contents", [])]

    def read(key):
        return s3.get_object(Bucket="killed", Key=key)["Body"].read()

    # What the SIGKILL left: the killed hop-0 invocation's record, its lease run out long before its
    # deadline, which the run did not wait for.
    left = keys("alive/")
    assert len(left) == 1 and left[0].endswith("-00000.json"), left
    worker = int(left[0].rsplit("worker-", 1)[1].split("-")[0])
    dead = json.loads(read(left[0]))
    last_round = json.loads(read(prefix + "rounds/round-00015.json"))
    assert dead["lease_until_ms"] < last_round["completed_ms"] < dead["deadline_ms"], (dead, last_round)
    # A later hop of that worker (the revival) completed the round it was killed in.
    revived = [json.loads(read(k)) for k in keys("round-") if f"/trace-{worker:05d}-" in k
               and not k.endswith("-00000.json")]
    assert any(t["complete"] and t["hop"] >= 1 for t in revived), revived
    final = read(prefix + "model/round-00016.bin")

    # The late retry (the same event, the same request id) comes 15 s after the kill, overwrites the
    # dead record with its own and removes it as it steps aside.
    for _ in range(600):
        if not keys("alive/"):
            break
        time.sleep(0.1)
    else:
        pytest.fail("Lambda's retry of the killed event never ran to its end")
    # Its lines reach the log file within the daemon's 20 ms batching (docs/CONTRACTS.md).
    emu.function_logs_once(FUNCTION, lambda logs: logs.count(start_line) >= 2)
    assert emu.function_logs(FUNCTION).count(start_line) == 2
    assert json.loads(read(prefix + f"chain/worker-{worker:05d}.json"))["hop"] >= 1
    assert read(prefix + "model/round-00016.bin") == final
    assert keys("errors/") == []
