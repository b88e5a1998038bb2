"""Fault injection in a real emulator: the admin API (GET/PUT/DELETE /stratus/v1/faults) and the
config file's "faults" object; every kind (dropped and duplicated async events, crashes, stragglers,
invoke and S3 latency, S3 503 SlowDown / 500 InternalError, 429 throttles) seen from real clients,
logged and counted in /stratus/v1/usage and /metrics; the same seed gives the same faults."""

import contextlib
import json
import threading
import time

import botocore.exceptions
import pytest

from conftest import code_dir_with_cpp_bootstrap, cpp_function, default_config, wait_until

FAULTS = "/stratus/v1/faults"


def put_faults(emulator, plan):
    return emulator.request("PUT", FAULTS, json.dumps(plan), {"Content-Type": "application/json"})


def invoke(emulator, function, payload=None, event=False):
    headers = {"X-Amz-Invocation-Type": "Event"} if event else {}
    return emulator.request("POST", f"/2015-03-31/functions/{function}/invocations",
                            json.dumps(payload or {}), headers)


@pytest.fixture
def emulator(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    functions = [cpp_function("echo", "echo", code), cpp_function("counter", "counter", code),
                 cpp_function("spin", "spin_ms", code, timeout_s=20, memory_mb=1769), cpp_function("sleep", "sleep", code, timeout_s=10)]
    return start_emulator(default_config(functions=functions))


def test_admin_api_replaces_reads_and_clears_the_plan(emulator):
    empty = emulator.get_json(FAULTS)
    assert empty["rules"] == [] and empty["injected_total"] == 0
    plan = {"seed": 5, "rules": [{"kind": "throttle", "function": "echo", "schedule": [2]},
                                 {"kind": "s3_slow_down", "bucket": "b", "key_prefix": "runs/", "probability": 0.5}]}
    stored = put_faults(emulator, plan)
    assert stored.status == 200, stored
    assert stored.json()["seed"] == 5 and stored.json()["rules"][0]["schedule"] == [2]
    assert emulator.get_json(FAULTS)["rules"][1]["key_prefix"] == "runs/"
    deleted = emulator.request("DELETE", FAULTS)
    assert deleted.status == 204
    assert emulator.get_json(FAULTS)["rules"] == []


@pytest.mark.parametrize("plan, message", [
    ({"rules": [{"kind": "explode", "probability": 1}]}, "rules[0].kind: must be one of"),
    ({"rules": [{"kind": "crash"}]}, "rules[0]: needs exactly one of 'probability' and 'schedule'"),
    ({"rules": [{"kind": "crash", "probability": 2}]}, "rules[0].probability: must be between 0 and 1"),
    ({"rules": [{"kind": "straggler", "schedule": [1]}]}, "rules[0].factor: is required"),
    ({"rules": [{"kind": "s3_slow_down", "function": "x", "probability": 1}]}, "rules[0].function: is not a field"),
    ({"seed": "x", "rules": []}, "seed: must be a non-negative integer"),
    ({"rules": [], "extra": 1}, "faults.extra: unknown field"),
])
def test_admin_api_refuses_malformed_plans_with_a_clear_error(emulator, plan, message):
    put_faults(emulator, {"rules": [{"kind": "throttle", "function": "echo", "schedule": [1]}]})
    refused = put_faults(emulator, plan)
    assert refused.status == 400, refused
    assert refused.headers["x-amzn-errortype"] == "InvalidParameterValueException"
    assert message in refused.json()["message"], refused.json()
    # Nothing half-applied: the previous plan stands.
    assert emulator.get_json(FAULTS)["rules"][0]["kind"] == "throttle"


def test_admin_api_refuses_a_body_that_is_not_json(emulator):
    refused = emulator.request("PUT", FAULTS, b"{not json")
    assert refused.status == 400 and refused.headers["x-amzn-errortype"] == "InvalidRequestContentException"


def test_a_scheduled_throttle_hits_exactly_the_named_invocation(emulator):
    put_faults(emulator, {"rules": [{"kind": "throttle", "function": "echo", "schedule": [3]}]})
    lam = emulator.lambda_client()
    statuses = []
    for _ in range(5):
        try:
            lam.invoke(FunctionName="echo", Payload=b"{}")
            statuses.append(200)
        except lam.exceptions.TooManyRequestsException:
            statuses.append(429)
    assert statuses == [200, 200, 429, 200, 200]
    # Other functions are not matched.
    assert invoke(emulator, "counter").status == 200
    usage = emulator.usage()
    assert usage["faults"] == {"throttle": {"echo": 1}}
    metrics = emulator.request("GET", "/metrics").body.decode()
    assert 'stratus_faults_injected_total{kind="throttle",target="echo"} 1' in metrics
    recent = emulator.get_json(FAULTS)["recent"]
    assert recent[0]["kind"] == "throttle" and recent[0]["match"] == 3 and recent[0]["request_id"]
    assert "fault injected: throttle on echo" in emulator.logs()


def test_invoke_latency_delays_the_named_invocation(emulator):
    put_faults(emulator, {"rules": [{"kind": "invoke_latency", "function": "echo", "schedule": [2],
                                     "latency_ms": 400}]})
    times = []
    for _ in range(3):
        start = time.monotonic()
        assert invoke(emulator, "echo").status == 200
        times.append(time.monotonic() - start)
    assert times[1] >= 0.4, times
    assert emulator.usage()["faults"]["invoke_latency"] == {"echo": 1}


def test_a_crash_kills_the_environment_mid_invocation(emulator):
    put_faults(emulator, {"seed": 1, "rules": [{"kind": "crash", "function": "sleep", "schedule": [1],
                                                "crash_after_min_ms": 100, "crash_after_max_ms": 200}]})
    crashed = invoke(emulator, "sleep", {"ms": 2000})
    assert crashed.status == 200 and crashed.headers.get("x-amz-function-error") == "Unhandled"
    assert crashed.json()["errorType"] == "Runtime.ExitError"
    assert "signal: killed" in crashed.json()["errorMessage"]
    # The next one runs on a fresh environment, untouched.
    ok = invoke(emulator, "sleep", {"ms": 10})
    assert ok.status == 200 and "x-amz-function-error" not in ok.headers
    recent = emulator.get_json(FAULTS)["recent"]
    assert [r["kind"] for r in recent] == ["crash", "crash"] and "SIGKILL" in recent[1]["detail"]
    assert emulator.usage()["functions"]["sleep"]["errors"] == 1


def test_a_straggler_is_paced_with_sigstop_and_finishes(emulator):
    # The paced invocation's process is seen stopped (state T) while it works, and it still
    # answers correctly. (Pacing is observed directly: wall-time ratios are not tested on a
    # shared 2-core machine.)
    assert invoke(emulator, "spin", {"ms": 20}).status == 200
    pid = emulator.environments("spin")[0]["pid"]
    put_faults(emulator, {"rules": [{"kind": "straggler", "function": "spin", "schedule": [1], "factor": 4}]})
    result = {}
    worker = threading.Thread(target=lambda: result.setdefault("answer", invoke(emulator, "spin", {"ms": 600})))
    worker.start()
    states = set()
    while worker.is_alive():
        with contextlib.suppress(OSError):
            text = open(f"/proc/{pid}/stat").read()
            states.add(text[text.rindex(")") + 2])
        time.sleep(0.005)
    worker.join()
    assert result["answer"].status == 200 and "x-amz-function-error" not in result["answer"].headers
    assert "T" in states, states
    # Not stopped after the invocation: the pacing ends with it.
    time.sleep(0.2)
    text = open(f"/proc/{pid}/stat").read()
    assert text[text.rindex(")") + 2] != "T"
    assert emulator.usage()["faults"]["straggler"] == {"spin": 1}


def test_a_dropped_event_is_accepted_and_never_runs(emulator):
    put_faults(emulator, {"rules": [{"kind": "drop_event", "function": "counter", "schedule": [1]}]})
    assert invoke(emulator, "counter", event=True).status == 202
    assert invoke(emulator, "counter", event=True).status == 202
    wait_until(lambda: emulator.usage()["functions"].get("counter", {}).get("invocations", 0) >= 1, timeout=20,
               message="the second event to run")
    time.sleep(0.5)
    assert emulator.usage()["functions"]["counter"]["invocations"] == 1
    assert emulator.usage()["faults"]["drop_event"] == {"counter": 1}


def test_a_duplicated_event_runs_twice(emulator):
    put_faults(emulator, {"rules": [{"kind": "duplicate_event", "function": "counter", "schedule": [1]}]})
    assert invoke(emulator, "counter", event=True).status == 202
    wait_until(lambda: emulator.usage()["functions"].get("counter", {}).get("invocations", 0) >= 2, timeout=20,
               message="both deliveries")
    time.sleep(0.5)
    assert emulator.usage()["functions"]["counter"]["invocations"] == 2
    assert emulator.usage()["faults"]["duplicate_event"] == {"counter": 1}


def test_s3_faults_answer_slow_down_internal_error_and_latency(emulator):
    s3 = emulator.s3_client()
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="runs/x", Body=b"1")
    put_faults(emulator, {"rules": [
        {"kind": "s3_slow_down", "bucket": "data", "key_prefix": "runs/", "schedule": [1]},
        {"kind": "s3_internal_error", "bucket": "data", "key_prefix": "runs/", "schedule": [2]},
        {"kind": "s3_latency", "bucket": "data", "key_prefix": "runs/", "schedule": [3], "latency_ms": 400}]})
    with pytest.raises(botocore.exceptions.ClientError) as slow:
        s3.get_object(Bucket="data", Key="runs/x")
    assert slow.value.response["Error"]["Code"] == "SlowDown"
    assert slow.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    with pytest.raises(botocore.exceptions.ClientError) as internal:
        s3.put_object(Bucket="data", Key="runs/y", Body=b"2")
    assert internal.value.response["Error"]["Code"] == "InternalError"
    assert internal.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    start = time.monotonic()
    delayed = s3.get_object(Bucket="data", Key="runs/x")
    assert delayed["Body"].read() == b"1"
    assert time.monotonic() - start >= 0.4
    # Each fault is recorded under the request id its client got back (x-amz-request-id).
    recorded = [(f["kind"], f["request_id"]) for f in emulator.get_json("/stratus/v1/faults")["recent"]]
    assert recorded == [("s3_slow_down", slow.value.response["ResponseMetadata"]["RequestId"]),
                        ("s3_internal_error", internal.value.response["ResponseMetadata"]["RequestId"]),
                        ("s3_latency", delayed["ResponseMetadata"]["RequestId"])]
    # The refused PUT wrote nothing; other keys were never matched.
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="data")["Contents"]] == ["runs/x"]
    faults = emulator.usage()["faults"]
    assert faults == {"s3_slow_down": {"data": 1}, "s3_internal_error": {"data": 1}, "s3_latency": {"data": 1}}


