"""Lambda management API through the AWS CLI and boto3: create, list, get, update, delete,
concurrency, event-invoke config, account settings, and persistence across a daemon restart."""

import base64
import hashlib
import json

import pytest
from botocore.exceptions import ClientError

from conftest import (ACCOUNT_ID, REGION, ROLE_ARN, bash_echo_zip, client_error_code,
                      constant_bootstrap_script, cpp_zip, decode_payload, default_config,
                      make_zip_from_files)


def arn_of(name):
    return f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{name}"


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def create_cpp(client, tmp_path, name, handler="echo", **extra):
    zip_bytes = cpp_zip(tmp_path).read_bytes()
    response = client.create_function(FunctionName=name, Runtime="provided.al2023", Role=ROLE_ARN,
                                      Handler=handler, Code={"ZipFile": zip_bytes}, **extra)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 201, response
    return response


def invoke_json(client, name, document=None):
    response = client.invoke(FunctionName=name,
                             Payload=json.dumps(document if document is not None else {}))
    assert response["StatusCode"] == 200, response
    payload = decode_payload(response)
    assert "FunctionError" not in response, payload
    return payload


def expect_client_error(code, status, call, *args, **kwargs):
    with pytest.raises(ClientError) as caught:
        call(*args, **kwargs)
    error = caught.value
    assert client_error_code(error) == code, error.response
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == status, error.response
    return error


def test_healthz(emulator):
    result = emulator.request("GET", "/healthz")
    assert result.status == 200
    assert result.json() == {"status": "ok"}


def test_create_function_with_cli_then_invoke(emulator, tmp_path):
    zip_path = cpp_zip(tmp_path)
    created = emulator.aws("create-function", "--function-name", "cli-echo",
                           "--runtime", "provided.al2023", "--handler", "echo", "--role", ROLE_ARN,
                           "--zip-file", f"fileb://{zip_path}", "--timeout", "5")
    data = zip_path.read_bytes()
    assert created["FunctionName"] == "cli-echo"
    assert created["FunctionArn"] == arn_of("cli-echo")
    assert created["Runtime"] == "provided.al2023"
    assert created["Handler"] == "echo"
    assert created["Role"] == ROLE_ARN
    assert created["MemorySize"] == 128  # Lambda's default
    assert created["Timeout"] == 5
    assert created["Version"] == "$LATEST"
    assert created["CodeSize"] == len(data)
    assert created["CodeSha256"] == sha256_b64(data)

    document = {"hello": "world", "n": [1, 2, 3], "nested": {"ok": True}}
    out = tmp_path / "out.json"
    meta = emulator.aws("invoke", "--function-name", "cli-echo",
                        "--cli-binary-format", "raw-in-base64-out",
                        "--payload", json.dumps(document), out)
    assert meta["StatusCode"] == 200
    assert meta.get("ExecutedVersion") == "$LATEST"
    assert "FunctionError" not in meta
    assert json.loads(out.read_text()) == document

    duplicate = emulator.aws("create-function", "--function-name", "cli-echo",
                             "--runtime", "provided.al2023", "--handler", "echo",
                             "--role", ROLE_ARN, "--zip-file", f"fileb://{zip_path}", check=False)
    assert duplicate.returncode != 0
    assert "ResourceConflictException" in duplicate.stderr, duplicate.stderr


def test_create_bash_curl_function_with_boto3(emulator, tmp_path):
    client = emulator.lambda_client()
    zip_bytes = bash_echo_zip(tmp_path).read_bytes()
    created = client.create_function(FunctionName="bash-echo", Runtime="provided.al2023",
                                     Role=ROLE_ARN, Handler="function.handler",
                                     Code={"ZipFile": zip_bytes}, Timeout=10)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["CodeSha256"] == sha256_b64(zip_bytes)
    document = {"from": "bash", "list": [1, "two", None]}
    assert invoke_json(client, "bash-echo", document) == document


def test_create_function_rejects_a_payload_that_is_not_a_zip(emulator):
    client = emulator.lambda_client()
    expect_client_error("InvalidParameterValueException", 400, client.create_function,
                        FunctionName="not-a-zip", Runtime="provided.al2023", Role=ROLE_ARN,
                        Handler="echo", Code={"ZipFile": b"this is not a zip archive"})
    expect_client_error("ResourceNotFoundException", 404, client.get_function,
                        FunctionName="not-a-zip")


