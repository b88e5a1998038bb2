"""The Invoke API: invocation types, log tails, client context, typed errors, payload limits, and
how function failures (timeout, crash, init error, handler errors) reach the caller."""

import base64
import json
import re
import threading
import time
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import (ACCOUNT_ID, REGION, BASH_ECHO_DIR, client_error_code,
                      code_dir_with_cpp_bootstrap, cpp_function, decode_log_result,
                      decode_payload, default_config, process_alive, require_file,
                      running_emulator, wait_until)

MB = 1024 * 1024


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    work = tmp_path_factory.mktemp("invoke")
    code = code_dir_with_cpp_bootstrap(work)
    require_file(BASH_ECHO_DIR / "bootstrap", "bash_echo bootstrap")
    functions = [
        cpp_function("echo", "echo", code),
        cpp_function("echo-event", "echo", code),
        cpp_function("sleep", "sleep", code, timeout_s=1),
        cpp_function("sleep-quiet", "sleep", code, timeout_s=10),
        cpp_function("crash", "crash", code),
        cpp_function("error", "error", code),
        cpp_function("throw", "throw", code),
        cpp_function("nohandler", "no_such_handler", code),
        cpp_function("log", "log", code),
        cpp_function("log-cold", "log", code),
        cpp_function("counter", "counter", code),
        cpp_function("env", "env", code, environment={"MY_SETTING": "configured"}),
        cpp_function("context", "context", code, timeout_s=3),
        cpp_function("big", "big", code),
        cpp_function("bash-echo", "function.handler", str(BASH_ECHO_DIR), timeout_s=10),
    ]
    with running_emulator(work, default_config(functions=functions)) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def client(emulator):
    return emulator.lambda_client()


def function_error_payload(response):
    payload = decode_payload(response)
    assert response["StatusCode"] == 200, response
    assert response.get("FunctionError") in ("Unhandled", "Handled"), (response, payload)
    assert isinstance(payload, dict) and "errorMessage" in payload and "errorType" in payload, payload
    return payload


def typed_error(result, status, error_type):
    """Check a raw HTTP answer is Lambda's typed error."""
    assert result.status == status, result
    header = result.headers.get("x-amzn-errortype", "")
    assert header.split(":")[0] == error_type, result
    body = result.json()
    assert body.get("Type") in ("User", "Service"), body
    assert body.get("message") or body.get("Message"), body
    return body


# ---- invocation types ------------------------------------------------------------------------

def test_request_response_round_trips_json(client):
    document = {"a": 1, "s": "h\u00e9llo \u2603", "nested": {"list": [1, 2.5, None, True]},
                "empty": {}}
    response = client.invoke(FunctionName="echo", Payload=json.dumps(document).encode())
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    assert response["StatusCode"] == 200
    assert "FunctionError" not in response
    assert response.get("ExecutedVersion") == "$LATEST"
    assert headers.get("x-amzn-requestid")
    assert decode_payload(response) == document


def test_request_response_with_cli(emulator, tmp_path):
    out = tmp_path / "out.json"
    meta = emulator.aws("invoke", "--function-name", "echo", "--cli-binary-format",
                        "raw-in-base64-out", "--payload", '{"via":"cli"}', out)
    assert meta["StatusCode"] == 200
    assert json.loads(out.read_text()) == {"via": "cli"}


def test_qualifier_latest(emulator):
    result = emulator.invoke_raw("echo", b'{"q":1}', qualifier="$LATEST")
    assert result.status == 200, result
    assert result.json() == {"q": 1}
    assert result.headers.get("x-amz-executed-version") == "$LATEST"


def test_invoke_by_arn_and_unknown_qualifier(emulator, client):
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:echo"
    for name in (arn, f"{ACCOUNT_ID}:function:echo"):
        response = client.invoke(FunctionName=name, Payload=b'{"by":"arn"}')
        assert decode_payload(response) == {"by": "arn"}, name
    # Only $LATEST exists until versions are published.
    typed_error(emulator.invoke_raw("echo", b"{}", qualifier="7"), 404,
                "ResourceNotFoundException")


