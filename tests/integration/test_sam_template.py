"""`stratus-emulator --template template.yaml`: a SAM template's functions, one from a code
directory (the bash + curl custom runtime) and two from a zip (the C++ test bootstrap), served and
driven with Debian's AWS CLI; a template the emulator cannot serve stops it with an error naming the
resource and the property.
"""

import json
import shutil
import subprocess

from conftest import (BASH_ECHO_DIR, EMULATOR_BIN, REGION, Emulator, cpp_zip, require_file)

TEMPLATE = """\
AWSTemplateFormatVersion: '2010-09-09'
Transform: AWS::Serverless-2016-10-31
Description: a SAM application served by stratus-emulator
Parameters:
  Stage:
    Type: String
    Default: test
Globals:
  Function:
    Timeout: 10
    Environment:
      Variables:
        STAGE: !Ref Stage
        SHARED: from-globals
Resources:
  BashEcho:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: bash_echo/
      Handler: echo
      Runtime: provided.al2023
      MemorySize: 256
      Events:
        Api:
          Type: Api
          Properties: {Path: /echo, Method: post}
  ZippedEnv:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: zipped-env
      CodeUri: cpp.zip
      Handler: env
      Runtime: provided.al2023
      ReservedConcurrentExecutions: 3
      EphemeralStorage:
        Size: 1024
      Environment:
        Variables:
          OWN: !Sub '${AWS::Region}-own'
          SHARED: overridden
  Raw:
    Type: AWS::Lambda::Function
    Properties:
      Code: cpp.zip
      Handler: echo
      Runtime: provided
  Table:
    Type: AWS::DynamoDB::Table
"""


def write_app(directory, template=TEMPLATE):
    directory.mkdir(parents=True, exist_ok=True)
    require_file(BASH_ECHO_DIR / "bootstrap", "bash_echo bootstrap")
    shutil.copytree(BASH_ECHO_DIR, directory / "bash_echo")
    shutil.copy2(cpp_zip(directory / "zip-work"), directory / "cpp.zip")
    (directory / "template.yaml").write_text(template)
    return directory / "template.yaml"


def test_template_functions_are_served_to_the_aws_cli(tmp_path):
    template = write_app(tmp_path / "app")
    emulator = Emulator(tmp_path / "emu", {})
    emulator.args = ["--template", template, "--port", "0", "--bind", "127.0.0.1",
                     "--data-dir", emulator.data_dir]
    emulator.start()
    try:
        listed = {f["FunctionName"]: f for f in emulator.aws("list-functions")["Functions"]}
        assert set(listed) == {"BashEcho", "zipped-env", "Raw"}, listed.keys()
        assert listed["BashEcho"]["MemorySize"] == 256 and listed["BashEcho"]["Timeout"] == 10
        assert listed["Raw"]["Timeout"] == 3  # Globals are SAM's, not AWS::Lambda::Function's
        config = emulator.aws("get-function-configuration", "--function-name", "zipped-env")
        assert config["EphemeralStorage"] == {"Size": 1024}
        assert config["Environment"]["Variables"] == {
            "STAGE": "test", "SHARED": "overridden", "OWN": f"{REGION}-own"}
        concurrency = emulator.aws("get-function-concurrency", "--function-name", "zipped-env")
        assert concurrency["ReservedConcurrentExecutions"] == 3

        out = emulator.work_dir / "bash.json"
        result = emulator.aws("invoke", "--function-name", "BashEcho", "--cli-binary-format",
                              "raw-in-base64-out", "--payload", '{"from": "a SAM template"}', out)
        assert result["StatusCode"] == 200 and "FunctionError" not in result, result
        assert json.loads(out.read_text()) == {"from": "a SAM template"}

        out = emulator.work_dir / "env.json"
        result = emulator.aws("invoke", "--function-name", "zipped-env", "--payload", "e30=", out)
        assert result["StatusCode"] == 200 and "FunctionError" not in result, result
        env = json.loads(out.read_text())["env"]
        assert env["STAGE"] == "test" and env["SHARED"] == "overridden" and env["OWN"] == f"{REGION}-own"

        out = emulator.work_dir / "raw.json"
        emulator.aws("invoke", "--function-name", "Raw", "--cli-binary-format", "raw-in-base64-out",
                     "--payload", '{"raw": true}', out)
        assert json.loads(out.read_text()) == {"raw": True}

        logs = emulator.logs()
        assert "template: " in logs and "(3 functions)" in logs, logs
        assert "'Table' (AWS::DynamoDB::Table) ignored" in logs, logs
        assert "'BashEcho': ignored Events" in logs, logs
        # The zip was unpacked under the data directory, one directory per function.
        assert (emulator.data_dir / "template-code" / "zipped-env" / "bootstrap").is_file()
    finally:
        emulator.stop()


def test_a_template_it_cannot_serve_stops_the_daemon_naming_resource_and_property(tmp_path):
    cases = {
        "MemorySize: 64": ("'BashEcho'", "'MemorySize'", "between 128 and 10240, got 64"),
        "MemorySize: !GetAtt Other.Memory": ("'BashEcho'", "'MemorySize'", "!GetAtt"),
        "Layers: [arn:aws:lambda:us-east-1:123456789012:layer:deps:1]": ("'BashEcho'", "'Layers'"),
    }
    for index, (line, expected) in enumerate(cases.items()):
        bad = TEMPLATE.replace("      MemorySize: 256", "      " + line)
        template = write_app(tmp_path / f"bad-{index}", bad)
        data_dir = tmp_path / f"bad-data-{index}"
        completed = subprocess.run(
            [str(EMULATOR_BIN), "--template", str(template), "--port", "0", "--bind", "127.0.0.1",
             "--data-dir", str(data_dir)], capture_output=True, text=True, timeout=30)
        assert completed.returncode == 2, (line, completed.returncode, completed.stderr)
        for part in expected:
            assert part in completed.stderr, (line, part, completed.stderr)
        assert "template.yaml: template resource" in completed.stderr, completed.stderr
        assert not (data_dir / "emulator.endpoint").exists()
