"""`stratus-trainer deploy` against a real emulator: every product function is created from
functions.zip (CreateFunction, then waiting until Active), a second deploy changes nothing, --memory
updates the configuration, a new package updates the code; then linreg runs through the deployed
functions and gives the in-process model bit for bit, and shard_stats reads staged data back. The
same with SigV4 checking on; and the refusals (no zip, local target, AWS without a role)."""

import base64
import hashlib
import json
import os
import subprocess
import zipfile

import pytest

from conftest import BIN_DIR, BUILD_DIR, REGION, default_config, require_file

TRAINER = str(BIN_DIR / "stratus-trainer")
FUNCTIONS_ZIP = BUILD_DIR / "functions" / "functions.zip"
# At least these (workloads add theirs to functions/src/product_functions.cpp).
PRODUCT_FUNCTIONS = {"echo", "gradient", "gradient_z", "shard_stats"}


def trainer_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    env.update(extra or {})
    return env


def trainer(*args, env=None, timeout=300):
    require_file(TRAINER, "stratus-trainer")
    return subprocess.run([TRAINER, *[str(a) for a in args]], capture_output=True, text=True,
                          env=trainer_env(env), timeout=timeout)


def deploy(emulator, *args, env=None):
    completed = trainer("deploy", "--target", emulator.url, "--json", *args, env=env)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return json.loads(completed.stdout)


def by_name(deployed):
    return {f["function"]: f for f in deployed["functions"]}


def configurations(emulator):
    functions = emulator.lambda_client().list_functions()["Functions"]
    return {f["FunctionName"]: f for f in functions}


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


PROBLEM = ["--samples", 2000, "--features", 5, "--workers", 4, "--epochs", 3, "--seed", 3]


def linreg_report(tmp_path, name, *args):
    report = tmp_path / f"{name}.json"
    completed = trainer("linreg", *PROBLEM, "--report", report, *args)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return json.loads(report.read_text())


def test_deploy_creates_every_product_function_then_linreg_runs_through_them(start_emulator, tmp_path):
    require_file(FUNCTIONS_ZIP, "functions.zip")
    emulator = start_emulator(default_config())
    first = deploy(emulator)
    assert set(by_name(first)) >= PRODUCT_FUNCTIONS
    assert all(f["action"] == "created" and f["state"] == "Active" for f in first["functions"])

    deployed = configurations(emulator)
    assert set(deployed) == set(by_name(first))
    package_sha = sha256_b64(FUNCTIONS_ZIP.read_bytes())
    for name, config in deployed.items():
        assert config["Runtime"] == "provided.al2023" and config["Handler"] == by_name(first)[name]["handler"]
        assert config["CodeSha256"] == package_sha
    assert all(deployed[name]["Handler"] == name for name in PRODUCT_FUNCTIONS)
    assert deployed["gradient"]["MemorySize"] == 1769

    # Deploying again changes nothing; --memory changes only the configuration.
    again = deploy(emulator)
    assert {f["action"] for f in again["functions"]} == {"unchanged"}
    resized = deploy(emulator, "--memory", 1024, "--function", "gradient", "--function", "gradient_z")
    assert set(by_name(resized)) == {"gradient", "gradient_z"}
    assert {f["action"] for f in resized["functions"]} == {"configuration updated"}
    deployed = configurations(emulator)
    assert deployed["gradient"]["MemorySize"] == 1024 and deployed["gradient_z"]["MemorySize"] == 1024
    assert deployed["echo"]["MemorySize"] == 128

    # The deployed functions serve linreg: the same model as in-process, bit for bit, and the
    # cost the emulator meters is what the trainer read from the REPORT lines.
    local = linreg_report(tmp_path, "local", "--target", "local")
    for payload in ("json", "zlib"):
        remote = linreg_report(tmp_path, payload, "--target", emulator.url, "--payload", payload)
        assert remote["weights"] == local["weights"] and remote["bias"] == local["bias"]
        assert [e["loss"] for e in remote["epochs"]] == [e["loss"] for e in local["epochs"]]
        assert remote["summary"]["invocations"] == 12
    usage = emulator.usage()["functions"]
    billed = linreg_report(tmp_path, "billed", "--target", emulator.url)
    after = emulator.usage()["functions"]["gradient"]
    assert billed["summary"]["total_cost_usd"] == pytest.approx(
        after["cost_usd"] - usage["gradient"]["cost_usd"], rel=1e-6)
    # In-process, invocations are counted too (and cost nothing).
    assert local["summary"]["invocations"] == 12 and local["summary"]["total_cost_usd"] == 0

    # shard_stats reads data staged into the emulator's S3 through the environment it gets.
    staged = trainer("stage", "--target", emulator.url, "--dataset", "casea", "--count", 400, "--shards", 2,
                     "--bucket", "data", "--json", "-q", env=emulator.aws_env())
    assert staged.returncode == 0, staged.stderr
    manifest_key = json.loads(staged.stdout)["manifest_key"]
    response = emulator.lambda_client().invoke(
        FunctionName="shard_stats", Payload=json.dumps({"bucket": "data", "manifest": manifest_key, "shard": 1}))
    stats = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, stats
    assert stats["count"] == 200 and stats["first"] == 200 and stats["sample_shape"] == [20]


