"""Guardrails in a real emulator: Put/GetFunctionRecursionConfig through boto3, and a deliberately
runaway self-invoking function (a bash+curl runtime that re-invokes itself with Event, forwarding
its trace header as Lambda's SDKs do) stopped by the recursion guard after the configured limit;
the same function with Allow keeps going until its own bound."""

import json
import os
import time

import pytest

from conftest import default_config, wait_until

# Re-invokes itself once per event (Event, trace header forwarded) while the event's "left" > 0;
# prints every invocation's trace header and the status of its re-invoke ("CHAIN <trace> <status>")
# to its log, which the emulator keeps under <data>/logs/<function>/.
RUNAWAY = r"""#!/bin/bash
set -eu
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
headers="$(mktemp)"
while true; do
  event="$(curl -sS -D "$headers" "$api/next")"
  id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | tr -d '\r' | awk '{print $2}')"
  trace="$(grep -i '^lambda-runtime-trace-id:' "$headers" | tr -d '\r' | cut -d' ' -f2-)"
  status="$(curl -sS -o /dev/null -w '%{http_code}' -X POST \
    -H 'X-Amz-Invocation-Type: Event' -H "X-Amzn-Trace-Id: $trace" --data-raw "$event" \
    "$AWS_ENDPOINT_URL/2015-03-31/functions/$AWS_LAMBDA_FUNCTION_NAME/invocations")"
  echo "CHAIN $trace $status"
  curl -sS -o /dev/null --data-raw '{}' "$api/$id/response"
done
"""


@pytest.fixture
def runaway(start_emulator, tmp_path):
    code = tmp_path / "runaway"
    code.mkdir()
    (code / "bootstrap").write_text(RUNAWAY)
    os.chmod(code / "bootstrap", 0o755)
    function = {"name": "runaway", "handler": "x", "code_dir": str(code), "timeout_s": 10}
    emulator = start_emulator(default_config(functions=[function], recursion_limit=5))
    return emulator, emulator.data_dir / "logs" / "runaway"


def recursion_config(emulator, function, value=None):
    """Get/PutFunctionRecursionConfig over plain HTTP: bookworm's boto3 and CLI predate the API."""
    path = f"/2024-08-31/functions/{function}/recursion-config"
    if value is None:
        return emulator.request("GET", path)
    return emulator.request("PUT", path, json.dumps({"RecursiveLoop": value}))


def lines(log_dir):
    """The CHAIN lines of every environment's log, in chain order (by Lineage count)."""
    found = []
    for path in sorted(log_dir.glob("*.log")) if log_dir.exists() else []:
        found += [line[len("CHAIN "):] for line in path.read_text().splitlines() if line.startswith("CHAIN ")]
    return sorted(found, key=lambda line: int(line.split("Lineage=")[1].split(":")[1].split()[0]))


def test_recursion_config_is_terminate_by_default_and_can_be_set(runaway):
    emulator, _ = runaway
    assert recursion_config(emulator, "runaway").json() == {"RecursiveLoop": "Terminate"}
    assert recursion_config(emulator, "runaway", "Allow").json() == {"RecursiveLoop": "Allow"}
    assert recursion_config(emulator, "runaway").json() == {"RecursiveLoop": "Allow"}
    refused = recursion_config(emulator, "runaway", "Sometimes")
    assert refused.status == 400 and refused.headers["x-amzn-errortype"] == "InvalidParameterValueException"
    assert recursion_config(emulator, "nope").status == 404


def test_a_runaway_self_invoking_function_is_stopped_by_the_recursion_guard(runaway):
    emulator, log = runaway
    assert emulator.invoke_raw("runaway", b"{}", headers={"X-Amz-Invocation-Type": "Event"}).status == 202
    # Limit 5: invocations 1..5 run; the 5th one's re-invoke (hop 6) is refused.
    wait_until(lambda: any(line.endswith(" 400") for line in lines(log)), timeout=30,
               message="the guard to refuse the chain")
    time.sleep(0.5)
    chain = lines(log)
    assert [line.split()[-1] for line in chain] == ["202"] * 4 + ["400"], chain
    assert [int(line.split("Lineage=")[1].split(":")[1].split()[0]) for line in chain] == [1, 2, 3, 4, 5]
    # One Root across the chain: it is one chain.
    assert len({line.split(";")[0] for line in chain}) == 1
    usage = emulator.usage()
    assert usage["recursion_stopped"] == {"runaway": 1}
    assert usage["functions"]["runaway"]["invocations"] == 5
    assert "recursive loop stopped" in emulator.logs()