def test_zip_mode_bits_decide_executability(emulator, tmp_path):
    """A bootstrap stored without the executable bit cannot start (Runtime.InvalidEntrypoint)."""
    client = emulator.lambda_client()
    script = constant_bootstrap_script('{"version":1}')
    zip_path = make_zip_from_files(tmp_path / "noexec.zip", {"bootstrap": (script, 0o644)})
    client.create_function(FunctionName="noexec", Runtime="provided.al2023", Role=ROLE_ARN,
                           Handler="x", Code={"ZipFile": zip_path.read_bytes()})
    response = client.invoke(FunctionName="noexec", Payload=b"{}")
    payload = decode_payload(response)
    assert response.get("FunctionError") == "Unhandled", payload
    assert payload["errorType"] == "Runtime.InvalidEntrypoint", payload


def test_list_functions_paginates(emulator, tmp_path):
    client = emulator.lambda_client()
    expected = [f"page-{i}" for i in range(5)]
    for name in expected:
        create_cpp(client, tmp_path, name)

    names, marker, pages = [], None, 0
    while True:
        kwargs = {"MaxItems": 2}
        if marker:
            kwargs["Marker"] = marker
        page = client.list_functions(**kwargs)
        pages += 1
        assert len(page["Functions"]) <= 2, page["Functions"]
        names += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
        assert pages < 10, "NextMarker never ends"
    assert sorted(names) == expected  # each function exactly once
    assert pages == 3

    # The CLI's own paginator with small pages aggregates everything; --max-items truncates and
    # hands back a NextToken.
    everything = emulator.aws("list-functions", "--page-size", "2")
    assert sorted(f["FunctionName"] for f in everything["Functions"]) == expected
    first_two = emulator.aws("list-functions", "--max-items", "2")
    assert len(first_two["Functions"]) == 2
    assert first_two.get("NextToken")
    rest = emulator.aws("list-functions", "--starting-token", first_two["NextToken"])
    assert sorted(f["FunctionName"] for f in first_two["Functions"] + rest["Functions"]) == expected


def test_get_function_and_configuration(emulator, tmp_path):
    client = emulator.lambda_client()
    created = create_cpp(client, tmp_path, "getter", MemorySize=256, Timeout=9,
                         Environment={"Variables": {"COLOR": "blue"}},
                         Description="described")

    function = client.get_function(FunctionName="getter")
    configuration = function["Configuration"]
    assert configuration["FunctionName"] == "getter"
    assert configuration["FunctionArn"] == arn_of("getter")
    assert configuration["MemorySize"] == 256
    assert configuration["Timeout"] == 9
    assert configuration["Handler"] == "echo"
    assert configuration["Runtime"] == "provided.al2023"
    assert configuration["CodeSha256"] == created["CodeSha256"]
    assert configuration["Environment"]["Variables"] == {"COLOR": "blue"}
    assert configuration.get("Description") == "described"
    assert "Code" in function, function

    by_arn = client.get_function_configuration(FunctionName=arn_of("getter"))
    assert by_arn["FunctionName"] == "getter"

    cli = emulator.aws("get-function-configuration", "--function-name", "getter")
    for key in ("FunctionName", "FunctionArn", "MemorySize", "Timeout", "Handler", "CodeSha256",
                "CodeSize"):
        assert cli[key] == configuration[key], key


def test_update_function_code_serves_new_code(emulator, tmp_path):
    client = emulator.lambda_client()
    v1 = make_zip_from_files(tmp_path / "v1.zip",
                             {"bootstrap": (constant_bootstrap_script('{"version":1}'), 0o755)})
    v2 = make_zip_from_files(tmp_path / "v2.zip",
                             {"bootstrap": (constant_bootstrap_script('{"version":2}'), 0o755)})
    client.create_function(FunctionName="versioned", Runtime="provided.al2023", Role=ROLE_ARN,
                           Handler="x", Code={"ZipFile": v1.read_bytes()}, Timeout=10)
    assert invoke_json(client, "versioned") == {"version": 1}  # leaves a warm v1 environment

    updated = emulator.aws("update-function-code", "--function-name", "versioned",
                           "--zip-file", f"fileb://{v2}")
    assert updated["CodeSha256"] == sha256_b64(v2.read_bytes())
    assert updated["CodeSize"] == v2.stat().st_size
    assert client.get_function_configuration(FunctionName="versioned")["CodeSha256"] == \
        sha256_b64(v2.read_bytes())
    for _ in range(3):
        assert invoke_json(client, "versioned") == {"version": 2}

    expect_client_error("ResourceNotFoundException", 404, client.update_function_code,
                        FunctionName="missing", ZipFile=v2.read_bytes())


