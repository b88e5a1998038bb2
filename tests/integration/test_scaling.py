"""Scheduling: reserved-concurrency throttling, autoscaling under a burst, idle reaping, async
retries ending in the on-failure record, and graceful shutdown with invocations in flight."""

import json
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from botocore.exceptions import ClientError

from conftest import (_proc_status, client_error_code, code_dir_with_cpp_bootstrap, cpp_function,
                      decode_log_result, decode_payload, default_config, process_alive, wait_until)


def concurrent_raw_invokes(emulator, function, payloads, headers=None, timeout=60):
    """Send all invocations at (nearly) the same moment over separate connections."""
    barrier = threading.Barrier(len(payloads))

    def one(payload):
        barrier.wait(timeout=30)
        return emulator.invoke_raw(function, payload, headers=headers, timeout=timeout)

    with ThreadPoolExecutor(max_workers=len(payloads)) as pool:
        return list(pool.map(one, payloads))


def test_reserved_concurrency_throttles_sync_invokes(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(
        functions=[cpp_function("limited", "sleep", code, timeout_s=10)]))
    client = emulator.lambda_client()
    client.put_function_concurrency(FunctionName="limited", ReservedConcurrentExecutions=1)

    results = concurrent_raw_invokes(emulator, "limited", [b'{"ms":1500}'] * 4)
    throttled = [r for r in results if r.status == 429]
    succeeded = [r for r in results if r.status == 200]
    assert throttled, [r.status for r in results]
    assert succeeded, [r.status for r in results]
    assert len(throttled) + len(succeeded) == len(results), results
    for result in throttled:
        assert result.headers.get("x-amzn-errortype", "").split(":")[0] == \
            "TooManyRequestsException", result
        body = result.json()
        assert body.get("Reason") == "ReservedFunctionConcurrentInvocationLimitExceeded", body
        assert "retry-after" in result.headers, result.headers
    for result in succeeded:
        assert result.json()["slept_ms"] == 1500

    # boto3 sees the same as a typed error while the one slot is busy. The environment that served
    # the burst may still show "busy" for a moment after its answer (its runtime has not asked for
    # the next event yet) without holding the slot: wait for it to be idle first, so that the busy
    # one below is the holder's. The holder sleeps long enough for a loaded machine to get the
    # boto3 call in while it runs.
    wait_until(lambda: all(e["state"] == "idle" for e in emulator.environments("limited")),
               timeout=10, message="the burst's environment to be idle again")
    holder = threading.Thread(target=emulator.invoke_raw, args=("limited", b'{"ms":5000}'))
    holder.start()
    try:
        wait_until(lambda: any(e["state"] == "busy" for e in emulator.environments("limited")),
                   timeout=10, message="the reserved slot to be busy")
        try:
            client.invoke(FunctionName="limited", Payload=b'{"ms":1}')
            raise AssertionError("an invocation over the reserved concurrency was not throttled")
        except ClientError as error:
            assert client_error_code(error) == "TooManyRequestsException", error.response
            assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
            assert error.response.get("Reason") == \
                "ReservedFunctionConcurrentInvocationLimitExceeded", error.response
    finally:
        holder.join(timeout=30)

    assert emulator.usage()["functions"]["limited"]["throttles"] >= len(throttled) + 1


def test_burst_autoscales_to_many_environments(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(
        functions=[cpp_function("burst", "sleep", code, timeout_s=30)]))
    calls = 64
    started = time.monotonic()
    results = concurrent_raw_invokes(emulator, "burst", [b'{"ms":1000}'] * calls, timeout=120)
    elapsed = time.monotonic() - started
    statuses = [r.status for r in results]
    assert statuses == [200] * calls, statuses
    assert all("x-amz-function-error" not in r.headers for r in results), \
        [r.body[:200] for r in results if "x-amz-function-error" in r.headers][:3]
    pids = {r.json()["pid"] for r in results}
    assert len(pids) > calls // 2, f"only {len(pids)} environments served {calls} concurrent calls"
    # Serial execution would take 64 s; a scaled-out burst takes about one sleep plus spawn time.
    assert elapsed < 20, f"the burst took {elapsed:.1f} s"

    environments = emulator.environments("burst")
    assert {e["pid"] for e in environments} >= pids, "finished environments should stay warm"
    # A runtime asks for its next event just after posting its result, i.e. just after the client
    # got its answer: on a loaded machine a few are still between the two for a moment.
    wait_until(lambda: all(e["state"] == "idle" for e in emulator.environments("burst")),
               timeout=10, message="every environment of the burst to be idle again")
    usage = emulator.usage()["functions"]["burst"]
    assert usage["invocations"] == calls
    assert len(pids) <= usage["cold_starts"] <= calls, usage