def test_allow_lets_the_chain_pass_the_limit(runaway):
    emulator, log = runaway
    assert recursion_config(emulator, "runaway", "Allow").status == 200
    assert emulator.invoke_raw("runaway", b"{}", headers={"X-Amz-Invocation-Type": "Event"}).status == 202
    wait_until(lambda: len(lines(log)) >= 8, timeout=30, message="a chain past the limit")
    # Stop it the AWS way: reserved concurrency 0 throttles every invoke.
    emulator.lambda_client().put_function_concurrency(FunctionName="runaway", ReservedConcurrentExecutions=0)
    assert all(line.endswith(" 202") or line.endswith(" 429") for line in lines(log))
    assert emulator.usage()["recursion_stopped"] == {}


def test_the_chain_is_still_counted_after_a_restart_with_its_event_queued(start_emulator, tmp_path):
    """The trace header is journaled with the event: an event of a chain at hop 2 that waits in
    the queue across a daemon restart runs as hop 3 afterwards, so the guard still stops the chain
    at the limit (5) after 3 more invocations, not 5."""
    code = tmp_path / "runaway"
    code.mkdir()
    (code / "bootstrap").write_text(RUNAWAY)
    os.chmod(code / "bootstrap", 0o755)
    config = default_config(functions=[{"name": "runaway", "handler": "x", "code_dir": str(code),
                                        "timeout_s": 10}], recursion_limit=5)
    data_dir = tmp_path / "data"
    first = start_emulator(config, data_dir=data_dir, name="first")
    # Reserved concurrency 0: the event is accepted (202, journaled) and waits in the queue.
    first.lambda_client().put_function_concurrency(FunctionName="runaway", ReservedConcurrentExecutions=0)
    trace = "Root=1-5f000000-000000000000000000000abc;Parent=0000000000000001;Sampled=0;Lineage=1a2b3c4d:2"
    sent = first.invoke_raw("runaway", b"{}", headers={"X-Amz-Invocation-Type": "Event", "X-Amzn-Trace-Id": trace})
    assert sent.status == 202
    first.stop()
    assert "1 queued events stay in the event journal" in first.logs(), first.logs()
    log = data_dir / "logs" / "runaway"
    assert lines(log) == []
    second = start_emulator(config, data_dir=data_dir, name="second")
    assert "restored 1 accepted events" in second.logs(), second.logs()
    second.lambda_client().delete_function_concurrency(FunctionName="runaway")
    wait_until(lambda: any(line.endswith(" 400") for line in lines(log)), timeout=30,
               message="the guard to refuse the chain")
    time.sleep(0.5)
    chain = lines(log)
    assert [int(line.split("Lineage=")[1].split(":")[1].split()[0]) for line in chain] == [3, 4, 5], chain
    assert [line.split()[-1] for line in chain] == ["202", "202", "400"], chain
    # Still the chain the client started: its Root came through the journal.
    assert {line.split(";")[0] for line in chain} == {"Root=1-5f000000-000000000000000000000abc"}
    assert second.usage()["recursion_stopped"] == {"runaway": 1}


# ---- budgets: --max-cost and --max-wall on training commands -----------------------------------

import subprocess  # noqa: E402

from conftest import BIN_DIR, BUILD_DIR  # noqa: E402

TRAINER = str(BIN_DIR / "stratus-trainer")
PRODUCT_CODE = BUILD_DIR / "functions" / "stratus"


def trainer(*args, timeout=240):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update({"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"})
    return subprocess.run([TRAINER, *[str(a) for a in args]], capture_output=True, text=True, env=env,
                          timeout=timeout)


