from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from twin.cli.main import app


def test_demo_end_to_end_then_reuses_the_warehouse(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["demo", "--work-dir", str(tmp_path), "--scale", "0.002", "--window", "5m"]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    for text in (
        "SLAs: advisor_peak_day",
        "gate: PASS",
        "worked example, no cache",
        "$12,000.00",
        "HTML report",
    ):
        assert text in first.output
    assert (tmp_path / "report" / "report.html").stat().st_size > 1_000_000  # plotly.js inline
    second = runner.invoke(app, args)
    assert second.exit_code == 0 and "reusing the warehouse" in second.output
    assert "baseline" in second.output  # the second run is gated against the first


def test_demo_rejects_a_bad_window(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "--work-dir", str(tmp_path), "--window", "soon"])
    assert res.exit_code == 2 and "duration like" in res.output
