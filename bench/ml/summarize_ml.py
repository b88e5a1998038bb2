#!/usr/bin/python3
"""Summarises bench/ml/run_ml_bench.sh's output directory as Markdown tables (medians)."""

import glob
import json
import statistics
import sys

CASE_A_GFLOP = 20 * 2 * (50 * 42100 + 2 * 50 * 42100 - 50 * 2000) / 1e9
CASE_B_MACS = 25 * (32 * 32 * 75 * 64 * 2 + 16 * 16 * 1600 * 64 * 3 + (4096 * 384 + 384 * 192 + 192 * 10) * 3)
CASE_B_GFLOP = 20 * 2 * CASE_B_MACS / 1e9


def load_pairs(d):
    """Per repetition i: the engine's (wall, cpu) for both cases from engine_i.json and the torch
    samples from torch_i.json (run right after it)."""
    reps = []
    for f in sorted(glob.glob(d + "/engine_*.json"), key=lambda p: int(p.split("_")[-1].split(".")[0])):
        i = f.split("_")[-1].split(".")[0]
        e = {}
        for bm in json.load(open(f))["benchmarks"]:
            key = "a" if bm["name"].startswith("BM_CaseARound") else "b"
            e[key] = (bm["real_time"] / 1e3, bm["cpu_time"] / 1e3)  # ms -> s
        t = json.load(open("%s/torch_%s.json" % (d, i)))
        reps.append((e, t))
    return reps


def main(d):
    reps = load_pairs(d)
    version = reps[0][1]["torch"]
    gflop = {"a": CASE_A_GFLOP, "b": CASE_B_GFLOP}
    label = {"a": "Case A: 20 x 50, %.3f GFLOP" % CASE_A_GFLOP, "b": "Case B: 20 x 25, %.1f GFLOP" % CASE_B_GFLOP}
    print("| Worker round | Engine wall (median) | PyTorch %s wall | Speed-up wall | Engine CPU | PyTorch CPU | Speed-up CPU | Engine GFLOP/s (CPU) |" % version)
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for c in ("a", "b"):
        ew = [e[c][0] for e, _ in reps]
        ec = [e[c][1] for e, _ in reps]
        tw = [statistics.median(t["case_%s_round_s" % c]) for _, t in reps]
        tc = [statistics.median(t.get("case_%s_round_cpu_s" % c, t["case_%s_round_s" % c])) for _, t in reps]
        rw = statistics.median([t / e for t, e in zip(tw, ew)])
        rc = statistics.median([t / e for t, e in zip(tc, ec)])
        unit, scale = ("ms", 1e3) if c == "a" else ("s", 1.0)
        print("| %s | %.3g %s | %.3g %s | **%.2fx** | %.3g %s | %.3g %s | **%.2fx** | %.1f |" % (
            label[c], statistics.median(ew) * scale, unit, statistics.median(tw) * scale, unit, rw,
            statistics.median(ec) * scale, unit, statistics.median(tc) * scale, unit, rc,
            gflop[c] / statistics.median(ec)))
        print("|   per repetition (engine / torch median, wall) | %s | | | | | | |" % ", ".join(
            "%.3g/%.3g" % (e * scale, t * scale) for e, t in zip(ew, tw)))
    print("\nSpeed-ups are medians of per-repetition ratios (each engine run against the PyTorch run "
          "right after it).")
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