def test_event_invocation_is_accepted_and_runs(emulator, client):
    marker = uuid.uuid4().hex
    response = client.invoke(FunctionName="echo-event", InvocationType="Event",
                             Payload=json.dumps({"marker": marker}).encode())
    assert response["StatusCode"] == 202
    assert response["Payload"].read() == b""
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    # The accepted event really runs: its END line appears in the function's log stream.
    wait_until(lambda: f"END RequestId: {request_id}" in emulator.function_logs("echo-event"),
               timeout=15, message=f"END line of async request {request_id}")


def test_dry_run(client):
    response = client.invoke(FunctionName="echo", InvocationType="DryRun", Payload=b"{}")
    assert response["StatusCode"] == 204
    assert response["Payload"].read() == b""


# ---- logs --------------------------------------------------------------------------------------

REPORT_RE = re.compile(
    r"REPORT RequestId: (?P<id>\S+)\s+Duration: (?P<duration>\d+\.\d{2}) ms\s+"
    r"Billed Duration: (?P<billed>\d+) ms\s+Memory Size: (?P<memory>\d+) MB\s+"
    r"Max Memory Used: (?P<used>\d+) MB(?:\s+Init Duration: (?P<init>\d+\.\d{2}) ms)?")


def test_log_tail_has_start_end_report_and_function_output(client):
    response = client.invoke(FunctionName="log", Payload=b'{"lines":3}', LogType="Tail")
    assert "FunctionError" not in response
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    log = decode_log_result(response)
    assert f"START RequestId: {request_id}" in log, log
    assert f"END RequestId: {request_id}" in log, log
    for line in ("log line 1", "log line 2", "log line 3", "log line on stderr"):
        assert line in log, log
    assert log.index("START RequestId") < log.index("log line 1") < log.index("END RequestId")
    report = REPORT_RE.search(log)
    assert report, log
    assert report["id"] == request_id
    assert report["memory"] == "128"
    assert int(report["billed"]) >= float(report["duration"])
    assert int(report["used"]) > 0


