"""Staging datasets into the emulator's S3 with `stratus-trainer stage`, and reading the shards back
from inside a function (`shard_stats`, the product bootstrap, reaching S3 through the
AWS_ENDPOINT_URL the emulator gives it). The source files are generated in the real formats
(tests/data/make_datasets.py): MNIST IDX .gz and CIFAR-10 binary batches."""

import collections
import gzip
import json
import subprocess
import sys

import pytest

from conftest import BIN_DIR, PRODUCT_BOOTSTRAP, SOURCE_DIR, decode_payload, default_config, require_file

TRAINER = BIN_DIR / "stratus-trainer"
MAKE_DATASETS = SOURCE_DIR / "tests" / "data" / "make_datasets.py"


@pytest.fixture
def datasets(tmp_path):
    out = tmp_path / "datasets"
    subprocess.run([sys.executable, str(MAKE_DATASETS), str(out), "--mnist-train", "300", "--mnist-test", "50",
                    "--cifar-per-batch", "40", "--cifar-test", "30"], check=True, capture_output=True)
    return out


@pytest.fixture
def emu(start_emulator):
    require_file(PRODUCT_BOOTSTRAP, "product bootstrap")
    config = default_config(functions=[{
        "name": "shard_stats", "code_dir": str(PRODUCT_BOOTSTRAP.parent), "handler": "shard_stats",
        "memory_mb": 512, "timeout_s": 30}])
    return start_emulator(config)


def stage(emu, *args, check=True):
    require_file(TRAINER, "stratus-trainer")
    completed = subprocess.run([str(TRAINER), "stage", "--target", emu.url, "--json", *map(str, args)],
                               capture_output=True, text=True, timeout=300, env=emu.aws_env())
    if check:
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)
    return completed


def mnist_labels(path):
    data = gzip.decompress(path.read_bytes())
    return list(data[8:])


def cifar_labels(files):
    labels = []
    for f in files:
        data = f.read_bytes()
        labels += [data[i] for i in range(0, len(data), 3073)]
    return labels


def invoke_shard(client, manifest_key, shard, bucket="data"):
    response = client.invoke(FunctionName="shard_stats",
                             Payload=json.dumps({"bucket": bucket, "manifest": manifest_key, "shard": shard}))
    return response, decode_payload(response)


def test_stage_mnist_and_read_every_shard_back_in_a_function(emu, datasets):
    summary = stage(emu, "--dataset", "mnist", "--source", datasets / "mnist", "--bucket", "data", "--shards", 3)
    assert summary["samples"] == 300 and summary["shards"] == 3 and summary["uploaded"] == 3
    assert summary["manifest_key"] == "datasets/mnist-train/manifest.json"
    s3 = emu.s3_client()
    manifest = json.loads(s3.get_object(Bucket="data", Key=summary["manifest_key"])["Body"].read())
    assert manifest["count"] == 300 and manifest["features"]["sample_shape"] == [28, 28]
    assert [s["count"] for s in manifest["shards"]] == [100, 100, 100]

    labels = mnist_labels(datasets / "mnist" / "train-labels-idx1-ubyte.gz")
    client = emu.lambda_client()
    for index, entry in enumerate(manifest["shards"]):
        response, stats = invoke_shard(client, summary["manifest_key"], index)
        assert "FunctionError" not in response, stats
        assert stats["count"] == entry["count"] and stats["sample_shape"] == [28, 28]
        assert stats["feature_dtype"] == "uint8" and stats["sha256"] == entry["sha256"]
        expected = collections.Counter(labels[entry["first"]:entry["first"] + entry["count"]])
        assert {int(k): v for k, v in stats["label_counts"].items()} == dict(expected)

    # Idempotent: a second run finds every shard in place.
    again = stage(emu, "--dataset", "mnist", "--source", datasets / "mnist", "--bucket", "data", "--shards", 3)
    assert again["uploaded"] == 0 and again["skipped"] == 3
    # A shard that no longer matches its manifest is found out by the function.
    key = "datasets/mnist-train/" + manifest["shards"][1]["key"]
    s3.put_object(Bucket="data", Key=key, Body=b"STSH" + b"\0" * 100)
    response, error = invoke_shard(client, summary["manifest_key"], 1)
    assert response.get("FunctionError") and error["errorType"] == "InvalidInput"
    # ... and re-staging repairs exactly that shard.
    repaired = stage(emu, "--dataset", "mnist", "--source", datasets / "mnist", "--bucket", "data", "--shards", 3)
    assert repaired["uploaded"] == 1 and repaired["skipped"] == 2
    response, stats = invoke_shard(client, summary["manifest_key"], 1)
    assert "FunctionError" not in response and stats["count"] == 100


def test_stage_cifar10_test_split(emu, datasets):
    summary = stage(emu, "--dataset", "cifar10", "--source", datasets / "cifar-10-batches-bin", "--split", "test",
                    "--bucket", "data", "--shards", 2, "--prefix", "cifar/test")
    assert summary["samples"] == 30 and summary["manifest_key"] == "cifar/test/manifest.json"
    labels = cifar_labels([datasets / "cifar-10-batches-bin" / "test_batch.bin"])
    client = emu.lambda_client()
    total = collections.Counter()
    for index in range(2):
        response, stats = invoke_shard(client, "cifar/test/manifest.json", index)
        assert "FunctionError" not in response, stats
        assert stats["sample_shape"] == [3, 32, 32]
        total.update({int(k): v for k, v in stats["label_counts"].items()})
    assert total == collections.Counter(labels)


def test_stage_casea_is_deterministic(emu):
    first = stage(emu, "--dataset", "casea", "--count", 2000, "--seed", 5, "--bucket", "data", "--shards", 4)
    s3 = emu.s3_client()
    manifest = s3.get_object(Bucket="data", Key=first["manifest_key"])["Body"].read()
    second = stage(emu, "--dataset", "casea", "--count", 2000, "--seed", 5, "--bucket", "data", "--shards", 4)
    assert second["skipped"] == 4
    assert s3.get_object(Bucket="data", Key=first["manifest_key"])["Body"].read() == manifest
    parsed = json.loads(manifest)
    assert parsed["features"]["sample_shape"] == [20] and parsed["labels"]["classes"] == [-1, 1]


def test_stage_refuses_a_truncated_file_naming_it(emu, datasets):
    images = datasets / "mnist" / "train-images-idx3-ubyte.gz"
    raw = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(raw[:5000]))
    completed = stage(emu, "--dataset", "mnist", "--source", datasets / "mnist", "--bucket", "data", check=False)
    assert completed.returncode == 1
    assert "train-images-idx3-ubyte.gz" in completed.stderr and "offset" in completed.stderr
    assert "truncated" in completed.stderr
    # Nothing was staged.
    listed = emu.s3_client().list_objects_v2(Bucket="data") if emu.s3_client().list_buckets()["Buckets"] else {}
    assert not listed.get("Contents")
