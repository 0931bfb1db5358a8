"""Loads and policy applies complete or leave nothing: reserved names refused up front, a failure
halfway rolls everything back, and governed queries keep working afterwards."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.governance.gold_data import build
from twin.governance.ddl import load_shipped, parse_policies
from twin.governance.errors import GovernanceError
from twin.governance.session import Claims, open_session
from twin.governance.store import apply_policies, load_state
from twin.warehouse.engine import Warehouse, WarehouseError
from twin.warehouse.published import load_published

CATALOG = """SELECT 'schema', schema_name FROM duckdb_schemas() WHERE database_name = current_database()
             UNION ALL SELECT 'table', schema_name || '.' || table_name FROM duckdb_tables()
             WHERE database_name = current_database()
             UNION ALL SELECT 'view', schema_name || '.' || view_name FROM duckdb_views()
             WHERE database_name = current_database() AND NOT internal ORDER BY ALL"""


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    wh = build(tmp_path / "warehouse.duckdb")
    apply_policies(wh.con, load_shipped())
    yield wh
    wh.close()


def _catalog(wh: Warehouse) -> list[tuple[str, str]]:
    return wh.con.execute(CATALOG).fetchall()


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    f = tmp_path / "rates.csv"
    f.write_text("ccy,rate\nEUR,1.1\n")
    return f


@pytest.mark.parametrize(
    "target",
    ["temp.x", "TEMP.x", "main.x", "system.x", "memory.x", "warehouse.x", "governance.x",
     "account_usage.x", "information_schema.x", "duckdb_x.y", "pg_catalog.x"],
)  # fmt: skip
def test_reserved_schemas_are_refused_before_anything_is_written(
    wh: Warehouse, csv: Path, target: str
) -> None:
    before = _catalog(wh)
    with pytest.raises(WarehouseError, match="is reserved"):
        load_published(wh, target, csv)
    assert _catalog(wh) == before


@pytest.mark.parametrize("target", ['"temp".x', "pub lished.x", "published.x.y", "_p.x", "published.1x"])
def test_names_outside_the_identifier_pattern_are_refused(wh: Warehouse, csv: Path, target: str) -> None:
    with pytest.raises(WarehouseError, match=r"expected SCHEMA\.TABLE"):
        load_published(wh, target, csv)


def test_a_load_that_fails_halfway_leaves_the_catalog_unchanged(wh: Warehouse, tmp_path: Path) -> None:
    # The sniffer types `amount` from the first rows; row 30,001 cannot be cast, so the load fails
    # after the schema was created and thousands of rows were written.
    bad = tmp_path / "bad.csv"
    bad.write_text("id,amount\n" + "".join(f"{i},{i}\n" for i in range(30_000)) + "30000,oops\n")
    before = _catalog(wh)
    with pytest.raises(WarehouseError, match="cannot load"):
        load_published(wh, "fresh_schema.rows", bad)
    assert _catalog(wh) == before
    # Governed queries still run (the old failure mode: a leftover schema broke every query).
    with open_session(wh, Claims(user="t", role="WEALTH_ADMIN")) as s:
        assert s.query("SELECT count(*) FROM gold.customer_360").rows == [(40,)]


def test_a_good_load_is_readable_through_governance(wh: Warehouse, csv: Path) -> None:
    assert load_published(wh, "Published.Rates", csv) == 1
    with open_session(wh, Claims(user="t", role="WEALTH_ADMIN")) as s:
        assert s.query("SELECT ccy FROM published.rates").rows == [("EUR",)]


POLICY_WITH_A_BAD_LAST_STATEMENT = """
CREATE OR REPLACE MASKING POLICY nav_mask AS (v STRING) RETURNS STRING -> 'F';
ALTER TABLE gold.fund_nav MODIFY COLUMN fund_id SET MASKING POLICY nav_mask;
CREATE OR REPLACE TABLE governance.role_department_map (role_name VARCHAR, department INT);
INSERT INTO governance.role_department_map VALUES ('A', 'not a number');
"""
# The file passes every static check (the firewall's rules for policy DDL); only running its last
# statement fails, so the apply has already changed things it must take back.


def test_a_policy_file_whose_last_statement_fails_changes_nothing(wh: Warehouse) -> None:
    before, state = _catalog(wh), load_state(wh.con)
    with pytest.raises(GovernanceError, match=r"nothing was changed.*not a number"):
        apply_policies(wh.con, parse_policies(POLICY_WITH_A_BAD_LAST_STATEMENT))
    assert _catalog(wh) == before
    assert load_state(wh.con) == state


def test_a_first_policy_apply_that_fails_leaves_no_governance_schema(tmp_path: Path) -> None:
    wh = build(tmp_path / "w.duckdb")
    try:
        before = _catalog(wh)
        with pytest.raises(GovernanceError, match=r"nothing was changed.*not a number"):
            apply_policies(wh.con, parse_policies(POLICY_WITH_A_BAD_LAST_STATEMENT))
        assert _catalog(wh) == before
    finally:
        wh.close()


def test_policy_apply_cli_reports_a_failed_file_without_a_traceback(wh: Warehouse, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from twin.cli.main import app

    path = wh.path
    before = _catalog(wh)
    wh.close()
    f = tmp_path / "bad.sql"
    f.write_text(POLICY_WITH_A_BAD_LAST_STATEMENT)
    r = CliRunner().invoke(app, ["policy", "apply", str(f), "--db", path])
    assert r.exit_code == 2 and "nothing was changed" in r.stderr
    with Warehouse(path) as again:
        assert _catalog(again) == before
