"""Augmentation then prediction on generated images through a real emulator: `stratus-trainer
augment` fans the `augment` function out over PNGs in the emulator's S3, K variants per image are
written (valid PNGs, deterministic: a second run writes the same bytes), a hostile image fails the
run with a typed error naming it, and `predict` classifies an augmented image."""

import base64
import json
import os
import subprocess

import pytest

from conftest import BIN_DIR, BUILD_DIR, default_config
from images import png_bytes

TRAINER = str(BIN_DIR / "stratus-trainer")
CODE = str(BUILD_DIR / "functions" / "stratus")


def trainer(*args, check=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    completed = subprocess.run([TRAINER, *[str(a) for a in args]], capture_output=True, text=True, env=env, timeout=240)
    if check:
        assert completed.returncode == 0, completed.stderr + completed.stdout
    return completed


@pytest.fixture
def emulator(start_emulator):
    return start_emulator(default_config(functions=[
        {"name": n, "handler": n, "code_dir": CODE, "memory_mb": 1769, "timeout_s": 60}
        for n in ("augment", "predict", "layer")]))


def test_augment_then_predict(emulator):
    s3 = emulator.s3_client()
    s3.create_bucket(Bucket="images")
    for i in range(5):
        s3.put_object(Bucket="images", Key=f"raw/img-{i}.png", Body=png_bytes(28, 28, seed=i))
    s3.put_object(Bucket="images", Key="raw/notes.txt", Body=b"not an image")
    summary = json.loads(trainer("augment", "--target", emulator.url, "--bucket", "images", "--input", "raw/",
                                 "--output", "aug/", "--per-image", 3, "--workers", 2, "--json").stdout)
    assert summary["images_in"] == 5 and summary["images_out"] == 15 and summary["invocations"] == 2
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="images", Prefix="aug/")["Contents"])
    assert keys == sorted(f"aug/img-{i}-aug-{v:03d}.png" for i in range(5) for v in range(3))
    first = {k: s3.get_object(Bucket="images", Key=k)["Body"].read() for k in keys}
    assert all(body.startswith(b"\x89PNG\r\n\x1a\n") for body in first.values())
    assert len(set(first.values())) == 15
    table = trainer("augment", "--target", emulator.url, "--bucket", "images", "--input", "raw/", "--output", "aug/",
                    "--per-image", 3, "--workers", 3).stdout
    assert "5 images in, 15 out" in table
    assert {k: s3.get_object(Bucket="images", Key=k)["Body"].read() for k in keys} == first

    # predict classifies an augmented image with a network trained through the emulator.
    trainer("layers", "--layers", "784,4,1", "--samples", 32, "--epochs", 1, "--target", emulator.url,
            "--bucket", "images", "--run-id", "clf", "-q")
    event = {"model": "s3://images/runs/clf/model.bin", "image": base64.b64encode(first[keys[0]]).decode(),
             "top_k": 2}
    answer = emulator.lambda_client().invoke(FunctionName="predict", Payload=json.dumps(event).encode())
    probabilities = json.loads(answer["Payload"].read())
    assert set(probabilities) == {"0", "1"} and abs(sum(probabilities.values()) - 1) < 1e-6

    s3.put_object(Bucket="images", Key="raw/zz-broken.png", Body=png_bytes(28, 28)[:60])
    failed = trainer("augment", "--target", emulator.url, "--bucket", "images", "--input", "raw/", "--output", "aug2/",
                     "--per-image", 1, "--workers", 1, check=False)
    assert failed.returncode == 1 and "raw/zz-broken.png" in failed.stderr and "Truncated" in failed.stderr
