"""Secure sessions beside the admin path in one process, and what DuckDB's lock-down does."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twin.governance.errors import QueryDenied
from twin.governance.session import Claims, harden, open_session
from twin.warehouse.engine import Warehouse, record_published


def test_admin_loads_files_while_sessions_are_open_and_sessions_find_new_tables(
    fresh: Warehouse, tmp_path: Path
) -> None:
    s = open_session(fresh, Claims(user="t", role="ANALYST"))
    with pytest.raises(QueryDenied):
        s.query("SELECT * FROM published.rates")
    f = tmp_path / "rates.parquet"
    pq.write_table(pa.table({"ccy": ["USD", "EUR"], "rate": [1.0, 0.9]}), f)
    # The admin connection still has file access: sessions never lock the shared instance.
    fresh.con.execute("CREATE SCHEMA IF NOT EXISTS published").fetchall()
    fresh.con.execute("CREATE TABLE published.rates AS SELECT * FROM read_parquet(?)", [str(f)]).fetchall()
    # A table is readable once it is published (`twin warehouse load` records it), not merely created.
    with pytest.raises(QueryDenied, match="not a published table"):
        s.query("SELECT count(*) FROM published.rates")
    record_published(fresh.con, "published", "rates")
    assert s.query("SELECT count(*) FROM published.rates").rows == [(2,)]
    with pytest.raises(QueryDenied):
        s.query(f"SELECT * FROM read_parquet('{f}')")
    s.close()


def test_harden_locks_the_whole_instance(tmp_path: Path) -> None:
    # DuckDB 2.0.0 applies both settings instance-wide, which is why only a process that serves
    # user queries alone (`twin sql`) calls harden().
    f = tmp_path / "x.parquet"
    pq.write_table(pa.table({"a": [1]}), f)
    con = duckdb.connect(str(tmp_path / "h.duckdb"))
    other = con.cursor()
    harden(con)
    with pytest.raises(duckdb.PermissionException):
        other.execute("SELECT * FROM read_parquet(?)", [str(f)]).fetchall()
    with pytest.raises(duckdb.InvalidInputException):
        other.execute("SET enable_external_access = true").fetchall()
    con.close()


def test_sessions_keep_separate_identities_on_one_instance(fresh: Warehouse) -> None:
    teller = open_session(fresh, Claims(user="t", role="RETAIL_TELLER"))
    advisor = open_session(fresh, Claims(user="a", role="WEALTH_ADVISOR", department="Wealth"))
    q = "SELECT DISTINCT department FROM gold.customer_360"
    for _ in range(3):  # interleaved: variables are per connection
        assert teller.query(q).rows == [("Retail",)]
        assert advisor.query(q).rows == [("Wealth",)]
    teller.close()
    advisor.close()


def test_context_functions_in_user_sql_answer_with_the_session_identity(fresh: Warehouse) -> None:
    # As in Snowflake: a user's own CURRENT_ROLE() is the session role, not the engine's, and the
    # answer is per session even though the firewall's verdict for the text is shared and cached.
    q = (
        "SELECT current_role(), current_user(), invoker_role(), is_role_in_session('WEALTH_ADVISOR'), "
        "is_role_in_session('RETAIL_TELLER')"
    )
    admin = open_session(fresh, Claims(user="alice", role="WEALTH_ADMIN"))
    teller = open_session(fresh, Claims(user="bob", role="RETAIL_TELLER"))
    for _ in range(2):
        assert admin.query(q).rows == [("WEALTH_ADMIN", "alice", "WEALTH_ADMIN", True, False)]
        assert teller.query(q).rows == [("RETAIL_TELLER", "bob", "RETAIL_TELLER", False, True)]
    # A predicate on the identity cannot widen what the row policy already decided.
    rows = teller.query("SELECT count(*) FROM gold.customer_360 WHERE is_role_in_session('WEALTH_ADMIN')")
    assert rows.rows == [(0,)]
    with pytest.raises(QueryDenied):
        teller.query("SELECT getvariable('twin_role')")
    admin.close()
    teller.close()


def test_a_repeated_query_follows_a_table_replaced_under_it(fresh: Warehouse) -> None:
    # The session keeps DuckDB's parse of a query; binding still happens at every execute.
    s = open_session(fresh, Claims(user="a", role="WEALTH_ADVISOR", department="Wealth"))
    q = "SELECT * FROM gold.aum_by_department_asset_class ORDER BY ALL"
    before = s.query(q)
    fresh.con.execute(
        "CREATE OR REPLACE TABLE gold.aum_by_department_asset_class AS "
        "SELECT department, asset_class, aum * 2 AS aum, accounts, 0 AS extra "
        "FROM gold.aum_by_department_asset_class"
    ).fetchall()
    after = s.query(q)
    assert after.columns == [*before.columns, "extra"]
    assert [r[2] for r in after.rows] == [r[2] * 2 for r in before.rows]
    s.close()
