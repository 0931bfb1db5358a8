from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.sim.conftest import load_report
from twin.cli.main import app
from twin.sim.gate import gate, parse_tolerance

runner = CliRunner()


def _regressed(report: dict[str, Any], factor: float) -> dict[str, Any]:
    worse = copy.deepcopy(report)
    for stats in worse["operations"].values():
        stats["p95_ms"] *= factor
        stats["p99_ms"] *= factor
    return worse


def test_passes_against_itself(report_dir: Path) -> None:
    r = load_report(report_dir)
    rows = gate(r, baseline=r)
    assert rows and all(row.passed for row in rows)
    assert {row.kind for row in rows} == {"sla", "regression"}


def test_fails_on_injected_regression_and_says_by_how_much(report_dir: Path) -> None:
    r = load_report(report_dir)
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
    worse.write_text(json.dumps(_regressed(load_report(report_dir), 2.0)))
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


def test_cost_cli_on_scenario_andload_report(report_dir: Path) -> None:
    from tests.sim.test_scenario import SCENARIOS

    res = runner.invoke(app, ["cost", str(SCENARIOS / "advisor_peak_day.yaml"), "--format", "json"])
    assert res.exit_code == 0, res.output
    we = json.loads(res.output)["worked_example"]
    assert (we["no_cache_per_day"], we["cache_94_per_day"]) == (12000.0, 720.0)
    assert we["no_cache_per_year"] == 4_380_000.0 and we["cache_94_per_year"] == 262_800.0
    table = runner.invoke(app, ["cost", str(report_dir)])
    assert table.exit_code == 0 and "warehouse clock" in table.output


# --- the gate cannot be fooled ---------------------------------------------------------------------


def _row(report: dict[str, Any], metric: str) -> dict[str, Any]:
    return next(s for s in report["slas"] if s["metric"] == metric)


def test_a_report_edited_to_pass_next_to_a_breaching_figure_fails(report_dir: Path, tmp_path: Path) -> None:
    forged = load_report(report_dir)
    p95 = _row(forged, "p95_ms")
    forged["operations"][p95["operation"]]["p95_ms"] = 10_000.0  # breaches its bound of 500
    p95["actual"], p95["passed"] = 1.0, True  # and the row claims otherwise
    rows = gate(forged)
    row = next(r for r in rows if r.check == p95["name"])
    assert not row.passed and row.actual == 10_000.0
    assert "row says 1.0" in row.change and "row says pass" in row.change
    path = tmp_path / "forged.json"
    path.write_text(json.dumps(forged))
    res = runner.invoke(app, ["gate", str(path)])
    assert res.exit_code == 1 and "gate failed" in res.output


def test_a_report_whose_row_says_fail_is_recomputed_from_its_figures(report_dir: Path) -> None:
    r = load_report(report_dir)
    _row(r, "availability")["passed"] = False
    assert all(row.passed for row in gate(r))


def test_availability_that_contradicts_the_counts_fails_as_integrity(report_dir: Path) -> None:
    r = load_report(report_dir)
    op = next(iter(r["operations"]))
    for stats in (r["operations"][op], r["overall"]):
        stats["errors"] += 50
        stats["count"] += 50
    # availability and its SLA row left at their old, better values
    rows = gate(r)
    bad = [row for row in rows if not row.passed]
    assert [row.check for row in bad] == ["availability", "error_rate"]
    assert {row.kind for row in bad} == {"integrity"}


def test_counts_that_do_not_add_up_fail_as_integrity(report_dir: Path) -> None:
    r = load_report(report_dir)
    r["overall"]["denied"] += 3
    assert [row.check for row in gate(r) if not row.passed] == ["overall.denied"]


def test_every_query_of_an_operation_denied_fails_the_gate(tmp_path: Path) -> None:
    from tests.sim.conftest import SMALL, ToyPlatform
    from twin.sim.execute import run_to_dir
    from twin.sim.scenario import parse_scenario

    text = SMALL.replace("role: WEALTH_ADVISOR", "role: RETAIL_TELLER")  # tellers may not read fund_nav
    text += "  - {name: fund_nav p95, metric: p95_ms, operation: fund_nav, max: 500}\n"
    p = ToyPlatform()
    try:
        report, _ = run_to_dir(parse_scenario(text), out=tmp_path / "run", platform=p)
    finally:
        p.close()
    nav = report["operations"]["fund_nav"]
    assert nav["denied"] == nav["count"] > 0
    failed = {row.check: row for row in gate(report) if not row.passed}
    assert set(failed) == {"availability", "fund_nav p95"}
    assert failed["fund_nav p95"].change.startswith(f"none of {nav['count']} calls was served")
    # the same run with the denials declared as the point of the operation passes
    declared = text.replace("    depends_on: [crm]", "    depends_on: [crm]\n    expect_denied: true")
    declared = declared.replace(
        "  - {name: fund_nav p95, metric: p95_ms, operation: fund_nav, max: 500}\n", ""
    )
    p = ToyPlatform()
    try:
        ok, _ = run_to_dir(parse_scenario(declared), out=tmp_path / "ok", platform=p)
    finally:
        p.close()
    assert ok["availability"] == 1.0 and all(row.passed for row in gate(ok))


