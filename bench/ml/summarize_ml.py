#!/usr/bin/python3
"""Summarises bench/ml/run_ml_bench.sh's output directory as Markdown tables (medians)."""

import glob
import json
import statistics
import sys

CASE_A_GFLOP = 20 * 2 * (50 * 42100 + 2 * 50 * 42100 - 50 * 2000) / 1e9
CASE_B_MACS = 25 * (32 * 32 * 75 * 64 * 2 + 16 * 16 * 1600 * 64 * 3 + (4096 * 384 + 384 * 192 + 192 * 10) * 3)
CASE_B_GFLOP = 20 * 2 * CASE_B_MACS / 1e9


def main(d):
    eng = {"BM_CaseARound": [], "BM_CaseBRound/iterations:3": []}
    cpu = {k: [] for k in eng}
    for f in sorted(glob.glob(d + "/engine_*.json")):
        for b in json.load(open(f))["benchmarks"]:
            if b["name"] in eng:
                eng[b["name"]].append(b["real_time"] / 1e3)  # ms -> s
                cpu[b["name"]].append(b["cpu_time"] / 1e3)
    ta, tb = [], []
    for f in sorted(glob.glob(d + "/torch_*.json")):
        t = json.load(open(f))
        ta += t["case_a_round_s"]
        tb += t["case_b_round_s"]
    a, b = statistics.median(eng["BM_CaseARound"]), statistics.median(eng["BM_CaseBRound/iterations:3"])
    a_cpu, b_cpu = statistics.median(cpu["BM_CaseARound"]), statistics.median(cpu["BM_CaseBRound/iterations:3"])
    ma, mb = statistics.median(ta), statistics.median(tb)
    print("| Worker round | Stratus engine (median) | PyTorch %s (median) | Speed-up | Engine GFLOP/s |" % t["torch"])
    print("|---|---:|---:|---:|---:|")
    print("| Case A: 20 x 50, %.3f GFLOP | %.2f ms (CPU %.2f ms) | %.1f ms | **%.1fx** | %.0f |" % (
        CASE_A_GFLOP, a * 1e3, a_cpu * 1e3, ma * 1e3, ma / a, CASE_A_GFLOP / a))
    print("| Case B: 20 x 25, %.1f GFLOP | %.3f s (CPU %.3f s) | %.3f s | **%.2fx** | %.1f |" % (
        CASE_B_GFLOP, b, b_cpu, mb, mb / b, CASE_B_GFLOP / b))
    print("\nsamples: engine A %s, B %s; torch A %s, B %s" % (
        [round(x * 1e3, 2) for x in eng["BM_CaseARound"]], [round(x, 3) for x in eng["BM_CaseBRound/iterations:3"]],
        [round(x * 1e3, 1) for x in ta], [round(x, 3) for x in tb]))
    try:
        print(open(d + "/busy.txt").read().strip())
    except FileNotFoundError:
        pass
    for f in sorted(glob.glob(d + "/*.time")):
        print("%s: %s" % (f.split("/")[-1], open(f).read().strip().replace(" ", " s, max RSS KiB ")))
    try:
        layers = json.load(open(d + "/layers.json"))["benchmarks"]
        print("\n| Layer benchmark (median of 3) | Time | GFLOP/s |\n|---|---:|---:|")
        for l in layers:
            if l.get("aggregate_name") == "median":
                fl = l.get("flops")
                print("| %s | %.2f %s | %s |" % (l["run_name"], l["real_time"], l["time_unit"],
                                                "%.1f" % (fl / 1e9) if fl else ""))
    except FileNotFoundError:
        pass
    try:
        x = json.load(open(d + "/crosscheck.json"))
        print("\n| Cross-check vs PyTorch | loss rel. diff | worst gradient max-abs diff / max-abs |\n|---|---:|---:|")
        for case in ("casea", "caseb"):
            for ref in ("torch_float32", "torch_float64"):
                r = x[case][ref]
                print("| %s vs %s | %.2e | %.2e |" % (case, ref, r["loss_rel_diff"], r["worst_grad_rel_to_max"]))
    except FileNotFoundError:
        pass


if __name__ == "__main__":
    main(sys.argv[1])
