#!/usr/bin/env python3
"""Turns the results.jsonl written by bench/run_benchmarks.sh into a markdown table of medians.

    bench/summarize_results.py RESULTS_JSONL [MACHINE_TXT] [--quiet-pct N]

Every line of RESULTS_JSONL is one repetition of one measurement, with the share of the CPUs that
other processes kept busy just before it ("foreign_busy_pct"). The table shows the median of all
repetitions and, separately, the median of the quiet ones (foreign_busy_pct <= --quiet-pct), since
on a shared two-core machine the difference is large. Verdicts use the median of all repetitions.
Ratios to the floor are computed per repetition (the floor and the invoke runs are interleaved)
and then the median is taken.
"""
import argparse
import json
import statistics

parser = argparse.ArgumentParser()
parser.add_argument("results")
parser.add_argument("machine", nargs="?")
parser.add_argument("--quiet-pct", type=int, default=20)
args = parser.parse_args()

rows = [json.loads(line) for line in open(args.results) if line.strip()]
by = {}
for r in rows:
    by.setdefault(r["bench"], []).append(r)


def usable(r):
    return not r.get("failed") and r.get("ready") is not False


def quiet(r):
    return r.get("foreign_busy_pct", 0) <= args.quiet_pct


def dig(r, path):
    for p in path:
        r = r[p]
    return float(r)


def med(bench, *path, only_quiet=False):
    vals = [dig(r, path) for r in by.get(bench, []) if usable(r) and (quiet(r) or not only_quiet)]
    return (statistics.median(vals) if vals else float("nan")), len(vals)


def ratio(num_bench, den_bench, *path, only_quiet=False):
    vals = [dig(a, path) / dig(b, path)
            for a, b in zip(by.get(num_bench, []), by.get(den_bench, []))
            if usable(a) and usable(b) and (quiet(a) or not only_quiet)]
    return statistics.median(vals) if vals else float("nan")


def fmt(value, spec):
    return "n/a" if value != value else spec.format(value)


def verdict(value, budget, lower_is_better=True):
    if value != value:
        return "n/a"
    return "meets" if (value <= budget if lower_is_better else value >= budget) else "MISSES"


if args.machine:
    print(open(args.machine).read().strip().replace("\n", "  \n"))
    print()
reps = max((len(v) for v in by.values()), default=0)
print(f"Medians of up to {reps} repetitions; \"quiet\" = repetitions during which other processes kept at "
      f"most {args.quiet_pct}% of the CPUs busy (n = how many). Latency in microseconds; 1 KB JSON payloads.")
print()
print("| Measurement | Median (all) | Median (quiet, n) | Ratio to floor (all / quiet) | Budget | Verdict |")
print("|---|---:|---:|---:|---:|---|")


def row(name, bench, path, spec, ratio_to=None, budget=None, lower_is_better=True):
    value, _ = med(bench, *path)
    qvalue, qn = med(bench, *path, only_quiet=True)
    r = ""
    if ratio_to:
        r = f"{fmt(ratio(bench, ratio_to, *path), '{:.2f}x')} / {fmt(ratio(bench, ratio_to, *path, only_quiet=True), '{:.2f}x')}"
    b = "" if budget is None else ("<= " if lower_is_better else ">= ") + f"{budget:,}"
    v = "" if budget is None else verdict(value, budget, lower_is_better)
    print(f"| {name} | {fmt(value, spec)} | {fmt(qvalue, spec)} ({qn}) | {r} | {b} | {v} |")


LAT = ("latency_us",)
row("Floor (loopback HTTP round trip), c=1, p50 (us)", "floor_c1", LAT + ("p50",), "{:.0f}")
row("Floor, c=1, p99 (us)", "floor_c1", LAT + ("p99",), "{:.0f}")
row("Floor, c=1, throughput (req/s)", "floor_c1", ("throughput_rps",), "{:,.0f}")
row("Floor, c=64, throughput (req/s)", "floor_c64", ("throughput_rps",), "{:,.0f}")
row("Floor, c=64, p50 (us)", "floor_c64", LAT + ("p50",), "{:.0f}")
row("Warm invoke, c=1, p50 (us)", "invoke_c1", LAT + ("p50",), "{:.0f}", "floor_c1", 150)
row("Warm invoke, c=1, p99 (us)", "invoke_c1", LAT + ("p99",), "{:.0f}", "floor_c1")
row("Warm invoke, c=1, throughput (req/s)", "invoke_c1", ("throughput_rps",), "{:,.0f}", "floor_c1")
row("Warm invoke, c=64, throughput (req/s)", "invoke_c64", ("throughput_rps",), "{:,.0f}", "floor_c64", 20000,
    lower_is_better=False)
row("Warm invoke, c=64, p50 (us)", "invoke_c64", LAT + ("p50",), "{:.0f}", "floor_c64")
row("Warm invoke, c=64, p99 (us)", "invoke_c64", LAT + ("p99",), "{:.0f}", "floor_c64")
row("Warm invoke at 128 MB (7% vCPU quota), c=1, p50 (us)", "invoke128_c1", LAT + ("p50",), "{:.0f}", "floor_c1")
row("Warm invoke at 128 MB, c=1, p99 (us)", "invoke128_c1", LAT + ("p99",), "{:.0f}", "floor_c1")
for mem in (128, 1769):
    row(f"Cold start init_ms (spawn to first /next), {mem} MB (ms)", f"cold_{mem}", ("init_ms", "p50"), "{:.1f}",
        budget=5)
    row(f"Cold invoke as the client sees it, {mem} MB (ms)", f"cold_{mem}", ("first_response_ms",), "{:.1f}")
for mem in (128, 1769):
    runs = by.get(f"scale_{mem}", [])
    ok = sum(1 for r in runs if r.get("ready"))
    note = "" if ok == len(runs) else f" ({ok} of {len(runs)} runs got all 200 ready)"
    row(f"0 -> 200 environments ready, {mem} MB (ms){note}", f"scale_{mem}", ("time_to_ready_ms",), "{:,.0f}",
        budget=1000)
    row(f"0 -> 200: init_ms p50 of the 200, {mem} MB (ms)", f"scale_{mem}", ("init_ms", "p50"), "{:.1f}")
    row(f"0 -> 200: init_ms p90 of the 200, {mem} MB (ms)", f"scale_{mem}", ("init_ms", "p90"), "{:.1f}")
    row(f"0 -> 200: most environments starting at once, {mem} MB", f"scale_{mem}", ("max_starting_seen",), "{:.0f}")
value, _ = med("idle_rss", "rss_kb")
qvalue, qn = med("idle_rss", "rss_kb", only_quiet=True)
print(f"| Idle daemon RSS, default config (MB) | {fmt(value / 1024, '{:.1f}')} | {fmt(qvalue / 1024, '{:.1f}')} ({qn}) "
      f"|  | <= 20 | {verdict(value / 1024, 20)} |")
print()
errors = {b: int(sum(r.get("errors", 0) for r in rs)) for b, rs in by.items()}
errors = {b: n for b, n in errors.items() if n}
failed = sum(1 for r in rows if r.get("failed"))
not_ready = sum(1 for r in rows if r.get("ready") is False)
print(f"Errors across all runs: {errors if errors else 'none'}; failed runs: {failed}; "
      f"runs where not every environment became ready: {not_ready}.")
busy = [r.get("foreign_busy_pct", 0) for r in rows]
if busy:
    print(f"CPU kept busy by other processes just before each repetition: median {statistics.median(busy):.0f}%, "
          f"max {max(busy)}% ({len(busy)} samples).")