def test_a_forged_pass_on_all_denied_availability_still_fails(tmp_path: Path, report_dir: Path) -> None:
    r = load_report(report_dir)
    op = next(iter(r["operations"]))
    n = r["operations"][op]["count"]
    for stats in (r["operations"][op], r["overall"]):
        stats["denied"] += n
        stats["denied_unexpected"] += n
        stats["count"] += n
    total = r["overall"]["count"]
    r["availability"] = round((total - r["overall"]["errors"] - r["overall"]["denied_unexpected"]) / total, 6)
    r["error_rate"] = round(r["overall"]["errors"] / total, 6)
    _row(r, "availability")["passed"] = True
    row = next(row for row in gate(r) if row.check == _row(r, "availability")["name"])
    assert not row.passed and row.actual == r["availability"] < 0.99


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[]", "expected a JSON object, got list"),
        ("{}", "operations: Field required"),
        ('{"slas": 5}', "slas: Input should be a valid list"),
        ("\x00\xff\xfe binary", "is not a JSON report"),
        ("{", "is not a JSON report"),
        ("[" * 100_000, "is not a JSON report"),
    ],
    ids=["list", "empty-object", "slas-not-a-list", "binary", "truncated", "deeply-nested"],
)
def test_cli_malformed_reports_are_clear_errors(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "report.json"
    path.write_bytes(content.encode("latin-1"))
    res = runner.invoke(app, ["gate", str(path)])
    assert res.exit_code == 2, res.output
    assert expected in " ".join(res.output.split()) and "Traceback" not in res.output


def test_cli_malformed_report_fields_are_named(report_dir: Path, tmp_path: Path) -> None:
    r = load_report(report_dir)
    op = next(iter(r["operations"]))
    r["operations"][op]["p95_ms"] = "fast"
    r["availability"] = 1.5
    _row(r, "availability")["bound"] = ">= lots"
    path = tmp_path / "r.json"
    path.write_text(json.dumps(r))
    res = runner.invoke(app, ["gate", str(path)])
    out = " ".join(res.output.split())
    assert res.exit_code == 2
    assert f"operations.{op}.p95_ms" in out and "availability: Input should be less than or equal to 1" in out
    assert "expected a bound like" in out
    # a malformed baseline is named as the baseline
    res = runner.invoke(app, ["gate", str(report_dir), "--baseline", str(path)])
    assert res.exit_code == 2 and "r.json is not a twin report" in " ".join(res.output.split())


def test_cli_nan_figures_are_rejected(report_dir: Path, tmp_path: Path) -> None:
    text = (report_dir / "report.json").read_text().replace('"availability": 1.0', '"availability": NaN')
    assert "NaN" in text
    path = tmp_path / "r.json"
    path.write_text(text)
    res = runner.invoke(app, ["gate", str(path)])
    assert res.exit_code == 2 and "availability" in res.output


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n\x00\x00", "not a UTF-8 text file"),
        (b"- 1\n- 2\n", "a mapping with an `slas:` list, got a list"),
        (b"slas: 5\n", "sla.yaml:1: slas: Input should be a valid list"),
        (b"slas:\n  - {name: x, metric: p95_ms, max: .nan}\n", "sla.yaml:2"),
        (b"slas: [\n", "sla.yaml: line"),
        (b"? [1]\n: 2\n", "sla.yaml: line 1: a mapping key must be a scalar, not a list"),
        (b"slas: !!python/object:os.system x\n", "sla.yaml: line 1: could not determine a constructor"),
    ],
    ids=["binary", "list", "slas-not-a-list", "nan-bound", "yaml-syntax", "list-key", "python-tag"],
)
def test_cli_malformed_sla_files_are_clear_errors(
    report_dir: Path, tmp_path: Path, content: bytes, expected: str
) -> None:
    sla = tmp_path / "sla.yaml"
    sla.write_bytes(content)
    res = runner.invoke(app, ["gate", str(report_dir), "--sla", str(sla)])
    assert res.exit_code == 2, res.output
    assert expected in " ".join(res.output.split()) and "Traceback" not in res.output


@pytest.mark.parametrize("tolerance", ["nan", "inf", "-5%", "ten"])
def test_cli_bad_tolerance_is_a_clear_error(report_dir: Path, tolerance: str) -> None:
    res = runner.invoke(app, ["gate", str(report_dir), "--max-regression", tolerance])
    assert res.exit_code == 2 and "--max-regression" in res.output


def test_cli_sla_names_are_text_not_markup(report_dir: Path, tmp_path: Path) -> None:
    sla = tmp_path / "sla.yaml"
    sla.write_text('slas:\n  - {name: "[/x] p95", metric: p95_ms, operation: client_360, max: 0.001}\n')
    res = runner.invoke(app, ["gate", str(report_dir), "--sla", str(sla)])
    assert res.exit_code == 1 and "[/x] p95" in res.output
