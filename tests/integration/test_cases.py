"""CLOUD 2018 Case A and Case B through a real emulator (stratus-trainer casea/caseb): the
paper's orchestration on functions (Event invokes, merges through S3, self re-invocation, resume,
stop) and the driver orchestration give the same model bit for bit as the in-process baseline;
a worker killed mid-round is retried and changes nothing; `stop` leaves no function running."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from conftest import BIN_DIR, BUILD_DIR, SOURCE_DIR, default_config, wait_until

TRAINER = str(BIN_DIR / "stratus-trainer")
PRODUCT_CODE = BUILD_DIR / "functions" / "stratus"
FUNCTION = "model_averaging"

# Small Case A: 8 workers, tree 1,2,8, 3 rounds of 20 x 50 on 8,000 samples (1,000 per worker).
CASE_A = ["--workers", 8, "--merge-tree", "1,2,8", "--rounds", 3, "--samples", 8000, "--seed", 3,
          "--poll-ms", 50]


def worker_function(timeout_s=60, memory_mb=1536):
    return {"name": FUNCTION, "handler": FUNCTION, "code_dir": str(PRODUCT_CODE), "memory_mb": memory_mb,
            "timeout_s": timeout_s, "recursive_loop": "Allow"}


def trainer_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    return env


def run_trainer(*args, timeout=240, check=True):
    completed = subprocess.run([TRAINER, *[str(a) for a in args]], capture_output=True, text=True,
                               env=trainer_env(), timeout=timeout)
    if check:
        assert completed.returncode == 0, completed.stderr + completed.stdout
    return completed


def case(tmp_path, name, command, *args, timeout=240):
    report = tmp_path / f"{name}.json"
    completed = run_trainer(command, *args, "--report", report, timeout=timeout)
    return json.loads(report.read_text()), completed.stdout


def accuracies(report):
    return [r["accuracy"] for r in report["rounds"]]


@pytest.fixture
def casea_emulator(start_emulator):
    return start_emulator(default_config(functions=[worker_function()]))


@pytest.fixture
def local_baseline(tmp_path):
    report, _ = case(tmp_path, "local", "casea", *CASE_A, "--target", "local", "--orchestration", "driver",
                     "--threads", 2)
    return report


def test_case_a_every_orchestration_gives_the_same_model(casea_emulator, local_baseline, tmp_path):
    url = casea_emulator.url
    functions, table = case(tmp_path, "functions", "casea", *CASE_A, "--target", url, "--bucket", "runs-a")
    # The functions account for themselves (traces in S3); the emulator's metering agrees roughly
    # (it also bills init and the last bit of each invocation after its last trace).
    metered = casea_emulator.usage()["functions"][FUNCTION]["cost_usd"]
    assert functions["total_cost_usd"] == pytest.approx(metered, rel=0.5)
    driver, _ = case(tmp_path, "driver", "casea", *CASE_A, "--target", url, "--orchestration", "driver",
                     "--bucket", "runs-a")
    local_functions, _ = case(tmp_path, "local-functions", "casea", *CASE_A, "--target", "local")
    digests = {r["model_sha256"] for r in (local_baseline, functions, driver, local_functions)}
    assert len(digests) == 1, digests
    for report in (functions, driver, local_functions):
        assert [r["model_sha256"] for r in report["rounds"]] == [r["model_sha256"] for r in local_baseline["rounds"]]
        assert [r["loss"] for r in report["rounds"]] == [r["loss"] for r in local_baseline["rounds"]]
        assert accuracies(report) == accuracies(local_baseline)
    # Training works: the accuracy on the training data rises over the rounds.
    assert accuracies(local_baseline)[-1] > accuracies(local_baseline)[0]
    assert accuracies(local_baseline)[-1] > 0.6
    # The report and the table: every round with its figures; the emulator bills the functions.
    assert [r["round"] for r in functions["rounds"]] == [1, 2, 3]
    assert functions["configuration"]["tree"] == [1, 2, 8]
    assert functions["backend"].startswith(url)
    assert functions["rounds"][0]["invocations"] == 8 and functions["rounds"][0]["cold_starts"] >= 1
    assert all(r["billed_ms"] > 0 and r["cost_usd"] > 0 for r in functions["rounds"])
    assert driver["rounds"][0]["invocations"] == 8 and all(r["invocations"] == 8 for r in driver["rounds"])
    assert "accuracy" in table and table.count("\n") >= 3 + 3
    # Run state is inspectable in S3: the global model of every round, the round records.
    s3 = casea_emulator.s3_client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="runs-a", Prefix=f"runs/{functions['run_id']}/")["Contents"]]
    assert f"runs/{functions['run_id']}/model/round-00003.bin" in keys
    assert sum(1 for k in keys if "/rounds/" in k) == 3
    # Merges consumed every worker and merge result.
    assert not [k for k in keys if "/node-" in k]
    usage = casea_emulator.usage()["functions"][FUNCTION]
    assert usage["invocations"] >= 8 + 3 * 8


def test_workers_reinvoke_themselves_and_resume_from_s3(start_emulator, local_baseline, tmp_path):
    # A 2 s timeout and a 1.4 s reserve: an invocation works for well under a second, then hands
    # over to its next hop, which resumes from S3. On a quiet host the whole run may fit in that,
    # so the paper's rounditer (one round per invocation) makes the hand-over certain as well.
    emulator = start_emulator(default_config(functions=[worker_function(timeout_s=2)]))
    report, _ = case(tmp_path, "hops", "casea", *CASE_A, "--target", emulator.url, "--bucket", "runs-hop",
                     "--reserve-ms", 1400, "--rounds-per-invocation", 1)
    assert report["model_sha256"] == local_baseline["model_sha256"]
    s3 = emulator.s3_client()
    traces = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket="runs-hop", Prefix=f"runs/{report['run_id']}/") for o in page.get("Contents", []) if "/trace-" in o["Key"]]
    hops = {int(Path(k).stem.split("-")[2]) for k in traces}
    assert max(hops) >= 2, traces  # 3 rounds, one per invocation: hops 0, 1 and 2 at least
    assert sum(r["invocations"] for r in report["rounds"]) > 8
    # No invocation was cut off by the timeout: they handed over in time.
    assert emulator.usage()["functions"][FUNCTION]["timeouts"] == 0


def test_a_warm_environment_reuses_its_cached_shards(casea_emulator, local_baseline, tmp_path):
    # One invocation at a time: one environment serves every worker, and from round 2 on finds
    # every shard in its /tmp (keyed by content: never another worker's shard).
    report, _ = case(tmp_path, "warm", "casea", *CASE_A, "--target", casea_emulator.url, "--orchestration",
                     "driver", "--max-in-flight", 1, "--bucket", "runs-warm")
    assert [r["shard_cache_hits"] for r in report["rounds"]] == [0, 8, 8]
    assert [r["cold_starts"] for r in report["rounds"]] == [1, 0, 0]
    assert report["model_sha256"] == local_baseline["model_sha256"]


def test_a_worker_killed_mid_round_is_retried_and_changes_nothing(casea_emulator, local_baseline, tmp_path):
    report_path = tmp_path / "killed.json"
    trainer = subprocess.Popen([TRAINER, "casea", *[str(a) for a in CASE_A], "--target", casea_emulator.url,
                                "--bucket", "runs-kill", "--run-id", "killed", "--report", str(report_path), "-q"],
                               env=trainer_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        s3 = casea_emulator.s3_client()

        def first_round_done():
            try:
                s3.head_object(Bucket="runs-kill", Key="runs/killed/rounds/round-00000.json")
                return True
            except Exception:
                return False

        wait_until(first_round_done, timeout=120, interval=0.02, message="round 1 of the run")
        busy = wait_until(lambda: [e for e in casea_emulator.environments(FUNCTION) if e["state"] == "busy"],
                          timeout=30, message="a busy worker")
        os.kill(busy[0]["pid"], signal.SIGKILL)
        out, err = trainer.communicate(timeout=240)
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
    assert trainer.returncode == 0, err + out
    report = json.loads(report_path.read_text())
    assert report["model_sha256"] == local_baseline["model_sha256"]
    usage = casea_emulator.usage()["functions"][FUNCTION]
    assert usage["errors"] >= 1  # the killed invocation, retried by the async queue


def test_stop_ends_a_long_run_with_no_function_left_running(casea_emulator, tmp_path):
    args = ["casea", "--workers", 4, "--merge-tree", "1,4", "--rounds", 100000, "--samples", 4000,
            "--poll-ms", 50, "--target", casea_emulator.url, "--bucket", "runs-stop", "--run-id", "long-run", "-q"]
    trainer = subprocess.Popen([TRAINER, *[str(a) for a in args]],
                               env=trainer_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        s3 = casea_emulator.s3_client()

        def rounds_done():
            listed = s3.list_objects_v2(Bucket="runs-stop", Prefix="runs/long-run/rounds/") if \
                s3.list_buckets()["Buckets"] else {}
            return listed.get("KeyCount", 0) >= 2

        wait_until(rounds_done, timeout=120, interval=0.05, message="two rounds of the long run")
        stopped = run_trainer("stop", "long-run", "--bucket", "runs-stop", "--target", casea_emulator.url,
                              "--timeout", 60)
        assert "0 still are" in stopped.stdout, stopped.stdout
        # Nothing of the run runs any more: every worker environment is idle.
        assert not [e for e in casea_emulator.environments(FUNCTION) if e["state"] == "busy"]
        out, err = trainer.communicate(timeout=60)
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
    assert trainer.returncode == 1
    assert "was stopped" in err
    # And nothing starts again later: no invocation after the stop.
    invocations = casea_emulator.usage()["functions"][FUNCTION]["invocations"]
    time.sleep(1.5)
    assert casea_emulator.usage()["functions"][FUNCTION]["invocations"] == invocations
    assert not [e for e in casea_emulator.environments(FUNCTION) if e["state"] == "busy"]


def test_case_b_on_cifar_format_files(start_emulator, tmp_path):
    data = tmp_path / "datasets"
    subprocess.run(["/usr/bin/python3", str(SOURCE_DIR / "tests" / "data" / "make_datasets.py"), str(data),
                    "--cifar-per-batch", "8", "--cifar-test", "12"], check=True, capture_output=True)
    cifar = data / "cifar-10-batches-bin"
    emulator = start_emulator(default_config(functions=[worker_function()]))
    args = ["--workers", 2, "--merge-tree", "1,2", "--rounds", 2, "--batches", 2, "--batch-size", 5,
            "--data", cifar, "--seed", 4, "--poll-ms", 50]
    local, _ = case(tmp_path, "b-local", "caseb", *args, "--target", "local", "--orchestration", "driver")
    remote, table = case(tmp_path, "b-remote", "caseb", *args, "--target", emulator.url, "--bucket", "runs-b")
    assert remote["model_sha256"] == local["model_sha256"]
    assert [r["loss"] for r in remote["rounds"]] == [r["loss"] for r in local["rounds"]]
    assert "test batch (12 images)" in remote["configuration"]["evaluation"]
    assert len(remote["rounds"]) == 2
    # Staged once: a second run finds the shards in S3 and trains the same.
    again, _ = case(tmp_path, "b-again", "caseb", *args, "--target", emulator.url, "--bucket", "runs-b",
                    "--orchestration", "driver")
    assert again["model_sha256"] == local["model_sha256"]


def test_deploy_then_casea_against_a_fresh_emulator(start_emulator, local_baseline, tmp_path):
    emulator = start_emulator(default_config(functions=[]))
    deployed = run_trainer("deploy", "--target", emulator.url)
    assert FUNCTION in deployed.stdout, deployed.stdout
    report, _ = case(tmp_path, "deployed", "casea", *CASE_A, "--target", emulator.url, "--bucket", "runs-d")
    assert report["model_sha256"] == local_baseline["model_sha256"]


def test_bad_options_are_clear_errors(tmp_path):
    completed = run_trainer("casea", "--workers", 8, "--merge-tree", "1,3,2", "--target", "local", check=False)
    assert completed.returncode != 0 and "merge tree" in completed.stderr
    completed = run_trainer("casea", "--workers", 8, "--merge-tree", "1,2,4", "--target", "local", check=False)
    assert completed.returncode != 0 and "not 8" in completed.stderr
    completed = run_trainer("caseb", "--target", "local", check=False)
    assert completed.returncode != 0 and "--data" in completed.stderr


def test_npz_out_and_in_continue_a_run_exactly(tmp_path):
    small = ["--workers", 4, "--merge-tree", "1,4", "--samples", 2000, "--seed", 9, "--target", "local",
             "--orchestration", "driver"]
    two_rounds, _ = case(tmp_path, "two", "casea", *small, "--rounds", 2)
    saved = tmp_path / "after-one.npz"
    case(tmp_path, "one", "casea", *small, "--rounds", 1, "--save-model", saved)
    import numpy
    with numpy.load(saved) as npz:
        shapes = {name: npz[name].shape for name in npz.files}
        assert all(npz[name].dtype == numpy.float32 for name in npz.files)
    assert shapes["l1.weight"] == (20, 100) and shapes["l1.bias"] == (100,)
    assert shapes["l6.weight"] == (100, 1) and len(shapes) == 12
    # Round 2 of a two-round run starts from exactly the model one round produced.
    resumed, _ = case(tmp_path, "resumed", "casea", *small, "--rounds", 1, "--init-model", saved)
    assert resumed["model_sha256"] == two_rounds["model_sha256"]


def test_case_a_from_a_csv_file(tmp_path):
    import numpy
    rng = numpy.random.default_rng(5)
    features = rng.choice([-1.0, 1.0], size=(400, 20))
    labels = numpy.where(features[:, 19] > 0, 1, -1)
    csv = tmp_path / "casea.csv"
    csv.write_text("".join(",".join(f"{v:g}" for v in row) + f",{label}\n" for row, label in zip(features, labels)))
    report, _ = case(tmp_path, "csv", "casea", "--data", csv, "--workers", 4, "--merge-tree", "1,4", "--rounds", 3,
                     "--batches", 5, "--batch-size", 20, "--target", "local")
    assert "400 rows of" in report["configuration"]["data"]
    assert len(report["rounds"]) == 3
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3\n4,5,6\n")
    completed = run_trainer("casea", "--data", bad, "--workers", 1, "--target", "local", check=False)
    assert completed.returncode == 1 and "20 features" in completed.stderr


def test_a_stopped_run_resumes_to_the_same_model(casea_emulator, tmp_path):
    small = ["--workers", 4, "--merge-tree", "1,4", "--rounds", 30, "--samples", 4000, "--seed", 2,
             "--poll-ms", 50]
    local, _ = case(tmp_path, "resume-local", "casea", *small, "--target", "local", "--orchestration", "driver")
    args = ["casea", *small, "--target", casea_emulator.url, "--bucket", "runs-resume", "--run-id", "resumable", "-q"]
    trainer = subprocess.Popen([TRAINER, *[str(a) for a in args]], env=trainer_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    try:
        s3 = casea_emulator.s3_client()

        def round_two_done():
            try:
                s3.head_object(Bucket="runs-resume", Key="runs/resumable/rounds/round-00001.json")
                return True
            except Exception:
                return False

        wait_until(round_two_done, timeout=120, interval=0.02, message="round 2")
        run_trainer("stop", "resumable", "--bucket", "runs-resume", "--target", casea_emulator.url)
        trainer.communicate(timeout=60)
    finally:
        if trainer.poll() is None:
            trainer.kill()
            trainer.wait()
    assert trainer.returncode == 1
    resumed, table = case(tmp_path, "resumed", "casea", "--resume", "resumable", "--bucket", "runs-resume",
                          "--target", casea_emulator.url)
    assert "resumed at round" in table
    assert resumed["rounds"][0]["round"] > 2 and resumed["rounds"][-1]["round"] == 30
    assert resumed["model_sha256"] == local["model_sha256"]


def test_a_diverging_run_fails_clearly_in_both_orchestrations(tmp_path):
    # The paper's N(0, 1) initialisation of the CNN overflows float32 at a large learning rate:
    # the workers' TrainingDiverged error ends the run at once, with the reason, not a stall.
    data = tmp_path / "datasets"
    subprocess.run(["/usr/bin/python3", str(SOURCE_DIR / "tests" / "data" / "make_datasets.py"), str(data),
                    "--cifar-per-batch", "4", "--cifar-test", "4"], check=True, capture_output=True)
    for orchestration in ("functions", "driver"):
        started = time.monotonic()
        completed = run_trainer("caseb", "--workers", 2, "--merge-tree", "1,2", "--rounds", 3, "--batches", 2,
                                "--batch-size", 5, "--learning-rate", 10, "--data", data / "cifar-10-batches-bin",
                                "--target", "local", "--orchestration", orchestration, "--retries", 0,
                                "--stall-timeout", 100, check=False)
        assert completed.returncode == 1, completed.stdout
        assert "diverged" in completed.stderr and "tutorial" in completed.stderr, completed.stderr
        assert time.monotonic() - started < 60
