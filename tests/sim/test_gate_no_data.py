"""An SLA whose metric has no samples is reported as "no data" and fails the gate unless the scenario marks
it `optional: true`: a check that measured nothing must not pass silently."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from tests.sim.conftest import load_report
from twin.cli.main import app
from twin.sim.gate import gate
from twin.sim.scenario import Sla, load_scenario
from twin.sim.sla import evaluate

runner = CliRunner()
SHIPPED = Path(__file__).resolve().parents[2] / "twin" / "scenarios"


ENTITLEMENT = {"name": "entitlement p95 under 5 s", "metric": "entitlement_p95_ms", "max": 5000}


def test_an_sla_without_samples_is_no_data_and_fails(report_dir: Path) -> None:
    report = load_report(report_dir)
    assert report["entitlement"]["count"] == 0  # the runner has no entitlement workflow yet
    (r,) = evaluate(report, [Sla(**ENTITLEMENT)])
    assert r.actual is None and not r.passed and r.note == "no data"


def test_an_optional_sla_without_samples_passes_and_still_says_no_data(report_dir: Path) -> None:
    (r,) = evaluate(load_report(report_dir), [Sla(**ENTITLEMENT, optional=True)])
    assert r.passed and r.optional and r.note.startswith("no data")


def test_an_optional_sla_with_samples_is_checked_like_any_other(report_dir: Path) -> None:
    report = load_report(report_dir)
    report["entitlement"] = {**report["entitlement"], "count": 3, "p95_ms": 9000.0}
    (r,) = evaluate(report, [Sla(**ENTITLEMENT, optional=True)])
    assert r.actual == 9000.0 and not r.passed


def test_the_gate_fails_a_no_data_sla_from_an_sla_file(report_dir: Path, tmp_path: Path) -> None:
    sla = tmp_path / "sla.yaml"
    sla.write_text("slas:\n  - {name: entitlement p95, metric: entitlement_p95_ms, max: 5000}\n")
    res = runner.invoke(app, ["gate", str(report_dir), "--sla", str(sla)])
    assert res.exit_code == 1, res.output
    assert "no data" in res.output and "gate failed" in res.output
    sla.write_text(
        "slas:\n  - {name: entitlement p95, metric: entitlement_p95_ms, max: 5000, optional: true}\n"
    )
    assert runner.invoke(app, ["gate", str(report_dir), "--sla", str(sla)]).exit_code == 0


def test_a_report_row_keeps_the_optional_flag_through_the_gate(report_dir: Path) -> None:
    report = load_report(report_dir)
    row = evaluate(report, [Sla(**ENTITLEMENT, optional=True)])[0].model_dump()
    strict = {**row, "optional": False, "passed": True}  # a row edited to pass without the flag
    rows = gate({**report, "slas": [row]})
    assert [r.passed for r in rows if r.kind == "sla"] == [True]
    rows = gate({**report, "slas": [strict]})
    assert [r.passed for r in rows if r.kind == "sla"] == [False]


def test_every_shipped_entitlement_sla_is_optional_until_the_workflow_runs() -> None:
    for path in sorted(SHIPPED.glob("*.yaml")):
        for s in load_scenario(path).slas:
            if s.metric == "entitlement_p95_ms":
                assert s.optional, f"{path.name}: {s.name}"
