"""Compile policy statements to DuckDB: context functions, masking expressions, secure views.

Each protected table gets one view in the `governance` schema: the row access policy filters the base
table on its unmasked values, then the projection applies the masking expressions, so every predicate,
join or aggregate a user writes over the view sees masked values only. Session context lives in
per-connection DuckDB variables (twin_role, twin_user, twin_roles, twin_department), read at query time.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable

import sqlglot
from pydantic import BaseModel, ConfigDict, Field
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from twin.governance.context import context_name, rewrite_context
from twin.governance.ddl import MAPPING_SCHEMA, body_tree, duckdb_type
from twin.governance.errors import GovernanceError
from twin.governance.models import (
    AddRowAccessPolicy,
    CreateMappingTable,
    InsertRows,
    MaskingPolicy,
    RowAccessPolicy,
    SetMaskingPolicy,
    SetTag,
    Statement,
    TagMaskingPolicy,
)
from twin.warehouse.engine import GOVERNANCE_SCHEMA

GOV_SCHEMA = GOVERNANCE_SCHEMA
_BASE = "__t"
_DUCKDB = Dialect.get_or_raise("duckdb")


def view_name(table: str) -> str:
    schema, name = table.split(".")
    return f"{schema}__{name}"


def type_family(t: str) -> str:
    t = t.upper()
    if re.match(r"^(STRING|VARCHAR|TEXT|CHAR|CHARACTER|NVARCHAR|ENUM)", t):
        return "string"
    if re.match(
        r"^(NUMBER|NUMERIC|DECIMAL|INT|INTEGER|BIGINT|SMALLINT|TINYINT|HUGEINT|FLOAT|DOUBLE|REAL|UBIGINT|UINTEGER)",
        t,
    ):
        return "number"
    if t.startswith(("TIMESTAMP", "DATETIME")):
        return "timestamp"
    if t.startswith("DATE"):
        return "date"
    if t.startswith("BOOL"):
        return "boolean"
    return t.lower()


def _context(node: exp.Expr) -> exp.Expr:
    """Snowflake context functions and session variables → reads of the connection's variables."""
    if context_name(node) == "GETVARIABLE":
        (arg,) = node.expressions
        if not isinstance(arg, exp.Literal) or not arg.is_string:
            raise GovernanceError("GETVARIABLE takes a literal variable name")
        return exp.func("getvariable", exp.Literal.string("twin_" + arg.this.lower()))
    return rewrite_context(node)


def compile_expr(
    body: str,
    bindings: dict[str, str],
    hoisted: dict[str, str] | None = None,
    trees: dict[str, exp.Expr] | None = None,
) -> str:
    """A policy body in DuckDB SQL, its arguments bound to columns of the base table.

    With `hoisted`, subqueries that depend only on the session (the mapping-table lookups) are moved
    out into session variables computed once when a session opens: name → SQL is added to `hoisted`.
    `trees` keeps each body's parse for the rest of one compilation: one policy masks many columns,
    and copying a parsed tree costs a fraction of parsing it again.
    """
    if trees is None:
        trees = {}
    parsed = trees.get(body)
    if parsed is None:
        parsed = trees[body] = sqlglot.parse_one(body, read="snowflake")
    # One private copy, then every rewrite in place (transform would copy the whole tree each time).
    tree = parsed.copy()

    def bind(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Column) and not node.table and node.name.lower() in bindings:
            return exp.column(bindings[node.name.lower()], table=_BASE, quoted=True)
        if isinstance(node, exp.Func):
            return _context(node)
        return node

    tree = tree.transform(bind, copy=False).transform(_semi_join, copy=False)
    if hoisted is not None:
        tree = tree.transform(lambda n: _hoist(n, hoisted), copy=False)
    return _DUCKDB.generate(tree, copy=False)


