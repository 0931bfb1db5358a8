"""Generated leak suite: for every role, random projections, filters, joins, subqueries, unions and
aggregates over every readable relation of the dbt-built gold, with a common set of functions.

Each result is checked two ways against the admin's view:
- no value a session must not see appears in it, even transformed (case-folded, as a part of the
  generated concatenations):
  the clear value of a column masked for the role, or a value found only in rows outside its policy;
- a query touching no masked column returns exactly what the same SQL returns over the role's declared
  cell (the admin's rows that the visibility matrix gives the role) in a private in-memory database.

A denied query (the firewall's allowlist may refuse a function) or a failed one is acceptable; a leaked
value never is. Derandomised and bounded: 8 sessions × 40 examples.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.governance.conftest import SESSIONS
from tests.governance.gold_data import copy_database
from twin.governance.ddl import load_shipped
from twin.governance.errors import QueryDenied, QueryFailed
from twin.governance.roles import RoleGraph
from twin.governance.session import Claims, SecureSession, _governance, open_session
from twin.governance.store import apply_policies, load_state
from twin.governance.visibility import Cell, load_visibility
from twin.warehouse.engine import Warehouse

# Hidden strings shorter than this ("BUY") say little on their own.
MIN_SECRET = 4
SAMPLES_PER_COLUMN = 6
# Joins on keys with few rows per value; department and asset class only against the 10-row mart
# (gold.portfolio_daily x gold.compliance_transactions on department is millions of rows). A join's
# rows are sorted on every output column before the limit, so both sides of the comparison keep the
# same rows.
JOIN_KEYS = ("customer_id", "account_id")
SMALL_JOIN_KEYS = ("department", "asset_class")
SMALL_SIDE = "gold.aum_by_department_asset_class"
JOIN_ROWS = 2000


@dataclass
class World:
    """The governed warehouse, and per relation its columns' types and some values to filter on."""

    wh: Warehouse
    types: dict[str, dict[str, str]]
    samples: dict[str, dict[str, list[Any]]]
    cells: dict[tuple[str, str | None], dict[str, Cell]] = field(default_factory=dict)
    masked: frozenset[str] = frozenset()  # relations with a masked column
    masked_columns: dict[str, list[str]] = field(default_factory=dict)


@pytest.fixture(scope="module")
def world(gold_db: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("fuzz") / "warehouse.duckdb"
    copy_database(gold_db, path)
    wh = Warehouse(path)
    apply_policies(wh.con, load_shipped())
    cur = wh.con.cursor()
    published = sorted(_governance(wh.con, cur, force=True).catalog.published)
    types: dict[str, dict[str, str]] = {}
    samples: dict[str, dict[str, list[Any]]] = {}
    for rel in published:
        schema, name = rel.split(".")
        types[rel] = dict(
            cur.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE schema_name = ? AND table_name = ? ORDER BY column_index",
                [schema, name],
            ).fetchall()
        )
        # Filter literals from every kind of row: inside and outside any role's policy, masked or not.
        samples[rel] = {
            c: [
                r[0]
                for r in cur.execute(
                    f'SELECT DISTINCT "{c}" FROM {rel} WHERE "{c}" IS NOT NULL '
                    f"ORDER BY 1 LIMIT {SAMPLES_PER_COLUMN}"
                ).fetchall()
            ]
            for c in types[rel]
        }
    vis = load_visibility()
    graph = RoleGraph.from_statements(load_state(wh.con))
    w = World(
        wh=wh,
        types=types,
        samples=samples,
        masked=frozenset(r for r in published if vis.relations[r].clear),
        masked_columns={r: sorted(vis.relations[r].clear) for r in published if vis.relations[r].clear},
    )
    for role, dept in SESSIONS:
        w.cells[(role, dept)] = {rel: vis.cell(graph, rel, role, dept) for rel in published}
    yield w
    wh.close()


@dataclass
class Expected:
    """One session's truth: its declared cell materialised, and what it must never see."""

    db: duckdb.DuckDBPyConnection
    secret_text: set[str]
    secret_numbers: set[Any]


_expected: dict[tuple[str, str | None], Expected] = {}


