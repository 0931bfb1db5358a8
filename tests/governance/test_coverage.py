"""Coverage: every relation a role can read is declared in the visibility matrix, and every session
returns exactly its declared cell of it (rows, and masked columns never in clear) — checked against the
admin's view on the hand-made gold and on the dbt-built gold. The PII scanner runs over every governed
table: each flagged column is masked or carries a declared decision that names every role reading it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.governance.conftest import SESSIONS, policed_copy, raw
from twin.governance.ddl import load_shipped, parse_policies
from twin.governance.errors import GovernanceError
from twin.governance.models import AddRowAccessPolicy, CreateRole
from twin.governance.pii import parse_decision, pii_decisions, scan_table, scan_values, undecided
from twin.governance.roles import RoleGraph
from twin.governance.session import Claims, _governance, open_session
from twin.governance.store import load_state, table_columns
from twin.governance.visibility import Visibility, load_visibility, problems
from twin.warehouse.engine import Warehouse


@pytest.fixture(scope="module", params=["handmade", "dbt-gold"])
def governed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    wh = policed_copy(request, tmp_path_factory.mktemp("coverage"))
    yield wh
    wh.close()


@pytest.fixture(scope="module")
def vis() -> Visibility:
    return load_visibility()


def _published(wh: Warehouse) -> list[str]:
    return sorted(_governance(wh.con, wh.con.cursor(), force=True).catalog.published)


def _rows(columns: list[str], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, r, strict=True)) for r in rows]


def _admin_view(wh: Warehouse, relation: str) -> tuple[list[str], list[dict[str, Any]]]:
    with open_session(wh, Claims(user="admin", role="WEALTH_ADMIN")) as s:
        got = s.query(f"SELECT * FROM {relation}")
    return got.columns, _rows(got.columns, got.rows)


def test_matrix_agrees_with_policies_and_catalog(governed: Warehouse, vis: Visibility) -> None:
    published = _published(governed)
    assert {"gold.customer_360", "gold.accounts", "gold.aum_by_department_asset_class"} <= set(published)
    assert problems(vis, load_state(governed.con), published, table_columns(governed.con)) == []


def test_sessions_cover_every_role_of_the_policies(vis: Visibility) -> None:
    defined = {s.name for s in load_shipped().statements if isinstance(s, CreateRole)}
    assert {r for r, _ in SESSIONS} == defined == set(vis.roles)


def test_a_new_model_without_a_policy_fails(fresh: Warehouse, vis: Visibility) -> None:
    # A new gold model carrying customer names: undeclared, unprotected and undecided for PII.
    fresh.con.execute(
        "CREATE TABLE gold.contacts AS SELECT customer_id, name FROM gold.customer_360"
    ).fetchall()
    found = problems(vis, load_state(fresh.con), _published(fresh), table_columns(fresh.con))
    assert any(p.startswith("gold.contacts is readable but not declared") for p in found), found
    report = scan_table(fresh.con, "gold.contacts")
    assert [(f.column, f.detector) for f in undecided(report)] == [("name", "person_name")]


def test_problems_name_each_kind_of_drift(governed: Warehouse, vis: Visibility) -> None:
    stmts = load_state(governed.con)
    published, cols = _published(governed), table_columns(governed.con)
    # A customer-level table losing its row policy.
    no_rap = [s for s in stmts if not (isinstance(s, AddRowAccessPolicy) and s.table == "gold.accounts")]
    assert (
        "gold.accounts has customer-level rows but no row access policy: add one ON (department)"
        in problems(vis, no_rap, published, cols)
    )
    # A mask nobody declared, and an open mart getting a row policy.
    extra = parse_policies(
        """CREATE MASKING POLICY hide AS (v STRING) RETURNS STRING -> 'X';
        ALTER TABLE gold.fund_nav MODIFY COLUMN fund_id SET MASKING POLICY hide;
        ALTER TABLE gold.fund_nav ADD ROW ACCESS POLICY advisor_filter ON (fund_id);"""
    ).statements
    found = problems(vis, [*stmts, *extra], published, cols)
    assert "gold.fund_nav.fund_id is masked by a policy but has no clear: entry in visibility.yaml" in found
    assert any(p.startswith("gold.fund_nav is declared open but has row access policy") for p in found)
    # A role reading customer rows that a PII decision does not name.
    wider = vis.model_copy(update={"roles": {**vis.roles, "ANALYST": ["Retail"]}})
    found = problems(wider, stmts, published, cols)
    assert any(p.startswith("gold.customer_360.name: ANALYST reads its rows") for p in found), found


def test_admin_view_is_the_raw_table(governed: Warehouse, vis: Visibility) -> None:
    for rel in _published(governed):
        cols, rows = _admin_view(governed, rel)
        raw_rows = raw(governed, f"SELECT {', '.join(cols)} FROM {rel}")
        assert Counter(tuple(r.values()) for r in rows) == Counter(raw_rows), rel


@pytest.mark.parametrize(("role", "dept"), SESSIONS)
def test_each_session_sees_exactly_its_cell(
    governed: Warehouse, vis: Visibility, role: str, dept: str | None
) -> None:
    graph = RoleGraph.from_statements(load_state(governed.con))
    with open_session(governed, Claims(user="t", role=role, department=dept)) as s:
        for rel in _published(governed):
            cell = vis.cell(graph, rel, role, dept)
            cols, truth = _admin_view(governed, rel)
            got = s.query(f"SELECT * FROM {rel}")
            assert got.columns == cols, rel
            rows = _rows(got.columns, got.rows)
            plain = [c for c in cols if c not in cell.masked]
            expected = Counter(tuple(r[c] for c in plain) for r in truth if cell.row_visible(r))
            assert Counter(tuple(r[c] for c in plain) for r in rows) == expected, (rel, role, dept)
            for c in cell.masked:
                secrets = {r[c] for r in truth if r[c] is not None}
                leaked = {r[c] for r in rows} & secrets
                assert not leaked, (rel, c, role, dept, sorted(map(str, leaked))[:3])


def test_every_flagged_column_of_a_governed_table_is_masked_or_decided(governed: Warehouse) -> None:
    stmts = load_state(governed.con)
    decided = pii_decisions(stmts)
    for rel in _published(governed):
        report = scan_table(governed.con, rel)
        assert undecided(report) == [], (rel, [(f.column, f.detector) for f in undecided(report)])
        for f in report.findings:
            assert f.visible_to == sorted(decided[(rel, f.column)].visible_to)


@pytest.mark.parametrize(("role", "dept"), SESSIONS)
def test_pii_a_role_reads_in_clear_is_declared_for_it(
    governed: Warehouse, vis: Visibility, role: str, dept: str | None
) -> None:
    stmts = load_state(governed.con)
    graph = RoleGraph.from_statements(stmts)
    active = set(graph.active(role))
    decided = pii_decisions(stmts)
    with open_session(governed, Claims(user="t", role=role, department=dept)) as s:
        for rel in _published(governed):
            cell = vis.cell(graph, rel, role, dept)
            got = s.query(f"SELECT * FROM {rel}")
            strings = {
                c: [r[i] for r in got.rows]
                for i, c in enumerate(got.columns)
                if any(isinstance(r[i], str) for r in got.rows)
            }
            for f in scan_values(rel, strings).findings:
                d = decided.get((rel, f.column))
                allowed = f.column in cell.clear or (d is not None and bool(d.visible_to & active))
                assert allowed, (rel, f.column, f.detector, role, dept, f.samples)


def test_pii_decisions_are_checked_when_read() -> None:
    assert parse_decision("gold.t", "c", "visible_to:A, b").visible_to == frozenset({"A", "B"})
    with pytest.raises(GovernanceError, match=r"gold\.t\.c: tag pii_decision = 'everyone' is not a decision"):
        parse_decision("gold.t", "c", "everyone")
    stmts = parse_policies(
        "CREATE ROLE A; ALTER TABLE gold.t MODIFY COLUMN c SET TAG pii_decision = 'visible_to:A,NOBODY';"
    ).statements
    with pytest.raises(GovernanceError, match=r"unknown role.*NOBODY"):
        pii_decisions(stmts)


def test_a_malformed_matrix_is_refused_with_the_field(tmp_path: Path) -> None:
    bad = tmp_path / "visibility.yaml"
    bad.write_text("roles: {PUBLIC: []}\nrelations:\n  gold.x: {rows: some}\n")
    with pytest.raises(GovernanceError, match=r"visibility\.yaml: relations\.gold\.x\.rows: "):
        load_visibility(bad)


def test_only_gold_and_loaded_tables_are_readable_whatever_else_the_warehouse_holds(tmp_path: Path) -> None:
    """Readable relations are an allowlist: a schema the platform adds for itself (the DLQ's raw
    payloads, say) is not readable because nobody published it."""
    from tests.governance.gold_data import build
    from twin.governance.errors import QueryDenied
    from twin.governance.store import apply_policies
    from twin.warehouse.published import load_published

    wh = build(tmp_path / "w.duckdb")
    try:
        apply_policies(wh.con, load_shipped())
        wh.con.execute(
            "CREATE SCHEMA dlq; CREATE TABLE dlq.payloads AS SELECT '123-45-6789' AS ssn"
        ).fetchall()
        wh.con.execute("CREATE SCHEMA scratch; CREATE TABLE scratch.notes AS SELECT 1 AS n").fetchall()
        rates = tmp_path / "rates.csv"
        rates.write_text("ccy,rate\nEUR,1.1\n")
        load_published(wh, "published.rates", rates)
        for role in ("WEALTH_ADMIN", "PUBLIC"):
            with open_session(wh, Claims(user="t", role=role)) as s:
                for sql in ("SELECT * FROM dlq.payloads", "SELECT * FROM scratch.notes"):
                    with pytest.raises(QueryDenied, match="not a published table"):
                        s.query(sql)
                assert s.query("SELECT ccy FROM published.rates").rows == [("EUR",)]
    finally:
        wh.close()
