#!/usr/bin/env python3
"""Prints the markdown table of bench/s3/run_s3_bench.sh from its results.jsonl.

    bench/s3/summarize_s3.py OUT_DIR/results.jsonl [OUT_DIR/machine.txt]

Medians over the repetitions; ratios are medians of the per-repetition ratios (both sides measured
in the same repetition, so under the same machine load). MB = 10^6 bytes.
"""
import json
import statistics
import sys
from collections import defaultdict

TARGET_MB_S = 1000.0  # >= 1 GB/s single stream, PUT and GET
TARGET_PAIRS = 5000.0  # >= 5,000 4 KB PUT+GET pairs/s at concurrency 16
NAMES = {"floor": "loopback floor (python, sendfile)", "emu-fsync": "emulator, fsync on", "emu-nofsync": "emulator, fsync off", "moto": "moto_server"}


def load(path):
    by = defaultdict(dict)  # (bench, target) -> rep -> doc
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                d = json.loads(line)
                by[(d["bench"], d["target"])][d["rep"]] = d
    return by


def ok(bench, d):
    if d.get("failed"):
        return False
    if bench in ("put", "get"):
        return bool(d.get("ok"))
    if bench == "pairs":
        return d.get("pairs", 0) > 0
    return "mb_per_s" in d


def values(by, bench, target, field):
    out = {}
    for rep, d in by.get((bench, target), {}).items():
        if ok(bench, d):
            v = d
            for part in field.split("."):
                v = v[part]
            out[rep] = float(v)
    return out


def med(xs):
    return statistics.median(xs) if xs else None


def ratio(a, b):
    rs = [a[r] / b[r] for r in a if r in b and b[r] > 0]
    return med(rs)


def fmt(x, digits=0):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}"


def fmt_ratio(x):
    return "" if x is None else f"{x:.2f}x"