@pytest.fixture
def training_emulator(start_emulator):
    common = {"code_dir": str(PRODUCT_CODE), "memory_mb": 1769, "timeout_s": 60}
    return start_emulator(default_config(functions=[
        {"name": "model_averaging", "handler": "model_averaging", "recursive_loop": "Allow", **common},
        {"name": "gradient", "handler": "gradient", **common}]))


@pytest.mark.parametrize("orchestration", ["functions", "driver"])
def test_a_run_past_max_cost_is_stopped_and_says_why(training_emulator, tmp_path, orchestration):
    report = tmp_path / "report.json"
    completed = trainer("casea", "--workers", 4, "--merge-tree", "1,4", "--rounds", 50, "--samples", 4000,
                        "--poll-ms", 50, "--target", training_emulator.url, "--bucket", "budget",
                        "--orchestration", orchestration, "--run-id", f"costly-{orchestration}",
                        "--max-cost", "0.0000001", "--report", report)
    assert completed.returncode != 0
    assert "--max-cost 1e-07 USD exceeded" in completed.stderr and "run stopped" in completed.stderr, completed.stderr
    stopped = json.loads(report.read_text())
    assert stopped["stopped_by"] == "--max-cost" and "--max-cost" in stopped["stop_reason"]
    assert 1 <= len(stopped["rounds"]) < 50
    # A stopped run's report still has its fault list (none injected here; the driver's calls counted).
    assert stopped["faults"]["record"] and stopped["faults"]["injected"] == 0, stopped["faults"]
    if orchestration == "driver":
        assert stopped["faults"]["trainer"]["calls"] == 4 * len(stopped["rounds"])
    # The stop flag is set: no function keeps the run going.
    s3 = training_emulator.s3_client()
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="budget", Prefix=f"runs/costly-{orchestration}/")["Contents"]]
    assert f"runs/costly-{orchestration}/stop" in keys, keys
    time.sleep(1.0)
    invocations = training_emulator.usage()["functions"]["model_averaging"]["invocations"]
    time.sleep(1.0)
    assert training_emulator.usage()["functions"]["model_averaging"]["invocations"] == invocations


def test_linreg_past_max_wall_and_max_cost_exits_naming_the_limit(training_emulator):
    problem = ["--samples", 2000, "--features", 4, "--workers", 2, "--epochs", 100000, "--target",
               training_emulator.url]
    walled = trainer("linreg", *problem, "--max-wall", "1")
    assert walled.returncode != 0 and "--max-wall 1 s exceeded" in walled.stderr, walled.stderr
    costly = trainer("linreg", *problem, "--max-cost", "0.0000001")
    assert costly.returncode != 0 and "--max-cost 1e-07 USD exceeded" in costly.stderr
    assert "after epoch" in costly.stderr
    refused = trainer("linreg", *problem, "--max-cost", "-1")
    assert refused.returncode != 0 and "--max-cost" in refused.stderr


def test_a_failed_run_still_writes_its_report(training_emulator, tmp_path):
    # Round 1's four workers run; round 2's first one is killed and --retries 0 lets the run fail.
    plan = {"seed": 2, "rules": [{"kind": "crash", "function": "model_averaging", "schedule": [5],
                                  "crash_after_min_ms": 0, "crash_after_max_ms": 0}]}
    assert training_emulator.request("PUT", "/stratus/v1/faults", json.dumps(plan)).status == 200
    report = tmp_path / "failed.json"
    try:
        completed = trainer("casea", "--workers", 4, "--merge-tree", "1,4", "--rounds", 3, "--samples", 4000,
                            "--target", training_emulator.url, "--bucket", "budget", "--orchestration", "driver",
                            "--run-id", "doomed", "--retries", 0, "--max-in-flight", 1, "--report", report)
    finally:
        training_emulator.request("DELETE", "/stratus/v1/faults")
    assert completed.returncode != 0, completed.stdout
    failed = json.loads(report.read_text())
    assert failed["failed"] is True and failed["error"], failed
    assert "stopped_by" not in failed
    assert len(failed["rounds"]) == 1 and failed["rounds"][0]["round"] == 1
    assert failed["faults"]["injected"] == 1, failed["faults"]
