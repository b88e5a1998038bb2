"""The prediction endpoint: a network trained by `stratus-trainer layers` through the emulator is
served by the `predict` function: plain `aws lambda invoke`, `stratus-trainer predict` on the
emulator and in-process give the same answer; behind a function URL (curl) it answers HTTP; with
provisioned concurrency the first request finds a warm environment (no cold start)."""

import base64
import json
import os
import subprocess

import pytest

from conftest import BIN_DIR, BUILD_DIR, default_config
from images import png_bytes

TRAINER = str(BIN_DIR / "stratus-trainer")
CODE = str(BUILD_DIR / "functions" / "stratus")
MODEL = "s3://models/runs/digits/model.bin"


def functions(provisioned=0):
    predict = {"name": "predict", "handler": "predict", "code_dir": CODE, "memory_mb": 1769, "timeout_s": 30}
    if provisioned:
        predict["provisioned"] = provisioned
    return [{"name": "layer", "handler": "layer", "code_dir": CODE, "memory_mb": 1024, "timeout_s": 60}, predict]


def trainer(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    completed = subprocess.run([TRAINER, *[str(a) for a in args]], capture_output=True, text=True, env=env, timeout=240)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return completed.stdout


def train(url):
    trainer("layers", "--layers", "784,6,1", "--samples", 64, "--batch-size", 16, "--epochs", 1, "--activation", "tanh",
            "--target", url, "--bucket", "models", "--run-id", "digits", "-q")


@pytest.fixture
def emulator(start_emulator):
    return start_emulator(default_config(functions=functions()))


def test_predict_everywhere_gives_the_same_answer(emulator, tmp_path):
    train(emulator.url)
    image = tmp_path / "digit.png"
    image.write_bytes(png_bytes(28, 28, seed=3))
    event = {"model": MODEL, "image": base64.b64encode(image.read_bytes()).decode(), "hidden": "tanh",
             "labels": ["zero", "one"]}
    payload = tmp_path / "event.json"
    payload.write_text(json.dumps(event))
    emulator.aws("invoke", "--function-name", "predict", "--cli-binary-format", "raw-in-base64-out",
                 "--payload", f"file://{payload}", str(tmp_path / "answer.json"))
    answer = json.loads((tmp_path / "answer.json").read_text())
    assert list(answer) in (["zero", "one"], ["one", "zero"])
    assert abs(sum(answer.values()) - 1) < 1e-6

    remote = json.loads(trainer("predict", "--target", emulator.url, "--model", MODEL, "--image", image,
                                "--hidden", "tanh", "--labels", "zero,one", "--json"))
    assert remote == answer
    model_file = tmp_path / "model.bin"
    emulator.s3_client().download_file("models", "runs/digits/model.bin", str(model_file))
    local = json.loads(trainer("predict", "--target", "local", "--model", model_file, "--image", image,
                               "--hidden", "tanh", "--labels", "zero,one", "--json"))
    assert local == answer  # same bytes in-process and in the static bootstrap
    # The model trained on pixels / 255 (the default); asking for Case C's centred scaling feeds
    # other inputs, so the answer moves.
    centred = json.loads(trainer("predict", "--target", emulator.url, "--model", MODEL, "--image", image,
                                 "--hidden", "tanh", "--labels", "zero,one", "--pixels", "centered", "--json"))
    assert set(centred) == {"zero", "one"} and centred != answer
    table = trainer("predict", "--target", emulator.url, "--model", MODEL, "--image", image, "--hidden", "tanh")
    assert "probability" in table

    # A hostile image is a typed refusal, not a crash.
    event["image"] = base64.b64encode(image.read_bytes()[:100]).decode()
    result = emulator.lambda_client().invoke(FunctionName="predict", Payload=json.dumps(event).encode())
    error = json.loads(result["Payload"].read())
    assert result["FunctionError"] == "Unhandled" and error["errorType"] == "InvalidInput"
    assert "Truncated" in error["errorMessage"]

    # Behind a function URL: curl posts the same request and gets the answer as HTTP.
    url = emulator.lambda_client().create_function_url_config(FunctionName="predict", AuthType="NONE")["FunctionUrl"]
    event["image"] = base64.b64encode(image.read_bytes()).decode()
    payload.write_text(json.dumps(event))
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", "-H", "Content-Type: application/json",
                          "--data-binary", f"@{payload}", url], capture_output=True, text=True, timeout=60)
    body, status = out.stdout.rsplit("\n", 1)
    assert status == "200" and json.loads(body) == answer
    out = subprocess.run(["curl", "-sS", "-w", "\n%{http_code}", "--data-raw", '{"model": "s3://models/none"}', url],
                         capture_output=True, text=True, timeout=60)
    body, status = out.stdout.rsplit("\n", 1)
    assert status == "400" and json.loads(body)["errorType"] == "InvalidInput"


def test_provisioned_concurrency_serves_the_first_request_warm(start_emulator, tmp_path):
    emulator = start_emulator(default_config(functions=functions(provisioned=2)))
    train(emulator.url)
    url = emulator.lambda_client().create_function_url_config(FunctionName="predict", AuthType="NONE")["FunctionUrl"]
    request = tmp_path / "request.json"
    request.write_text(json.dumps({"model": MODEL, "image": base64.b64encode(png_bytes(28, 28)).decode(),
                                   "hidden": "tanh"}))
    for _ in range(3):
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--data-binary", f"@{request}", url],
                             capture_output=True, text=True, timeout=60)
        assert out.stdout == "200"
    usage = emulator.usage()["functions"]["predict"]
    assert usage["invocations"] == 3 and usage["cold_starts"] == 0, usage
    provisioned = [e for e in emulator.environments("predict") if e["provisioned"]]
    assert len(provisioned) == 2