def probability_run(start_emulator, tmp_path, name, seed):
    code = code_dir_with_cpp_bootstrap(tmp_path, name + "-code")
    plan = {"seed": seed, "rules": [{"kind": "throttle", "function": "echo", "probability": 0.3}]}
    emulator = start_emulator(default_config(functions=[cpp_function("echo", "echo", code)], faults=plan), name=name)
    statuses = [invoke(emulator, "echo").status for _ in range(40)]
    emulator.stop()
    return statuses


def test_faults_from_the_config_file_are_reproducible_by_seed(start_emulator, tmp_path):
    first = probability_run(start_emulator, tmp_path, "first", 17)
    again = probability_run(start_emulator, tmp_path, "again", 17)
    other = probability_run(start_emulator, tmp_path, "other", 18)
    assert first == again
    assert 429 in first and 200 in first
    assert other != first


def test_a_malformed_config_plan_stops_the_daemon_naming_the_field(tmp_path):
    import subprocess
    from conftest import EMULATOR_BIN
    config = default_config(faults={"rules": [{"kind": "crash", "probability": -1}]})
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    completed = subprocess.run([str(EMULATOR_BIN), "--config", str(path), "--port", "0", "--data-dir",
                                str(tmp_path / "d")], capture_output=True, text=True, timeout=30)
    assert completed.returncode != 0
    assert "faults" in completed.stderr and "rules[0].probability" in completed.stderr, completed.stderr
