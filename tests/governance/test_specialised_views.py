"""A session's specialised secure views must answer exactly as the shared views do, types included."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from twin.governance.session import SecureSession
from twin.governance.specialise import TEMP_PREFIX, specialise
from twin.warehouse.engine import Warehouse

SCOPES = [
    ("WEALTH_ADMIN", None, None),
    ("WEALTH_ADVISOR", "Wealth", None),
    ("WEALTH_ADVISOR", "Retail", None),
    ("WEALTH_ADVISOR", None, None),
    ("RETAIL_TELLER", "Retail", None),
    ("RETAIL_TELLER", None, ["WEALTH_ADVISOR"]),
    ("COMPLIANCE_AUDITOR", None, None),
    ("EXTERNAL_BI_TOOL", None, None),
]


@pytest.mark.parametrize(("role", "department", "secondary"), SCOPES)
def test_specialised_views_match_the_shared_ones(
    session: Callable[..., SecureSession], role: str, department: str | None, secondary: list[str] | None
) -> None:
    s = session(role, department, secondary)
    governed = s._gov.catalog.governed
    assert governed, "the shipped policies govern some tables"
    present = {t: v for t, v in governed.items() if t in s._gov.catalog.published}
    assert present
    for table, view in present.items():
        got = s.query(f"SELECT * FROM {table} ORDER BY ALL")
        shared = s._cur.execute(f"SELECT * FROM {view} ORDER BY ALL")
        shared_types = [str(d[1]) for d in shared.description]
        assert got.rows == shared.fetchall(), table
        temp = s._cur.execute(f'SELECT * FROM temp."{TEMP_PREFIX}{view.split(".")[1]}" LIMIT 0')
        assert [str(d[1]) for d in temp.description] == shared_types, table
        temp.fetchall()


def test_user_sql_cannot_name_a_specialised_view(session: Callable[..., SecureSession]) -> None:
    from twin.governance.errors import QueryDenied

    s = session("WEALTH_ADVISOR", "Wealth")
    s.query("SELECT count(*) FROM gold.customer_360")
    for sql in (
        f"SELECT * FROM {TEMP_PREFIX}gold__customer_360",
        f"SELECT * FROM temp.{TEMP_PREFIX}gold__customer_360",
        f"SELECT * FROM temp.main.{TEMP_PREFIX}gold__customer_360",
    ):
        with pytest.raises(QueryDenied):
            s.query(sql)


def test_folding_prunes_role_branches_and_keeps_types() -> None:
    view = (
        "SELECT CASE WHEN list_contains(getvariable('twin_roles'), 'A') THEN __t.x ELSE NULL END AS x, "
        "__t.y FROM t AS __t WHERE list_contains(getvariable('twin_depts'), __t.d)"
    )
    types = [("x", "DECIMAL(18,2)"), ("y", "INT")]
    out = specialise(view, {"twin_roles": ["B"], "twin_depts": ["D1"]}, types)
    assert "getvariable" not in out.lower() and "CASE" not in out
    assert "CAST(NULL AS DECIMAL(18, 2))" in out
    kept = specialise(view, {"twin_roles": ["A"]}, types)
    assert "getvariable('twin_depts')" in kept.lower()  # a variable the session did not set stays a read
    # a mask folded to its bare column needs no cast when the table's type is the view's already
    assert "CAST(__t.x AS DECIMAL(18, 2))" in kept
    same = specialise(view, {"twin_roles": ["A"]}, types, {"x": "DECIMAL(18,2)", "y": "INT"})
    assert "CAST" not in same and '__t.x AS "x"' in same
    wider = specialise(view, {"twin_roles": ["A"]}, types, {"x": "DECIMAL(38,2)", "y": "INT"})
    assert "CAST(__t.x AS DECIMAL(18, 2))" in wider


def test_only_planner_options_can_be_tuned(session: Callable[..., SecureSession]) -> None:
    from twin.governance.errors import GovernanceError

    s = session("WEALTH_ADVISOR", "Wealth")
    s.tune("late_materialization_max_rows", 0)
    assert s._cur.execute("SELECT current_setting('late_materialization_max_rows')").fetchall() == [(0,)]
    for name in ("enable_external_access", "lock_configuration", "threads; DROP TABLE x"):
        with pytest.raises(GovernanceError):
            s.tune(name, 1)
    s.tune("disabled_optimizers", ["join_order", "statistics_propagation"])
    setting = s._cur.execute("SELECT current_setting('disabled_optimizers')").fetchall()[0][0]
    assert setting == "join_order,statistics_propagation"
    for bad in (["join_order", "x'; SET enable_external_access = true; --"], "join_order", 1):
        with pytest.raises(GovernanceError):
            s.tune("disabled_optimizers", bad)  # type: ignore[arg-type]
    with pytest.raises(GovernanceError):
        s.tune("late_materialization_max_rows", ["0"])


def test_answers_do_not_depend_on_the_optimizers(session: Callable[..., SecureSession]) -> None:
    s = session("WEALTH_ADVISOR", "Wealth")
    lean = session("WEALTH_ADVISOR", "Wealth")
    names = [r[0] for r in lean._cur.execute("SELECT name FROM duckdb_optimizers()").fetchall()]
    lean.tune("disabled_optimizers", [n for n in names if n not in ("filter_pushdown", "top_n")])
    for sql, params in (
        ("SELECT * FROM gold.customer_360 WHERE customer_id = ?", ["C00002"]),
        ("SELECT * FROM gold.accounts WHERE department = ? ORDER BY balance DESC LIMIT 5", ["Wealth"]),
        ("SELECT department, count(*) FROM gold.customer_360 GROUP BY ALL ORDER BY ALL", None),
    ):
        got, want = lean.query(sql, params), s.query(sql, params)
        assert got.rows and got.rows == want.rows and got.columns == want.columns


def test_anchor_keeps_exactly_the_rows_of_the_row_filter() -> None:
    """`P OR (key IS NULL AND NULL)` is never TRUE where P is not: NULL keys and NULL values included."""
    import duckdb

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE t AS SELECT * FROM (VALUES ('k1', 'A'), ('k2', 'B'), (NULL, 'A'), (NULL, 'B'), "
        "('k3', NULL), (NULL, NULL)) v(k, d)"
    )
    view = "SELECT __t.k, __t.d FROM t AS __t WHERE list_contains(getvariable('twin_depts'), __t.d)"
    types = [("k", "VARCHAR"), ("d", "VARCHAR")]
    plain = specialise(view, {"twin_depts": ["A"]}, types)
    anchored = specialise(view, {"twin_depts": ["A"]}, types, anchor="k")
    assert '"k" IS NULL' in anchored
    got = con.execute(f"{anchored} ORDER BY ALL").fetchall()
    assert got == con.execute(f"{plain} ORDER BY ALL").fetchall() == [("k1", "A"), (None, "A")]


def test_no_anchor_where_the_row_filter_folds_to_a_constant() -> None:
    view = (
        "SELECT __t.k FROM t AS __t WHERE list_contains(getvariable('twin_roles'), 'ADMIN') "
        "OR (list_contains(getvariable('twin_roles'), 'ANALYST') AND __t.d = 'A')"
    )
    types = [("k", "VARCHAR")]
    assert "WHERE" not in specialise(view, {"twin_roles": ["ADMIN"]}, types, anchor="k")
    nobody = specialise(view, {"twin_roles": []}, types, anchor="k")
    assert nobody.endswith("WHERE FALSE")


def test_a_row_filtered_point_lookup_uses_the_index(fresh: Warehouse) -> None:
    """DuckDB scans an ART index only under a single pushed-down filter: the row filter must not be one."""
    from twin.governance.firewall import check
    from twin.governance.session import Claims, open_session

    admin = fresh.con.cursor()
    admin.execute("CREATE UNIQUE INDEX c360_id ON gold.customer_360 (customer_id)").fetchall()
    ids = [r[0] for r in admin.execute("SELECT customer_id FROM gold.customer_360 ORDER BY 1").fetchall()]
    lookup = "SELECT * FROM gold.customer_360 WHERE customer_id = ?"
    with open_session(fresh, Claims(user="t", role="RETAIL_TELLER", department="Retail")) as s:
        s.query(lookup, [ids[0]])
        plan = s._cur.execute("EXPLAIN ANALYZE " + check(lookup, s._catalog).sql, [ids[0]]).fetchall()[0][1]
        assert "Index Scan" in plan
        shared = s._gov.catalog.governed["gold.customer_360"]
        for cid in ids:
            got = s.query(lookup, [cid]).rows
            assert got == s._cur.execute(f"SELECT * FROM {shared} WHERE customer_id = ?", [cid]).fetchall()
        assert {r[5] for r in s.query("SELECT * FROM gold.customer_360").rows} == {"Retail"}
