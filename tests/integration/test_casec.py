"""CLOUD 2018 Case C through a real emulator: `stratus-trainer casec` on generated MNIST-format (IDX)
files staged with `stratus-trainer stage`. One function invocation per trial, in parallel; trials that
outgrow their invocation checkpoint to S3 and re-invoke themselves (Event invokes, recursion Allow);
the best trial is reported with a table sorted by accuracy; the results are bit-identical to
`--target local`; crashed invocations (the fault admin API) are retried, and a trial that keeps
crashing is reported failed while the search finishes."""

import json
import os
import re
import subprocess

import pytest

from conftest import BIN_DIR, BUILD_DIR, Emulator, default_config
from mnist_files import write_mnist

TRAINER = str(BIN_DIR / "stratus-trainer")
CODE = str(BUILD_DIR / "functions" / "stratus")
FUNCTION = "hyperparameter_trial"
# 4 trials of 2 epochs on 600 images, at most 60 batches an epoch (batches of 10 or more).
SEARCH = ["--trials", 4, "--epochs", 2, "--seed", 21, "--max-batch-count", 60, "--poll", 0.05]


def trainer(*args, check=True, timeout=240):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    completed = subprocess.run([TRAINER, *[str(a) for a in args]], capture_output=True, text=True, env=env,
                               timeout=timeout)
    if check:
        assert completed.returncode == 0, completed.stderr[-4000:] + completed.stdout[-2000:]
    return completed


def results(report):
    return {t["trial"]: (t["test_accuracy"], t["model_sha256"]) for t in report["trials"] if t["status"] == "done"}


@pytest.fixture(scope="module")
def mnist(tmp_path_factory):
    return write_mnist(tmp_path_factory.mktemp("mnist"), train=600, test=200, seed=7)


@pytest.fixture(scope="module")
def local(mnist, tmp_path_factory):
    report = tmp_path_factory.mktemp("local") / "local.json"
    trainer("casec", "--data", mnist, *SEARCH, "--target", "local", "--report", report, "-q")
    return json.loads(report.read_text())


@pytest.fixture(scope="module")
def emulator(mnist, tmp_path_factory):
    work = tmp_path_factory.mktemp("casec-emu")
    functions = [{"name": FUNCTION, "handler": FUNCTION, "code_dir": CODE, "memory_mb": 1769, "timeout_s": 60,
                  "recursive_loop": "Allow"}]
    emu = Emulator(work / "emu", default_config(functions=functions)).start()
    for split in ("train", "test"):
        trainer("stage", "--dataset", "mnist", "--source", mnist, "--split", split, "--bucket", "data",
                "--shards", 3, "--target", emu.url, "-q")
    yield emu
    emu.stop()


def test_search_checkpoints_reinvokes_and_matches_local(emulator, local, tmp_path):
    report_file = tmp_path / "emu.json"
    metered_before = emulator.usage()["functions"].get(FUNCTION, {}).get("cost_usd", 0)
    completed = trainer("casec", "--dataset", "s3://data/datasets/mnist-train/manifest.json", *SEARCH,
                        "--max-concurrency", 4, "--batches-per-invocation", 25, "--bucket", "casec",
                        "--run-id", "emu", "--target", emulator.url, "--report", report_file)
    report = json.loads(report_file.read_text())
    out = completed.stdout
    # The best trial and the table, sorted by accuracy.
    best = report["best"]
    assert best is not None and best["trial"] == max(report["trials"], key=lambda t: (t["test_accuracy"], -t["trial"]))["trial"]
    assert re.search(rf"^best: trial {best['trial']}, test accuracy {best['test_accuracy']:.4f}", out, re.M), out
    rows = [line.split() for line in out.splitlines() if re.match(r"^\s+\d+\s+\d+\s+[01]\.\d{4}\s", line)]
    assert len(rows) == 4
    accuracies = [float(r[2]) for r in rows]
    assert accuracies == sorted(accuracies, reverse=True)
    assert "progress: 4 done, 0 running, 0 failed" in completed.stderr
    # Chains: at least one trial outgrew its invocation, checkpointed and re-invoked itself.
    assert report["checkpoints"] > 0 and report["failed"] == 0
    chained = [t for t in report["trials"] if t["invocations"] > 1]
    assert chained, report["trials"]
    for t in report["trials"]:
        assert t["invocations"] == -(-t["batch_count"] * t["epochs"] // 25), t
    # Cost: the driver's calls from their REPORT lines, the self-invoked segments from their bills;
    # together close to what the emulator metered for the function (the bills leave out each
    # segment's runtime hand-off and any cold start's init, so a little less).
    metered = emulator.usage()["functions"][FUNCTION]["cost_usd"] - metered_before
    for t in report["trials"]:
        assert t["chained_segments_billed"] == t["invocations"] - 1 and t["cost_usd"] > 0, t
    assert report["cost_usd"] == pytest.approx(sum(t["cost_usd"] for t in report["trials"]))
    print(f"casec cost: report ${report['cost_usd']:.8f}, emulator metered ${metered:.8f}")
    assert 0.6 * metered <= report["cost_usd"] <= 1.001 * metered, (report["cost_usd"], metered)
    assert re.search(r"cost \$\d+\.\d{8}$", out.splitlines()[-1]), out.splitlines()[-1]
    assert local["cost_usd"] == 0  # in-process: nothing is billed
    usage = emulator.usage()
    print("casec on the emulator:", report["checkpoints"], "checkpoints,", report["wall_ms"], "ms;",
          json.dumps(usage.get("functions", usage))[:400])
    # Each trial's result and model are in S3, with the best.
    s3 = emulator.s3_client()
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket="casec", Prefix="runs/emu/")["Contents"]}
    for t in range(4):
        assert f"runs/emu/trials/{t:05d}/result.json" in keys and f"runs/emu/trials/{t:05d}/model.bin" in keys
    assert not [k for k in keys if "checkpoint-" in k]
    stored_best = json.loads(s3.get_object(Bucket="casec", Key="runs/emu/best.json")["Body"].read())
    assert stored_best["best"]["model_sha256"] == best["model_sha256"]
    # Bit for bit the local search (same configurations, same trained networks).
    assert [t["trial"] for t in local["trials"]] == [t["trial"] for t in report["trials"]]
    assert results(report) == results(local)
    assert local["checkpoints"] == 0  # the local run never split a trial: where checkpoints fall changes nothing

    # The best network is stored as an mlp/1 model (784 inputs, 10 classes), which `predict` serves.
    assert best["architecture"].startswith("mlp/1:784-") and best["architecture"].endswith("-10")