def test_log_stream_shows_start_while_a_quiet_invocation_runs(emulator, client):
    """Lines are written in batches, but START is not held back until the invocation's next line:
    someone following the file sees a long, silent invocation start (within 20 ms)."""
    warm = client.invoke(FunctionName="sleep-quiet", Payload=b'{"ms":1}')
    warm_id = warm["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    logs = emulator.function_logs_once("sleep-quiet", lambda logs: f"REPORT RequestId: {warm_id}" in logs)
    starts_before = logs.count("START RequestId:")
    caller = threading.Thread(target=lambda: client.invoke(FunctionName="sleep-quiet", Payload=b'{"ms":4000}'))
    caller.start()
    try:
        emulator.function_logs_once("sleep-quiet", lambda logs: logs.count("START RequestId:") > starts_before,
                                    timeout=3)
        assert caller.is_alive(), "the invocation ended before its START was in the file"
    finally:
        caller.join(timeout=30)


def wait_all_idle(emulator, function):
    wait_until(lambda: all(e["state"] == "idle" for e in emulator.environments(function)),
               timeout=5, interval=0.01, message=f"{function}'s environments to be idle")


def test_report_shows_init_duration_only_on_cold_start(emulator, client):
    cold = client.invoke(FunctionName="log-cold", Payload=b"{}", LogType="Tail")
    wait_all_idle(emulator, "log-cold")
    warm = client.invoke(FunctionName="log-cold", Payload=b"{}", LogType="Tail")
    cold_log, warm_log = decode_log_result(cold), decode_log_result(warm)
    assert REPORT_RE.search(cold_log)["init"] is not None, cold_log
    assert REPORT_RE.search(warm_log), warm_log
    assert REPORT_RE.search(warm_log)["init"] is None, warm_log


def test_sequential_invocations_reuse_the_warm_environment(client):
    """Back-to-back calls (each sent once the previous answer arrived) are served by one
    environment, as on Lambda: no second cold start while the first environment is free."""
    results = [decode_payload(client.invoke(FunctionName="counter", Payload=b"{}"))
               for _ in range(5)]
    assert [r["count"] for r in results] == [1, 2, 3, 4, 5], results
    assert len({r["pid"] for r in results}) == 1, results


def test_log_tail_is_the_last_4_kb(client):
    response = client.invoke(FunctionName="log", Payload=b'{"lines":2000}', LogType="Tail")
    log_bytes = base64.b64decode(response["LogResult"])
    assert len(log_bytes) <= 4096
    assert len(log_bytes) > 3000
    log = log_bytes.decode(errors="replace")
    assert "log line 2000" in log
    assert "log line 1\n" not in log
    assert REPORT_RE.search(log), log


def test_log_tail_with_cli(emulator, tmp_path):
    meta = emulator.aws("invoke", "--function-name", "log", "--log-type", "Tail",
                        "--cli-binary-format", "raw-in-base64-out", "--payload", '{"lines":1}',
                        tmp_path / "out.json")
    log = decode_log_result(meta["LogResult"])
    assert "log line 1" in log and "REPORT RequestId:" in log, log


def test_no_log_result_without_tail(client):
    response = client.invoke(FunctionName="log", Payload=b'{"lines":1}')
    assert "LogResult" not in response


# ---- context and environment -----------------------------------------------------------------

def test_client_context_and_invocation_context(client):
    marker = uuid.uuid4().hex
    client_context = {"custom": {"marker": marker}, "env": {"platform": "tests"}}
    encoded = base64.b64encode(json.dumps(client_context).encode()).decode()
    response = client.invoke(FunctionName="context", Payload=b"{}", ClientContext=encoded)
    assert "FunctionError" not in response
    result = decode_payload(response)
    request_id = response["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert marker in json.dumps(result["client_context"]), result
    assert result["request_id"] == request_id
    assert result["function_arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:context"
    assert 0 < result["remaining_ms"] <= 3000, result


def test_function_environment(emulator, client):
    result = decode_payload(client.invoke(FunctionName="env", Payload=b"{}"))
    env = result["env"]
    assert env["MY_SETTING"] == "configured"
    assert env["_HANDLER"] == "env"
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "env"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_REGION"] == REGION and env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_LAMBDA_LOG_GROUP_NAME"] == "/aws/lambda/env"
    assert env.get("AWS_LAMBDA_LOG_STREAM_NAME")
    assert env.get("AWS_LAMBDA_RUNTIME_API")
    assert env.get("AWS_ACCESS_KEY_ID") and env.get("AWS_SECRET_ACCESS_KEY")
    assert env["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert env["TZ"] in ("UTC", ":UTC")  # real Lambda sets ":UTC"
    assert env.get("LAMBDA_TASK_ROOT") and env.get("LAMBDA_RUNTIME_DIR")
    assert env["AWS_ENDPOINT_URL"].rstrip("/") == emulator.url.rstrip("/")
    assert result["cwd"] == env["LAMBDA_TASK_ROOT"]


# ---- typed errors from the API -----------------------------------------------------------------

def test_unknown_function_is_404(emulator, client):
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName="no-such-function", Payload=b"{}")
    assert client_error_code(caught.value) == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    typed_error(emulator.invoke_raw("no-such-function", b"{}"), 404, "ResourceNotFoundException")


def test_invalid_json_payload_is_400(emulator, client):
    body = typed_error(emulator.invoke_raw("echo", b'{"unterminated": '), 400,
                       "InvalidRequestContentException")
    assert body["Type"] == "User"
    with pytest.raises(ClientError) as caught:
        client.invoke(FunctionName="echo", Payload=b"not json at all")
    assert client_error_code(caught.value) == "InvalidRequestContentException"


def test_sync_payload_over_6_mb_is_413(emulator):
    payload = b'"' + b"a" * (6 * MB) + b'"'
    typed_error(emulator.invoke_raw("echo", payload), 413, "RequestTooLargeException")


def test_sync_payload_under_6_mb_round_trips(emulator):
    payload = b'"' + b"a" * (5 * MB) + b'"'
    result = emulator.invoke_raw("echo", payload)
    assert result.status == 200, result.headers
    assert "x-amz-function-error" not in result.headers, result.body[:500]
    assert result.body == payload


def test_event_payload_over_1_mb_is_413(emulator):
    payload = b'"' + b"a" * (MB + 1024) + b'"'
    typed_error(emulator.invoke_raw("echo", payload, headers={"X-Amz-Invocation-Type": "Event"}),
                413, "RequestTooLargeException")


def test_event_payload_under_1_mb_is_accepted(emulator):
    payload = b'"' + b"a" * (MB - 4096) + b'"'
    result = emulator.invoke_raw("echo-event", payload,
                                 headers={"X-Amz-Invocation-Type": "Event"})
    assert result.status == 202, result


def test_response_over_6_mb_is_a_function_error(client):
    response = client.invoke(FunctionName="big", Payload=json.dumps({"bytes": 7 * MB}).encode())
    payload = function_error_payload(response)
    assert response["FunctionError"] == "Unhandled"
    assert "size" in payload["errorMessage"].lower() or "large" in payload["errorMessage"].lower(), \
        payload
    small = client.invoke(FunctionName="big", Payload=json.dumps({"bytes": 1000}).encode())
    assert "FunctionError" not in small
    assert len(small["Payload"].read()) == 1000


# ---- function failures -------------------------------------------------------------------------

def test_timeout_kills_the_environment(emulator, client):
    outcome = {}

    def slow_call():
        started = time.monotonic()
        outcome["response"] = client.invoke(FunctionName="sleep", Payload=b'{"ms":5000}')
        outcome["elapsed"] = time.monotonic() - started

    caller = threading.Thread(target=slow_call)
    caller.start()
    busy = wait_until(lambda: [e for e in emulator.environments("sleep") if e["state"] == "busy"],
                      timeout=5, interval=0.02, message="the sleeping environment to be busy")
    caller.join(timeout=30)
    response = outcome["response"]
    payload = function_error_payload(response)
    assert response["FunctionError"] == "Unhandled"
    assert "Task timed out after 1.00 seconds" in payload["errorMessage"], payload
    assert outcome["elapsed"] < 4.0, f"the timed-out invocation took {outcome['elapsed']:.2f} s"
    # The environment that timed out is discarded and its process is gone.
    timed_out_pid = busy[0]["pid"]
    wait_until(lambda: not any(e["pid"] == timed_out_pid for e in emulator.environments("sleep")),
               timeout=5, message=f"the timed-out environment to disappear: "
                                  f"{emulator.environments('sleep')}")
    wait_until(lambda: not process_alive(timed_out_pid), timeout=3,
               message=f"process {timed_out_pid} of the timed-out environment to exit")
    after = client.invoke(FunctionName="sleep", Payload=b'{"ms":1}')
    assert "FunctionError" not in after
    assert decode_payload(after)["pid"] != timed_out_pid


def test_crash_is_runtime_exit_error(emulator, client):
    response = client.invoke(FunctionName="crash", Payload=b"{}", LogType="Tail")
    payload = function_error_payload(response)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError", payload
    assert "exit status 3" in payload["errorMessage"], payload
    assert "crashing on purpose" in decode_log_result(response)
    # The daemon survives and serves the next call.
    assert client.invoke(FunctionName="echo", Payload=b"{}")["StatusCode"] == 200


def test_unknown_handler_is_an_init_error(client):
    response = client.invoke(FunctionName="nohandler", Payload=b"{}")
    payload = function_error_payload(response)
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.NoSuchHandler", payload
    assert "no_such_handler" in payload["errorMessage"], payload


def test_error_handler_reports_its_error_type(client):
    response = client.invoke(FunctionName="error", Payload=b"{}")
    payload = function_error_payload(response)
    assert payload["errorType"] == "Custom.Failure", payload
    assert payload["errorMessage"] == "the error handler failed on purpose"
    assert response["ResponseMetadata"]["HTTPHeaders"]["x-amz-function-error"] == \
        response["FunctionError"]


def test_throw_handler_reports_the_exception(client):
    response = client.invoke(FunctionName="throw", Payload=b"{}")
    payload = function_error_payload(response)
    assert payload["errorType"] == "std::runtime_error", payload
    assert payload["errorMessage"] == "the throw handler threw on purpose"
    # A handled exception does not cost the environment: the next call still works.
    again = client.invoke(FunctionName="throw", Payload=b"{}")
    assert function_error_payload(again)["errorType"] == "std::runtime_error"


def test_bash_curl_runtime(client):
    document = {"runtime": "bash", "values": [1, 2, 3], "text": "with spaces and @at"}
    for _ in range(3):  # warm reuse of the same bash loop
        response = client.invoke(FunctionName="bash-echo", Payload=json.dumps(document).encode())
        assert "FunctionError" not in response, response["Payload"].read()
        assert decode_payload(response) == document