def _hoist(node: exp.Expr, hoisted: dict[str, str]) -> exp.Expr:
    """`__t.c IN (uncorrelated subquery)` → `list_contains(getvariable('twin_sq_…'), __t.c)`.

    Evaluated per row, the subquery costs DuckDB a join on every query (1.5–2× on a department
    aggregate); as a session constant it costs one query at session open. Not under NOT, where
    IN and list_contains differ on NULL.
    """
    if not isinstance(node, exp.In) or not node.args.get("query"):
        return node
    sub = node.args["query"]
    if any(c.table == _BASE for c in sub.find_all(exp.Column)) or node.find_ancestor(exp.Not):
        return node
    inner = sub.this if isinstance(sub, exp.Subquery) else sub
    if not isinstance(inner, exp.Select) or len(inner.expressions) != 1:
        return node
    sql = f"SELECT list(twin_v) FROM ({inner.sql(dialect='duckdb')}) AS twin_sq(twin_v)"
    name = "twin_sq_" + hashlib.sha256(sql.encode()).hexdigest()[:12]
    hoisted[name] = sql
    return exp.func("list_contains", exp.func("getvariable", exp.Literal.string(name)), node.this.copy())


def _semi_join(node: exp.Expr) -> exp.Expr:
    """`EXISTS (SELECT 1 FROM m WHERE p(m) AND m.k = __t.c)` → `__t.c IN (SELECT m.k FROM m WHERE p(m))`.

    The mapping-table pattern compiled literally is a correlated subquery, several times slower in
    DuckDB than the equivalent uncorrelated IN. Both filter the same rows in a WHERE clause; under NOT
    they differ on NULL, so a negated EXISTS is left alone.
    """
    if not isinstance(node, exp.Exists) or isinstance(node.parent, exp.Not):
        return node
    q = node.this
    if not isinstance(q, exp.Select) or q.args.get("joins") or q.args.get("group") or not q.args.get("where"):
        return node
    conds = (
        list(q.args["where"].this.flatten())
        if isinstance(q.args["where"].this, exp.And)
        else [q.args["where"].this]
    )
    outer = [
        c for c in conds
        if isinstance(c, exp.EQ) and {_side(c.left), _side(c.right)} == {"outer", "inner"}
    ]  # fmt: skip
    if len(outer) != 1:
        return node
    eq = outer[0]
    outer_col, inner_col = (eq.left, eq.right) if _side(eq.left) == "outer" else (eq.right, eq.left)
    rest = [c for c in conds if c is not eq]
    sub = exp.select(inner_col.copy()).from_(q.args["from_"].this.copy())
    if rest:
        sub = sub.where(exp.and_(*[c.copy() for c in rest]))
    return exp.In(this=outer_col.copy(), query=exp.Subquery(this=sub))


def _side(e: exp.Expr) -> str:
    if isinstance(e, exp.Column):
        return "outer" if e.table == _BASE else "inner"
    return "other"


class ColumnProtection(BaseModel):
    model_config = ConfigDict(frozen=True)

    table: str
    column: str
    policy: str
    how: str  # "direct" or "tag:<name>"
    using: list[str] = Field(default_factory=list)


class CompiledTable(BaseModel):
    table: str
    view: str
    row_policy: str | None
    masks: list[ColumnProtection]
    sql: str
    warnings: list[str] = Field(default_factory=list)


class Compiled(BaseModel):
    setup: list[str]
    tables: list[CompiledTable]
    skipped: list[str] = Field(default_factory=list)
    session_context: dict[str, str] = Field(default_factory=dict)  # variable → SQL run at session open

    def statements(self) -> list[str]:
        return [*self.setup, *(t.sql for t in self.tables)]


def protections(stmts: Iterable[Statement], columns: dict[str, dict[str, str]]) -> list[ColumnProtection]:
    """Which policy masks which column: direct policies first, then tag policies by data type."""
    stmts = list(stmts)
    policies = {s.name: s for s in stmts if isinstance(s, MaskingPolicy)}
    out: dict[tuple[str, str], ColumnProtection] = {}
    for s in stmts:
        if isinstance(s, SetMaskingPolicy):
            if s.policy not in policies:
                raise GovernanceError(f"{s.table}.{s.column}: masking policy {s.policy!r} does not exist")
            out[(s.table, s.column)] = ColumnProtection(
                table=s.table, column=s.column, policy=s.policy, how="direct", using=s.using
            )
    tag_policies: dict[str, list[MaskingPolicy]] = {}
    for s in stmts:
        if isinstance(s, TagMaskingPolicy):
            if s.policy not in policies:
                raise GovernanceError(f"tag {s.tag}: masking policy {s.policy!r} does not exist")
            tag_policies.setdefault(s.tag, []).append(policies[s.policy])
    for s in stmts:
        if not isinstance(s, SetTag) or (s.table, s.column) in out or s.tag not in tag_policies:
            continue
        col_type = columns.get(s.table, {}).get(s.column)
        family = type_family(col_type) if col_type else None
        match = [p for p in tag_policies[s.tag] if family is None or type_family(p.args[0].type) == family]
        if match:
            out[(s.table, s.column)] = ColumnProtection(
                table=s.table, column=s.column, policy=match[0].name, how=f"tag:{s.tag}"
            )
    return sorted(out.values(), key=lambda p: (p.table, p.column))