def test_crashed_trials_are_retried_and_a_hopeless_one_reported(emulator, local, tmp_path):
    # Sequential, unsplit trials make the emulator's invocation order the trial order: invocations 1
    # and 2 are trial 0's first attempt and its retry, 3 is trial 1, 4 trial 2, 5 its retry, 6 trial 3.
    plan = {"seed": 1, "rules": [{"kind": "crash", "function": FUNCTION, "schedule": [1, 2, 4],
                                  "crash_after_min_ms": 0, "crash_after_max_ms": 0}]}
    assert emulator.request("PUT", "/stratus/v1/faults", json.dumps(plan)).status == 200
    try:
        report_file = tmp_path / "faults.json"
        completed = trainer("casec", "--dataset", "s3://data/datasets/mnist-train/manifest.json", *SEARCH,
                            "--max-concurrency", 1, "--retries", 1, "--bucket", "casec", "--run-id", "faults",
                            "--target", emulator.url, "--report", report_file)
    finally:
        emulator.request("DELETE", "/stratus/v1/faults")
    report = json.loads(report_file.read_text())
    by_trial = {t["trial"]: t for t in report["trials"]}
    print(json.dumps([(t["trial"], t["status"], t["attempts"], t["errors"]) for t in report["trials"]]))
    assert by_trial[0]["status"] == "failed" and by_trial[0]["attempts"] == 2
    assert all("Runtime.ExitError" in e or "exit" in e.lower() for e in by_trial[0]["errors"]), by_trial[0]["errors"]
    assert by_trial[2]["status"] == "done" and by_trial[2]["attempts"] == 2 and len(by_trial[2]["errors"]) == 1
    assert by_trial[1]["attempts"] == 1 and by_trial[3]["attempts"] == 1
    assert report["failed"] == 1 and report["retried"] == 2
    assert re.search(r"^\s+-\s+0\s+-\s.*FAILED: ", completed.stdout, re.M), completed.stdout
    assert "trial 0 FAILED after 2 attempt(s)" in completed.stderr
    # The retried trial and the others are exactly what the local search computed.
    expected = {t: r for t, r in results(local).items() if t != 0}
    assert results(report) == expected
    assert report["best"]["trial"] != 0


def test_a_lost_continuation_is_resumed_from_its_checkpoint(emulator, local, tmp_path):
    # The emulator loses the first and third Event invocations (the paper's "missed events"): those
    # chains stop; the driver sees no new checkpoint within --stall-timeout, invokes the trial again
    # from its newest checkpoint, and the search ends with the same results as in-process.
    plan = {"seed": 2, "rules": [{"kind": "drop_event", "function": FUNCTION, "schedule": [1, 3]}]}
    assert emulator.request("PUT", "/stratus/v1/faults", json.dumps(plan)).status == 200
    try:
        report_file = tmp_path / "lost.json"
        trainer("casec", "--dataset", "s3://data/datasets/mnist-train/manifest.json", *SEARCH,
                "--max-concurrency", 4, "--batches-per-invocation", 25, "--stall-timeout", 1.5, "--bucket", "casec",
                "--run-id", "lost", "--target", emulator.url, "--report", report_file)
    finally:
        emulator.request("DELETE", "/stratus/v1/faults")
    report = json.loads(report_file.read_text())
    assert sum(emulator.usage().get("faults", {}).get("drop_event", {}).values()) >= 2
    assert sum(t["stalls"] for t in report["trials"]) >= 2 and report["failed"] == 0
    assert all("no progress" in e for t in report["trials"] for e in t["errors"])
    assert results(report) == results(local)