def test_update_function_configuration_reaches_new_invocations(emulator, tmp_path):
    client = emulator.lambda_client()
    create_cpp(client, tmp_path, "configurable", handler="env")
    before = invoke_json(client, "configurable")  # warms an environment with the old settings
    assert "STRATUS_TEST_GREETING" not in before["env"]

    updated = client.update_function_configuration(
        FunctionName="configurable", MemorySize=256, Timeout=7,
        Environment={"Variables": {"STRATUS_TEST_GREETING": "hello"}})
    assert updated["MemorySize"] == 256
    assert updated["Timeout"] == 7
    assert updated["Environment"]["Variables"] == {"STRATUS_TEST_GREETING": "hello"}

    configuration = client.get_function_configuration(FunctionName="configurable")
    assert configuration["MemorySize"] == 256
    assert configuration["Timeout"] == 7

    after = invoke_json(client, "configurable")
    assert after["env"].get("STRATUS_TEST_GREETING") == "hello", after["env"]
    assert after["env"].get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE") == "256"

    # Environment replaces the whole variable set.
    emulator.aws("update-function-configuration", "--function-name", "configurable",
                 "--environment", json.dumps({"Variables": {"OTHER": "x"}}))
    replaced = invoke_json(client, "configurable")["env"]
    assert replaced.get("OTHER") == "x"
    assert "STRATUS_TEST_GREETING" not in replaced

    expect_client_error("ResourceNotFoundException", 404, client.update_function_configuration,
                        FunctionName="missing", Timeout=5)


def test_delete_function(emulator, tmp_path):
    client = emulator.lambda_client()
    create_cpp(client, tmp_path, "doomed")
    invoke_json(client, "doomed", {"x": 1})

    deleted = emulator.aws("delete-function", "--function-name", "doomed")
    assert deleted is None  # 204, no body

    expect_client_error("ResourceNotFoundException", 404, client.get_function,
                        FunctionName="doomed")
    expect_client_error("ResourceNotFoundException", 404, client.invoke, FunctionName="doomed",
                        Payload=b"{}")
    expect_client_error("ResourceNotFoundException", 404, client.delete_function,
                        FunctionName="doomed")
    assert "doomed" not in [f["FunctionName"] for f in client.list_functions()["Functions"]]
    again = emulator.aws("delete-function", "--function-name", "doomed", check=False)
    assert again.returncode != 0 and "ResourceNotFoundException" in again.stderr


