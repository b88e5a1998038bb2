"""A function's process inherits nothing from the daemon and runs in Lambda's sandbox: only
stdin/stdout/stderr, an unprivileged uid without capabilities, no-new-privileges, its code
read-only at /var/task, its own /tmp limited to EphemeralStorage, and neither the daemon's data
dir nor other functions' code and /tmp in sight. These tests run as root on a host that allows
private mount namespaces (CI's kind of machine); they check what the daemon's log says it got."""

import json
import os
import threading
import uuid
from pathlib import Path

import pytest

from conftest import (Emulator, code_dir_with_cpp_bootstrap, cpp_function, decode_payload,
                      default_config, make_zip_from_files, wait_until, ROLE_ARN)

# A bash+curl runtime that runs the event's "cmd" with bash and answers its output (stdout and
# stderr) followed by "rc=<exit status>", as a JSON string.
SHELL_BOOTSTRAP = b"""#!/bin/bash
set -u
api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"
headers="$(mktemp)"
while true; do
  event="$(curl -sS -D "$headers" "$api/next")"
  id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | tr -d '\\r' | awk '{print $2}')"
  cmd="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["cmd"])' <<<"$event")"
  out="$(bash -c "$cmd" 2>&1; echo "rc=$?")"
  python3 -c 'import json,sys; sys.stdout.write(json.dumps(sys.stdin.read()))' <<<"$out" > /tmp/.response
  curl -sS -o /dev/null --data-binary @/tmp/.response "$api/$id/response"
done
"""

MODEL_BYTES = b"weights-" + uuid.uuid4().hex.encode()


def shell_zip(tmp_path, name="shell"):
    return make_zip_from_files(tmp_path / f"{name}.zip", {
        "bootstrap": (SHELL_BOOTSTRAP, 0o755),
        "model.bin": (MODEL_BYTES, 0o644),
    }).read_bytes()


def create_shell_function(client, tmp_path, name, memory=256, storage=None):
    args = dict(FunctionName=name, Runtime="provided.al2023", Role=ROLE_ARN, Handler="shell",
                Code={"ZipFile": shell_zip(tmp_path, name)}, Timeout=30, MemorySize=memory)
    if storage:
        args["EphemeralStorage"] = {"Size": storage}
    return client.create_function(**args)


def run(client, function, cmd):
    """Runs cmd in the function; returns (output, exit status)."""
    response = client.invoke(FunctionName=function, Payload=json.dumps({"cmd": cmd}).encode())
    assert "FunctionError" not in response, response
    text = decode_payload(response)
    body, _, rc = text.rstrip("\n").rpartition("rc=")
    return body, int(rc)


def sandbox_line(emulator):
    return next((line for line in emulator.logs().splitlines() if "sandbox: " in line), "")


# Every sandbox check runs against environments started both ways: from the pre-fork pool
# (processes waiting in fresh cgroups) and spawned on demand with the pool off.
@pytest.fixture(params=[2, 0], ids=["prefork_pool", "no_pool"])
def sandboxed(start_emulator, tmp_path, request):
    emulator = start_emulator(default_config(prefork_pool_size=request.param))
    if os.geteuid() != 0:
        pytest.fail("these tests check the root-run daemon's sandbox; run them as root (as CI does)")
    line = sandbox_line(emulator)
    assert "private mount namespace" in line and "/var/task" in line, emulator.logs()
    return emulator


def descriptor_targets(pid):
    targets = {}
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            targets[int(fd)] = os.readlink(f"/proc/{pid}/fd/{fd}")
        except FileNotFoundError:
            pass
    return targets


def group_members(pgid):
    members = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:
            members.append(int(entry))
    return members


