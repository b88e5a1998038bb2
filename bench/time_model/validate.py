#!/usr/bin/python3
"""Validates the emulator's modeled AWS time (docs/TIME_MODEL.md) and prints a Markdown table for
bench/RESULTS.md: a CPU-bound function at 1769 MB and 512 MB run alone (the quietest of several
runs) and 16-way concurrent on this host; an S3-heavy function against its profile.

Usage: bench/time_model/validate.py [--iterations N] [--concurrent 16]   (build/release first)"""

import argparse
import base64
import concurrent.futures
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "integration"))
from conftest import Emulator, code_dir_with_cpp_bootstrap, cpp_function, default_config  # noqa: E402


def measured_duration(result):
    tail = base64.b64decode(result.headers["x-amz-log-result"]).decode()
    report = [line for line in tail.splitlines() if line.startswith("REPORT ")][-1]
    return float(report.split("\tDuration: ")[1].split(" ")[0])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=150_000_000)
    parser.add_argument("--concurrent", type=int, default=16)
    parser.add_argument("--alone-runs", type=int, default=7)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="stratus-time-model-"))
    code = code_dir_with_cpp_bootstrap(work)
    emulator = Emulator(work / "emu", default_config(functions=[
        cpp_function("spin1769", "spin", code, memory_mb=1769, timeout_s=600),
        cpp_function("spin512", "spin", code, memory_mb=512, timeout_s=600),
        cpp_function("s3heavy", "s3_transfer", code, memory_mb=1769, timeout_s=600)])).start()
    rows = []
    try:
        def spin(function):
            r = emulator.invoke_raw(function, json.dumps({"iterations": args.iterations}).encode(),
                                    headers={"X-Amz-Log-Type": "Tail", "X-Stratus-Modeled": "1"},
                                    timeout=900)
            assert r.status == 200 and "x-amz-function-error" not in r.headers, r
            return r
        for function, memory in (("spin1769", 1769), ("spin512", 512)):
            spin(function)
            alone = [spin(function) for _ in range(args.alone_runs)]
            alone_measured = min(measured_duration(r) for r in alone)
            alone_modeled = statistics.median(float(r.headers["x-stratus-modeled-duration-ms"]) for r in alone)
            with concurrent.futures.ThreadPoolExecutor(args.concurrent) as pool:
                results = list(pool.map(lambda _: spin(function), range(args.concurrent)))
            measured = statistics.median(measured_duration(r) for r in results)
            modeled = [float(r.headers["x-stratus-modeled-duration-ms"]) for r in results]
            worst = max(abs(m - alone_measured) / alone_measured for m in modeled)
            rows.append(f"| {memory} MB | {alone_measured:.1f} | {alone_modeled:.1f} | {measured:.1f} "
                        f"({measured / alone_measured:.1f}x) | {statistics.median(modeled):.1f} "
                        f"({min(modeled):.1f}-{max(modeled):.1f}) | {worst * 100:.1f}% |")
        emulator.s3_client().create_bucket(Bucket="bench")
        event = {"bucket": "bench", "key": "blob", "bytes": 8_000_000, "gets": 10}
        r = emulator.invoke_raw("s3heavy", json.dumps(event).encode(),
                                headers={"X-Stratus-Modeled": "1"}, timeout=900)
        r = emulator.invoke_raw("s3heavy", json.dumps(event).encode(),
                                headers={"X-Stratus-Modeled": "1"}, timeout=900)
        expected = (100 + 8e6 / 85e6 * 1000) * 11
        s3_line = (f"S3-heavy (1 PUT + 10 GET of 8 MB, default profile): modeled S3 "
                   f"{float(r.headers['x-stratus-modeled-s3-ms']):.1f} ms for "
                   f"{r.headers['x-stratus-modeled-s3-requests']} requests, profile predicts {expected:.1f} ms; "
                   f"modeled CPU {float(r.headers['x-stratus-modeled-cpu-ms']):.1f} ms, other "
                   f"{float(r.headers['x-stratus-modeled-other-ms']):.1f} ms")
    finally:
        emulator.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"CPU-bound `spin` ({args.iterations} iterations), alone = quietest of {args.alone_runs} runs, "
          f"{args.concurrent}-way concurrent; load average at start {os.getloadavg()[0]:.1f}\n")
    print("| memory | alone measured ms | alone modeled ms | concurrent measured ms (median) | "
          "concurrent modeled ms (median, range) | worst modeled vs alone measured |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print(s3_line)


if __name__ == "__main__":
    main()