def test_function_concurrency(emulator, tmp_path):
    client = emulator.lambda_client()
    create_cpp(client, tmp_path, "reserved")

    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(
        FunctionName="reserved")
    put = client.put_function_concurrency(FunctionName="reserved", ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert client.get_function_concurrency(
        FunctionName="reserved")["ReservedConcurrentExecutions"] == 5
    assert client.get_function(
        FunctionName="reserved")["Concurrency"]["ReservedConcurrentExecutions"] == 5
    settings = client.get_account_settings()
    assert settings["AccountLimit"]["ConcurrentExecutions"] == 1000
    assert settings["AccountLimit"]["UnreservedConcurrentExecutions"] == 995

    # At least 100 must stay unreserved.
    expect_client_error("InvalidParameterValueException", 400, client.put_function_concurrency,
                        FunctionName="reserved", ReservedConcurrentExecutions=901)
    assert client.put_function_concurrency(
        FunctionName="reserved", ReservedConcurrentExecutions=900)[
            "ReservedConcurrentExecutions"] == 900

    deleted = client.delete_function_concurrency(FunctionName="reserved")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(
        FunctionName="reserved")
    assert client.get_account_settings()["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000

    # The same through the CLI.
    assert emulator.aws("put-function-concurrency", "--function-name", "reserved",
                        "--reserved-concurrent-executions", "3") == {
                            "ReservedConcurrentExecutions": 3}
    assert emulator.aws("get-function-concurrency", "--function-name", "reserved")[
        "ReservedConcurrentExecutions"] == 3
    assert emulator.aws("delete-function-concurrency", "--function-name", "reserved") is None

    expect_client_error("ResourceNotFoundException", 404, client.put_function_concurrency,
                        FunctionName="missing", ReservedConcurrentExecutions=1)


def test_put_function_event_invoke_config(emulator, tmp_path):
    client = emulator.lambda_client()
    create_cpp(client, tmp_path, "eventful")
    put = client.put_function_event_invoke_config(FunctionName="eventful",
                                                  MaximumRetryAttempts=1,
                                                  MaximumEventAgeInSeconds=3600)
    assert put["MaximumRetryAttempts"] == 1
    assert put["MaximumEventAgeInSeconds"] == 3600
    assert put["FunctionArn"].startswith(arn_of("eventful")), put["FunctionArn"]

    cli = emulator.aws("put-function-event-invoke-config", "--function-name", "eventful",
                       "--maximum-retry-attempts", "0")
    assert cli["MaximumRetryAttempts"] == 0

    with pytest.raises(ClientError) as caught:
        client.put_function_event_invoke_config(FunctionName="eventful", MaximumRetryAttempts=3)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert client_error_code(caught.value) in ("InvalidParameterValueException",
                                               "ValidationException")
    # botocore refuses values under the model's minimum itself, so send this one raw.
    too_young = emulator.request("PUT", "/2019-09-25/functions/eventful/event-invoke-config",
                                 body=json.dumps({"MaximumEventAgeInSeconds": 30}),
                                 headers={"Content-Type": "application/json"})
    assert too_young.status == 400, too_young

    expect_client_error("ResourceNotFoundException", 404, client.put_function_event_invoke_config,
                        FunctionName="missing", MaximumRetryAttempts=1)


def test_get_account_settings(start_emulator, tmp_path):
    emulator = start_emulator(default_config(account_concurrency=700))
    client = emulator.lambda_client()
    empty = emulator.aws("get-account-settings")
    assert empty["AccountLimit"]["ConcurrentExecutions"] == 700
    assert empty["AccountLimit"]["UnreservedConcurrentExecutions"] == 700
    assert empty["AccountUsage"]["FunctionCount"] == 0

    create_cpp(client, tmp_path, "one")
    create_cpp(client, tmp_path, "two")
    settings = client.get_account_settings()
    assert settings["AccountUsage"]["FunctionCount"] == 2
    assert settings["AccountUsage"]["TotalCodeSize"] >= 2 * cpp_zip(tmp_path).stat().st_size


def test_functions_survive_restart(start_emulator, tmp_path):
    first = start_emulator(name="first")
    client = first.lambda_client()
    created = create_cpp(client, tmp_path, "durable", handler="env", MemorySize=384, Timeout=11,
                         Environment={"Variables": {"KEPT": "yes"}})
    client.put_function_concurrency(FunctionName="durable", ReservedConcurrentExecutions=7)
    create_cpp(client, tmp_path, "ephemeral")
    client.delete_function(FunctionName="ephemeral")
    assert invoke_json(client, "durable")["env"]["KEPT"] == "yes"
    first.stop()

    second = start_emulator(data_dir=first.data_dir, name="second")
    client = second.lambda_client()
    names = [f["FunctionName"] for f in client.list_functions()["Functions"]]
    assert names == ["durable"]
    configuration = client.get_function_configuration(FunctionName="durable")
    assert configuration["MemorySize"] == 384
    assert configuration["Timeout"] == 11
    assert configuration["Handler"] == "env"
    assert configuration["CodeSha256"] == created["CodeSha256"]
    assert configuration["Environment"]["Variables"] == {"KEPT": "yes"}
    assert client.get_function_concurrency(
        FunctionName="durable").get("ReservedConcurrentExecutions") == 7
    environment = invoke_json(client, "durable")["env"]
    assert environment["KEPT"] == "yes"
    assert environment["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "384"


def test_every_management_answer_carries_the_request_id_it_was_logged_with(emulator, tmp_path):
    client = emulator.lambda_client()
    responses = [create_cpp(client, tmp_path, "ids")]
    responses.append(client.list_functions())
    responses.append(client.get_function(FunctionName="ids"))
    responses.append(client.get_function_configuration(FunctionName="ids"))
    responses.append(client.put_function_concurrency(FunctionName="ids", ReservedConcurrentExecutions=5))
    responses.append(client.get_function_concurrency(FunctionName="ids"))
    responses.append(client.get_account_settings())
    ids = [response["ResponseMetadata"].get("RequestId", "") for response in responses]
    assert all(ids) and len(set(ids)) == len(ids), ids
    logs = emulator.logs()
    for request_id in ids:
        assert f"(request {request_id})" in logs, (request_id, logs[-3000:])
