"""The runner on the real governed DuckDB path: the warehouse built from fixtures, the shipped policies."""

from __future__ import annotations

from pathlib import Path

from twin.sim.execute import run_to_dir
from twin.sim.platform import open_platform
from twin.sim.runner import RunOptions, run_scenario
from twin.sim.scenario import parse_scenario

TWO_ROLES = """
name: two_roles
seed: 3
start: "10:00"
duration: 20m
platform: {calibration_samples: 3, gold_refresh_every: 10m}
operations:
  headcount:
    sql: "SELECT count(*) FROM gold.customer_360"
  client:
    sql: "SELECT * FROM gold.customer_360 WHERE customer_id = ?"
    key: {table: gold.customer_360, column: customer_id}
  private:
    sql: "SELECT * FROM governance.role_department_map"
personas:
  - {name: advisor, count: 20, role: WEALTH_ADVISOR, department: Wealth, requests_per_day: 600,
     profile: flat, mix: {headcount: 1, client: 2}}
  - {name: teller, count: 20, role: RETAIL_TELLER, department: Retail, requests_per_day: 600,
     profile: flat, mix: {headcount: 1, private: 0.2}}
"""


def test_personas_run_through_secure_sessions(gold_db_copy: Path) -> None:
    platform = open_platform(gold_db_copy)
    try:
        result = run_scenario(parse_scenario(TWO_ROLES), platform, RunOptions())
    finally:
        platform.close()
    assert result.platform_name == "governed-duckdb"
    rows = result.recorder.rows_seen
    # the same SQL, cached per role: each role only ever sees its own department's count
    advisor, teller = rows[("WEALTH_ADVISOR", "headcount")], rows[("RETAIL_TELLER", "headcount")]
    assert len(advisor) == 1 and len(teller) == 1 and advisor != teller
    # the firewall's refusals are counted as denials, not as errors; undeclared, they are unexpected
    private = result.recorder.ops["private"]
    assert private.denied == private.count > 0 and private.errors == 0
    assert private.denied_unexpected == private.denied
    assert result.cache_stats["hits"] > 0 and result.cache_stats["misses"] > 0
    assert all(v > 0 for op, v in result.calibration.samples.items() if op != "gold_refresh" for v in v)


def test_advisor_peak_day_short_window(gold_db_copy: Path, tmp_path: Path) -> None:
    from tests.sim.test_scenario import SCENARIOS
    from twin.sim.scenario import load_scenario

    s = load_scenario(SCENARIOS / "advisor_peak_day.yaml")
    quick = s.platform.model_copy(update={"calibration_samples": 3})
    s = s.model_copy(update={"start": 9 * 3600.0, "duration": 600.0, "platform": quick})
    report, _ = run_to_dir(s, out=tmp_path, db=gold_db_copy)
    assert report["overall"]["count"] > 500
    assert report["overall"]["errors"] == 0 and report["availability"] == 1.0
    assert set(report["operations"]) == set(s.operations)


