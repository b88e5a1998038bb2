"""The augmentation -> training -> prediction pipeline on generated images, through a real emulator:
PNGs in one directory per class are augmented by the `augment` function, `stratus-trainer stage
--dataset images` turns the augmented set into the shards Case B reads (labels from the class
directories, names in classes.json), `caseb --dataset` trains the CNN on it with the model-averaging
functions, and `predict` classifies one image with the trained model. Bad image folders are refused
with the object named."""

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
        assert completed.returncode == 0, completed.stderr[-4000:] + completed.stdout[-2000:]
    return completed


@pytest.fixture
def emulator(start_emulator):
    functions = [{"name": n, "handler": n, "code_dir": CODE, "memory_mb": 1769, "timeout_s": 60}
                 for n in ("augment", "predict")]
    functions.append({"name": "model_averaging", "handler": "model_averaging", "code_dir": CODE, "memory_mb": 1536,
                      "timeout_s": 300, "recursive_loop": "Allow"})
    return start_emulator(default_config(functions=functions))


def test_augment_stage_train_predict(emulator, tmp_path):
    s3 = emulator.s3_client()
    s3.create_bucket(Bucket="images")
    for label, offset in (("cat", 0), ("dog", 40)):
        for i in range(3):
            s3.put_object(Bucket="images", Key=f"raw/{label}/img-{i}.png", Body=png_bytes(40, 36, seed=offset + i))
    augmented = json.loads(trainer("augment", "--target", emulator.url, "--bucket", "images", "--input", "raw/",
                                   "--output", "aug/", "--per-image", 2, "--workers", 2, "--json").stdout)
    assert augmented["images_in"] == 6 and augmented["images_out"] == 12

    staged = json.loads(trainer("stage", "--dataset", "images", "--images", "s3://images/aug/", "--bucket", "images",
                                "--shards", 2, "--target", emulator.url, "--json", "-q").stdout)
    assert staged["samples"] == 12 and staged["shards"] == 2
    manifest_key = staged["manifest_key"]
    assert manifest_key == "datasets/images/manifest.json"
    manifest = json.loads(s3.get_object(Bucket="images", Key=manifest_key)["Body"].read())
    assert manifest["features"] == {"dtype": "uint8", "sample_shape": [3, 32, 32]}
    assert manifest["labels"]["classes"] == [0, 1] and manifest["labels"]["class_counts"] == [6, 6]
    classes = json.loads(s3.get_object(Bucket="images", Key="datasets/images/classes.json")["Body"].read())
    assert classes["classes"] == ["cat", "dog"] and classes["images"] == 12
    # Staging again changes nothing.
    again = json.loads(trainer("stage", "--dataset", "images", "--images", "s3://images/aug/", "--bucket", "images",
                               "--shards", 2, "--target", emulator.url, "--json", "-q").stdout)
    assert again["uploaded"] == 0 and again["skipped"] == 2

    report_file = tmp_path / "caseb.json"
    trainer("caseb", "--dataset", f"s3://images/{manifest_key}", "--workers", 2, "--merge-tree", "1,2", "--rounds", 2,
            "--batches", 2, "--batch-size", 3, "--init", "tutorial", "--seed", 3, "--poll-ms", 50,
            "--target", emulator.url, "--bucket", "images", "--run-id", "pipeline", "--report", report_file, "-q")
    report = json.loads(report_file.read_text())
    assert len(report["rounds"]) == 2 and len(report["model_sha256"]) == 64
    models = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="images", Prefix="runs/pipeline/model/")["Contents"])
    final = models[-1]

    image = tmp_path / "dog.png"
    image.write_bytes(s3.get_object(Bucket="images", Key="aug/dog/img-0-aug-000.png")["Body"].read())
    answer = json.loads(trainer("predict", "--model", f"s3://images/{final}", "--image", image, "--top-k", 3,
                                "--target", emulator.url, "--json").stdout)
    assert len(answer) == 3 and all(k.isdigit() and 0 <= int(k) <= 9 for k in answer)
    assert all(0 <= p <= 1 for p in answer.values()) and sum(answer.values()) <= 1 + 1e-6

    # Refused, with the object named: an image outside a class directory, a broken image.
    s3.put_object(Bucket="images", Key="flat/img.png", Body=png_bytes(8, 8))
    flat = trainer("stage", "--dataset", "images", "--images", "s3://images/flat/", "--bucket", "images",
                   "--target", emulator.url, "-q", check=False)
    assert flat.returncode == 1 and "s3://images/flat/img.png" in flat.stderr and "directory per class" in flat.stderr
    s3.put_object(Bucket="images", Key="broken/cat/a.png", Body=png_bytes(8, 8)[:40])
    broken = trainer("stage", "--dataset", "images", "--images", "s3://images/broken/", "--bucket", "images",
                     "--target", emulator.url, "-q", check=False)
    assert broken.returncode == 1 and "s3://images/broken/cat/a.png" in broken.stderr
