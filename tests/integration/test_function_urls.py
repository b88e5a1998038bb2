"""Lambda function URLs on the emulator: the five management operations through boto3 and the
AWS CLI (shapes, 201/200/204, conflicts, missing configs, bad bodies), plain HTTP clients (curl)
calling a function without SigV4 (AuthType NONE) in the path and host forms, the payload format
2.0 event the function receives, the structured and bare answers read back, AWS_IAM refusing
unsigned and wrongly signed requests and accepting signed ones, CORS, function errors as 502 and
throttles as 429."""

import base64
import json
import subprocess
import urllib.parse

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REGION, code_dir_with_cpp_bootstrap, constant_bootstrap_script, cpp_function, default_config

SHAPED = {"statusCode": 201, "headers": {"X-Custom": "yes", "Content-Type": "text/plain"},
          "cookies": ["session=abc; Path=/", "theme=dark"], "body": base64.b64encode(b"hello \x00 bytes").decode(),
          "isBase64Encoded": True}


@pytest.fixture
def emulator(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    shaped = tmp_path / "shaped"
    shaped.mkdir()
    (shaped / "bootstrap").write_bytes(constant_bootstrap_script(json.dumps(SHAPED)))
    (shaped / "bootstrap").chmod(0o755)
    functions = [cpp_function("echo", "echo", code), cpp_function("fails", "error", code),
                 cpp_function("private", "echo", code),
                 {"name": "shaped", "code_dir": str(shaped), "handler": "x", "memory_mb": 128, "timeout_s": 3}]
    config = default_config(functions=functions,
                            sigv4={"enabled": False,
                                   "credentials": [{"access_key_id": "urlkey", "secret_access_key": "urlsecret"}]})
    return start_emulator(config)


def curl(*args):
    completed = subprocess.run(["curl", "-sS", "--max-time", "30", "-D", "-", *args], capture_output=True,
                               timeout=60)
    assert completed.returncode == 0, completed.stderr
    head, _, body = completed.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers.setdefault(name.strip().lower(), []).append(value.strip())
    return status, headers, body


def test_url_config_management(emulator):
    client = emulator.lambda_client()
    created = client.create_function_url_config(FunctionName="echo", AuthType="NONE",
                                                Cors={"AllowOrigins": ["https://example.com"], "MaxAge": 60})
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["AuthType"] == "NONE" and created["FunctionArn"].endswith(":function:echo")
    assert created["FunctionUrl"].startswith(emulator.url + "/lambda-url/") and created["FunctionUrl"].endswith("/")
    assert created["Cors"]["AllowOrigins"] == ["https://example.com"] and created["Cors"]["MaxAge"] == 60
    assert "CreationTime" in created
    raw = emulator.request("GET", "/2021-10-31/functions/echo/url").json()  # Debian's botocore predates InvokeMode
    assert raw["InvokeMode"] == "BUFFERED" and raw["FunctionUrl"] == created["FunctionUrl"]
    url_id = created["FunctionUrl"].rstrip("/").rsplit("/", 1)[1]
    assert len(url_id) == 32 and url_id.isalnum() and url_id.lower() == url_id

    with pytest.raises(client.exceptions.ResourceConflictException):
        client.create_function_url_config(FunctionName="echo", AuthType="NONE")
    got = client.get_function_url_config(FunctionName="echo")
    assert got["FunctionUrl"] == created["FunctionUrl"] and "LastModifiedTime" in got
    updated = client.update_function_url_config(FunctionName="echo", AuthType="AWS_IAM")
    assert updated["AuthType"] == "AWS_IAM" and updated["FunctionUrl"] == created["FunctionUrl"]
    assert updated["Cors"]["AllowOrigins"] == ["https://example.com"]  # untouched members stay
    listed = emulator.aws("list-function-url-configs", "--function-name", "echo")
    assert [c["FunctionUrl"] for c in listed["FunctionUrlConfigs"]] == [created["FunctionUrl"]]
    assert client.delete_function_url_config(FunctionName="echo")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function_url_config(FunctionName="echo")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.delete_function_url_config(FunctionName="echo")
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.create_function_url_config(FunctionName="nosuch", AuthType="NONE")
    assert client.list_function_url_configs(FunctionName="echo")["FunctionUrlConfigs"] == []
    # Bodies the API refuses: typed 400s, nothing created.
    for body in [{"AuthType": "OPEN"}, {}, {"AuthType": "NONE", "Cors": {"MaxAge": -1}},
                 {"AuthType": "NONE", "Cors": {"AllowMethods": ["TRACE"]}}, {"AuthType": "NONE", "Extra": 1}]:
        result = emulator.request("POST", "/2021-10-31/functions/echo/url", body=json.dumps(body))
        assert result.status == 400, (body, result)
        assert result.headers["x-amzn-errortype"] == "InvalidParameterValueException"
    result = emulator.request("POST", "/2021-10-31/functions/echo/url", body="{not json")
    assert result.status == 400
    assert client.list_function_url_configs(FunctionName="echo")["FunctionUrlConfigs"] == []


def test_curl_calls_a_function_url_and_gets_the_event_it_made(emulator):
    client = emulator.lambda_client()
    url = client.create_function_url_config(FunctionName="echo", AuthType="NONE")["FunctionUrl"]
    status, headers, body = curl("-X", "POST", url + "some/path?x=1&x=2&y=a%20b", "-H", "Content-Type: application/json",
                                 "-H", "Cookie: c1=v1; c2=v2", "-H", "X-Multi: a", "-H", "X-Multi: b",
                                 "--data-raw", '{"a": 1}')
    assert status == 200 and headers["content-type"] == ["application/json"]
    event = json.loads(body)  # echo's answer has no statusCode: the body is the answer itself
    assert event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/some/path" and event["rawQueryString"] == "x=1&x=2&y=a%20b"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "a b"}
    assert event["cookies"] == ["c1=v1", "c2=v2"] and "cookie" not in event["headers"]
    assert event["headers"]["x-multi"] == "a,b" and event["headers"]["content-type"] == "application/json"
    assert event["body"] == '{"a": 1}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["http"]["method"] == "POST" and context["http"]["path"] == "/some/path"
    assert context["accountId"] == "anonymous" and context["stage"] == "$default"
    assert context["domainName"] == context["apiId"] + f".lambda-url.{REGION}.on.aws"
    assert context["requestId"] == headers["x-amzn-requestid"][0]
    # A binary body arrives base64; the host form reaches the same function.
    url_id = urllib.parse.urlparse(url).path.split("/")[2]
    status, _, body = curl("-X", "PUT", emulator.url + "/bin", "-H", f"Host: {url_id}.lambda-url.{REGION}.localhost",
                           "-H", "Content-Type: application/octet-stream", "--data-binary", "\x01\x02binary")
    event = json.loads(body)
    assert status == 200 and event["isBase64Encoded"] is True and event["rawPath"] == "/bin"
    assert base64.b64decode(event["body"]) == b"\x01\x02binary"
    # An unknown URL id, and a GET without body.
    assert curl(emulator.url + "/lambda-url/" + "z" * 32 + "/")[0] == 404
    status, _, body = curl(url)
    assert status == 200 and "body" not in json.loads(body)


def test_structured_answers_errors_and_throttles(emulator):
    client = emulator.lambda_client()
    shaped = client.create_function_url_config(FunctionName="shaped", AuthType="NONE")["FunctionUrl"]
    status, headers, body = curl(shaped)
    assert status == 201 and headers["x-custom"] == ["yes"] and headers["content-type"] == ["text/plain"]
    assert body == b"hello \x00 bytes"
    assert headers["set-cookie"] == ["session=abc; Path=/", "theme=dark"]
    fails = client.create_function_url_config(FunctionName="fails", AuthType="NONE")["FunctionUrl"]
    status, _, body = curl(fails)
    assert status == 502 and json.loads(body) == {"Message": "Internal Server Error"}
    echo = client.create_function_url_config(FunctionName="echo", AuthType="NONE")["FunctionUrl"]
    client.put_function_concurrency(FunctionName="echo", ReservedConcurrentExecutions=0)
    status, _, body = curl(echo)
    assert status == 429 and json.loads(body) == {"Message": "Rate Exceeded."}
    client.delete_function_concurrency(FunctionName="echo")
    assert curl(echo)[0] == 200
    client.delete_function(FunctionName="echo")  # its URL goes with it
    assert curl(echo)[0] == 404


def signed_request(method, url, body, key, secret):
    request = AWSRequest(method=method, url=url, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials(key, secret), "lambda", REGION).add_auth(request)
    return ["-X", method, url, "--data-raw", body, *sum((["-H", f"{k}: {v}"] for k, v in request.headers.items()), [])]


def test_aws_iam_urls_refuse_unsigned_requests(emulator):
    client = emulator.lambda_client()
    url = client.create_function_url_config(FunctionName="private", AuthType="AWS_IAM")["FunctionUrl"]
    status, _, body = curl("-X", "POST", url, "--data-raw", "{}")
    assert status == 403 and json.loads(body) == {"Message": "Forbidden"}
    status, _, _ = curl(*signed_request("POST", url, "{}", "urlkey", "wrong-secret"))
    assert status == 403
    status, _, body = curl(*signed_request("POST", url + "x?q=1", '{"k": 2}', "urlkey", "urlsecret"))
    assert status == 200, body
    event = json.loads(body)
    assert event["requestContext"]["authorizer"]["iam"]["accessKey"] == "urlkey"
    assert event["requestContext"]["accountId"] == "000000000000" and event["body"] == '{"k": 2}'


def test_cors(emulator):
    client = emulator.lambda_client()
    url = client.create_function_url_config(
        FunctionName="echo", AuthType="NONE",
        Cors={"AllowOrigins": ["https://app.example"], "AllowMethods": ["POST", "GET"],
              "AllowHeaders": ["content-type"], "ExposeHeaders": ["x-amzn-requestid"], "MaxAge": 300,
              "AllowCredentials": True})["FunctionUrl"]
    status, headers, _ = curl("-X", "OPTIONS", url, "-H", "Origin: https://app.example",
                              "-H", "Access-Control-Request-Method: POST")
    assert status == 200
    assert headers["access-control-allow-origin"] == ["https://app.example"]
    assert headers["access-control-allow-methods"] == ["POST,GET"] and headers["access-control-max-age"] == ["300"]
    assert headers["access-control-allow-credentials"] == ["true"]
    status, headers, _ = curl("-X", "POST", url, "-H", "Origin: https://app.example", "--data-raw", "{}")
    assert status == 200 and headers["access-control-allow-origin"] == ["https://app.example"]
    assert headers["access-control-expose-headers"] == ["x-amzn-requestid"]
    status, headers, _ = curl("-X", "POST", url, "-H", "Origin: https://evil.example", "--data-raw", "{}")
    assert status == 200 and "access-control-allow-origin" not in headers
