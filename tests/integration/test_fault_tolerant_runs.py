"""Training runs that survive injected faults: for every fault kind, a small Case A in both
orchestrations (functions: Event invokes, merges through S3; driver: the trainer invokes each worker)
and linreg finish with the same model as the fault-free run, and the emulator counted the faults.
One emulator serves every kind (the plan is swapped through the admin API); runs are small."""

import json
import os
import subprocess

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


def run(tmp_path, name, command, *args, timeout=240):
    report = tmp_path / f"{name}.json"
    completed = subprocess.run([TRAINER, command, *[str(a) for a in args], "--report", str(report)],
                               capture_output=True, text=True, env=trainer_env(), timeout=timeout)
    assert completed.returncode == 0, completed.stderr[-4000:] + completed.stdout[-2000:]
    return json.loads(report.read_text())


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    work = tmp_path_factory.mktemp("fault-runs")
    common = {"code_dir": str(PRODUCT_CODE), "memory_mb": 1769, "timeout_s": 60}
    functions = [{"name": FUNCTION, "handler": FUNCTION, "recursive_loop": "Allow", **common},
                 {"name": "gradient", "handler": "gradient", **common}]
    emu = Emulator(work / "emu", default_config(functions=functions)).start()
    yield emu
    emu.stop()


@pytest.fixture(scope="module")
def baselines(tmp_path_factory):
    work = tmp_path_factory.mktemp("baselines")
    casea = run(work, "casea", "casea", *CASE_A, "--target", "local", "--orchestration", "driver")
    linreg = run(work, "linreg", "linreg", *LINREG, "--target", "local")
    return {"casea": casea, "linreg": linreg}


def set_plan(emulator, kind, seed):
    answer = emulator.request("PUT", "/stratus/v1/faults", json.dumps({"seed": seed, "rules": [PLANS[kind]]}))
    assert answer.status == 200, answer


def injected(emulator, kind):
    return sum(emulator.usage().get("faults", {}).get(kind, {}).values())


@pytest.mark.parametrize("kind", list(PLANS))
def test_case_a_and_linreg_survive(emulator, baselines, tmp_path, kind):
    url = emulator.url
    before = injected(emulator, kind)
    set_plan(emulator, kind, seed=11)
    functions = run(tmp_path, "functions", "casea", *CASE_A, "--target", url, "--bucket", f"runs-{kind}".replace("_", "-"),
                    "--revive-after", 3)
    assert functions["model_sha256"] == baselines["casea"]["model_sha256"], kind
    driver = run(tmp_path, "driver", "casea", *CASE_A, "--target", url, "--orchestration", "driver",
                 "--bucket", f"runs-{kind}".replace("_", "-"))
    assert driver["model_sha256"] == baselines["casea"]["model_sha256"], kind
    linreg = run(tmp_path, "linreg", "linreg", *LINREG, "--target", url)
    assert linreg["weights"] == baselines["linreg"]["weights"] and linreg["bias"] == baselines["linreg"]["bias"]
    emulator.request("DELETE", "/stratus/v1/faults")
    # The faults happened (S3 faults only strike the Case A runs' S3 traffic).
    assert injected(emulator, kind) > before, emulator.get_json("/stratus/v1/faults")
    print(f"{kind}: {injected(emulator, kind) - before} injected")