def test_function_processes_inherit_only_stdio(start_emulator, tmp_path):
    # Like a daemon started from a shell that leaked a pipe and /dev/null into it.
    leaked_read, leaked_write = os.pipe()
    leaked_null = os.open("/dev/null", os.O_RDONLY)
    code = code_dir_with_cpp_bootstrap(tmp_path)
    try:
        emulator = start_emulator(default_config(functions=[
            cpp_function("sleeper", "sleep", code, timeout_s=10)]),
            pass_fds=(leaked_read, leaked_write, leaked_null))
    finally:
        for fd in (leaked_read, leaked_write, leaked_null):
            os.close(fd)
    client = emulator.lambda_client()
    create_shell_function(client, tmp_path, "shell")

    for function, payload in (("sleeper", b'{"ms":2500}'),
                              ("shell", json.dumps({"cmd": "sleep 2.5"}).encode())):
        caller = threading.Thread(target=emulator.invoke_raw, args=(function, payload))
        caller.start()
        try:
            env = wait_until(lambda: next((e for e in emulator.environments(function)
                                           if e["state"] == "busy"), None),
                             timeout=15, message=f"{function} to be busy")
            daemon = descriptor_targets(emulator.process.pid)
            shared = {t for t in daemon.values() if t.startswith(("socket:[", "pipe:["))}
            # The daemon holds its listening sockets, its runtime API sockets, client
            # connections and the leaked fds: none of them may appear in any function process.
            assert len(daemon) > 6, daemon
            members = group_members(env["pid"])
            assert env["pid"] in members, members
            root_fds = descriptor_targets(env["pid"])
            assert root_fds.get(0) == "/dev/null", (function, root_fds)
            assert root_fds.get(1, "").startswith("pipe:") and root_fds.get(1) == root_fds.get(2), root_fds
            for pid in members:
                fds = descriptor_targets(pid)
                for fd, target in fds.items():
                    if fd <= 2:
                        continue
                    assert target not in shared, (function, pid, fd, target, daemon)
                    assert target != "/dev/null", (function, pid, fd, fds)
        finally:
            caller.join(timeout=30)


def test_identity_capabilities_and_task_root(sandboxed, tmp_path):
    client = sandboxed.lambda_client()
    create_shell_function(client, tmp_path, "who")
    out, rc = run(client, "who", "id -u; id -g; id -G; grep -E '^(Cap|NoNewPrivs)' /proc/self/status")
    assert rc == 0, out
    lines = out.split("\n")
    uid, gid = int(lines[0]), int(lines[1])
    assert uid != 0 and gid != 0, out
    assert lines[2].split() == [str(gid)], out  # no supplementary groups (no root group)
    status = dict(line.split(":\t") for line in lines[3:] if ":\t" in line)
    for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
        assert int(status[cap], 16) == 0, (cap, out)
    assert status["NoNewPrivs"].strip() == "1", out

    out, rc = run(client, "who", 'echo "$LAMBDA_TASK_ROOT"; pwd; realpath "$0" /var/task/bootstrap; '
                                 "cat /var/task/model.bin")
    assert rc == 0, out
    assert out.startswith("/var/task\n/var/task\n"), out
    assert "/var/task/bootstrap" in out and MODEL_BYTES.decode() in out, out
    assert str(sandboxed.data_dir) not in out, out

    # Like Lambda: the code and everything but /tmp are read-only.
    for target in ("/var/task/new-file", "/var/tmp/x", "/dev/shm/x", f"{tmp_path}/x", "/root/x",
                   "/etc/x"):
        out, rc = run(client, "who", f"touch {target}")
        # A path under the host's /tmp (a checkout there) does not exist at all behind the
        # function's private /tmp: refused all the same.
        assert rc != 0 and ("Read-only" in out or "Permission denied" in out or
                            (target.startswith("/tmp/") and "No such file or directory" in out)), (target, out)