def test_idle_environments_are_reaped(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(
        idle_keepalive_s=1, housekeeping_interval_ms=100,
        functions=[cpp_function("reaped", "sleep", code, timeout_s=10)]))
    results = concurrent_raw_invokes(emulator, "reaped", [b'{"ms":300}'] * 3)
    assert [r.status for r in results] == [200] * 3
    pids = {e["pid"] for e in emulator.environments("reaped")}
    assert pids >= {r.json()["pid"] for r in results}
    assert all(process_alive(pid) for pid in pids)

    wait_until(lambda: not emulator.environments(), timeout=10,
               message="idle environments to be reaped")
    # Gone and reaped by the daemon (a zombie would mean it never collected its child).
    wait_until(lambda: all(_proc_status(pid) is None for pid in pids), timeout=3,
               message=f"the reaped processes {sorted(pids)} to disappear")

    # The next call is a cold start in a new environment.
    client = emulator.lambda_client()
    response = client.invoke(FunctionName="reaped", Payload=b'{"ms":1}', LogType="Tail")
    assert decode_payload(response)["pid"] not in pids
    assert "Init Duration:" in decode_log_result(response)


def read_on_failure(emulator):
    path = emulator.data_dir / "async" / "on-failure.jsonl"
    if not path.is_file():
        return []
    records = []
    for line in path.read_text().splitlines():
        if line.strip():
            records.append(json.loads(line))
    return records


def test_async_retries_then_on_failure_record(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    names = {"fail-0": 0, "fail-1": 1, "fail-default": None}
    emulator = start_emulator(default_config(
        **{"async": {"retry_delay_scale": 0.001}},
        functions=[cpp_function(name, "error", code) for name in names]))
    client = emulator.lambda_client()
    for name, retries in names.items():
        if retries is not None:
            client.put_function_event_invoke_config(FunctionName=name,
                                                    MaximumRetryAttempts=retries)

    request_ids, markers = {}, {}
    for name in names:
        markers[name] = uuid.uuid4().hex
        response = client.invoke(FunctionName=name, InvocationType="Event",
                                 Payload=json.dumps({"marker": markers[name]}).encode())
        assert response["StatusCode"] == 202
        request_ids[name] = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]

    def records_by_function():
        found = {}
        for record in read_on_failure(emulator):
            for name in names:
                if markers[name] in json.dumps(record.get("requestPayload")):
                    found[name] = record
        return found if len(found) == len(names) else None

    # Lambda's delays (60 s then 120 s) scaled by 0.001: everything settles well within this.
    found = wait_until(records_by_function, timeout=20, interval=0.1,
                       message="an on-failure record for every failing Event invocation")
    for name, retries in names.items():
        record = found[name]
        context = record["requestContext"]
        expected_attempts = (2 if retries is None else retries) + 1
        assert context["requestId"] == request_ids[name], record
        assert context["condition"] == "RetriesExhausted", record
        assert context["approximateInvokeCount"] == expected_attempts, record
        assert f":function:{name}" in context["functionArn"], record
        assert "Custom.Failure" in json.dumps(record.get("responsePayload")), record
        # Each attempt ran the function (same request id for retries, as Lambda does).
        start = f"START RequestId: {request_ids[name]}"
        logs = emulator.function_logs_once(name, lambda logs: logs.count(start) >= expected_attempts)
        assert logs.count(start) == expected_attempts, (name, logs.count(start), logs[-2000:])

    # Exactly one record per failed event, no duplicates.
    assert len(read_on_failure(emulator)) == len(names)


def test_sigterm_lets_in_flight_invocations_finish(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(
        shutdown_grace_s=10,
        functions=[cpp_function("inflight", "sleep", code, timeout_s=10)]))
    calls = 4
    results = [None] * calls

    # 3 s: the four environments start one after another (cold) and must all be seen busy at once
    # before the signal; with 1.5 s a loaded machine's slow cold starts left little of that window.
    def one(index):
        try:
            results[index] = emulator.invoke_raw("inflight", b'{"ms":3000}', timeout=30)
        except Exception as error:  # noqa: BLE001 - reported below
            results[index] = error

    threads = [threading.Thread(target=one, args=(i,)) for i in range(calls)]
    for thread in threads:
        thread.start()
    wait_until(lambda: sum(e["state"] == "busy" for e in emulator.environments("inflight")) == calls,
               timeout=10, message=f"{calls} busy environments")
    watched = emulator.watched_pids()
    signalled = time.monotonic()
    emulator.signal(signal.SIGTERM)

    # New connections are refused (or answered with an error) while the old ones finish.
    def refuses_new_work():
        try:
            return emulator.request("GET", "/healthz", timeout=2).status != 200
        except (OSError, AssertionError):
            return True
    wait_until(refuses_new_work, timeout=1.2, interval=0.02,
               message="the daemon to stop accepting after SIGTERM")

    for thread in threads:
        thread.join(timeout=30)
    code_ = emulator.wait_exit()
    took = time.monotonic() - signalled
    for result in results:
        assert not isinstance(result, Exception), results
        assert result.status == 200, result
        assert "x-amz-function-error" not in result.headers, result.body
        assert result.json()["slept_ms"] == 3000
    assert code_ == 0, f"exit code {code_}\n{emulator.logs()}"
    assert took < 8, f"shutdown took {took:.1f} s"
    # Log lines wait in memory for a batched write: all of them are on disk once the daemon exits.
    logs = emulator.function_logs("inflight")
    for result in results:
        assert f"REPORT RequestId: {result.headers['x-amzn-requestid']}" in logs, logs[-2000:]
    problems = emulator.check_no_survivors(watched)
    assert not problems, problems


