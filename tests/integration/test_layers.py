"""Layers as functions (stratus-trainer layers) through a real emulator: the same network trained
through the emulator's `layer` function (the static bootstrap) and in-process gives the same model
bit for bit, the distributed gradient check passes, a duplicated layer invocation (at-least-once
delivery) is answered as a replay and changes no object, and hostile events get InvalidInput."""

import json
import os
import subprocess

import pytest

from conftest import BIN_DIR, BUILD_DIR, default_config

TRAINER = str(BIN_DIR / "stratus-trainer")
PRODUCT_CODE = BUILD_DIR / "functions" / "stratus"
NETWORK = ["--layers", "6,5,3,1", "--neurons-per-function", 2, "--samples", 96, "--batch-size", 16,
           "--epochs", 2, "--seed", 4, "--optimizer", "adam", "--learning-rate", 0.02, "--l2", 0.001]


def trainer_env():
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    return env


def layers(tmp_path, name, *args, timeout=240):
    report = tmp_path / f"{name}.json"
    completed = subprocess.run([TRAINER, "layers", *[str(a) for a in args], "--report", str(report)],
                               capture_output=True, text=True, env=trainer_env(), timeout=timeout)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return json.loads(report.read_text()), completed.stdout


@pytest.fixture
def emulator(start_emulator):
    return start_emulator(default_config(functions=[{
        "name": "layer", "handler": "layer", "code_dir": str(PRODUCT_CODE), "memory_mb": 1024,
        "timeout_s": 60}]))


def losses(report):
    return [s["loss"] for s in report["steps"]]


def test_layers_through_the_emulator_are_bit_identical_to_local(emulator, tmp_path):
    local, _ = layers(tmp_path, "local", *NETWORK, "--target", "local", "--gradient-check")
    remote, table = layers(tmp_path, "remote", *NETWORK, "--target", emulator.url, "--gradient-check",
                           "--run-id", "bitwise")
    assert remote["model_sha256"] == local["model_sha256"]
    assert losses(remote) == losses(local)
    assert [s["accuracy"] for s in remote["steps"]] == [s["accuracy"] for s in local["steps"]]
    # 12 steps (96 / 16 x 2 epochs); per step 3+2+1 slices (K = 2 of 5, 3, 1) forward and backward.
    assert len(remote["steps"]) == 12
    assert all(s["invocations"] == 12 for s in remote["steps"])
    assert remote["steps"][0]["cold_starts"] >= 1
    assert sum(s["replayed"] for s in remote["steps"]) == 0
    for report in (local, remote):
        check = report["gradient_check"]
        assert check["passed"], check
        assert check["max_relative_error"] < 1e-2
        assert len(check["probes"]) == 12
    assert remote["gradient_check"]["probes"] == local["gradient_check"]["probes"]
    assert "gradient check: max relative error" in table and "passed" in table
    assert losses(local)[-1] < losses(local)[0]
    # The single neuron is logistic regression, also through functions.
    single, _ = layers(tmp_path, "single", "--layers", "4,1", "--samples", 64, "--epochs", 1,
                       "--target", emulator.url, "--gradient-check")
    assert single["gradient_check"]["passed"]