def test_tmp_is_private_persistent_and_limited(sandboxed, tmp_path):
    client = sandboxed.lambda_client()
    create_shell_function(client, tmp_path, "writer", memory=1024)
    create_shell_function(client, tmp_path, "other")
    marker = Path("/tmp") / f"stratus-host-{uuid.uuid4().hex}"
    marker.write_text("host")
    try:
        out, rc = run(client, "writer", f"echo cached > /tmp/cache.bin; ls -A /tmp; test -e {marker}")
        assert rc != 0 and "cache.bin" in out and marker.name not in out, out  # host /tmp not seen
        out, rc = run(client, "writer", "cat /tmp/cache.bin")  # warm: same environment
        assert rc == 0 and out.strip() == "cached", out
        assert len(sandboxed.environments("writer")) == 1
        out, rc = run(client, "other", "ls -A /tmp; cat /tmp/cache.bin")
        assert rc != 0 and "cache.bin" not in out.split("rc=")[0].split("\n")[0], out

        out, rc = run(client, "writer", "df -k --output=size /tmp | tail -1")
        assert rc == 0 and int(out.split()[-1]) == 512 * 1024, out
        # Over 512 MB fails with ENOSPC, as on Lambda (the memory limit is 1 GB, so the tmpfs
        # pages fit in it).
        out, rc = run(client, "writer", "head -c 600M /dev/zero > /tmp/big")
        assert rc != 0 and "No space left on device" in out, out
        run(client, "writer", "rm -f /tmp/big")

        config = client.update_function_configuration(FunctionName="writer",
                                                      EphemeralStorage={"Size": 1024})
        assert config["EphemeralStorage"] == {"Size": 1024}
        client.get_waiter("function_updated_v2").wait(FunctionName="writer")
        out, rc = run(client, "writer", "df -k --output=size /tmp | tail -1; ls -A /tmp")
        assert rc == 0 and int(out.split()[0]) == 1024 * 1024, out  # a new environment, empty /tmp
        assert "cache.bin" not in out, out
        assert client.get_function(FunctionName="writer")["Configuration"]["EphemeralStorage"] == \
            {"Size": 1024}
    finally:
        marker.unlink()

    for size in (511, 10241, "big"):  # boto3 would refuse to send these; plain HTTP does
        result = sandboxed.request("PUT", "/2015-03-31/functions/writer/configuration",
                                   json.dumps({"EphemeralStorage": {"Size": size}}),
                                   {"Content-Type": "application/json"})
        assert result.status == 400, result
        assert result.headers["x-amzn-errortype"].startswith("InvalidParameterValueException"), result


def open_up(path, base):
    """pytest makes its temporary directories 0700, which alone keeps other uids out; open them
    up (up to `base`) so that only the sandbox's hiding can."""
    path = Path(path)
    for directory in [path, *path.parents]:
        if not directory.is_relative_to(base):
            break
        os.chmod(directory, 0o755)


def test_data_dir_and_other_functions_are_hidden(start_emulator, tmp_path, tmp_path_factory):
    code = code_dir_with_cpp_bootstrap(tmp_path, "secret-code")
    (code / "secret.txt").write_text("other function's code")
    emulator = start_emulator(default_config(functions=[cpp_function("neighbour", "echo", code)]))
    assert "private mount namespace" in sandbox_line(emulator), emulator.logs()
    client = emulator.lambda_client()
    create_shell_function(client, tmp_path, "nosy")
    create_shell_function(client, tmp_path, "victim")
    run(client, "victim", "true")
    data = emulator.data_dir
    assert (data / "functions" / "victim" / "function.json").is_file()
    base = tmp_path_factory.getbasetemp()
    open_up(data / "functions" / "victim", base)
    open_up(code, base)
    os.chmod(data / "functions" / "victim" / "function.json", 0o644)
    # The data dir is an empty directory there; what is inside it does not exist.
    # (Under the host's /tmp, e.g. a checkout there, the path does not exist at all behind the
    # function's private /tmp: ls complains, and still nothing is listed.)
    for path in (data, code):
        out, rc = run(client, "nosy", f"ls -A {path} | wc -l")
        assert out.strip().split("\n")[-1] == "0", (path, out)
    for path in (data / "functions", data / "functions" / "victim", data / "s3"):
        out, rc = run(client, "nosy", f"ls -A {path}")
        assert rc != 0 and "No such file or directory" in out, (path, out)
    out, rc = run(client, "nosy", f"cat {code}/secret.txt {data}/functions/victim/function.json")
    assert rc != 0 and "other function's code" not in out and "victim" not in out.split(":")[0], out
    # Each environment has its own uid: processes of one function cannot signal another's.
    out, _ = run(client, "victim", "id -u")
    victim_uid = int(out.split()[0])
    out, _ = run(client, "nosy", "id -u")
    assert int(out.split()[0]) != victim_uid
    victim_pid = emulator.environments("victim")[0]["pid"]
    out, rc = run(client, "nosy", f"kill -0 {victim_pid}")
    assert rc != 0 and "not permitted" in out, out