def compile_duckdb(stmts: Iterable[Statement], columns: dict[str, dict[str, str]]) -> Compiled:
    """DuckDB statements enforcing `stmts` over tables whose columns (name → type) are given."""
    stmts = list(stmts)
    policies = {s.name: s for s in stmts if isinstance(s, MaskingPolicy | RowAccessPolicy)}
    created = [s for s in stmts if isinstance(s, CreateMappingTable)]
    mapping = {s.table: {c.name.lower() for c in s.columns} for s in created}
    for p in policies.values():
        check_policy_body(p, mapping)
    setup = [f"CREATE SCHEMA IF NOT EXISTS {GOV_SCHEMA}"]
    for s in stmts:
        if isinstance(s, CreateMappingTable):
            defs = ", ".join(f"{_quote(c.name)} {duckdb_type(c.type)}" for c in s.columns)
            setup.append(f"CREATE OR REPLACE TABLE {_quote_table(s.table)} ({defs})")
    for s in stmts:
        if isinstance(s, InsertRows):
            if s.table not in mapping:
                raise GovernanceError(f"INSERT INTO {s.table}: not a mapping table created by a policy file")
            vals = ", ".join("(" + ", ".join(_lit(v) for v in r) + ")" for r in s.rows)
            setup.append(f"INSERT INTO {_quote_table(s.table)} VALUES {vals}")
    masks = protections(stmts, columns)
    rows = {s.table: s for s in stmts if isinstance(s, AddRowAccessPolicy)}
    governed = sorted({m.table for m in masks} | set(rows))
    tables, skipped = [], []
    hoisted: dict[str, str] = {}
    trees: dict[str, exp.Expr] = {}
    for table in governed:
        cols = columns.get(table)
        if not cols:
            skipped.append(table)
            continue
        tables.append(
            _secure_view(
                table, cols, rows.get(table), [m for m in masks if m.table == table], policies, hoisted, trees
            )
        )
    setup.append(f"CREATE OR REPLACE TABLE {GOV_SCHEMA}.session_context (name VARCHAR, sql VARCHAR)")
    if hoisted:
        vals = ", ".join(f"({_lit(k)}, {_lit(v)})" for k, v in sorted(hoisted.items()))
        setup.append(f"INSERT INTO {GOV_SCHEMA}.session_context VALUES {vals}")
    return Compiled(setup=setup, tables=tables, skipped=skipped, session_context=hoisted)


