"""Fixtures for the integration tests: a real stratus-emulator process on a loopback port, driven by
real clients (Debian's boto3 and /usr/bin/aws, plain HTTP for what those clients refuse to send).

Paths come from the environment ctest sets (STRATUS_BIN_DIR, STRATUS_BUILD_DIR, STRATUS_SOURCE_DIR);
run by hand, they default to build/release of this checkout.
"""

import base64
import contextlib
import ctypes
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import time
import urllib.parse
import zipfile
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

SOURCE_DIR = Path(os.environ.get("STRATUS_SOURCE_DIR", Path(__file__).resolve().parents[2]))
BUILD_DIR = Path(os.environ.get("STRATUS_BUILD_DIR", SOURCE_DIR / "build" / "release"))
BIN_DIR = Path(os.environ.get("STRATUS_BIN_DIR", BUILD_DIR / "bin"))

EMULATOR_BIN = BIN_DIR / "stratus-emulator"
CPP_BOOTSTRAP = BUILD_DIR / "tests" / "functions" / "cpp" / "bootstrap"
PRODUCT_BOOTSTRAP = BUILD_DIR / "functions" / "stratus" / "bootstrap"
BASH_ECHO_DIR = SOURCE_DIR / "tests" / "functions" / "bash_echo"

# The CLI must be Debian's awscli (v2 on bookworm), never whatever python environment is on PATH.
AWS_CLI = "/usr/bin/aws"
REGION = "us-east-1"
ACCOUNT_ID = "000000000000"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT_ID}:role/stratus-tests"

STARTUP_TIMEOUT_S = 20.0
SHUTDOWN_TIMEOUT_S = 30.0
ORPHAN_GRACE_S = 3.0

# Become the reaper of orphaned descendants: a process the daemon leaves behind is re-parented to
# this pytest process instead of init, so teardown can find it (and reap or kill it).
_PR_SET_CHILD_SUBREAPER = 36
with contextlib.suppress(Exception):
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)

_live_daemon_pids = set()


# --------------------------------------------------------------------------------------------
# Process helpers
# --------------------------------------------------------------------------------------------

def _proc_status(pid):
    """(state letter, ppid) of a process, or None if it does not exist."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # The command name is in parentheses and may contain spaces: split after the last ')'.
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _all_pids():
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def descendants_of(root_pid):
    """All live descendants of root_pid (children, grandchildren, ...)."""
    children = {}
    for pid in _all_pids():
        status = _proc_status(pid)
        if status is not None:
            children.setdefault(status[1], []).append(pid)
    found, frontier = [], [root_pid]
    while frontier:
        parent = frontier.pop()
        for child in children.get(parent, []):
            found.append(child)
            frontier.append(child)
    return found


def process_alive(pid):
    """True if pid exists and is not a zombie."""
    status = _proc_status(pid)
    return status is not None and status[0] != "Z"


def _reap_if_ours(pid):
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _orphans_adopted_by_us():
    """Processes re-parented to this pytest process that are not daemons we started."""
    me = os.getpid()
    return [pid for pid in _all_pids()
            if (s := _proc_status(pid)) is not None and s[1] == me and pid not in _live_daemon_pids]


# --------------------------------------------------------------------------------------------
# Code packaging
# --------------------------------------------------------------------------------------------

def require_file(path, what):
    if not Path(path).is_file():
        pytest.fail(f"{what} not found at {path}: build the project first (scripts/setup.sh)")
    return Path(path)


def make_zip(source, zip_path):
    """Zip a directory (or a single file, stored under its own name) keeping unix mode bits,
    which is what decides executability for Lambda."""
    source, zip_path = Path(source), Path(zip_path)
    entries = ([(source, source.name)] if source.is_file() else
               [(p, p.relative_to(source).as_posix()) for p in sorted(source.rglob("*")) if p.is_file()])
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in entries:
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3  # unix, so extractors honour the mode bits
            info.external_attr = (stat.S_IMODE(path.stat().st_mode) | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes())
    return zip_path


def make_zip_from_files(zip_path, files):
    """files: {name: (bytes, mode)}."""
    with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, (data, mode) in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (mode | stat.S_IFREG) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, data)
    return Path(zip_path)


def cpp_zip(tmp_dir):
    """A deployment zip holding the C++ test bootstrap."""
    bootstrap = require_file(CPP_BOOTSTRAP, "C++ test function bootstrap")
    package = Path(tmp_dir) / "cpp-package"
    package.mkdir(parents=True, exist_ok=True)
    shutil.copy2(bootstrap, package / "bootstrap")
    os.chmod(package / "bootstrap", 0o755)
    return make_zip(package, Path(tmp_dir) / "cpp.zip")


def bash_echo_zip(tmp_dir):
    require_file(BASH_ECHO_DIR / "bootstrap", "bash_echo bootstrap")
    return make_zip(BASH_ECHO_DIR, Path(tmp_dir) / "bash_echo.zip")


def constant_bootstrap_script(response_json):
    """A tiny bash+curl runtime answering every event with a fixed document; lets a test tell
    which version of a function's code served an invocation."""
    return ("#!/bin/bash\n"
            "set -eu\n"
            'api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"\n'
            'headers="$(mktemp)"\n'
            "while true; do\n"
            '  curl -sS -o /dev/null -D "$headers" "$api/next"\n'
            "  id=\"$(grep -i '^lambda-runtime-aws-request-id:' \"$headers\" | tr -d '\\r' "
            "| awk '{print $2}')\"\n"
            f"  curl -sS -o /dev/null --data-raw '{response_json}' \"$api/$id/response\"\n"
            "done\n").encode()