def _expected_for(w: World, role: str, dept: str | None) -> Expected:
    key = (role, dept)
    if key in _expected:
        return _expected[key]
    cells = w.cells[key]
    db = duckdb.connect(":memory:")
    db.execute("CREATE SCHEMA gold").fetchall()
    # The admin's view is the raw table (test_coverage checks it relation by relation), read here as
    # Arrow, each column cast back to its warehouse type (Arrow has no HUGEINT, for one).
    with open_session(w.wh, Claims(user="admin", role="WEALTH_ADMIN")) as admin:
        for rel, cell in cells.items():
            n = admin.query(f"SELECT count(*) FROM {rel}").rows[0][0]
            arrow = w.wh.con.cursor().sql(f"SELECT * FROM {rel}").to_arrow_table()
            assert arrow.num_rows == n
            cols = ", ".join(
                f'CAST({"NULL" if c in cell.masked else chr(34) + c + chr(34)} AS {t}) AS "{c}"'
                for c, t in w.types[rel].items()
            )
            db.execute(f"CREATE TABLE {rel} AS SELECT {cols} FROM arrow WHERE {cell.row_sql()}").fetchall()
    allowed_text: set[str] = set()
    allowed_numbers: set[Any] = set()
    hidden_text: set[str] = set()
    hidden_numbers: set[Any] = set()
    cur = w.wh.con.cursor()
    for rel, cell in cells.items():
        cols = list(w.types[rel])
        for row in cur.execute(f"SELECT * FROM {rel}").fetchall():
            r = dict(zip(cols, row, strict=True))
            visible = cell.row_visible(r)
            for c, v in r.items():
                if v is None:
                    continue
                clear = visible and c not in cell.masked
                if isinstance(v, str):
                    (allowed_text if clear else hidden_text).add(v.lower())
                elif c in cell.masked or not visible:
                    if isinstance(v, Decimal | float) and abs(v) >= 1 and v != int(v):
                        hidden_numbers.add(v)
                elif isinstance(v, Decimal | float):
                    allowed_numbers.add(v)
    secret_text = {s for s in hidden_text - allowed_text if len(s) >= MIN_SECRET}
    exp = Expected(db=db, secret_text=secret_text, secret_numbers=hidden_numbers - allowed_numbers)
    _expected[key] = exp
    return exp


# ---- query generation -----------------------------------------------------------------------------


def _family(t: str) -> str:
    t = t.upper()
    if t.startswith(("VARCHAR", "STRING")):
        return "text"
    if t.startswith(("DECIMAL", "DOUBLE", "FLOAT", "BIGINT", "INTEGER", "HUGEINT", "SMALLINT")):
        return "number"
    return "other"


def _lit(v: Any) -> str:
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, Decimal | float | int):
        return repr(float(v)) if isinstance(v, float) else str(v)
    return f"'{v}'"


@dataclass(frozen=True)
class Query:
    sql: str
    columns: frozenset[tuple[str, str]]  # (relation, column) the query reads


@st.composite
def _expr(draw: st.DrawFn, w: World, rel: str, q: str, used: set[tuple[str, str]]) -> str:
    # Half the time a masked column, where there is one: the columns a leak would come from.
    masked = w.masked_columns.get(rel, [])
    col = draw(st.sampled_from(masked if masked and draw(st.booleans()) else list(w.types[rel])))
    used.add((rel, col))
    ref = f'{q}"{col}"'
    fam = _family(w.types[rel][col])
    if fam == "text":
        other = draw(st.sampled_from([c for c, t in w.types[rel].items() if _family(t) == "text"]))
        forms = [
            ref,
            f"upper({ref})",
            f"lower({ref})",
            f"substr({ref}, {draw(st.integers(1, 4))}, {draw(st.integers(1, 12))})",
            f"coalesce({ref}, 'none')",
            f"length({ref})",
            f"concat({ref}, '|', {q}\"{other}\")",
            f"{ref} || '#'",
        ]
        form = draw(st.sampled_from(forms))
        if "concat" in form:
            used.add((rel, other))
        return form
    if fam == "number":
        return draw(st.sampled_from([ref, f"coalesce({ref}, 0)", f"abs({ref})", f"{ref} + 0"]))
    return ref


@st.composite
def _filter(draw: st.DrawFn, w: World, rel: str, q: str, used: set[tuple[str, str]]) -> str:
    if draw(st.booleans()):
        return ""
    col = draw(st.sampled_from(list(w.types[rel])))
    used.add((rel, col))
    ref = f'{q}"{col}"'
    values = w.samples[rel][col]
    fam = _family(w.types[rel][col])
    forms = [f"{ref} IS NOT NULL", f"{ref} IS NULL"]
    if values and fam in ("text", "number"):
        v = draw(st.sampled_from(values))
        forms += [f"{ref} = {_lit(v)}", f"{ref} <> {_lit(v)}", f"{ref} >= {_lit(v)}"]
        if fam == "text":
            forms += [f"{ref} LIKE {_lit(v[:3] + '%')}", f"upper({ref}) = {_lit(v.upper())}"]
    return " WHERE " + draw(st.sampled_from(forms))


