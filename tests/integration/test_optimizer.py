"""`stratus-trainer optimize casea` and `sweep casea` against a real emulator (issue 10 part 3).

optimize: the model_averaging worker is deployed twice (the paper's two configurations as two
functions); every step's recorded per-iteration times (modeled AWS times from the emulator) are
replayed through the paper's step rule here, independently of the trainer's C++ (trimmed median
metric, slope, -gain x slope + 12 x the change of slope, rounded away from 0 to the quantum,
clipped, clamped); the losing function's memory is what GetFunctionConfiguration says; the loop
ends (agreement or the step budget). For the workers knob the next run's worker count moves.
sweep: every grid point is a run, the Pareto front is the one of the printed numbers, `--json`
parses, the HTML page has the chart with the front marked and the table shows the report's numbers.
"""

import json
import math
import re

import pytest

from conftest import default_config
from test_cases import run_trainer

# A tiny Case A: 2 or 3 workers, 3 rounds of 4 x 50 on 1,200 samples.
CASE_A = ["--samples", 1200, "--rounds", 3, "--batches", 4, "--batch-size", 50, "--seed", 7,
          "--poll-ms", 50, "--stall-timeout", 120]


@pytest.fixture
def emulator(start_emulator):
    return start_emulator(default_config())


def trimmed_median(values):
    kept = sorted(values[min(10, len(values) - 1):])
    n = len(kept)
    return kept[n // 2] if n % 2 else 0.5 * (kept[n // 2 - 1] + kept[n // 2])


def metric(objective, memory, times):
    return trimmed_median([memory * t if objective == "cost" else 1.0 / (memory * t * t) for t in times])


def replay_step(objective, knob, rule, slots, previous_slope):
    """The paper's step rule (DESIGN.md), perf-per-cost fixed: bigger wins, and the loser climbs
    towards the winner (the paper's code lets the smaller win and descends in both modes)."""
    (sa, ta), (sb, tb) = slots
    ma = metric(objective, sa if knob == "memory" else 1.0, ta)
    mb = metric(objective, sb if knob == "memory" else 1.0, tb)
    a_wins = ma <= mb if objective == "cost" else ma >= mb
    best, other = (sa, sb) if a_wins else (sb, sa)
    m_best, m_other = (ma, mb) if a_wins else (mb, ma)
    if best == other:
        return {"best_setting": best, "other_setting": other, "new_setting": best, "change": 0,
                "converged": True, "slope": 0.0, "metrics": (ma, mb)}
    slope = (m_best - m_other) / (best - other)
    raw = -rule["gain"] * slope + (12.0 * (slope - previous_slope) if previous_slope is not None else 0.0)
    if objective != "cost":
        raw = -raw  # perf-per-cost climbs: the descent rule on the negated metric
    change = 0 if raw == 0 else min(math.ceil(abs(raw) / rule["quantum"]) * rule["quantum"], rule["clip"])
    change = -change if raw < 0 else change
    new = max(rule["lowest"], min(rule["highest"], other + change))
    return {"best_setting": best, "other_setting": other, "new_setting": new, "change": change,
            "converged": new == best, "slope": slope, "metrics": (ma, mb)}


def check_trajectory(report, objective, knob, starts):
    rule = report["rule"]
    steps = report["steps"]
    assert 1 <= len(steps) <= report["configuration"]["max_steps"]
    settings = list(starts)
    previous_slope = None
    for number, step in enumerate(steps, start=1):
        assert step["step"] == number
        slots = step["slots"]
        # Each step measured both functions at their current settings.
        assert [s["setting"] for s in slots] == settings
        for s in slots:
            assert len(s["iteration_s"]) == report["configuration"]["rounds"]
            assert all(t > 0 for t in s["iteration_s"])
        expected = replay_step(objective, knob, rule,
                               [(s["setting"], s["iteration_s"]) for s in slots], previous_slope)
        for key in ("best_setting", "other_setting", "new_setting", "change", "converged"):
            assert step[key] == expected[key], (number, key, step, expected)
        assert step["slope"] == pytest.approx(expected["slope"], rel=1e-9, abs=1e-15)
        for s, m in zip(slots, expected["metrics"]):
            assert s["metric"] == pytest.approx(m, rel=1e-9)
        if settings[0] != settings[1]:
            loser = 0 if settings[0] == expected["other_setting"] else 1
            assert step["changed_function"] == report["functions"][loser]
            settings[loser] = expected["new_setting"]
            previous_slope = expected["slope"]
        else:
            assert step["changed_function"] is None
    # It terminated: the two agree, or the step budget was spent.
    assert report["converged"] == steps[-1]["converged"]
    if not report["converged"]:
        assert len(steps) == report["configuration"]["max_steps"]
    return settings


@pytest.mark.parametrize("objective", ["cost", "perf-per-cost"])
def test_optimize_memory_follows_the_step_rule_and_updates_the_loser(emulator, tmp_path, objective):
    report_path, html_path = tmp_path / "opt.json", tmp_path / "opt.html"
    completed = run_trainer("optimize", "casea", "--target", emulator.url, "--objective", objective,
                            "--vary", "memory", "--workers", 2, "--start", "512,1536", "--max-steps", 4,
                            *CASE_A, "--report", report_path, "--html", html_path, timeout=600)
    report = json.loads(report_path.read_text())
    assert report["clock"].startswith("modeled")
    settings = check_trajectory(report, objective, "memory", [512, 1536])
    # The losing function's memory was changed on the emulator (UpdateFunctionConfiguration).
    lam = emulator.lambda_client()
    for name, setting in zip(report["functions"], settings):
        assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == setting
    assert report["final_settings"] == dict(zip(report["functions"], settings))
    assert settings != [512, 1536]
    # The table printed every step and the result.
    lines = [line for line in completed.stdout.splitlines() if re.match(r"\s+\d+\s+\d+\s", line)]
    assert len(lines) == len(report["steps"])
    assert "result:" in completed.stdout
    html = html_path.read_text()
    assert 'id="chart-trajectory"' in html and 'id="chart-metric"' in html
    assert "<script" not in html
    shown = re.findall(r'<td data-field="new_setting">([^<]*)</td>', html)
    assert [int(v) for v in shown] == [s["new_setting"] for s in report["steps"]]


def test_optimize_workers_moves_the_worker_count(emulator, tmp_path):
    completed = run_trainer("optimize", "casea", "--target", emulator.url, "--vary", "workers",
                            "--start", "2,4", "--range", "2:4", "--step", 1, "--clip", 2, "--memory", 1024,
                            "--max-steps", 3, *CASE_A, "--json", timeout=600)
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    steps, result = lines[:-1], lines[-1]["result"]
    report = {"rule": {"gain": 70.0, "quantum": 1, "clip": 2, "lowest": 2, "highest": 4},
              "steps": steps, "configuration": {"rounds": 3, "max_steps": 3},
              "functions": [s["function"] for s in steps[0]["slots"]], "converged": result["converged"]}
    settings = check_trajectory(report, "cost", "workers", [2, 4])
    # Each run used the step's worker count; the functions' memory stayed put.
    for step in steps:
        assert [s["workers"] for s in step["slots"]] == [s["setting"] for s in step["slots"]]
    assert result["final_settings"] == dict(zip(report["functions"], settings))
    lam = emulator.lambda_client()
    for name in report["functions"]:
        assert lam.get_function_configuration(FunctionName=name)["MemorySize"] == 1024


def test_optimize_refuses_bad_input(emulator):
    for args, message in [
        (["--target", "local", "--vary", "memory"], "needs functions with a memory size"),
        (["--target", emulator.url, "--start", "100,1536"], "outside [256, 1536]"),
        (["--target", emulator.url, "--range", "abc"], "--range must be LOW:HIGH"),
    ]:
        completed = run_trainer("optimize", "casea", *args, check=False)
        assert completed.returncode != 0 and message in completed.stderr, completed.stderr


def pareto(points):
    return [not any(q["time_ms"] <= p["time_ms"] and q["cost_usd"] <= p["cost_usd"]
                    and (q["time_ms"] < p["time_ms"] or q["cost_usd"] < p["cost_usd"]) for q in points)
            for p in points]


def test_sweep_grid_and_pareto_front(emulator, tmp_path):
    report_path, html_path = tmp_path / "sweep.json", tmp_path / "sweep.html"
    completed = run_trainer("sweep", "casea", "--target", emulator.url, "--memory", "256:1024:384",
                            "--workers", "2,3", "--rounds", 2, *CASE_A[:2], *CASE_A[4:], "--report", report_path,
                            "--html", html_path, timeout=600)
    report = json.loads(report_path.read_text())
    points = report["points"]
    # The grid is complete: every memory x workers, in order.
    assert [(p["memory_mb"], p["workers"]) for p in points] == [(m, w) for m in (256, 640, 1024) for w in (2, 3)]
    assert len({p["run_id"] for p in points}) == 6
    for p in points:
        assert p["time_ms"] > 0 and p["cost_usd"] > 0
        assert p["round_ms"] == pytest.approx(p["time_ms"] / 2)
    # The front is the one of the numbers printed (the final table has them to 2 and 10 decimals).
    printed = [line.split() for line in completed.stdout.split("\n\n", 1)[1].splitlines()[1:7]]
    shown = [{"time_ms": float(row[2]), "cost_usd": float(row[3])} for row in printed]
    marked = [len(row) == 5 and row[4] == "*" for row in printed]
    assert marked == pareto(shown) == [p["pareto"] for p in points] == pareto(points)
    assert report["pareto_front"] == [{"memory_mb": p["memory_mb"], "workers": p["workers"]}
                                      for p in points if p["pareto"]]
    html = html_path.read_text()
    assert 'id="chart-pareto"' in html and "<script" not in html
    assert html.count('<circle class="front"') == sum(marked)
    assert html.count('<circle class="point"') == 6 - sum(marked)
    rows = re.findall(r'<td data-field="cost_usd">([^<]*)</td>', html)
    assert [float(v) for v in rows] == pytest.approx([p["cost_usd"] for p in points], rel=1e-9)
    # `report` renders the same page from the JSON.
    again = tmp_path / "again.html"
    run_trainer("report", report_path, "--html", again)
    assert again.read_text() == html


def test_sweep_json_lines_parse(emulator):
    completed = run_trainer("sweep", "casea", "--target", emulator.url, "--memory", "512,1024",
                            "--workers", "2", "--rounds", 2, *CASE_A[:2], *CASE_A[4:], "--json", timeout=600)
    lines = [json.loads(line) for line in completed.stdout.splitlines()]
    assert len(lines) == 3
    final = lines[-1]
    assert [p["memory_mb"] for p in final["points"]] == [512, 1024]
    assert [p["pareto"] for p in final["points"]] == pareto(final["points"])
    for line, point in zip(lines[:2], final["points"]):
        assert line["cost_usd"] == point["cost_usd"] and line["time_ms"] == point["time_ms"]


def test_sweep_refuses_bad_grids(emulator):
    for spec, message in [("256:128:64", "LOW must not be above HIGH"), ("256:512:0", "STEP must be positive"),
                          ("64", "outside [128, 10240]"), ("512,512", "repeated"), ("x", "not an integer")]:
        completed = run_trainer("sweep", "casea", "--target", emulator.url, "--memory", spec, check=False)
        assert completed.returncode != 0 and message in completed.stderr, completed.stderr
