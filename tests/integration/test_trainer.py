"""stratus-trainer end to end: linreg through a real emulator with both payload formats, the same
model bit for bit as in-process, SigV4-signed calls, CSV data, and clear failures."""

import json
import os
import subprocess

import pytest

from conftest import BIN_DIR, BUILD_DIR, REGION, cpp_function, default_config

TRAINER = str(BIN_DIR / "stratus-trainer")
PRODUCT_CODE = BUILD_DIR / "functions" / "stratus"


def gradient_functions(**overrides):
    common = {"code_dir": str(PRODUCT_CODE), "memory_mb": 1769, "timeout_s": 30, **overrides}
    return [{"name": "gradient", "handler": "gradient", **common},
            {"name": "gradient_z", "handler": "gradient_z", **common}]


def run_trainer(*args, env_extra=None, timeout=300):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    env.update(env_extra or {})
    return subprocess.run([TRAINER, "linreg", *[str(a) for a in args]], capture_output=True, text=True,
                          env=env, timeout=timeout)


def train(tmp_path, name, *args, **kwargs):
    report = tmp_path / f"{name}.json"
    completed = run_trainer(*args, "--report", report, **kwargs)
    assert completed.returncode == 0, completed.stderr + completed.stdout
    return json.loads(report.read_text()), completed.stdout


PROBLEM = ["--samples", 3000, "--features", 6, "--workers", 4, "--epochs", 4, "--seed", 5]


@pytest.fixture
def gradient_emulator(start_emulator):
    return start_emulator(default_config(functions=gradient_functions()))


def test_json_and_zlib_through_the_emulator_match_local_bit_for_bit(gradient_emulator, tmp_path):
    local, _ = train(tmp_path, "local", *PROBLEM, "--target", "local")
    via_json, table = train(tmp_path, "json", *PROBLEM, "--target", gradient_emulator.url)
    via_zlib, _ = train(tmp_path, "zlib", *PROBLEM, "--target", gradient_emulator.url, "--payload", "zlib")
    for remote in (via_json, via_zlib):
        assert remote["weights"] == local["weights"]
        assert remote["bias"] == local["bias"]
        assert [e["loss"] for e in remote["epochs"]] == [e["loss"] for e in local["epochs"]]
    # The table shows every epoch and the summary with the cost read from REPORT lines.
    assert table.count("\n") >= 4 + 3
    assert "summary: average epoch" in table


def test_epochs_report_invocations_cold_starts_and_cost(gradient_emulator, tmp_path):
    report, _ = train(tmp_path, "cost", *PROBLEM, "--target", gradient_emulator.url)
    first, later = report["epochs"][0], report["epochs"][1:]
    # Four workers start at once, but a worker that answers before the last one is placed leaves an
    # idle environment that Lambda (and the emulator) reuses, so the first epoch has 1-4 cold
    # starts, and every cold start made an environment that is still there.
    assert first["invocations"] == 4 and 1 <= first["cold_starts"] <= 4
    assert all(e["invocations"] == 4 for e in later)
    cold_starts = sum(e["cold_starts"] for e in report["epochs"])
    assert cold_starts == len(gradient_emulator.environments("gradient")) <= 4
    assert all(e["billed_ms"] >= 1 and e["cost_usd"] > 0 for e in report["epochs"])
    usage = gradient_emulator.usage()["functions"]["gradient"]
    assert usage["invocations"] == 16
    assert report["summary"]["total_cost_usd"] == pytest.approx(usage["cost_usd"], rel=1e-6)
    assert report["configuration"]["workers"] == 4
    assert report["backend"].startswith(gradient_emulator.url)


def test_mini_batch_through_the_emulator(gradient_emulator, tmp_path):
    local, _ = train(tmp_path, "mb-local", *PROBLEM, "--batch-size", 400, "--target", "local")
    remote, _ = train(tmp_path, "mb-remote", *PROBLEM, "--batch-size", 400, "--target", gradient_emulator.url,
                      "--payload", "zlib")
    assert remote["epochs"][0]["steps"] > 1
    assert remote["weights"] == local["weights"]


def test_csv_data(gradient_emulator, tmp_path):
    csv = tmp_path / "data.csv"
    csv.write_text("a,b,y\n" + "".join(f"{i % 7},{(i * 3) % 5},{2 * (i % 7) - (i * 3) % 5 + 1}\n"
                                       for i in range(200)))
    report, _ = train(tmp_path, "csv", "--data", csv, "--workers", 3, "--epochs", 30, "--lr", 0.05,
                      "--target", gradient_emulator.url)
    assert report["configuration"]["rows"] == 200 and report["configuration"]["features"] == 2
    assert report["epochs"][-1]["loss"] < report["epochs"][0]["loss"]


def test_signed_calls_pass_sigv4_checking(start_emulator, tmp_path):
    config = default_config(functions=gradient_functions())
    config["sigv4"] = {"enabled": True, "credentials": [
        {"access_key_id": "AKIATRAINER000000001", "secret_access_key": "trainer-secret"}]}
    emulator = start_emulator(config)
    good = {"AWS_ACCESS_KEY_ID": "AKIATRAINER000000001", "AWS_SECRET_ACCESS_KEY": "trainer-secret",
            "AWS_REGION": REGION}
    report, _ = train(tmp_path, "signed", *PROBLEM, "--target", emulator.url, env_extra=good)
    assert report["summary"]["invocations"] == 16
    bad = dict(good, AWS_SECRET_ACCESS_KEY="wrong")
    failed = run_trainer(*PROBLEM, "--target", emulator.url, env_extra=bad)
    assert failed.returncode != 0
    assert "InvalidSignatureException" in failed.stderr
    unsigned = run_trainer(*PROBLEM, "--target", emulator.url)
    assert unsigned.returncode != 0 and "MissingAuthenticationTokenException" in unsigned.stderr


def test_unreachable_target_is_one_clear_error(tmp_path):
    completed = run_trainer(*PROBLEM, "--target", "http://127.0.0.1:1", "--call-timeout", 5)
    assert completed.returncode != 0
    assert "cannot reach http://127.0.0.1:1" in completed.stderr
    assert completed.stderr.count("stratus-trainer:") == 1


def test_missing_function_and_failing_function(start_emulator, tmp_path):
    from conftest import code_dir_with_cpp_bootstrap
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(functions=[cpp_function("broken", "error", code)]))
    missing = run_trainer(*PROBLEM, "--target", emulator.url)
    assert missing.returncode != 0 and "ResourceNotFoundException" in missing.stderr
    assert "is function 'gradient' deployed" in missing.stderr
    failing = run_trainer(*PROBLEM, "--target", emulator.url, "--function", "broken", "--retries", 1)
    assert failing.returncode != 0
    assert "failed 2 times" in failing.stderr and "Custom.Failure" in failing.stderr
    # A shard that failed for good stops the step: no further attempts are paid for.
    assert 2 <= emulator.usage()["functions"]["broken"]["invocations"] <= 8


def test_bad_options_are_refused():
    for args in (["--workers", 0], ["--target", "ftp://example"], ["--payload", "xml"], ["--epochs", -1],
                 ["--samples", 3, "--workers", 4, "--target", "local"]):
        completed = run_trainer(*args)
        assert completed.returncode != 0, args
        assert completed.stderr.strip(), args
