"""The trainer reports both worlds (issue 10): measured local time and cost, and modeled AWS time
and cost composed from the emulator's per-invocation modeled figures, per round of Case A in both
orchestrations and per epoch of linreg; `stratus-trainer report --html` and `--html` write one
self-contained page whose table shows the report's numbers."""

import json
import re

import pytest

from conftest import default_config
from test_cases import FUNCTION, PRODUCT_CODE, TRAINER, run_trainer, worker_function

CASE_A = ["--workers", 4, "--merge-tree", "1,2,4", "--rounds", 2, "--samples", 4000, "--seed", 5,
          "--poll-ms", 50]


@pytest.fixture
def emulator(start_emulator):
    gradient = {"name": "gradient", "handler": "gradient", "code_dir": str(PRODUCT_CODE), "memory_mb": 1769,
                "timeout_s": 60}
    return start_emulator(default_config(functions=[worker_function(), gradient]))


def html_rows(html):
    rows = re.findall(r"<tr>(.*?)</tr>", html)
    return [d for d in (dict(re.findall(r'<td data-field="([a-z_]+)">([^<]*)</td>', row)) for row in rows) if d]


def check_html(path, report, key):
    html = path.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert all(f'id="chart-{c}"' in html for c in ("loss", "time", "cost"))
    # Case A/B reports have every worker's part of every round: the timeline.
    timeline = key == "rounds"
    assert html.count("<svg ") == (4 if timeline else 3)
    if timeline:
        spans = sum(1 for row in report[key] for w in row["workers"]
                    for part in ("wait_ms", "train_ms", "merge_ms") if w[part] > 0)
        assert html.count("<title>worker ") == spans > 0
    assert "<script" not in html and "src=" not in html and "<link" not in html and "@import" not in html
    rows = html_rows(html)
    assert len(rows) == len(report[key])
    for shown, row in zip(rows, report[key]):
        assert float(shown["loss"]) == pytest.approx(row["loss"], rel=1e-5)
        assert float(shown["wall_ms"]) == pytest.approx(row["wall_ms"], rel=1e-5)
        if row.get("modeled_ms") is None:
            assert shown["modeled_ms"] == "-"
        else:
            assert float(shown["modeled_ms"]) == pytest.approx(row["modeled_ms"], rel=1e-5)


@pytest.mark.parametrize("orchestration", ["functions", "driver"])
def test_case_a_reports_measured_and_modeled(emulator, tmp_path, orchestration):
    report_path, html_path = tmp_path / "run.json", tmp_path / "run.html"
    completed = run_trainer("casea", *CASE_A, "--target", emulator.url, "--orchestration", orchestration,
                            "--report", report_path, "--html", html_path)
    report = json.loads(report_path.read_text())
    assert "aws_ms" in completed.stdout and "modeled on AWS:" in completed.stdout
    usage = emulator.usage()["functions"][FUNCTION]
    assert usage["modeled"]["invocations"] >= 4
    previous = 0
    for row in report["rounds"]:
        # A round needs at least a model read, training and a result write per worker, then the
        # merge chain: with the default S3 profile (100 ms first byte) that is well over 300 ms.
        assert row["modeled_ms"] > 300, row
        assert row["modeled_cost_usd"] > 0 and row["modeled_cost_so_far_usd"] > previous
        previous = row["modeled_cost_so_far_usd"]
    assert report["modeled_total_cost_usd"] == pytest.approx(previous)
    check_html(html_path, report, "rounds")
    # `report` renders the same page from the JSON.
    again = tmp_path / "again.html"
    run_trainer("report", report_path, "--html", again)
    assert again.read_text() == html_path.read_text()


def test_local_target_has_no_modeled_figures(tmp_path):
    report_path = tmp_path / "local.json"
    run_trainer("casea", *CASE_A, "--target", "local", "--orchestration", "driver", "--report", report_path,
                "--html", tmp_path / "local.html")
    report = json.loads(report_path.read_text())
    assert all(r["modeled_ms"] is None for r in report["rounds"])
    assert report["modeled_total_cost_usd"] is None
    check_html(tmp_path / "local.html", report, "rounds")


def test_linreg_reports_modeled_epochs(emulator, tmp_path):
    report_path = tmp_path / "linreg.json"
    completed = run_trainer("linreg", "--target", emulator.url, "--epochs", 3, "--workers", 4, "--json",
                            "--report", report_path, "--html", tmp_path / "linreg.html")
    lines = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    assert len(lines) == 3 and all(l["modeled_ms"] > 0 and l["modeled_cost_usd"] > 0 for l in lines)
    report = json.loads(report_path.read_text())
    assert report["summary"]["modeled_total_ms"] == pytest.approx(sum(e["modeled_ms"] for e in report["epochs"]))
    usage = emulator.usage()["functions"]["gradient"]["modeled"]
    assert report["summary"]["modeled_total_cost_usd"] == pytest.approx(usage["cost_usd"], rel=1e-6)
    check_html(tmp_path / "linreg.html", report, "epochs")


def test_report_refuses_what_is_not_a_report(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"workload": "casea"}')
    completed = run_trainer("report", bad, "--html", tmp_path / "out.html", check=False)
    assert completed.returncode == 1 and "no \"rounds\"" in completed.stderr
    assert not (tmp_path / "out.html").exists()
    bad.write_text("not json")
    completed = run_trainer("report", bad, "--html", tmp_path / "out.html", check=False)
    assert completed.returncode == 1 and "not valid JSON" in completed.stderr


def test_functions_orchestration_uses_the_emulators_s3_profile(start_emulator, tmp_path):
    """The trainer composes the functions orchestration's modeled rounds itself (from the
    workers' traces): with the emulator's s3_profile, read from /stratus/v1/usage, not the default.
    Tree 1,2,4: every path from a leaf to the round's end has 9 S3 requests (leaf GET + PUT, the
    level-1 merge's 2 GETs + PUT, the root's 2 GETs + the record and the model PUTs), so a first
    byte 90 ms faster makes each round about 810 ms shorter; the bytes' time stays the same."""
    fast = {"read": {"first_byte_ms": 10, "mb_per_s": 85}, "write": {"first_byte_ms": 10, "mb_per_s": 85}}
    rounds = {}
    for name, profile in (("default", None), ("fast", fast)):
        config = default_config(functions=[worker_function()])
        if profile:
            config["s3_profile"] = profile
        emulator = start_emulator(config, name=name)
        shown = emulator.usage()["s3_profile"]
        assert shown == (profile or {"read": {"first_byte_ms": 100, "mb_per_s": 85},
                                     "write": {"first_byte_ms": 100, "mb_per_s": 85}})
        report_path = tmp_path / f"{name}.json"
        run_trainer("casea", *CASE_A, "--target", emulator.url, "--orchestration", "functions",
                    "--report", report_path)
        rounds[name] = [r["modeled_ms"] for r in json.loads(report_path.read_text())["rounds"]]
    for default_ms, fast_ms in zip(rounds["default"], rounds["fast"]):
        # CPU time differs a little between the two runs (same work, another moment on 2 vCPUs).
        assert default_ms - fast_ms == pytest.approx(9 * 90, abs=150), rounds
