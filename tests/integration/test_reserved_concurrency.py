"""Reserved concurrency caps a function's executions whether they land on warm or new
environments: above it sync calls get 429 (ReservedFunctionConcurrentInvocationLimitExceeded),
events wait in the queue; 0 switches the function off; lowering it lets running calls finish;
provisioned concurrency cannot exceed it."""

import json
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from conftest import (EMULATOR_BIN, code_dir_with_cpp_bootstrap, cpp_function, default_config,
                      wait_until)


def concurrent_invokes(emulator, function, payloads, headers=None):
    barrier = threading.Barrier(len(payloads))

    def one(payload):
        barrier.wait(timeout=30)
        return emulator.invoke_raw(function, payload, headers=headers, timeout=60)

    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        return list(pool.map(one, payloads))


def assert_reserved_throttle(result):
    assert result.status == 429, result
    assert result.headers["x-amzn-errortype"].split(":")[0] == "TooManyRequestsException", result
    assert result.json()["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded", result


def served(emulator, function):
    return sum(e["invocations"] for e in emulator.environments(function))


def slept_spans(emulator, function):
    """(start, end) in microseconds of CLOCK_MONOTONIC of each sleep invoked with "log_span"."""
    spans = []
    for line in emulator.function_logs(function).splitlines():
        if line.startswith("slept from "):
            words = line.split()
            spans.append((int(words[2]), int(words[4])))
    return spans


@pytest.fixture
def warm_four(start_emulator, tmp_path):
    """A function with four warm, idle environments."""
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(functions=[
        cpp_function("warm", "sleep", code, timeout_s=10)]))
    results = concurrent_invokes(emulator, "warm", [b'{"ms":1000}'] * 4)
    assert [r.status for r in results] == [200] * 4, results
    envs = wait_until(lambda: (e := emulator.environments("warm")) and
                      all(x["state"] == "idle" for x in e) and e, timeout=10,
                      message="four idle environments")
    assert len(envs) == 4, envs
    return emulator


def test_reserved_one_caps_warm_environments(warm_four):
    emulator = warm_four
    client = emulator.lambda_client()
    client.put_function_concurrency(FunctionName="warm", ReservedConcurrentExecutions=1)
    results = concurrent_invokes(emulator, "warm", [b'{"ms":1000}'] * 4)
    ok = [r for r in results if r.status == 200]
    throttled = [r for r in results if r.status != 200]
    assert len(ok) == 1 and len(throttled) == 3, [r.status for r in results]
    for result in throttled:
        assert_reserved_throttle(result)
    assert len(emulator.environments("warm")) == 4  # no new environment was started either


def test_reserved_zero_switches_the_function_off(warm_four):
    emulator = warm_four
    client = emulator.lambda_client()
    client.put_function_concurrency(FunctionName="warm", ReservedConcurrentExecutions=0)
    before = served(emulator, "warm")
    for result in concurrent_invokes(emulator, "warm", [b'{"ms":10}'] * 4):
        assert_reserved_throttle(result)
    with pytest.raises(ClientError) as error:
        client.invoke(FunctionName="warm", Payload=b'{"ms":1}')
    assert error.value.response["Error"]["Code"] == "TooManyRequestsException"

    # Events are accepted and wait; none runs while the function is off.
    for _ in range(3):
        assert client.invoke(FunctionName="warm", InvocationType="Event",
                             Payload=b'{"ms":10}')["StatusCode"] == 202
    time.sleep(1.0)
    assert served(emulator, "warm") == before
    # Switched back on, the queued events run.
    client.put_function_concurrency(FunctionName="warm", ReservedConcurrentExecutions=4)
    wait_until(lambda: served(emulator, "warm") == before + 3, timeout=15,
               message="the queued events to run once the function is on again")


def test_lowering_below_running_lets_them_finish_and_throttles_new_ones(warm_four):
    emulator = warm_four
    client = emulator.lambda_client()
    client.put_function_concurrency(FunctionName="warm", ReservedConcurrentExecutions=4)
    # 5 s, so that the three still run while the test lowers the cap and makes a new call: a few
    # client calls, which can take a second or more on a loaded machine.
    with ThreadPoolExecutor(max_workers=3) as pool:
        running = [pool.submit(emulator.invoke_raw, "warm", b'{"ms":5000}') for _ in range(3)]
        wait_until(lambda: sum(e["state"] == "busy" for e in emulator.environments("warm")) == 3,
                   timeout=10, message="three running invocations")
        client.put_function_concurrency(FunctionName="warm", ReservedConcurrentExecutions=1)
        # Three run, the cap is one: a new call is throttled although a warm environment is idle.
        assert any(e["state"] == "idle" for e in emulator.environments("warm"))
        assert_reserved_throttle(emulator.invoke_raw("warm", b'{"ms":1}'))
        results = [f.result(timeout=30) for f in running]
    assert [r.status for r in results] == [200] * 3, results
    assert all(r.json()["slept_ms"] == 5000 for r in results)
    assert emulator.invoke_raw("warm", b'{"ms":1}').status == 200


def test_events_above_the_cap_wait_and_run_one_at_a_time(warm_four):
    emulator = warm_four
    client = emulator.lambda_client()
    client.put_function_concurrency(FunctionName="warm", ReservedConcurrentExecutions=1)
    before = served(emulator, "warm")
    for _ in range(4):
        assert client.invoke(FunctionName="warm", InvocationType="Event",
                             Payload=b'{"ms":300,"log_span":true}')["StatusCode"] == 202
    wait_until(lambda: served(emulator, "warm") == before + 4 and
               len(slept_spans(emulator, "warm")) == 4, timeout=20,
               message="the four events to run to the end")
    assert served(emulator, "warm") == before + 4
    # One at a time: no two executions overlap. (Counting "busy" environments cannot tell: the one
    # that just answered still reads busy until its runtime asks for the next event, while the
    # next event already runs on another warm environment.)
    spans = sorted(slept_spans(emulator, "warm"))
    for (_, first_end), (second_start, _) in zip(spans, spans[1:]):
        assert first_end <= second_start, spans


def test_provisioned_cannot_exceed_reserved(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(functions=[
        cpp_function("prov", "echo", code, provisioned=2, reserved_concurrency=3)]))
    client = emulator.lambda_client()
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.put_function_concurrency(FunctionName="prov", ReservedConcurrentExecutions=1)
    assert client.get_function_concurrency(FunctionName="prov")["ReservedConcurrentExecutions"] == 3
    client.put_function_concurrency(FunctionName="prov", ReservedConcurrentExecutions=2)
    # The two provisioned environments are warm; a third concurrent call is over the cap.
    wait_until(lambda: sum(e["state"] == "idle" for e in emulator.environments("prov")) == 2,
               timeout=10, message="two provisioned environments")


def test_config_file_refuses_provisioned_above_reserved(tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    config = default_config(functions=[cpp_function("p", "echo", code, provisioned=3,
                                                    reserved_concurrency=2)])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(config))
    completed = subprocess.run([str(EMULATOR_BIN), "--config", str(path), "--data-dir",
                                str(tmp_path / "d")], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 2, completed
    assert "functions[0].provisioned" in completed.stderr, completed.stderr