def span(d):
    if not d:
        return ""
    return f"{fmt(min(d.values()))}–{fmt(max(d.values()))}"


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    by = load(sys.argv[1])
    if len(sys.argv) > 2:
        with open(sys.argv[2]) as f:
            for line in f:
                print(f"- {line.strip()}")
        print()
    reps = sorted({r for runs in by.values() for r in runs})
    busy = [d.get("foreign_busy_pct", 0) for runs in by.values() for d in runs.values()]
    print(f"Repetitions: {len(reps)}; other processes kept {min(busy, default=0)}–{max(busy, default=0)}% "
          "of the CPUs busy just before each repetition.\n")

    sizes = [d["bytes"] for (b, _), runs in by.items() if b == "put" for d in runs.values() if d.get("bytes")]
    size = f"{max(sizes) / 2**20:.0f} MiB" if sizes else "?"
    pair_docs = [d for (b, _), runs in by.items() if b == "pairs" for d in runs.values() if "object_bytes" in d]
    pair_desc = (f"{pair_docs[0]['object_bytes'] / 1024:g} KB PUT+GET pairs/s, c={pair_docs[0]['concurrency']}"
                 if pair_docs else "PUT+GET pairs/s")

    cp = values(by, "ref_copy", "local", "mb_per_s")
    cat = values(by, "ref_read", "local", "mb_per_s")
    md5 = values(by, "ref_md5", "local", "mb_per_s")
    print("| Measurement | Median | Range | vs local file op | vs loopback floor | vs moto_server | Target | Verdict |")
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    print(f"| Reference: `cp` of the file (page cache, no sync), MB/s | {fmt(med(list(cp.values())))} | {span(cp)} | 1.00x | | | | |")
    print(f"| Reference: `cat file > /dev/null` (page cache), MB/s | {fmt(med(list(cat.values())))} | {span(cat)} | 1.00x | | | | |")
    print(f"| Reference: `openssl dgst -md5` of the file, MB/s | {fmt(med(list(md5.values())))} | {span(md5)} | | | | | |")
    for bench, ref, ref_name in (("put", cp, "cp"), ("get", cat, "cat")):
        moto = values(by, bench, "moto", "mb_per_s")
        floor = values(by, bench, "floor", "mb_per_s")
        fm = med(list(floor.values()))
        print(f"| Loopback floor: curl {bench.upper()} against sendfile/discard server, MB/s | {fmt(fm)} | {span(floor)} | "
              f"{fmt_ratio(ratio(floor, ref))} of {ref_name} | 1.00x | | | |")
        for t in ("emu-fsync", "emu-nofsync", "moto"):
            v = values(by, bench, t, "mb_per_s")
            m = med(list(v.values()))
            is_emu = t != "moto"
            verdict = ""
            if is_emu and m is not None:
                verdict = "meets" if m >= TARGET_MB_S else "**misses**"
            n_bad = len(by.get((bench, t), {})) - len(v)
            note = f" ({n_bad} failed)" if n_bad else ""
            print(f"| {bench.upper()} {size} single stream, {NAMES[t]}, MB/s{note} | {fmt(m)} | {span(v)} | "
                  f"{fmt_ratio(ratio(v, ref))} of {ref_name} | {fmt_ratio(ratio(v, floor))} | "
                  f"{fmt_ratio(ratio(v, moto)) if is_emu else ''} | {'>= 1,000' if is_emu else ''} | {verdict} |")
    moto_pairs = values(by, "pairs", "moto", "pairs_per_s")
    for t in ("emu-fsync", "emu-nofsync", "moto"):
        v = values(by, "pairs", t, "pairs_per_s")
        m = med(list(v.values()))
        is_emu = t != "moto"
        verdict = ""
        if is_emu and m is not None:
            verdict = "meets" if m >= TARGET_PAIRS else "**misses**"
        errors = sum(d.get("errors", 0) for d in by.get(("pairs", t), {}).values() if not d.get("failed"))
        failed = sum(1 for d in by.get(("pairs", t), {}).values() if not ok("pairs", d))
        note = f"; {errors} errors" if errors else ""
        note += f"; {failed} runs failed" if failed else ""
        print(f"| {pair_desc}, {NAMES[t]}{note} | {fmt(m)} | {span(v)} | | | "
              f"{fmt_ratio(ratio(v, moto_pairs)) if is_emu else ''} | {'>= 5,000' if is_emu else ''} | {verdict} |")

    fs_on = {b: values(by, b, "emu-fsync", f) for b, f in (("put", "mb_per_s"), ("get", "mb_per_s"), ("pairs", "pairs_per_s"))}
    fs_off = {b: values(by, b, "emu-nofsync", f) for b, f in (("put", "mb_per_s"), ("get", "mb_per_s"), ("pairs", "pairs_per_s"))}
    print()
    print(f"| Emulator fsync on vs off (per-repetition ratio, median) | PUT {size} | GET {size} | small pairs |")
    print("|---|---:|---:|---:|")
    print(f"| on / off | {fmt_ratio(ratio(fs_on['put'], fs_off['put']))} | {fmt_ratio(ratio(fs_on['get'], fs_off['get']))} | "
          f"{fmt_ratio(ratio(fs_on['pairs'], fs_off['pairs']))} |")

    print()
    print(f"| Server | PUT CPU s / {size} | GET CPU s / {size} | pairs: PUT p50 / p99 us | GET p50 / p99 us | pair p50 / p99 us | server CPU us per pair |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for t in ("floor", "emu-fsync", "emu-nofsync", "moto"):
        pc = med(list(values(by, "put", t, "server_cpu_s").values()))
        gc = med(list(values(by, "get", t, "server_cpu_s").values()))
        lat = {}
        for kind in ("put", "get", "pair"):
            p50 = med(list(values(by, "pairs", t, f"{kind}_latency_us.p50").values()))
            p99 = med(list(values(by, "pairs", t, f"{kind}_latency_us.p99").values()))
            lat[kind] = f"{fmt(p50)} / {fmt(p99)}"
        per_pair = []
        for d in by.get(("pairs", t), {}).values():
            if ok("pairs", d) and "server_cpu_s_with_warmup" in d:
                # The CPU figure spans warm-up + measured run; pairs of the warm-up are not counted,
                # so scale by time instead (both phases run the same closed loop).
                total_s = d["elapsed_s"] + 1.0
                per_pair.append(d["server_cpu_s_with_warmup"] * d["elapsed_s"] / total_s / d["pairs"] * 1e6)
        print(f"| {NAMES[t]} | {fmt(pc, 2)} | {fmt(gc, 2)} | {lat['put']} | {lat['get']} | {lat['pair']} | {fmt(med(per_pair))} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