def test_twin_run_cli_region_failover(gold_db_copy: Path, tmp_path: Path) -> None:
    import json

    from typer.testing import CliRunner

    from twin.cli.main import app

    out = tmp_path / "rf"
    res = CliRunner().invoke(
        app,
        ["run", "region_failover", "--db", str(gold_db_copy), "--out", str(out), "--duration", "130m",
         "--reuse-results"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "failover strategies" in res.output and "active_passive" in res.output
    report = json.loads((out / "report.json").read_text())
    ap, aa = report["failover_comparison"]
    assert ap["availability"] < aa["availability"]
    assert ap["data_loss_window_s"] == 6 * 3600 and aa["data_loss_window_s"] == 5
    # reproducible from the saved calibration
    args = ["run", "region_failover", "--db", str(gold_db_copy), "--out", str(tmp_path / "rf2"),
            "--duration", "130m", "--reuse-results", "--calibration", str(out / "calibration.json"),
            "--format", "json"]  # fmt: skip
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0, again.output
    assert json.loads((tmp_path / "rf2" / "report.json").read_text()) == report


def test_twin_run_cli_errors(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from twin.cli.main import app

    r = CliRunner()
    res = r.invoke(app, ["run", "no_such_scenario"])
    assert res.exit_code == 2 and "no scenario" in res.output
    res = r.invoke(app, ["run", "advisor_peak_day", "--db", str(tmp_path / "missing.duckdb")])
    assert res.exit_code == 2 and "twin warehouse build" in res.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration: 1h\noperations: {}\npersonas: []\nplatform: {warehouse_slots: 0}\n")
    res = r.invoke(app, ["run", str(bad)])
    assert res.exit_code == 2 and "bad.yaml:5: platform.warehouse_slots" in res.output


def test_single_table_queries_run_on_a_lean_session_with_the_same_answers(gold_db_copy: Path) -> None:
    from twin.sim.platform import Caller, single_table_select

    assert single_table_select("SELECT * FROM gold.fund_nav WHERE fund_id = ? ORDER BY nav_date DESC LIMIT 3")
    for sql in (
        "SELECT * FROM gold.accounts a JOIN gold.customer_360 c USING (customer_id)",
        "SELECT * FROM gold.accounts, gold.customer_360",
        "SELECT * FROM gold.accounts WHERE customer_id IN (SELECT customer_id FROM gold.customer_360)",
        "WITH c AS (SELECT 1 AS x) SELECT * FROM c",
        "SELECT 1 UNION ALL SELECT 2",
        "SELECT 1",
        "not sql at all (",
    ):
        assert not single_table_select(sql), sql
    platform = open_platform(gold_db_copy)
    try:
        advisor = Caller(user="advisor-0001", role="WEALTH_ADVISOR", department="Wealth")
        sql = "SELECT * FROM gold.customer_360 WHERE department = ? ORDER BY customer_id LIMIT 20"
        lean = platform.query(advisor, sql, ["Wealth"])
        full = platform._session(advisor, lean=False).query(sql, ["Wealth"])
        assert lean.rows == full.row_count > 0 and lean.digest == hash(repr(full.rows))
        lean_session = platform._session(advisor, lean=True)
        off = lean_session._cur.execute("SELECT current_setting('disabled_optimizers')").fetchall()[0][0]
        assert "join_order" in off.split(",") and "filter_pushdown" not in off.split(",")
    finally:
        platform.close()


def test_a_declared_probe_of_a_private_table_does_not_count_against_availability(gold_db_copy: Path) -> None:
    probe = TWO_ROLES.replace(
        '    sql: "SELECT * FROM governance.role_department_map"',
        '    sql: "SELECT * FROM governance.role_department_map"\n    expect_denied: true',
    )
    platform = open_platform(gold_db_copy)
    try:
        result = run_scenario(parse_scenario(probe), platform, RunOptions())
    finally:
        platform.close()
    private = result.recorder.ops["private"]
    assert private.denied == private.count > 0 and private.denied_unexpected == 0


def test_a_role_no_policy_defines_is_refused_before_the_run(gold_db_copy: Path, tmp_path: Path) -> None:
    import pytest

    from twin.sim.scenario import ScenarioMismatch

    ghost = TWO_ROLES.replace("role: RETAIL_TELLER", "role: GHOST_ROLE")
    with pytest.raises(ScenarioMismatch) as e:
        run_to_dir(parse_scenario(ghost), out=tmp_path / "out", db=gold_db_copy)
    assert e.value.located == [
        (("personas", 1, "role"), "unknown role(s) GHOST_ROLE: not defined by any policy file")
    ]
    assert e.value.locate(ghost, "s.yaml")[0].startswith(
        "s.yaml:18: personas[1].role: unknown role(s) GHOST_ROLE"
    )
    assert not (tmp_path / "out").exists()
