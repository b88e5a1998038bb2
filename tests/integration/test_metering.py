"""Metering: /stratus/v1/usage counts invocations, errors, timeouts, cold starts, billed duration,
GB-seconds and cost the way Lambda bills them; /metrics exposes the counters to Prometheus."""

import re

import pytest

from conftest import (code_dir_with_cpp_bootstrap, cpp_function, decode_log_result,
                      decode_payload, default_config)

# Deliberately unrealistic prices so the cost formula is checkable: $1 per request, $1 per GB-s.
PRICES = {"request_per_million": 1_000_000.0, "gb_second_x86_64": 1.0, "gb_second_arm64": 0.5,
          "s3_put_per_1000": 0.005, "s3_get_per_1000": 0.0004}

USAGE_KEYS = {"invocations", "errors", "throttles", "timeouts", "cold_starts", "duration_ms",
              "billed_ms", "init_ms", "cpu_ms", "gb_seconds", "max_memory_used_mb", "cost_usd"}


@pytest.fixture
def metered(start_emulator, tmp_path):
    code = code_dir_with_cpp_bootstrap(tmp_path)
    emulator = start_emulator(default_config(prices=PRICES, functions=[
        cpp_function("m-echo", "echo", code),
        cpp_function("m-sleep", "sleep", code, timeout_s=5),
        cpp_function("m-error", "error", code),
        cpp_function("m-timeout", "sleep", code, timeout_s=1),
        cpp_function("m-memory", "memory", code, memory_mb=512, timeout_s=10),
        cpp_function("m-arm", "echo", code, architecture="arm64"),
    ]))
    client = emulator.lambda_client()
    for _ in range(3):
        assert client.invoke(FunctionName="m-echo", Payload=b'{"k":1}')["StatusCode"] == 200
    for _ in range(2):
        response = client.invoke(FunctionName="m-sleep", Payload=b'{"ms":200}')
        assert "FunctionError" not in response
    assert client.invoke(FunctionName="m-error", Payload=b"{}").get("FunctionError")
    assert client.invoke(FunctionName="m-timeout", Payload=b'{"ms":3000}').get("FunctionError")
    memory = client.invoke(FunctionName="m-memory", Payload=b'{"mb":100}', LogType="Tail")
    assert "FunctionError" not in memory, decode_payload(memory)
    emulator.memory_log = decode_log_result(memory)
    client.invoke(FunctionName="m-arm", Payload=b"{}")
    return emulator


def test_usage_counts_invocations_and_outcomes(metered):
    usage = metered.usage()
    functions = usage["functions"]
    for name in ("m-echo", "m-sleep", "m-error", "m-timeout", "m-memory", "m-arm"):
        assert USAGE_KEYS <= set(functions[name]), (name, functions[name])
    assert USAGE_KEYS <= set(usage["totals"]), usage["totals"]

    assert functions["m-echo"]["invocations"] == 3
    assert functions["m-echo"]["errors"] == 0
    # Every environment started for m-echo (none was reaped yet) had exactly one cold start.
    assert functions["m-echo"]["cold_starts"] == len(metered.environments("m-echo")) >= 1
    assert functions["m-sleep"]["invocations"] == 2
    assert functions["m-error"]["invocations"] == 1
    assert functions["m-error"]["errors"] == 1
    assert functions["m-timeout"]["invocations"] == 1
    assert functions["m-timeout"]["timeouts"] == 1
    assert functions["m-echo"]["throttles"] == 0

    totals = usage["totals"]
    assert totals["invocations"] == sum(f["invocations"] for f in functions.values()) == 9
    assert totals["billed_ms"] == sum(f["billed_ms"] for f in functions.values())
    assert totals["cost_usd"] == pytest.approx(sum(f["cost_usd"] for f in functions.values()),
                                               rel=1e-9, abs=1e-12)


def test_usage_durations_and_billing(metered):
    functions = metered.usage()["functions"]
    for name, stats in functions.items():
        assert stats["duration_ms"] > 0, (name, stats)
        assert stats["billed_ms"] >= stats["duration_ms"], (name, stats)
        # Billing rounds each invocation up to the next millisecond and (custom runtimes) adds
        # the INIT phase of cold starts, nothing more.
        assert stats["billed_ms"] <= stats["duration_ms"] + stats["init_ms"] + \
            stats["invocations"], (name, stats)
        assert stats["init_ms"] > 0 and stats["cold_starts"] >= 1, (name, stats)
        assert stats["cost_usd"] > 0, (name, stats)
    assert functions["m-sleep"]["duration_ms"] >= 400
    # A timed-out invocation is billed for the whole timeout.
    assert functions["m-timeout"]["billed_ms"] >= 1000


def test_gb_seconds_and_cost_follow_memory_and_prices(metered):
    functions = metered.usage()["functions"]
    memory_gb = {"m-echo": 0.125, "m-sleep": 0.125, "m-error": 0.125, "m-timeout": 0.125,
                 "m-memory": 0.5, "m-arm": 0.125}
    for name, gb in memory_gb.items():
        stats = functions[name]
        billed_s = stats["billed_ms"] / 1000.0
        # Lambda bills the INIT phase too, so GB-s lie between duration-only and duration+init.
        lower = billed_s * gb
        upper = (billed_s + (stats["init_ms"] + stats["invocations"]) / 1000.0) * gb
        assert lower * 0.999 <= stats["gb_seconds"] <= upper * 1.001, (name, stats)
        price = PRICES["gb_second_arm64"] if name == "m-arm" else PRICES["gb_second_x86_64"]
        expected = stats["invocations"] * 1.0 + stats["gb_seconds"] * price
        assert stats["cost_usd"] == pytest.approx(expected, rel=1e-6), (name, stats)


def test_max_memory_used(metered):
    stats = metered.usage()["functions"]["m-memory"]
    assert stats["max_memory_used_mb"] >= 100, stats
    assert stats["max_memory_used_mb"] <= 512, stats
    report = re.search(r"Max Memory Used: (\d+) MB", metered.memory_log)
    assert report, metered.memory_log
    assert int(report.group(1)) >= 100
    assert "Memory Size: 512 MB" in metered.memory_log


METRIC_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)(\s+\d+)?$")


def test_metrics_exposition(metered):
    result = metered.request("GET", "/metrics")
    assert result.status == 200
    assert result.headers.get("content-type", "").startswith("text/plain"), result.headers
    text = result.body.decode()
    samples = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = METRIC_LINE.match(line)
        assert match, f"not a Prometheus sample line: {line!r}"
        float(match.group(3))  # the value parses
        samples.append((match.group(1), match.group(2) or "", float(match.group(3))))
    assert samples
    echo_invocations = [value for name, labels, value in samples
                        if "invocations" in name and 'function="m-echo"' in labels]
    assert 3.0 in echo_invocations, [s for s in samples if 'function="m-echo"' in s[1]]
    assert any("# TYPE" in line for line in text.splitlines())