def _secure_view(
    table: str,
    cols: dict[str, str],
    rap: AddRowAccessPolicy | None,
    masks: list[ColumnProtection],
    policies: dict[str, MaskingPolicy | RowAccessPolicy],
    hoisted: dict[str, str],
    trees: dict[str, exp.Expr],
) -> CompiledTable:
    warnings: list[str] = []
    where = "TRUE"
    if rap is not None:
        policy = policies.get(rap.policy)
        if not isinstance(policy, RowAccessPolicy):
            raise GovernanceError(f"{table}: row access policy {rap.policy!r} does not exist")
        if len(policy.args) != len(rap.columns):
            raise GovernanceError(
                f"{table}: {rap.policy} takes {len(policy.args)} columns, ON gives {len(rap.columns)}"
            )
        missing = [c for c in rap.columns if c not in cols]
        if missing:
            # Fail closed: a row policy we cannot evaluate must hide every row, not show them all.
            warnings.append(f"row access column(s) {missing} missing: the view returns no rows")
            where = "FALSE"
        else:
            where = compile_expr(
                policy.body,
                {a.name: c for a, c in zip(policy.args, rap.columns, strict=True)},
                hoisted,
                trees,
            )
    by_col = {m.column: m for m in masks}
    select = []
    for col in cols:
        m = by_col.get(col)
        if m is None:
            select.append(f'{_BASE}."{col}"')
            continue
        policy = policies[m.policy]
        if m.how == "direct" and isinstance(policy, MaskingPolicy):
            # Snowflake refuses a policy whose type is not the column's; the view would change its type.
            for what, declared in (("RETURNS", policy.returns), ("takes", policy.args[0].type)):
                if type_family(declared) != type_family(cols[col]):
                    raise GovernanceError(
                        f"{table}.{col}: masking policy {m.policy} {what} {declared} but the column is "
                        f"{cols[col]}; attach a policy of the column's type"
                    )
        using = m.using or [col]
        if len(using) != len(policy.args):
            raise GovernanceError(
                f"{table}.{col}: {m.policy} takes {len(policy.args)} arguments, USING gives {len(using)}"
            )
        bad = [u for u in using if u not in cols]
        if bad:
            raise GovernanceError(f"{table}.{col}: USING names unknown column(s) {bad}")
        expr = compile_expr(
            policy.body, {a.name: u for a, u in zip(policy.args, using, strict=True)}, hoisted, trees
        )
        select.append(f'({expr}) AS "{col}"')
    for m in masks:
        if m.column not in cols:
            warnings.append(f"masked column {m.column} not in table; nothing to mask")
    view = f"{GOV_SCHEMA}.{view_name(table)}"
    schema, name = table.split(".")
    sql = (
        f"CREATE OR REPLACE VIEW {view} AS SELECT {', '.join(select)} "
        f'FROM "{schema}"."{name}" AS {_BASE} WHERE {where}'
    )
    return CompiledTable(
        table=table,
        view=view,
        row_policy=rap.policy if rap else None,
        masks=masks,
        sql=sql,
        warnings=warnings,
    )


def unknown_references(
    stmts: Iterable[Statement], columns: dict[str, dict[str, str]], *, tables: bool = True
) -> list[str]:
    """Tables and columns the statements attach policies or tags to that the warehouse does not have.

    Applying such a file protects nothing (a typo in a column name would leave it unmasked): callers
    that apply a user's file refuse it. Stored state compiled later only warns, as tables come and go;
    with `tables=False` a missing table is not reported (compiling the shipped policies before every
    gold table is built), only a missing column of a table that exists.
    """
    out: list[str] = []
    for s in stmts:
        if isinstance(s, SetMaskingPolicy | SetTag | AddRowAccessPolicy):
            cols = columns.get(s.table)
            if cols is None:
                if tables:
                    out.append(f"table {s.table} does not exist")
                continue
            named = s.columns if isinstance(s, AddRowAccessPolicy) else [s.column, *getattr(s, "using", [])]
            out.extend(f"column {s.table}.{c} does not exist" for c in dict.fromkeys(named) if c not in cols)
    return out


def check_policy_body(policy: MaskingPolicy | RowAccessPolicy, mapping: dict[str, set[str]]) -> None:
    """A policy body follows the user-SQL rules, reads only declared mapping tables and known columns.

    A body runs inside every secure view, and a row policy's mapping lookups run when a session opens,
    before the session is locked down: it gets no more reach than the user it governs.
    """
    where = f"policy {policy.name}"
    tree = body_tree(policy.body, where)
    read: set[str] = set()
    for t in tree.find_all(exp.Table):
        name = f"{t.db.lower()}.{t.name.lower()}"
        if name not in mapping:
            declared = ", ".join(sorted(mapping)) or "none"
            raise GovernanceError(
                f"{where}: reads {name}, which is not a mapping table declared in the policy files "
                f"(declared: {declared}); a policy body may read mapping tables only"
            )
        read.add(name)
    args = {a.name.lower() for a in policy.args}
    known = set().union(*(mapping[t] for t in read)) if read else set()
    for col in tree.find_all(exp.Column):
        name = col.name.lower()
        if (not col.table and name in args) or name in known:
            continue
        raise GovernanceError(
            f"{where}: unknown column {col.sql(dialect='snowflake')} (arguments: {', '.join(sorted(args))}"
            + (f"; mapping columns: {', '.join(sorted(known))}" if known else "")
            + ")"
        )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _quote_table(table: str) -> str:
    schema, name = table.split(".")
    if schema != MAPPING_SCHEMA:
        raise GovernanceError(f"{table}: policy files may only create mapping tables in {MAPPING_SCHEMA}.*")
    return f"{_quote(schema)}.{_quote(name)}"


def _lit(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return repr(v)