def test_a_non_root_daemon_still_sandboxes_its_functions(tmp_path, tmp_path_factory):
    """Developers run the daemon as themselves: no uid switch then, but fd hygiene, no
    capabilities, and (through a user namespace, where the host allows one) the read-only code,
    the private size-limited /tmp and the hidden data dir."""
    nobody = 65534
    work = tmp_path / "nonroot"
    emulator = Emulator(work, default_config(), data_dir=work / "data")
    open_up(work, tmp_path_factory.getbasetemp())
    os.chown(emulator.data_dir, nobody, nobody)
    emulator.command_prefix = ("setpriv", f"--reuid={nobody}", f"--regid={nobody}", "--clear-groups")
    emulator.start()
    try:
        line = sandbox_line(emulator)
        assert f"the daemon's own uid {nobody}" in line, emulator.logs()
        client = emulator.lambda_client()
        create_shell_function(client, tmp_path, "mine")
        out, rc = run(client, "mine", "id -u; grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; "
                                      'cat "$LAMBDA_TASK_ROOT/model.bin"; echo; ls -A /proc/self/fd')
        assert rc == 0, out
        assert out.split("\n")[0] == str(nobody), out
        assert "NoNewPrivs:\t1" in out and MODEL_BYTES.decode() in out, out
        assert "CapEff:\t0000000000000000" in out, out
        if "private mount namespace" not in line:
            pytest.fail(f"this host refuses unprivileged user namespaces: {line}")
        out, rc = run(client, "mine", 'touch "$LAMBDA_TASK_ROOT/x"')
        assert rc != 0 and "Read-only" in out, out
        out, rc = run(client, "mine", "df -k --output=size /tmp | tail -1; "
                                      f"ls -A {emulator.data_dir} 2>/dev/null | wc -l")
        # (Under the host's /tmp the data dir does not exist there at all: nothing listed either.)
        assert rc == 0 and out.split() == [str(512 * 1024), "0"], out
    finally:
        emulator.stop()


def test_another_environment_cannot_use_a_runtime_api(sandboxed, tmp_path):
    """The network is shared, so a process of one function can reach another environment's
    Runtime API port; with a uid per environment the daemon refuses it (otherwise it could take
    that environment's next invocation or answer it)."""
    client = sandboxed.lambda_client()
    create_shell_function(client, tmp_path, "victim")
    create_shell_function(client, tmp_path, "intruder")
    run(client, "victim", "true")  # now idle, its runtime waiting in /next
    pid = sandboxed.environments("victim")[0]["pid"]
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    api = next(v for v in environ if v.startswith(b"AWS_LAMBDA_RUNTIME_API=")).split(b"=", 1)[1].decode()
    out, rc = run(client, "intruder",
                  f"curl -sS -m 5 -w ' %{{http_code}}' http://{api}/2018-06-01/runtime/invocation/next")
    assert "AccessDeniedException" in out and out.split("rc=")[0].strip().endswith("403"), out
    out, rc = run(client, "intruder", f"curl -sS -m 5 -w ' %{{http_code}}' -d '{{}}' "
                                      f"http://{api}/2018-06-01/runtime/invocation/x/response")
    assert out.split("rc=")[0].strip().endswith("403"), out
    # The victim's runtime kept its place and still serves its own invocations.
    out, rc = run(client, "victim", "echo still mine")
    assert rc == 0 and out.strip() == "still mine", out
    assert "Runtime API request from 127.0.0.1:" in sandboxed.logs()
