"""`twin cost compare`: scenarios and reports side by side, the why, and a self-contained HTML page."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from tests.cost.conftest import shipped, simulate
from twin.cli.main import app
from twin.cost.compare import compare, why

runner = CliRunner()


def _report(tmp_path: Path) -> Path:
    report, _ = simulate(shipped("advisor_peak_day", start=10 * 3600, duration=7200))
    path = tmp_path / "apd" / "report.json"
    path.parent.mkdir()
    path.write_text(json.dumps(report))
    return path


def test_compare_a_report_and_scenarios_prints_writes_html_and_explains(tmp_path: Path) -> None:
    page = tmp_path / "cmp.html"
    targets = [str(_report(tmp_path)), "advisor_peak_day", "dashboard_storm"]
    res = runner.invoke(app, ["cost", "compare", *targets, "--out", str(page), "--format", "json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    rows = {r["label"]: r for r in out["rows"]}
    assert set(rows) == {"apd", "advisor_peak_day", "dashboard_storm"}
    assert rows["apd"]["basis"] == "profile" and rows["advisor_peak_day"]["basis"] == "model"
    for r in rows.values():
        assert r["total_per_year"] == round(r["total_per_day"] * 365, 2) or abs(
            r["total_per_year"] - r["total_per_day"] * 365) < 1  # fmt: skip
        assert r["billed_s_per_day"] >= r["busy_s_per_day"] > 0
    assert len(out["why"]) == 2 and "hit rate" in out["why"][0]
    text = page.read_text()
    assert "<script" in text and "http" not in text.split("<script")[0]  # plotly.js inline, no fetch
    assert "dashboard_storm" in text


def test_compare_needs_two_targets_and_says_so() -> None:
    res = runner.invoke(app, ["cost", "compare", "advisor_peak_day"])
    assert res.exit_code == 2 and "at least two" in res.output


def test_why_names_the_drivers() -> None:
    run = {
        "queries_per_day": 100.0,
        "hit_rate": 0.5,
        "warehouse_clock_per_day": 100.0,
        "warehouse_clock_per_year": 36_500.0,
        "busy_s_per_day": 500.0,
        "billed_s_per_day": 2500.0,
    }
    a = {
        "dollars_per_second": 0.04,
        "run": run,
        "delivery": {"push_egress_per_day": 0.0, "storage_per_day": 0.0},
    }
    b = json.loads(json.dumps(a))
    b["run"].update(queries_per_day=200.0, warehouse_clock_per_day=150.0, billed_s_per_day=3750.0)
    (line,) = why(compare([("a", a), ("b", b)]))
    assert line.startswith("b costs +50% vs a") and "queries ×2.00" in line and "×1.50" in line
