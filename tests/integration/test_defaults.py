"""What a new user gets from a bare `stratus-emulator`: the built product functions (from the
default config the build writes beside the binary), data in the XDG state directory, and a log that
says how to reach it. Only --port is passed (the default, 9001, may be taken on a test machine);
HOME and XDG_STATE_HOME point into the test's temporary directory.
"""

import json
import re
import subprocess

import pytest

from conftest import EMULATOR_BIN, Emulator, decode_payload

PRODUCT_FUNCTIONS = {"echo", "gradient", "gradient_z", "shard_stats", "model_averaging", "layer",
                     "predict", "augment"}


@pytest.fixture
def bare_emulator(tmp_path):
    started = []

    def start(xdg_state_home=True):
        home = tmp_path / "home"
        home.mkdir(exist_ok=True)
        emulator = Emulator(tmp_path / f"emu-{len(started)}", {})
        emulator.args = ["--port", "0"]
        emulator.extra_env = {"HOME": str(home), "XDG_STATE_HOME": ""}
        if xdg_state_home:
            emulator.extra_env["XDG_STATE_HOME"] = str(tmp_path / "state")
            emulator.data_dir = tmp_path / "state" / "stratus"
        else:
            emulator.data_dir = home / ".local" / "state" / "stratus"
        started.append(emulator)
        return emulator.start()

    yield start
    for emulator in started:
        emulator.stop()


def test_a_bare_start_serves_the_product_functions_and_says_how_to_reach_them(bare_emulator):
    emulator = bare_emulator()
    assert emulator.host == "127.0.0.1"  # loopback by default
    listed = emulator.aws("list-functions")
    names = {f["FunctionName"] for f in listed["Functions"]}
    assert PRODUCT_FUNCTIONS <= names, names

    out = emulator.work_dir / "echo.json"
    result = emulator.aws("invoke", "--function-name", "echo", "--cli-binary-format", "raw-in-base64-out",
                          "--payload", '{"hello": "new user"}', out)
    assert result["StatusCode"] == 200 and "FunctionError" not in result
    assert json.loads(out.read_text()) == {"hello": "new user"}

    logs = emulator.logs()
    assert "share/stratus/emulator.json (the default beside stratus-emulator" in logs, logs
    assert f"data directory {emulator.data_dir} is the default" in logs, logs
    assert f"serving {len(names)} functions at {emulator.url}" in logs, logs
    assert f"aws --endpoint-url {emulator.url} lambda list-functions" in logs, logs
    # The state lives where the log says, and the daemon wrote its endpoint there.
    assert (emulator.data_dir / "async").is_dir()


def test_without_xdg_state_home_data_goes_to_home_local_state(bare_emulator):
    emulator = bare_emulator(xdg_state_home=False)
    client = emulator.lambda_client()
    assert decode_payload(client.invoke(FunctionName="echo", Payload=b'{"n": 1}')) == {"n": 1}
    assert str(emulator.data_dir).endswith(".local/state/stratus")
    assert (emulator.data_dir / "emulator.endpoint").is_file()


def test_help_documents_the_defaults():
    help_text = subprocess.run([str(EMULATOR_BIN), "--help"], capture_output=True, text=True,
                               timeout=30, check=True).stdout
    assert "127.0.0.1:9001" in help_text
    assert "$XDG_STATE_HOME/stratus" in help_text and "~/.local/state/stratus" in help_text
    assert re.search(r"--template", help_text)