def test_a_duplicated_layer_invocation_changes_nothing(emulator, tmp_path):
    layers(tmp_path, "run", *NETWORK, "--target", emulator.url, "--run-id", "dup", "--bucket", "dups")
    s3 = emulator.s3_client()

    def objects():
        listing = s3.list_objects_v2(Bucket="dups", Prefix="runs/dup/", MaxKeys=1000)
        assert not listing["IsTruncated"]
        return {o["Key"]: (o["ETag"], o["LastModified"], o["Size"]) for o in listing["Contents"]}

    before = objects()
    config = json.loads(s3.get_object(Bucket="dups", Key="runs/dup/config.json")["Body"].read())
    client = emulator.lambda_client()
    for direction, step, layer, slice_ in [("backward", 0, 1, 0), ("forward", 5, 2, 1), ("backward", 11, 3, 0)]:
        event = {"protocol": "stratus-layer-parallel/1", "direction": direction, "config": config,
                 "step": step, "layer": layer, "slice": slice_}
        answer = client.invoke(FunctionName="layer", Payload=json.dumps(event).encode())
        assert "FunctionError" not in answer
        body = json.loads(answer["Payload"].read())
        assert body["replayed"] is True and body["step"] == step and body["layer"] == layer, body
    assert objects() == before

    # Hostile events: typed refusals, nothing written.
    for event in [{"protocol": "other"}, {"protocol": "stratus-layer-parallel/1", "direction": "forward",
                                          "config": config, "step": 0, "layer": 9, "slice": 0},
                  {"protocol": "stratus-layer-parallel/1", "direction": "forward",
                   "config": dict(config, run_id="missing"), "step": 0, "layer": 1, "slice": 0}]:
        answer = client.invoke(FunctionName="layer", Payload=json.dumps(event).encode())
        assert answer.get("FunctionError") == "Unhandled", answer
        assert json.loads(answer["Payload"].read())["errorType"] == "InvalidInput"
    assert objects() == before
    # A run id in use is refused by the trainer, which never overwrites another run.
    completed = subprocess.run([TRAINER, "layers", *[str(a) for a in NETWORK], "--target", emulator.url,
                                "--run-id", "dup", "--bucket", "dups"], capture_output=True, text=True,
                               env=trainer_env(), timeout=120)
    assert completed.returncode == 1 and "is taken already" in completed.stderr


def test_layers_on_two_classes_of_a_staged_mnist(emulator, tmp_path):
    import sys
    from conftest import SOURCE_DIR
    out = tmp_path / "datasets"
    subprocess.run([sys.executable, str(SOURCE_DIR / "tests" / "data" / "make_datasets.py"), str(out),
                    "--mnist-train", "200", "--mnist-test", "20", "--cifar-per-batch", "10", "--cifar-test", "10"],
                   check=True, capture_output=True)
    staged = subprocess.run([TRAINER, "stage", "--target", emulator.url, "--dataset", "mnist", "--source",
                             str(out / "mnist"), "--bucket", "data", "--shards", "2", "-q"],
                            capture_output=True, text=True, env=trainer_env(), timeout=120)
    assert staged.returncode == 0, staged.stderr
    manifest = "s3://data/datasets/mnist-train/manifest.json"
    report, _ = layers(tmp_path, "mnist", "--layers", "784,4,1", "--dataset", manifest, "--classes", "3,8",
                       "--epochs", 1, "--batch-size", 8, "--target", emulator.url)
    assert report["data"]["rows"] > 0 and report["data"]["source"].endswith("classes 3,8")
    assert len(report["steps"]) == -(-report["data"]["rows"] // 8)
    bad = subprocess.run([TRAINER, "layers", "--layers", "784,4,1", "--dataset", manifest, "--classes", "3,3",
                          "--target", emulator.url], capture_output=True, text=True, env=trainer_env(), timeout=60)
    assert bad.returncode == 1 and "two different classes" in bad.stderr


def test_a_layers_run_past_max_cost_is_stopped_and_says_why(emulator, tmp_path):
    report = tmp_path / "stopped.json"
    completed = subprocess.run([TRAINER, "layers", *[str(a) for a in NETWORK], "--target", emulator.url,
                                "--run-id", "costly", "--max-cost", "0.0000001", "--report", str(report)],
                               capture_output=True, text=True, env=trainer_env(), timeout=240)
    assert completed.returncode != 0
    assert "--max-cost 1e-07 USD exceeded" in completed.stderr and "after step 0" in completed.stderr, \
        completed.stderr
    stopped = json.loads(report.read_text())
    assert stopped["stopped_by"] == "--max-cost" and len(stopped["steps"]) == 1
    assert stopped["total_cost_usd"] > 1e-7
