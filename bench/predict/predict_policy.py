#!/usr/bin/python3
"""Concurrency policy of a prediction endpoint (DESIGN.md system 5): the `predict` function behind
its function URL under an OPEN-LOOP load (requests start on a fixed schedule, whether or not earlier
ones have answered) with (a) on-demand only, (b) provisioned concurrency N, (c) reserved
concurrency as a cap. Per policy: a fresh emulator, a model trained through it (stratus-trainer
layers, mlp/1:784-16-1), then R requests/s for T seconds of base64 PNGs posted with
plain HTTP (no SigV4) to the URL. Reports cold starts (the emulator's metering), 429s, p50/p99
latency of the answered requests, and cost: the metered invocations (requests + GB-s, on-demand
prices) plus, for provisioned concurrency, AWS's charge for keeping N environments warm for the
run ($0.0000041667 per GB-s; its lower duration price is not applied: the metered cost is an upper
bound). Each schedule is the same for every policy; the reference is the same requests sent to the
emulator's `echo` function URL first (what the transport alone costs).

Usage: bench/predict/predict_policy.py [--build build/release] [--rate 30] [--seconds 8]
       [--provisioned 2] [--reserved 1] [--json FILE]
"""

import argparse
import base64
import http.client
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "integration"))
from images import png_bytes  # noqa: E402

PROVISIONED_GB_S = 0.0000041667


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(build, work, functions):
    port = free_port()
    config = {"listen": {"address": "127.0.0.1", "port": port}, "functions": functions,
              "housekeeping_interval_ms": 100, "idle_keepalive_s": 300}
    (work / "config.json").write_text(json.dumps(config))
    log = open(work / "emulator.log", "w")
    process = subprocess.Popen([str(build / "bin" / "stratus-emulator"), "--config", str(work / "config.json"),
                                "--data-dir", str(work / "data")], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            if request("GET", url + "/healthz")[0] == 200:
                return process, url
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise SystemExit("the emulator did not start: see " + str(work / "emulator.log"))


def request(method, url, body=None, timeout=60):
    parsed = url.split("/", 3)
    host, port = parsed[2].split(":")
    path = "/" + (parsed[3] if len(parsed) > 3 else "")
    connection = http.client.HTTPConnection(host, int(port), timeout=timeout)
    try:
        connection.request(method, path, body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def create_url(url, function):
    status, body = request("POST", f"{url}/2021-10-31/functions/{function}/url", json.dumps({"AuthType": "NONE"}))
    assert status == 201, body
    return json.loads(body)["FunctionUrl"]


def open_loop(url, body, rate, seconds):
    """Sends rate*seconds requests, request i at start + i/rate; returns (latencies_ms, statuses)."""
    count = int(rate * seconds)
    results = [None] * count
    start = time.monotonic() + 0.2

    def send(i):
        delay = start + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        begin = time.monotonic()
        try:
            status, _ = request("POST", url, body)
        except OSError:
            status = 0
        results[i] = ((time.monotonic() - begin) * 1000, status)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def summarise(results):
    ok = sorted(latency for latency, status in results if status == 200)
    def pct(p):
        return ok[min(len(ok) - 1, int(round(p / 100 * (len(ok) - 1))))] if ok else float("nan")
    return {"requests": len(results), "ok": len(ok), "throttled_429": sum(1 for _, s in results if s == 429),
            "other_errors": sum(1 for _, s in results if s not in (200, 429)),
            "p50_ms": pct(50), "p99_ms": pct(99)}


def run_policy(build, name, predict_extra, rate, seconds, memory_mb):
    code = str(build / "functions" / "stratus")
    predict = {"name": "predict", "handler": "predict", "code_dir": code, "memory_mb": memory_mb, "timeout_s": 30}
    predict.update(predict_extra)
    functions = [{"name": "layer", "handler": "layer", "code_dir": code, "memory_mb": 1024, "timeout_s": 60},
                 {"name": "echo", "handler": "echo", "code_dir": code, "memory_mb": 128, "timeout_s": 3}, predict]
    with tempfile.TemporaryDirectory(prefix="stratus-policy-") as tmp:
        work = Path(tmp)
        process, url = start_emulator(build, work, functions)
        try:
            subprocess.run([str(build / "bin" / "stratus-trainer"), "layers", "--layers", "784,16,1", "--samples", "64",
                            "--epochs", "1", "--activation", "tanh", "--target", url, "--bucket", "models",
                            "--run-id", "m", "-q"], check=True, env={k: v for k, v in os.environ.items()
                                                                     if not k.startswith("AWS_")}, timeout=300)
            body = json.dumps({"model": "s3://models/runs/m/model.bin", "hidden": "tanh",
                               "image": base64.b64encode(png_bytes(28, 28, seed=5)).decode()}).encode()
            echo_url = create_url(url, "echo")
            predict_url = create_url(url, "predict")
            time.sleep(1.0)  # provisioned environments finish their init
            usage_before = json.loads(request("GET", url + "/stratus/v1/usage")[1])["functions"].get("predict", {})
            reference = summarise(open_loop(echo_url, body, rate, seconds))
            begin = time.monotonic()
            measured = summarise(open_loop(predict_url, body, rate, seconds))
            wall_s = time.monotonic() - begin
            usage = json.loads(request("GET", url + "/stratus/v1/usage")[1])["functions"]["predict"]
            cold = usage["cold_starts"] - usage_before.get("cold_starts", 0)
            cost = usage["cost_usd"] - usage_before.get("cost_usd", 0.0)
            provisioned = predict_extra.get("provisioned", 0)
            capacity_cost = provisioned * memory_mb / 1024 * wall_s * PROVISIONED_GB_S
            return {"policy": name, **measured, "cold_starts": cold, "metered_cost_usd": cost,
                    "provisioned_capacity_usd": capacity_cost, "total_cost_usd": cost + capacity_cost,
                    "reference_echo_p50_ms": reference["p50_ms"], "reference_echo_p99_ms": reference["p99_ms"]}
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build", default="build/release")
    parser.add_argument("--rate", type=float, default=30)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--provisioned", type=int, default=2)
    parser.add_argument("--reserved", type=int, default=1)
    parser.add_argument("--memory", type=int, default=1769)
    parser.add_argument("--json")
    a = parser.parse_args()
    build = Path(a.build).resolve()
    rows = [run_policy(build, "on-demand", {}, a.rate, a.seconds, a.memory),
            run_policy(build, f"provisioned {a.provisioned}", {"provisioned": a.provisioned}, a.rate, a.seconds, a.memory),
            run_policy(build, f"reserved cap {a.reserved}", {"reserved_concurrency": a.reserved}, a.rate, a.seconds,
                       a.memory)]
    print(f"open loop: {a.rate:g} requests/s for {a.seconds:g} s to the predict function URL ({a.memory} MB)")
    print("| policy | requests | 200 | 429 | other | cold starts | p50 ms | p99 ms | p50 / echo p50 | cost (metered + provisioned) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['policy']} | {r['requests']} | {r['ok']} | {r['throttled_429']} | {r['other_errors']} | "
              f"{r['cold_starts']} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | "
              f"{r['p50_ms'] / r['reference_echo_p50_ms']:.2f} | ${r['metered_cost_usd']:.8f} + "
              f"${r['provisioned_capacity_usd']:.8f} |")
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
