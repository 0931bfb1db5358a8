from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from twin.cli.main import app


def test_demo_end_to_end_then_gates_against_its_baseline(gold_db: Path, tmp_path: Path) -> None:
    # The session's small warehouse stands in for the build step (fixtures + dbt are tested elsewhere
    # and cost most of the demo's minute); the marker says which scale and seed it was built from.
    from tests.warehouse.gold import GOLD_SCALE, GOLD_SEED

    shutil.copy(gold_db, tmp_path / "warehouse.duckdb")
    (tmp_path / "demo.json").write_text(json.dumps({"scale": GOLD_SCALE, "seed": GOLD_SEED}))
    runner = CliRunner()
    args = ["demo", "--work-dir", str(tmp_path), "--scale", str(GOLD_SCALE), "--seed", str(GOLD_SEED),
            "--window", "5m"]  # fmt: skip
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    for text in (
        "reusing the warehouse",
        "SLAs: advisor_peak_day",
        "gate: PASS",
        "$12,000.00",
        "HTML report",
    ):
        assert text in first.output
    assert (tmp_path / "report" / "report.html").stat().st_size > 1_000_000  # plotly.js inline
    assert (tmp_path / "baseline.json").exists()
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    assert "regression" in second.output  # the second run is gated against the first


def test_demo_rejects_a_bad_window(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo", "--work-dir", str(tmp_path), "--window", "soon"])
    assert res.exit_code == 2 and "duration like" in res.output