def code_dir_with_cpp_bootstrap(tmp_dir, name="cpp-code"):
    bootstrap = require_file(CPP_BOOTSTRAP, "C++ test function bootstrap")
    code = Path(tmp_dir) / name
    code.mkdir(parents=True, exist_ok=True)
    shutil.copy2(bootstrap, code / "bootstrap")
    os.chmod(code / "bootstrap", 0o755)
    return code


def cpp_function(name, handler, code_dir, **overrides):
    """A config-file function entry running the C++ test bootstrap."""
    entry = {"name": name, "code_dir": str(code_dir), "handler": handler, "memory_mb": 128,
             "timeout_s": 3, "runtime": "provided.al2023", "architecture": "x86_64"}
    entry.update(overrides)
    return entry


# --------------------------------------------------------------------------------------------
# The daemon
# --------------------------------------------------------------------------------------------

class HttpResult:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-cased names
        self.body = body

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"HttpResult({self.status}, {self.headers}, {self.body[:300]!r})"


class Emulator:
    """One stratus-emulator process with its own data directory and config file."""

    def __init__(self, work_dir, config, data_dir=None):
        self.work_dir = Path(work_dir)
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir = Path(data_dir) if data_dir else self.work_dir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.config = config
        self.config_path = self.work_dir / "emulator.json"
        self.config_path.write_text(json.dumps(config, indent=2))
        self.aws_home = self.work_dir / "aws-home"
        self.aws_home.mkdir(exist_ok=True)
        self.process = None
        self.url = None
        self.exit_code = None
        self._stopped = False
        self._starts = 0
        self._clients = []
        # Descriptors the daemon inherits, as from a shell that started it (tests of fd hygiene).
        self.pass_fds = ()
        # Prepended to the daemon's command line (e.g. setpriv, to run it as another user).
        self.command_prefix = ()
        # When set, the daemon's arguments instead of --config/--port 0/--bind/--data-dir (tests of
        # what a bare start does); the endpoint file is still read from self.data_dir.
        self.args = None
        self.extra_env = {}

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self):
        binary = require_file(EMULATOR_BIN, "stratus-emulator")
        endpoint_file = self.data_dir / "emulator.endpoint"
        with contextlib.suppress(FileNotFoundError):
            endpoint_file.unlink()
        self._starts += 1
        self.stdout_path = self.work_dir / f"emulator-{self._starts}.stdout"
        self.stderr_path = self.work_dir / f"emulator-{self._starts}.stderr"
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(self.extra_env)
        args = self.args if self.args is not None else [
            "--config", str(self.config_path), "--port", "0", "--bind", "127.0.0.1",
            "--data-dir", str(self.data_dir)]
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                [*self.command_prefix, str(binary), *[str(a) for a in args]],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=env, cwd=self.work_dir,
                pass_fds=self.pass_fds)
        _live_daemon_pids.add(self.process.pid)
        self.exit_code = None
        self._stopped = False
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if endpoint_file.is_file():
                text = endpoint_file.read_text().strip()
                if text:
                    self.url = text
                    break
            if self.process.poll() is not None:
                self._forget_process()
                pytest.fail(f"stratus-emulator exited with {self.process.returncode} before "
                            f"listening; stderr:\n{self.logs()}")
            time.sleep(0.02)
        else:
            self.process.kill()
            self.process.wait()
            self._forget_process()
            pytest.fail(f"stratus-emulator wrote no {endpoint_file} within {STARTUP_TIMEOUT_S} s; "
                        f"stderr:\n{self.logs()}")
        parsed = urllib.parse.urlsplit(self.url)
        assert parsed.scheme == "http" and parsed.hostname == "127.0.0.1", self.url
        self.host, self.port = parsed.hostname, parsed.port
        return self

    def _forget_process(self):
        _live_daemon_pids.discard(self.process.pid)

    def logs(self):
        parts = []
        for path in (getattr(self, "stderr_path", None), getattr(self, "stdout_path", None)):
            if path and Path(path).exists():
                parts.append(Path(path).read_text(errors="replace")[-20000:])
        return "\n".join(parts)

    def kill_hard(self):
        """SIGKILL the daemon (a crash) and wait for it; its environments die with it."""
        self.process.kill()
        self.process.wait()
        self._stopped = True
        self._forget_process()

    def running(self):
        return self.process is not None and self.process.poll() is None

    def signal(self, signum):
        self.process.send_signal(signum)

    def wait_exit(self, timeout=SHUTDOWN_TIMEOUT_S):
        self._stopped = True
        try:
            self.exit_code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            self._forget_process()
            pytest.fail(f"stratus-emulator did not exit within {timeout} s of SIGTERM; "
                        f"stderr:\n{self.logs()}")
        self._forget_process()
        return self.exit_code

    def stop(self, check=True):
        """SIGTERM, wait, and check exit 0 and that no environment or other descendant survived."""
        if self.process is None or self._stopped:
            return
        if self.process.poll() is not None:
            self._stopped = True
            self._forget_process()
            if check:
                pytest.fail(f"stratus-emulator died on its own with {self.process.returncode}; "
                            f"stderr:\n{self.logs()}")
            return
        watched = self.watched_pids()
        # Drop boto3's idle keep-alive connections first: the daemon gives open connections up to
        # 2 s to finish, and an idle pooled one would only make every teardown that much slower.
        for client in self._clients:
            with contextlib.suppress(Exception):
                client.close()
        self.signal(signal.SIGTERM)
        code = self.wait_exit()
        problems = []
        if code != 0:
            problems.append(f"exit code {code} after SIGTERM (expected 0)")
        problems += self.check_no_survivors(watched)
        if check and problems:
            pytest.fail("; ".join(problems) + f"\nstderr:\n{self.logs()}")

    def watched_pids(self):
        """Environment pids the daemon reports plus every live descendant: what must not survive."""
        env_pids = set()
        with contextlib.suppress(Exception):
            env_pids = {e["pid"] for e in self.environments() if e.get("pid")}
        return env_pids | set(descendants_of(self.process.pid))

    def check_no_survivors(self, watched):
        """After the daemon exited: every watched pid is gone, and nothing was orphaned to us.
        Survivors are killed so one failure does not leak into other tests."""
        problems = []
        deadline = time.monotonic() + ORPHAN_GRACE_S
        while True:
            for pid in _orphans_adopted_by_us():
                _reap_if_ours(pid)  # zombies the daemon never reaped are dead; just collect them
            alive = sorted({pid for pid in watched if process_alive(pid)} |
                           {pid for pid in _orphans_adopted_by_us() if process_alive(pid)})
            if not alive or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        for pid in alive:
            cmdline = ""
            with contextlib.suppress(OSError):
                cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(
                    errors="replace")
            problems.append(f"process {pid} ({cmdline.strip()}) outlived the daemon")
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(pid, 0)  # only succeeds if it was re-parented to us
        for pid in watched:
            if pid in alive:
                continue
            _reap_if_ours(pid)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                continue
            except PermissionError:
                pass
            if process_alive(pid):
                problems.append(f"process {pid} still exists after the daemon exited")
        return problems

    # ---- plain HTTP ----------------------------------------------------------------------------

    def request(self, method, path, body=None, headers=None, timeout=60):
        connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            if isinstance(body, str):
                body = body.encode()
            send_error = None
            try:
                connection.request(method, path, body=body, headers=headers or {})
            except (BrokenPipeError, ConnectionResetError) as error:
                # The server may answer (e.g. 413) and close before reading a large body; the
                # answer can still be waiting in our receive buffer.
                send_error = error
            try:
                response = connection.getresponse()
            # AttributeError: after a failed send, http.client may have dropped its socket.
            except (http.client.HTTPException, OSError, AttributeError) as error:
                raise AssertionError(f"{method} {path}: no HTTP response "
                                     f"(send error {send_error!r}, read error {error!r})")
            data = response.read()
            return HttpResult(response.status, {k.lower(): v for k, v in response.getheaders()},
                              data)
        finally:
            connection.close()

    def get_json(self, path):
        result = self.request("GET", path)
        assert result.status == 200, f"GET {path}: {result}"
        return result.json()

    def environments(self, function=None):
        envs = self.get_json("/stratus/v1/environments")["environments"]
        return [e for e in envs if function is None or e.get("function") == function]

    def usage(self):
        return self.get_json("/stratus/v1/usage")

    def invoke_raw(self, function, payload=b"", headers=None, qualifier=None, timeout=60):
        path = f"/2015-03-31/functions/{urllib.parse.quote(function, safe='')}/invocations"
        if qualifier is not None:
            path += "?Qualifier=" + urllib.parse.quote(qualifier, safe="")
        return self.request("POST", path, body=payload, headers=headers or {}, timeout=timeout)

    # ---- AWS clients ---------------------------------------------------------------------------

    def lambda_client(self, read_timeout=60):
        session = boto3.session.Session(aws_access_key_id="test", aws_secret_access_key="test",
                                        region_name=REGION)
        client = session.client(
            "lambda", endpoint_url=self.url,
            config=Config(retries={"max_attempts": 0}, read_timeout=read_timeout,
                          connect_timeout=10, max_pool_connections=128))
        self._clients.append(client)
        return client

    def s3_client(self, access_key="test", secret_key="test", **config):
        session = boto3.session.Session(aws_access_key_id=access_key, aws_secret_access_key=secret_key,
                                        region_name=REGION)
        options = {"retries": {"max_attempts": 0}, "read_timeout": 120, "connect_timeout": 10,
                   "max_pool_connections": 32, "s3": {"addressing_style": "path"}}
        options.update(config)
        client = session.client("s3", endpoint_url=self.url, config=Config(**options))
        self._clients.append(client)
        return client

    def aws_s3(self, *args, check=True, timeout=300):
        """Run `/usr/bin/aws --endpoint-url URL <args>` (e.g. "s3", "cp", ...); returns the
        CompletedProcess, asserting success unless check=False."""
        command = [AWS_CLI, "--endpoint-url", self.url, "--region", REGION,
                   *[str(a) for a in args]]
        completed = subprocess.run(command, capture_output=True, text=True, env=self.aws_env(),
                                   timeout=timeout, cwd=self.work_dir)
        if check:
            assert completed.returncode == 0, (f"{' '.join(command)} failed with "
                                               f"{completed.returncode}:\n{completed.stderr}")
        return completed

    def aws_env(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({
            "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION, "AWS_PAGER": "",
            "AWS_MAX_ATTEMPTS": "1", "AWS_RETRY_MODE": "standard",
            "AWS_CONFIG_FILE": str(self.aws_home / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(self.aws_home / "credentials"),
            "HOME": str(self.aws_home),
        })
        return env

    def aws(self, *args, check=True, timeout=120):
        """Run `/usr/bin/aws --endpoint-url URL lambda <args>` with JSON output.
        Returns the parsed stdout (None when empty); with check=False, the CompletedProcess."""
        command = [AWS_CLI, "--endpoint-url", self.url, "--region", REGION, "--output", "json",
                   "--cli-read-timeout", "120", "lambda", *[str(a) for a in args]]
        completed = subprocess.run(command, capture_output=True, text=True, env=self.aws_env(),
                                   timeout=timeout, cwd=self.work_dir)
        if not check:
            return completed
        assert completed.returncode == 0, (f"{' '.join(command)} failed with "
                                           f"{completed.returncode}:\n{completed.stderr}")
        return json.loads(completed.stdout) if completed.stdout.strip() else None

    # ---- data directory --------------------------------------------------------------------------

    def function_logs(self, function):
        directory = self.data_dir / "logs" / function
        if not directory.is_dir():
            return ""
        return "".join(p.read_text(errors="replace") for p in sorted(directory.rglob("*"))
                       if p.is_file())

    def function_logs_once(self, function, predicate, timeout=5):
        """The function's logs once predicate(logs) holds. The daemon writes log lines in batches,
        within 20 ms of each line (docs/CONTRACTS.md), so a line of an invocation that just ended
        may not be in the file yet when the client has its answer."""
        return wait_until(lambda: (lambda logs: logs if predicate(logs) else None)(self.function_logs(function)),
                          timeout=timeout, interval=0.01, message=f"{function}'s log stream")


def default_config(**overrides):
    config = {
        "listen": {"address": "127.0.0.1", "port": 0},
        "region": REGION,
        "account_id": ACCOUNT_ID,
        "account_concurrency": 1000,
        "idle_keepalive_s": 300,
        "housekeeping_interval_ms": 100,
        "async": {"retry_delay_scale": 0.001},
        "shutdown_grace_s": 10,
        "functions": [],
    }
    config.update(overrides)
    return config


@pytest.fixture
def start_emulator(tmp_path):
    """Factory: start_emulator(config=None, data_dir=None, name='emu') -> Emulator (started).
    Every emulator started this way is stopped and checked at teardown."""
    started = []

    def start(config=None, data_dir=None, name="emu", pass_fds=()):
        emulator = Emulator(tmp_path / name, config or default_config(), data_dir=data_dir)
        emulator.pass_fds = tuple(pass_fds)
        started.append(emulator)
        return emulator.start()

    yield start
    failures = []
    for emulator in started:
        try:
            emulator.stop()
        except pytest.fail.Exception as failure:
            failures.append(str(failure))
    if failures:
        pytest.fail("\n".join(failures))


@pytest.fixture
def emulator(start_emulator):
    return start_emulator()


# A module's S3 tests share one daemon (starting one per test would dominate their time) and
# each gets a bucket of its own, emptied and removed afterwards, so no test sees another's objects.

@pytest.fixture(scope="module")
def emu(tmp_path_factory, request):
    """One emulator on the default config for the whole module (`emulator` is one per test)."""
    with running_emulator(tmp_path_factory.mktemp(request.module.__name__), default_config()) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def s3(emu):
    return emu.s3_client()


@pytest.fixture
def bucket(s3, request):
    """A bucket named after the test (readable, and unique by its hash)."""
    readable = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    name = f"b-{readable}-{hashlib.sha1(request.node.name.encode()).hexdigest()[:8]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for obj in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=obj["Key"])
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=name)


# --------------------------------------------------------------------------------------------
# Assertion helpers
# --------------------------------------------------------------------------------------------

def decode_payload(response):
    """The JSON document of a boto3 invoke response."""
    raw = response["Payload"].read()
    return json.loads(raw) if raw else None


def decode_log_result(response_or_value):
    value = (response_or_value.get("LogResult") if isinstance(response_or_value, dict)
             else response_or_value)
    assert value, f"no LogResult in {response_or_value!r}"
    return base64.b64decode(value).decode(errors="replace")


def client_error_code(error):
    return error.response.get("Error", {}).get("Code")


def wait_until(predicate, timeout, interval=0.05, message="condition"):
    """Poll predicate() until it returns a truthy value (returned) or fail after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message}")
        time.sleep(interval)


@contextlib.contextmanager
def running_emulator(work_dir, config):
    """Context manager for module-scoped daemons: started on entry, stopped and checked on exit."""
    emulator = Emulator(work_dir, config).start()
    try:
        yield emulator
    finally:
        emulator.stop()