@st.composite
def queries(draw: st.DrawFn, w: World) -> Query:
    rels = sorted(w.types)
    # Relations with masked columns drawn four times as often: that is where a clear value could slip.
    rel = draw(st.sampled_from(rels + [r for r in rels if r in w.masked] * 3))
    used: set[tuple[str, str]] = set()
    shape = draw(st.sampled_from(["plain", "aggregate", "group", "join", "cte", "in", "union", "star"]))
    width = draw(st.integers(1, 3))
    exprs = lambda q="", r=rel: ", ".join(draw(_expr(w, r, q, used)) for _ in range(width))  # noqa: E731
    if shape == "star":
        used.update((rel, c) for c in w.types[rel])
        sql = f"SELECT * FROM {rel}{draw(_filter(w, rel, '', used))}"
    elif shape == "plain":
        sql = f"SELECT {exprs()} FROM {rel}{draw(_filter(w, rel, '', used))}"
    elif shape == "aggregate":
        col = draw(st.sampled_from(list(w.types[rel])))
        used.add((rel, col))
        agg = draw(st.sampled_from(["count(*)", f'count("{col}")', f'count(DISTINCT "{col}")',
                                    f'min("{col}")', f'max("{col}")']))  # fmt: skip
        sql = f"SELECT {agg} AS v FROM {rel}{draw(_filter(w, rel, '', used))}"
    elif shape == "group":
        key = draw(st.sampled_from(list(w.types[rel])))
        col = draw(st.sampled_from(list(w.types[rel])))
        used.update({(rel, key), (rel, col)})
        sql = (
            f'SELECT "{key}", count(*) AS n, max("{col}") AS m FROM {rel}'
            f'{draw(_filter(w, rel, "", used))} GROUP BY "{key}"'
        )
    elif shape in ("join", "in"):
        pairs = [
            (a, b, c)
            for a in rels
            for b in rels
            for c in sorted(set(w.types[a]) & set(w.types[b]))
            if c in JOIN_KEYS or (c in SMALL_JOIN_KEYS and SMALL_SIDE in (a, b))
        ]
        a, b, c = draw(st.sampled_from(pairs))
        used.update({(a, c), (b, c)})
        if shape == "join":
            sel = f"{exprs('x.', a)}, {exprs('y.', b)}"
            sql = (
                f'SELECT {sel} FROM {a} x JOIN {b} y ON x."{c}" = y."{c}"{draw(_filter(w, a, "x.", used))} '
                f"ORDER BY ALL LIMIT {JOIN_ROWS}"
            )
        else:
            sql = f'SELECT {exprs("", a)} FROM {a} WHERE "{c}" IN (SELECT "{c}" FROM {b})'
    elif shape == "cte":
        sql = f"WITH t AS (SELECT * FROM {rel}{draw(_filter(w, rel, '', used))}) SELECT {exprs()} FROM t"
    else:
        sql = (
            f"SELECT {exprs()} FROM {rel} UNION SELECT {exprs()} FROM {rel}{draw(_filter(w, rel, '', used))}"
        )
    return Query(sql=sql, columns=frozenset(used))


# ---- the checks -----------------------------------------------------------------------------------


def _norm(v: Any) -> Any:
    if isinstance(v, float) and math.isfinite(v):
        return float(f"{v:.9g}")
    return v


def _pieces(v: str) -> set[str]:
    """The value and the parts the generated functions could have joined it from (concat with '|',
    a '#' suffix), case-folded: upper/lower/coalesce keep a secret whole, substr only shortens it."""
    text = v.lower()
    parts = {text, *text.split("|")}
    return parts | {p.removesuffix("#") for p in parts}


def _bag(rows: list[tuple[Any, ...]]) -> Counter[tuple[Any, ...]]:
    return Counter(tuple(_norm(v) for v in r) for r in rows)


_sessions: dict[tuple[str, str | None], SecureSession] = {}


def _session(w: World, role: str, dept: str | None) -> SecureSession:
    s = _sessions.get((role, dept))
    if s is None:
        s = _sessions[(role, dept)] = open_session(w.wh, Claims(user="fuzz", role=role, department=dept))
    return s


@pytest.fixture(scope="module", autouse=True)
def _close_sessions() -> Iterator[None]:
    yield
    for s in _sessions.values():
        s.close()
    _sessions.clear()
    for e in _expected.values():
        e.db.close()
    _expected.clear()


@pytest.mark.parametrize(("role", "dept"), SESSIONS)
@settings(max_examples=40, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_queries_never_leak(world: World, role: str, dept: str | None, data: st.DataObject) -> None:
    q = data.draw(queries(world))
    expected = _expected_for(world, role, dept)
    try:
        got = _session(world, role, dept).query(q.sql)
    except (QueryDenied, QueryFailed):
        return  # refusing is always safe
    for row in got.rows:
        for v in row:
            if isinstance(v, str):
                assert not _pieces(v) & expected.secret_text, (q.sql, role, dept, v)
            elif isinstance(v, Decimal | float):
                assert v not in expected.secret_numbers, (q.sql, role, dept, v)
    cells = world.cells[(role, dept)]
    if any(c in cells[r].masked for r, c in q.columns):
        return  # masked values differ by design; the value check above is what matters for them
    try:
        truth = expected.db.execute(q.sql).fetchall()
    except duckdb.Error:
        return
    assert _bag(got.rows) == _bag(truth), (q.sql, role, dept)
