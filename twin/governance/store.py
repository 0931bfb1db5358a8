"""Policy state kept inside the warehouse, and applying policy files to it.

The effective policy set is stored statement by statement in `governance.policy_state`, keyed by what
each statement governs (a policy name, a column, a table's row policy…). Applying a file merges it in —
`CREATE OR REPLACE` replaces, plain `CREATE` of something different is refused, re-applying the same
file changes nothing — and recompiles every secure view from the merged state.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import duckdb
from pydantic import BaseModel, Field, TypeAdapter

from twin.governance.audit import AuditLog
from twin.governance.compiler import GOV_SCHEMA, ColumnProtection, Compiled, compile_duckdb, protections
from twin.governance.ddl import load_shipped, to_snowflake
from twin.governance.errors import GovernanceError
from twin.governance.models import (
    AddRowAccessPolicy,
    CreateMappingTable,
    CreateTag,
    InsertRows,
    MaskingPolicy,
    PolicyFile,
    RowAccessPolicy,
    Statement,
)

_STMT = TypeAdapter(Statement)
_generation = [0]
GENERATION_TABLE = f"{GOV_SCHEMA}.policy_generation"


def generation() -> int:
    """Bumped on every policy change made in this process: the fast check open sessions make before
    each query. Changes made by other processes are counted in the warehouse (`stored_generation`)."""
    return _generation[0]


def bump_generation(con: duckdb.DuckDBPyConnection | None = None) -> None:
    """Count a policy change: in this process, and in the warehouse `con` it was made in, so that any
    process opening it later reads the catalog afresh rather than a copy cached under the same key."""
    if con is not None:
        _run(con, f"CREATE SCHEMA IF NOT EXISTS {GOV_SCHEMA}")
        _run(con, f"CREATE TABLE IF NOT EXISTS {GENERATION_TABLE} (generation BIGINT NOT NULL)")
        _run(
            con,
            f"INSERT INTO {GENERATION_TABLE} SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM {GENERATION_TABLE})",
        )
        _run(con, f"UPDATE {GENERATION_TABLE} SET generation = generation + 1")
    _generation[0] += 1


def stored_generation(con: duckdb.DuckDBPyConnection) -> int:
    """How many policy changes the warehouse has seen, whichever process made them (0: none counted)."""
    try:
        rows = _run(con, f"SELECT max(generation) FROM {GENERATION_TABLE}")
    except duckdb.CatalogException:
        return 0
    return int(rows[0][0] or 0)


class ApplyReport(BaseModel):
    changed: list[str] = Field(default_factory=list)
    unchanged: int = 0
    compiled: list[str] = Field(default_factory=list)
    skipped: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def _key(s: Statement) -> str:
    if isinstance(s, InsertRows):
        return f"{s.key}:{_digest(s)[:16]}"
    return s.key


def _digest(s: Statement) -> str:
    return hashlib.sha256(s.model_dump_json().encode()).hexdigest()


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    return con.execute(sql, params or []).fetchall()


def _ensure(con: duckdb.DuckDBPyConnection) -> None:
    _run(con, f"CREATE SCHEMA IF NOT EXISTS {GOV_SCHEMA}")
    _run(
        con,
        f"""CREATE TABLE IF NOT EXISTS {GOV_SCHEMA}.policy_state (
              key VARCHAR PRIMARY KEY, ord BIGINT, kind VARCHAR, body JSON, snowflake VARCHAR,
              sha256 VARCHAR, applied_by VARCHAR, applied_at TIMESTAMP)""",
    )


def load_state(con: duckdb.DuckDBPyConnection) -> list[Statement]:
    """The effective statements, in the order they were first applied."""
    exists = _run(
        con,
        "SELECT count(*) FROM information_schema.tables "
        "WHERE table_schema = ? AND table_name = 'policy_state'",
        [GOV_SCHEMA],
    )
    if not exists[0][0]:
        return []
    rows = _run(con, f"SELECT body FROM {GOV_SCHEMA}.policy_state ORDER BY ord")
    return [_STMT.validate_json(r[0]) for r in rows]


def table_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    rows = _run(
        con,
        """SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns
           WHERE table_catalog = current_database() ORDER BY table_schema, table_name, ordinal_position""",
    )
    out: dict[str, dict[str, str]] = {}
    for schema, table, col, dtype in rows:
        out.setdefault(f"{schema}.{table}".lower(), {})[col] = dtype
    return out


def apply_policies(
    con: duckdb.DuckDBPyConnection,
    pf: PolicyFile,
    *,
    actor: str = "admin",
    audit: AuditLog | None = None,
) -> ApplyReport:
    """Merge `pf` into the stored policy state and recompile the secure views (one transaction)."""
    report = ApplyReport()
    current = {_key(s): s for s in load_state(con)}
    changes: list[tuple[str, Statement | None, Statement | None]] = []
    for s in pf.statements:
        k = _key(s)
        old = current.get(k)
        if isinstance(s, CreateMappingTable):
            # CREATE OR REPLACE TABLE empties it: rows come only from the inserts in this file.
            keep = {_key(r) for r in pf.statements if isinstance(r, InsertRows) and r.table == s.table}
            for rk in [rk for rk in current if rk.startswith(f"rows:{s.table}:") and rk not in keep]:
                changes.append((rk, current.pop(rk), None))
        if old is not None and old == s:
            report.unchanged += 1
            continue
        if (
            old is not None
            and isinstance(s, MaskingPolicy | RowAccessPolicy | CreateTag)
            and not s.or_replace
        ):
            if isinstance(s, CreateTag):
                report.unchanged += 1  # CREATE TAG IF NOT EXISTS semantics
                continue
            raise GovernanceError(f"{k} already exists with a different definition; use CREATE OR REPLACE")
        if old is not None and type(old) is not type(s):
            raise GovernanceError(f"{k}: a {old.kind} cannot be replaced by a {s.kind}")
        current[k] = s
        changes.append((k, old, s))
    stmts = list(current.values())
    _validate(stmts)
    compiled = compile_duckdb(stmts, table_columns(con))
    _run(con, "BEGIN TRANSACTION")
    try:
        # Inside the transaction: a first apply that fails leaves no governance schema behind either.
        _ensure(con)
        ords = dict(_run(con, f"SELECT key, ord FROM {GOV_SCHEMA}.policy_state"))
        next_ord = max(ords.values(), default=0) + 1
        now = datetime.now(UTC).replace(tzinfo=None)
        for k, _old, new in changes:
            _run(con, f"DELETE FROM {GOV_SCHEMA}.policy_state WHERE key = ?", [k])
            if new is not None:
                order = ords.get(k, next_ord)
                next_ord += 1
                _run(
                    con,
                    f"INSERT INTO {GOV_SCHEMA}.policy_state VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [k, order, new.kind, new.model_dump_json(), to_snowflake(new), _digest(new), actor, now],
                )
        _execute(con, compiled)
        bump_generation(con)  # counted in the same transaction as the change
        _run(con, "COMMIT")
    except duckdb.Error as e:
        _run(con, "ROLLBACK")
        first = str(e).splitlines()[0]
        raise GovernanceError(f"policy apply failed, nothing was changed: {first}") from None
    except Exception:
        _run(con, "ROLLBACK")
        raise
    for k, old, new in changes:
        report.changed.append(k)
        if audit is not None:
            audit.append(
                "policy_change",
                user=actor,
                key=k,
                old_hash=_digest(old) if old else None,
                new_hash=_digest(new) if new else None,
            )
    report.compiled = [t.table for t in compiled.tables]
    report.skipped = compiled.skipped
    report.warnings = [f"{t.table}: {w}" for t in compiled.tables for w in t.warnings]
    return report


def _execute(con: duckdb.DuckDBPyConnection, compiled: Compiled) -> None:
    existing = {
        r[0]
        for r in _run(con, "SELECT view_name FROM duckdb_views() WHERE schema_name = ?", [GOV_SCHEMA])
        if r[0] != "query_history"
    }
    for sql in compiled.statements():
        _run(con, sql)
    # A table no longer governed loses its secure view (sessions then read it directly).
    wanted = {t.view.split(".", 1)[1] for t in compiled.tables}
    for v in sorted(existing - wanted):
        _run(con, f'DROP VIEW IF EXISTS {GOV_SCHEMA}."{v}"')


def _validate(stmts: list[Statement]) -> None:
    policies = {s.name: s for s in stmts if isinstance(s, MaskingPolicy | RowAccessPolicy)}
    for s in stmts:
        if isinstance(s, AddRowAccessPolicy) and not isinstance(policies.get(s.policy), RowAccessPolicy):
            raise GovernanceError(f"{s.table}: row access policy {s.policy!r} does not exist")


def recompile(con: duckdb.DuckDBPyConnection) -> ApplyReport:
    """Rebuild the secure views from the stored state (after gold was rebuilt with new columns)."""
    stmts = load_state(con)
    compiled = compile_duckdb(stmts, table_columns(con))
    _execute(con, compiled)
    bump_generation(con)
    return ApplyReport(
        compiled=[t.table for t in compiled.tables],
        skipped=compiled.skipped,
        warnings=[f"{t.table}: {w}" for t in compiled.tables for w in t.warnings],
    )


def ensure_shipped(con: duckdb.DuckDBPyConnection, *, audit: AuditLog | None = None) -> ApplyReport | None:
    """Apply the shipped policies to a warehouse that has none yet."""
    if load_state(con):
        return None
    return apply_policies(con, load_shipped(), actor="twin", audit=audit)


class Reference(BaseModel):
    """One row of POLICY_REFERENCES: a policy protecting a table or column, and how."""

    policy_name: str
    policy_kind: str  # MASKING_POLICY or ROW_ACCESS_POLICY
    ref_entity_name: str
    ref_column_name: str | None
    ref_arg_column_names: list[str]
    how: str  # direct or tag:<name>


def references(con: duckdb.DuckDBPyConnection) -> list[Reference]:
    stmts = load_state(con)
    cols = table_columns(con)
    out = [
        Reference(
            policy_name=s.policy,
            policy_kind="ROW_ACCESS_POLICY",
            ref_entity_name=s.table,
            ref_column_name=None,
            ref_arg_column_names=s.columns,
            how="direct",
        )
        for s in stmts
        if isinstance(s, AddRowAccessPolicy)
    ]
    p: ColumnProtection
    for p in protections(stmts, cols):
        out.append(
            Reference(
                policy_name=p.policy,
                policy_kind="MASKING_POLICY",
                ref_entity_name=p.table,
                ref_column_name=p.column,
                ref_arg_column_names=p.using[1:],
                how=p.how,
            )
        )
    return sorted(out, key=lambda r: (r.ref_entity_name, r.ref_column_name or "", r.policy_kind))


def governed_views(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """Published table → its secure view, for every table a policy protects."""
    stmts = load_state(con)
    cols = table_columns(con)
    compiled = compile_duckdb(stmts, cols)
    out = {t.table: t.view for t in compiled.tables}
    # Governed but missing tables still map to their (absent) view, so a query fails closed.
    for t in compiled.skipped:
        out[t] = f"{GOV_SCHEMA}.{t.replace('.', '__')}"
    return out