def test_sigterm_right_after_invocations_keeps_every_log_line(start_emulator, tmp_path):
    """The daemon writes log lines in batches (20 ms); a stop just after the last answer must not
    lose the lines still in memory, of warm environments that are idle when the signal comes."""
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(
        functions=[cpp_function("quick", "echo", code, provisioned=2)]))
    wait_until(lambda: sum(e["state"] == "idle" for e in emulator.environments("quick")) == 2,
               timeout=10, message="2 provisioned environments")
    request_ids = []
    for i in range(30):
        result = emulator.invoke_raw("quick", json.dumps({"i": i}).encode())
        assert result.status == 200, result
        request_ids.append(result.headers["x-amzn-requestid"])
    emulator.stop()
    logs = emulator.function_logs("quick")
    for request_id in request_ids:
        for line in (f"START RequestId: {request_id}", f"END RequestId: {request_id}",
                     f"REPORT RequestId: {request_id}"):
            assert logs.count(line) == 1, (line, logs[-2000:])
        assert logs.index(f"START RequestId: {request_id}") < logs.index(f"REPORT RequestId: {request_id}")


def test_a_second_sigterm_stops_busy_environments_and_the_daemon_exits(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(
        shutdown_grace_s=30,
        functions=[cpp_function("long", "sleep", code, timeout_s=60)]))
    result = {}

    def one():
        try:
            result["answer"] = emulator.invoke_raw("long", b'{"ms":40000}', timeout=60)
        except Exception as error:  # noqa: BLE001 - the connection may be cut: that is expected
            result["answer"] = error
    thread = threading.Thread(target=one)
    thread.start()
    wait_until(lambda: any(e["state"] == "busy" for e in emulator.environments("long")),
               timeout=10, message="a busy environment")
    watched = emulator.watched_pids()
    emulator.signal(signal.SIGTERM)
    time.sleep(0.3)
    signalled = time.monotonic()
    emulator.signal(signal.SIGTERM)  # "now": the 30 s grace is cut short
    code_ = emulator.wait_exit()
    took = time.monotonic() - signalled
    thread.join(timeout=60)
    assert code_ == 0, f"exit code {code_}\n{emulator.logs()}"
    assert took < 8, f"the second SIGTERM took {took:.1f} s to stop the daemon"
    assert "second SIGTERM: stopping environments now" in emulator.logs()
    problems = emulator.check_no_survivors(watched)
    assert not problems, problems


def test_provisioned_environments_are_prewarmed_and_never_reaped(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(
        idle_keepalive_s=0.3,
        functions=[cpp_function("warm", "env", code, provisioned=2)]))
    def provisioned_idle():
        envs = [e for e in emulator.environments("warm") if e["state"] == "idle" and e["provisioned"]]
        return envs if len(envs) == 2 else None

    ready = wait_until(provisioned_idle, timeout=20, message="two provisioned environments idle")
    pids = sorted(e["pid"] for e in ready)
    time.sleep(1.0)  # well past the idle keep-alive: provisioned environments stay
    assert sorted(e["pid"] for e in emulator.environments("warm")) == pids
    client = emulator.lambda_client()
    response = client.invoke(FunctionName="warm", Payload=b"{}", LogType="Tail")
    env = decode_payload(response)["env"]
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"
    # The work was done ahead of time: no Init Duration on the first REPORT.
    assert "Init Duration" not in decode_log_result(response)
    assert emulator.usage()["functions"]["warm"]["cold_starts"] == 0


def test_memory_limit_stops_a_function_that_exceeds_it(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(
        functions=[cpp_function("hungry", "memory", code, memory_mb=128, timeout_s=20)]))
    client = emulator.lambda_client()
    small = client.invoke(FunctionName="hungry", Payload=b'{"mb": 16}')
    assert "FunctionError" not in small, decode_payload(small)
    big = client.invoke(FunctionName="hungry", Payload=b'{"mb": 512}')
    assert big.get("FunctionError") == "Unhandled"
    error = decode_payload(big)
    # Under a cgroup the kernel kills the process; under the RLIMIT_DATA fallback the allocation
    # fails inside the function. Either way the invocation fails instead of taking the machine.
    assert error["errorType"] in ("Runtime.ExitError", "std::bad_alloc"), error
    report = emulator.usage()["functions"]["hungry"]
    assert report["errors"] == 1
