"""SigV4 verification: with `sigv4.enabled`, requests signed by the AWS CLI and boto3 with an
accepted key pass; unsigned, tampered, wrongly keyed or stale requests get 403 with AWS's error
types; the emulator's own endpoints stay open."""

import json
import subprocess

import boto3
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import (AWS_CLI, REGION, client_error_code, code_dir_with_cpp_bootstrap, cpp_function,
                      decode_payload, default_config)

ACCESS_KEY = "AKIASTRATUSTEST00001"
SECRET_KEY = "s3cr3t/for+tests"


@pytest.fixture
def signed_emulator(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    config = default_config(functions=[cpp_function("echo", "echo", code)])
    config["sigv4"] = {"enabled": True,
                       "credentials": [{"access_key_id": ACCESS_KEY, "secret_access_key": SECRET_KEY}]}
    return start_emulator(config)


def client_with(emulator, access_key, secret_key):
    return boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                 region_name=REGION).client(
        "lambda", endpoint_url=emulator.url, config=Config(retries={"max_attempts": 0}))


def aws_cli(emulator, access_key, secret_key, *args):
    env = emulator.aws_env()
    env.update({"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key})
    return subprocess.run([AWS_CLI, "--endpoint-url", emulator.url, "--region", REGION, "--output", "json",
                           "lambda", *args], capture_output=True, text=True, env=env, timeout=120)


def signed_raw(emulator, method, path, body, access_key=ACCESS_KEY, secret_key=SECRET_KEY):
    request = AWSRequest(method=method, url=emulator.url + path, data=body)
    SigV4Auth(Credentials(access_key, secret_key), "lambda", REGION).add_auth(request)
    return dict(request.headers.items())


def test_aws_cli_signatures_are_accepted(signed_emulator, tmp_path):
    listed = aws_cli(signed_emulator, ACCESS_KEY, SECRET_KEY, "list-functions")
    assert listed.returncode == 0, listed.stderr
    assert [f["FunctionName"] for f in json.loads(listed.stdout)["Functions"]] == ["echo"]
    out = tmp_path / "out.json"
    invoked = aws_cli(signed_emulator, ACCESS_KEY, SECRET_KEY, "invoke", "--function-name", "echo",
                      "--cli-binary-format", "raw-in-base64-out", "--payload", '{"signed": true}', str(out))
    assert invoked.returncode == 0, invoked.stderr
    assert json.loads(out.read_text()) == {"signed": True}


def test_boto3_signatures_are_accepted(signed_emulator):
    client = client_with(signed_emulator, ACCESS_KEY, SECRET_KEY)
    response = client.invoke(FunctionName="echo", Payload=b'{"n": 1}')
    assert decode_payload(response) == {"n": 1}
    assert client.get_function(FunctionName="echo")["Configuration"]["FunctionName"] == "echo"


def test_wrong_secret_is_invalid_signature(signed_emulator):
    completed = aws_cli(signed_emulator, ACCESS_KEY, "not-the-secret", "list-functions")
    assert completed.returncode != 0
    assert "InvalidSignatureException" in completed.stderr
    with pytest.raises(ClientError) as caught:
        client_with(signed_emulator, ACCESS_KEY, "wrong").get_function(FunctionName="echo")
    assert client_error_code(caught.value) == "InvalidSignatureException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_unknown_key_is_unrecognized_client(signed_emulator):
    with pytest.raises(ClientError) as caught:
        client_with(signed_emulator, "AKIAUNKNOWN000000000", SECRET_KEY).list_functions()
    assert client_error_code(caught.value) == "UnrecognizedClientException"


def test_unsigned_request_is_refused(signed_emulator):
    result = signed_emulator.invoke_raw("echo", b"{}")
    assert result.status == 403
    assert result.headers.get("x-amzn-errortype") == "MissingAuthenticationTokenException"
    assert signed_emulator.usage()["totals"]["invocations"] == 0


def test_tampered_body_or_path_is_refused(signed_emulator):
    path = "/2015-03-31/functions/echo/invocations"
    headers = signed_raw(signed_emulator, "POST", path, b'{"amount": 1}')
    ok = signed_emulator.request("POST", path, body=b'{"amount": 1}', headers=headers)
    assert ok.status == 200, ok
    tampered = signed_emulator.request("POST", path, body=b'{"amount": 1000}', headers=headers)
    assert tampered.status == 403
    assert tampered.headers.get("x-amzn-errortype") == "InvalidSignatureException"
    elsewhere = signed_emulator.request("GET", "/2015-03-31/functions/echo", headers=headers)
    assert elsewhere.status == 403


def test_emulator_endpoints_stay_open(signed_emulator):
    assert signed_emulator.request("GET", "/healthz").status == 200
    assert signed_emulator.request("GET", "/metrics").status == 200
