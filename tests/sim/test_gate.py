from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from twin.cli.main import app
from twin.sim.gate import gate, parse_tolerance

runner = CliRunner()


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.sim.conftest import SMALL, ToyPlatform
    from twin.sim.execute import run_to_dir
    from twin.sim.scenario import parse_scenario

    out = tmp_path_factory.mktemp("gate") / "run"
    p = ToyPlatform()
    try:
        run_to_dir(parse_scenario(SMALL), out=out, platform=p)
    finally:
        p.close()
    return out


def _report(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "report.json").read_text())


def _regressed(report: dict[str, Any], factor: float) -> dict[str, Any]:
    worse = copy.deepcopy(report)
    for stats in worse["operations"].values():
        stats["p95_ms"] *= factor
        stats["p99_ms"] *= factor
    return worse


def test_passes_against_itself(report_dir: Path) -> None:
    r = _report(report_dir)
    rows = gate(r, baseline=r)
    assert rows and all(row.passed for row in rows)
    assert {row.kind for row in rows} == {"sla", "regression"}


def test_fails_on_injected_regression_and_says_by_how_much(report_dir: Path) -> None:
    r = _report(report_dir)
    rows = gate(_regressed(r, 1.5), baseline=r, max_regression=0.10)
    failed = [row for row in rows if not row.passed]
    assert failed and all(row.kind == "regression" for row in failed)
    assert any(row.change == "+50.0%" for row in failed)
    # within tolerance passes
    assert all(row.passed for row in gate(_regressed(r, 1.05), baseline=r, max_regression=0.10))


def test_cli_exit_codes(report_dir: Path, tmp_path: Path) -> None:
    base = report_dir / "report.json"
    ok = runner.invoke(app, ["gate", str(report_dir), "--baseline", str(base)])
    assert ok.exit_code == 0, ok.output
    assert "gate passed" in ok.output
    worse = tmp_path / "worse.json"
    worse.write_text(json.dumps(_regressed(_report(report_dir), 2.0)))
    bad = runner.invoke(app, ["gate", str(worse), "--baseline", str(base), "--max-regression", "10%"])
    assert bad.exit_code == 1
    assert "gate failed" in bad.output and "client_360 p95_ms" in bad.output
    js = runner.invoke(app, ["gate", str(worse), "--baseline", str(base), "--format", "json"])
    assert js.exit_code == 1 and json.loads(js.output)["passed"] is False


def test_cli_sla_file_breach(report_dir: Path, tmp_path: Path) -> None:
    sla = tmp_path / "sla.yaml"
    sla.write_text("slas:\n  - {name: impossible p95, metric: p95_ms, operation: client_360, max: 0.001}\n")
    res = runner.invoke(app, ["gate", str(report_dir), "--sla", str(sla)])
    assert res.exit_code == 1 and "impossible p95" in res.output


def test_cli_errors_are_clear(tmp_path: Path) -> None:
    res = runner.invoke(app, ["gate", str(tmp_path / "nope.json")])
    assert res.exit_code == 2 and "no report" in res.output
    bad = tmp_path / "sla.yaml"
    bad.write_text("slas:\n  - {name: x, metric: p42_ms, max: 1}\n")
    (tmp_path / "r.json").write_text("{}")
    res = runner.invoke(app, ["gate", str(tmp_path / "r.json"), "--sla", str(bad)])
    assert res.exit_code == 2 and "sla.yaml:2" in res.output


def test_tolerance_parsing() -> None:
    assert parse_tolerance("10%") == pytest.approx(0.10)
    assert parse_tolerance("0.25") == 0.25
    with pytest.raises(ValueError):
        parse_tolerance("ten")


def test_cost_cli_on_scenario_and_report(report_dir: Path) -> None:
    from tests.sim.test_scenario import SCENARIOS

    res = runner.invoke(app, ["cost", str(SCENARIOS / "advisor_peak_day.yaml"), "--format", "json"])
    assert res.exit_code == 0, res.output
    we = json.loads(res.output)["worked_example"]
    assert (we["no_cache_per_day"], we["cache_94_per_day"]) == (12000.0, 720.0)
    assert we["no_cache_per_year"] == 4_380_000.0 and we["cache_94_per_year"] == 262_800.0
    table = runner.invoke(app, ["cost", str(report_dir)])
    assert table.exit_code == 0 and "warehouse clock" in table.output