def test_a_new_package_updates_the_code(start_emulator, tmp_path):
    require_file(FUNCTIONS_ZIP, "functions.zip")
    emulator = start_emulator(default_config())
    deploy(emulator, "--function", "echo")
    # The same bootstrap with one more file: another package, the same behaviour.
    changed = tmp_path / "functions.zip"
    with zipfile.ZipFile(FUNCTIONS_ZIP) as original, zipfile.ZipFile(changed, "w") as copy:
        for info in original.infolist():
            copy.writestr(info, original.read(info.filename))
        copy.writestr("NOTICE", "changed\n")
    updated = deploy(emulator, "--function", "echo", "--zip", changed)
    assert by_name(updated)["echo"]["action"] == "updated"
    config = configurations(emulator)["echo"]
    assert config["CodeSha256"] == sha256_b64(changed.read_bytes())
    response = emulator.lambda_client().invoke(FunctionName="echo", Payload=b'{"still": "works"}')
    assert json.loads(response["Payload"].read()) == {"still": "works"}


def test_deploy_with_sigv4_checking(start_emulator, tmp_path):
    require_file(FUNCTIONS_ZIP, "functions.zip")
    config = default_config()
    config["sigv4"] = {"enabled": True, "credentials": [
        {"access_key_id": "AKIADEPLOY0000000001", "secret_access_key": "deploy-secret"}]}
    emulator = start_emulator(config)
    good = {"AWS_ACCESS_KEY_ID": "AKIADEPLOY0000000001", "AWS_SECRET_ACCESS_KEY": "deploy-secret",
            "AWS_REGION": REGION}
    deployed = deploy(emulator, "--function", "gradient", env=good)
    assert by_name(deployed)["gradient"]["action"] == "created"
    signed = trainer("linreg", *PROBLEM, "--target", emulator.url, env=good)
    assert signed.returncode == 0, signed.stderr
    unsigned = trainer("deploy", "--target", emulator.url, "--function", "echo")
    assert unsigned.returncode != 0 and "MissingAuthenticationTokenException" in unsigned.stderr
    wrong = trainer("deploy", "--target", emulator.url, "--function", "echo",
                    env=dict(good, AWS_SECRET_ACCESS_KEY="wrong"))
    assert wrong.returncode != 0 and "InvalidSignatureException" in wrong.stderr


def test_refusals_are_clear(start_emulator, tmp_path):
    emulator = start_emulator(default_config())
    missing = trainer("deploy", "--target", emulator.url, "--zip", tmp_path / "none.zip")
    assert missing.returncode != 0 and "cannot read the functions package" in missing.stderr
    not_zip = tmp_path / "not.zip"
    not_zip.write_text("hello")
    refused = trainer("deploy", "--target", emulator.url, "--zip", not_zip)
    assert refused.returncode != 0 and "is not a zip file" in refused.stderr
    local = trainer("deploy", "--target", "local")
    assert local.returncode != 0 and "remote --target" in local.stderr
    unknown = trainer("deploy", "--target", emulator.url, "--function", "nope")
    assert unknown.returncode != 0 and "'nope' is not a product function" in unknown.stderr
    # AWS needs a role; refused before any request is made (the credentials are fake).
    fake = {"AWS_ACCESS_KEY_ID": "AKIAFAKE", "AWS_SECRET_ACCESS_KEY": "fake", "AWS_REGION": REGION}
    no_role = trainer("deploy", "--target", "aws", env=fake)
    assert no_role.returncode != 0 and "--role ARN is required" in no_role.stderr
    assert configurations(emulator) == {}
