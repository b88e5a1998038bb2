"""The config's cgroup_mode: forcing the hierarchy this host does not have (v2 on a cgroup v1 host,
v1 on a v2 host) or "off" falls back to the RLIMIT_DATA cap, says so in the log, and functions still
run with their memory bounded. The v2 writes themselves are checked against a fake cgroup tree in
tests/unit/resource_limits_test.cpp.
"""

import json
import subprocess
from pathlib import Path

import pytest

from conftest import (EMULATOR_BIN, code_dir_with_cpp_bootstrap, cpp_function, decode_payload,
                      default_config)

HOST_IS_V2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
ABSENT = "v1" if HOST_IS_V2 else "v2"


@pytest.mark.parametrize("mode, reason", [
    (ABSENT, f"cgroup_mode is {ABSENT}, but /sys/fs/cgroup is not a cgroup {ABSENT} hierarchy"),
    ("off", "cgroup_mode is off"),
])
def test_a_forced_mode_falls_back_to_the_rlimit_cap(start_emulator, tmp_path, mode, reason):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(
        cgroup_mode=mode,
        functions=[cpp_function("hungry", "memory", code, memory_mb=128, timeout_s=20),
                   cpp_function("echo", "echo", code)]))
    assert f"resource limits: RLIMIT_DATA memory cap only, no CPU share ({reason})" in emulator.logs(), \
        emulator.logs()
    client = emulator.lambda_client()
    assert decode_payload(client.invoke(FunctionName="echo", Payload=b'{"k": 1}')) == {"k": 1}
    small = client.invoke(FunctionName="hungry", Payload=b'{"mb": 16}')
    assert "FunctionError" not in small, decode_payload(small)
    # Under the cap the allocation fails inside the function instead of taking the machine.
    big = client.invoke(FunctionName="hungry", Payload=b'{"mb": 512}')
    assert big.get("FunctionError") == "Unhandled", decode_payload(big)


def test_an_unknown_mode_is_refused_naming_the_field(tmp_path):
    config = tmp_path / "bad.json"
    config.write_text(json.dumps({"cgroup_mode": "v3"}))
    completed = subprocess.run([str(EMULATOR_BIN), "--config", str(config), "--port", "0", "--bind", "127.0.0.1",
                                "--data-dir", str(tmp_path / "data")], capture_output=True, text=True, timeout=30)
    assert completed.returncode == 2, completed.stderr
    assert "config field 'cgroup_mode'" in completed.stderr, completed.stderr
