"""Secure sessions: a user's claims become a DuckDB connection whose every query is governed.

A session is a cursor (its own connection) of the warehouse's single DuckDB instance, so it sees gold
as soon as an admin connection in the same process refreshes it. The session's identity lives in
connection variables read by the secure views; user SQL cannot change them because the firewall lets
only SELECT through. Opening a session costs one catalog fingerprint query and three variable sets.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.governance.audit import QUERY_HISTORY_COLUMNS, AuditLog, query_history_rows, sql_hash
from twin.governance.compiler import GOV_SCHEMA
from twin.governance.errors import (
    GovernanceError,
    QueryDenied,
    QueryFailed,
    QueryLimitExceeded,
    WarehouseLocked,
)
from twin.governance.firewall import QUERY_HISTORY_SOURCE, Catalog, Checked, check
from twin.governance.limits import WATCHDOG, RoleLimits, load_limits
from twin.governance.roles import RoleGraph
from twin.governance.specialise import TEMP_PREFIX, specialise
from twin.governance.store import (
    ensure_shipped,
    generation,
    governed_views,
    load_state,
    recompile,
    stored_generation,
)
from twin.warehouse.engine import READABLE_SCHEMAS, published_tables

_ROLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
HISTORY_ROLE = "COMPLIANCE_AUDITOR"


class Claims(BaseModel):
    """Who is asking: validated OIDC claims in the API tier, flags on the CLI."""

    model_config = ConfigDict(frozen=True)

    user: str
    role: str
    department: str | None = None
    secondary_roles: list[str] = Field(default_factory=list)

    @field_validator("role")
    @classmethod
    def _upper(cls, v: str) -> str:
        if not _ROLE.match(v):
            raise ValueError(f"not a role name: {v!r}")
        return v.upper()

    @field_validator("secondary_roles")
    @classmethod
    def _upper_all(cls, v: list[str]) -> list[str]:
        for r in v:
            if not _ROLE.match(r):
                raise ValueError(f"not a role name: {r!r}")
        return [r.upper() for r in v]


class QueryResult(BaseModel):
    columns: list[str]
    rows: list[tuple[Any, ...]]
    row_count: int
    duration_ms: float
    tables: list[str]


class _Governance(BaseModel):
    model_config = ConfigDict(frozen=True)

    catalog: Catalog
    roles: RoleGraph
    # Session constants the secure views read (mapping-table lookups): variable → SQL.
    context: dict[str, str] = Field(default_factory=dict)
    # Secure view (`governance.x`) → its SELECT and its (column, type) pairs, for specialising.
    views: dict[str, tuple[str, list[tuple[str, str]]]] = Field(default_factory=dict)
    # Secure view → the single indexed column of its base table, if any (anchors the row filter).
    keys: dict[str, str] = Field(default_factory=dict)
    # Governed table (`schema.table`) → its columns' types, for specialising.
    base_types: dict[str, dict[str, str]] = Field(default_factory=dict)


_cache_lock = threading.Lock()
_cache: dict[tuple[int, int, int], tuple[duckdb.DuckDBPyConnection, _Governance]] = {}
_connections: dict[str, duckdb.DuckDBPyConnection] = {}


def _root(db: Any) -> duckdb.DuckDBPyConnection:
    from twin.warehouse.engine import Warehouse

    if isinstance(db, Warehouse):
        return db.con
    if isinstance(db, duckdb.DuckDBPyConnection):
        return db
    path = str(Path(db).resolve())
    if not Path(path).exists():
        raise GovernanceError(f"no warehouse at {db}: build it first (twin warehouse build)")
    with _cache_lock:
        con = _connections.get(path)
        if con is None:
            con = duckdb.connect(path)
            _connections[path] = con
    return con


def _governance(
    root: duckdb.DuckDBPyConnection, cur: duckdb.DuckDBPyConnection, *, force: bool = False
) -> _Governance:
    """The catalog a session checks queries against, cached per instance until policies change.

    A table created after the cache was filled is found when a query names it: the denial for an
    unknown table triggers one reload before it stands (a cost only denied queries pay). The key holds
    the warehouse's own policy generation too, so a change another process made is never served from
    a catalog this process cached before it.
    """
    key = (id(root), generation(), stored_generation(cur))
    entry = _cache.get(key)
    # The entry holds `root` itself, so its id cannot be reused by another connection meanwhile.
    if entry is not None and entry[0] is root and not force:
        return entry[1]
    if not load_state(cur):
        # An ungoverned warehouse gets the shipped policies rather than no policies at all.
        ensure_shipped(root)
        key = (id(root), generation(), stored_generation(cur))
    database = cur.execute("SELECT current_database()").fetchall()[0][0]
    rows = cur.execute(
        """SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = current_database()
           UNION SELECT schema_name, view_name FROM duckdb_views()
           WHERE database_name = current_database() AND NOT internal""",
    ).fetchall()
    registered = published_tables(cur)
    published = frozenset(
        name
        for name in (f"{s}.{t}".lower() for s, t in rows)
        if name.split(".", 1)[0] in READABLE_SCHEMAS or name in registered
    )
    stmts = load_state(cur)
    try:
        context = dict(cur.execute(f"SELECT name, sql FROM {GOV_SCHEMA}.session_context").fetchall())
    except duckdb.CatalogException:
        # Applied by an older twin: rebuild the views, which also writes the session context.
        recompile(root)
        context = dict(cur.execute(f"SELECT name, sql FROM {GOV_SCHEMA}.session_context").fetchall())
    governed = governed_views(cur)
    indexed = _indexed_columns(cur)
    gov = _Governance(
        catalog=Catalog(database=database, published=published, governed=governed),
        roles=RoleGraph.from_statements(stmts),
        context=context,
        views=_view_definitions(cur),
        keys={view: indexed[table] for table, view in governed.items() if table in indexed},
        base_types=_table_types(cur, governed),
    )
    with _cache_lock:
        _cache[key] = (root, gov)
    return gov


def _view_definitions(cur: duckdb.DuckDBPyConnection) -> dict[str, tuple[str, list[tuple[str, str]]]]:
    sqls = cur.execute(
        """SELECT view_name, sql FROM duckdb_views()
           WHERE database_name = current_database() AND schema_name = ?""",
        [GOV_SCHEMA],
    ).fetchall()
    cols = cur.execute(
        """SELECT table_name, column_name, data_type FROM duckdb_columns()
           WHERE database_name = current_database() AND schema_name = ? ORDER BY table_name, column_index""",
        [GOV_SCHEMA],
    ).fetchall()
    types: dict[str, list[tuple[str, str]]] = {}
    for table, column, typ in cols:
        types.setdefault(table, []).append((column, typ))
    return {f"{GOV_SCHEMA}.{v}": (sql, types.get(v, [])) for v, sql in sqls}


_INDEX_COLUMN = re.compile(r'^\[\s*"?([A-Za-z_][A-Za-z0-9_]*)"?\s*\]$')


def _indexed_columns(cur: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """`schema.table` → the column of a single-column index on it (the first, if there are several)."""
    rows = cur.execute(
        """SELECT schema_name, table_name, expressions FROM duckdb_indexes()
           WHERE database_name = current_database() ORDER BY index_name"""
    ).fetchall()
    out: dict[str, str] = {}
    for schema, table, expressions in rows:
        m = _INDEX_COLUMN.match(str(expressions or ""))
        if m:
            out.setdefault(f"{schema}.{table}".lower(), m.group(1))
    return out


def _table_types(cur: duckdb.DuckDBPyConnection, governed: dict[str, str]) -> dict[str, dict[str, str]]:
    rows = cur.execute(
        """SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns()
           WHERE database_name = current_database()"""
    ).fetchall()
    out: dict[str, dict[str, str]] = {}
    for schema, table, column, typ in rows:
        name = f"{schema}.{table}".lower()
        if name in governed:
            out.setdefault(name, {})[column] = typ
    return out


# Distinct statements a session keeps checked and parsed before starting over.
_PER_SESSION = 1024


def _remember(cache: dict[str, Any], key: str, value: Any) -> None:
    """Keep `value` under `key`, starting the cache over once it holds `_PER_SESSION` entries."""
    if len(cache) >= _PER_SESSION:
        cache.clear()
    cache[key] = value


# (root, generations, view, session context) → the specialised SELECT: computed once per role scope.
_special: dict[tuple[int, int, int, str, str], str] = {}


class SecureSession:
    """One user's governed connection. Not thread-safe: open one per thread or task."""

    def __init__(
        self,
        root: duckdb.DuckDBPyConnection,
        claims: Claims,
        audit: AuditLog | None = None,
        limits: RoleLimits | None = None,
    ) -> None:
        self.claims = claims
        self.audit = audit
        self.limits = limits if limits is not None else load_limits().for_role(claims.role)
        self._cur = root.cursor()
        self._root = root
        self._gen = generation()
        self._stored = stored_generation(self._cur)
        self._gov = _governance(root, self._cur)
        roles = self._gov.roles
        unknown = [r for r in [claims.role, *claims.secondary_roles] if r not in roles.roles]
        if unknown:
            self._cur.close()
            if audit is not None:  # a refused session is an attempt too: audited before the error
                audit.append(
                    "session_denied",
                    user=claims.user,
                    role=claims.role,
                    secondary_roles=claims.secondary_roles,
                    department=claims.department,
                    reason=f"unknown role(s) {', '.join(unknown)}",
                )
            raise GovernanceError(f"unknown role(s) {', '.join(unknown)}: not defined by any policy file")
        self.active_roles = roles.active(claims.role, claims.secondary_roles)
        # One statement for all four: each round trip into DuckDB costs most of a millisecond here.
        roles_sql = "[" + ", ".join(_lit(r) for r in self.active_roles) + "]::VARCHAR[]"
        variables = (
            f"SET VARIABLE twin_role = {_lit(claims.role)}; SET VARIABLE twin_user = {_lit(claims.user)}; "
            f"SET VARIABLE twin_roles = {roles_sql}; SET VARIABLE twin_department = {_lit(claims.department)}"
        )
        try:
            # The memory bound rides along (per connection, so each role gets its own).
            self._cur.execute(
                f"SET operator_memory_limit = '{int(self.limits.memory_mb)}MB'; {variables}"
            ).fetchall()
        except duckdb.InvalidInputException:
            # Opened after `harden` locked the settings: the instance-wide memory_limit it set bounds us.
            self._cur.execute(variables).fetchall()
        self._set_context()
        self._install(self._gov)
        self._closed = False

    def _install(self, gov: _Governance) -> None:
        """Point the session's catalog at its own specialised views, created on first use."""
        self._gov = gov
        self._installed: set[str] = set()
        governed = dict(gov.catalog.governed)
        self._special_views: dict[str, str] = {}
        for table, view in governed.items():
            if view in gov.views:
                temp = TEMP_PREFIX + view.split(".", 1)[1]
                self._special_views[table] = temp
                governed[table] = f"temp.{temp}"
        self._catalog = Catalog(
            database=gov.catalog.database, published=gov.catalog.published, governed=governed
        )
        # Per catalog: user SQL → its checked form, and checked SQL → DuckDB's parse of it. A session
        # repeats a few statements with new parameters; re-parsing one costs DuckDB about as much as
        # binding it, and the firewall's shared cache hashes the whole catalog on every lookup.
        self._checked: dict[str, Checked] = {}
        self._parsed: dict[str, duckdb.Statement | str] = {}

    def _ensure_views(self, tables: list[str]) -> None:
        todo = [t for t in tables if t in self._special_views and t not in self._installed]
        if not todo:
            return
        names = ["twin_role", "twin_user", "twin_roles", "twin_department", *sorted(self._gov.context)]
        values = self._cur.execute(
            "SELECT " + ", ".join(f"getvariable({_lit(n)})" for n in names)
        ).fetchall()[0]
        context = dict(zip(names, values, strict=True))
        ctx_key = repr(sorted(context.items()))
        stmts = []
        for table in todo:
            view = self._gov.catalog.governed[table]
            key = (id(self._root), self._gen, self._stored, view, ctx_key)
            body = _special.get(key)
            if body is None:
                sql, types = self._gov.views[view]
                try:
                    body = specialise(
                        sql,
                        context,
                        types,
                        self._gov.base_types.get(table),
                        anchor=self._gov.keys.get(view),
                    )
                except Exception:  # an unfoldable view falls back to the shared one, same answers
                    schema, name = view.split(".")
                    body = f'SELECT * FROM "{schema}"."{name}"'
                with _cache_lock:
                    _special[key] = body
            stmts.append(f'CREATE OR REPLACE TEMP VIEW "{self._special_views[table]}" AS {body}')
        self._cur.execute("; ".join(stmts)).fetchall()
        self._installed.update(todo)

    # Planner settings a caller may tune per session: they change plans, never answers.
    TUNABLE = frozenset({"late_materialization_max_rows", "disabled_optimizers"})

    def tune(self, name: str, value: int | Sequence[str]) -> None:
        """Set one planner option on this session's connection (before `harden`, which locks them).

        `disabled_optimizers` takes optimizer names (DuckDB's `duckdb_optimizers()`), the others an int.
        """
        if name not in self.TUNABLE:
            raise GovernanceError(f"{name} is not a tunable session option")
        if name == "disabled_optimizers":
            if isinstance(value, (str, int)):
                raise GovernanceError("disabled_optimizers takes a list of optimizer names")
            known = {r[0] for r in self._cur.execute("SELECT name FROM duckdb_optimizers()").fetchall()}
            names = list(value)
            unknown = sorted(set(names) - known)
            if unknown:
                raise GovernanceError(f"not DuckDB optimizers: {', '.join(unknown)}")
            self._cur.execute(f"SET disabled_optimizers = '{','.join(names)}'").fetchall()
            return
        if not isinstance(value, int):
            raise GovernanceError(f"{name} takes an integer")
        self._cur.execute(f"SET {name} = {int(value)}").fetchall()

    def _set_context(self) -> None:
        # Evaluated after the identity variables, which the context SQL reads.
        if self._gov.context:
            self._cur.execute(
                "; ".join(f"SET VARIABLE {name} = ({sql})" for name, sql in sorted(self._gov.context.items()))
            ).fetchall()

    def _refresh(self) -> None:
        if self._gen != generation():
            self._gen = generation()
            self._stored = stored_generation(self._cur)
            self._gov = _governance(self._root, self._cur)
            self._set_context()
            self._install(self._gov)

    def query(self, sql: str, params: list[Any] | None = None, dialect: str = "duckdb") -> QueryResult:
        """Run one query read in `dialect` (duckdb or snowflake) under the session's policies."""
        if self._closed:
            raise GovernanceError("session is closed")
        start = time.perf_counter()
        self._refresh()
        try:
            # the same text can mean different things in the two dialects: cached apart
            key = sql if dialect == "duckdb" else f"{dialect}\0{sql}"
            checked = self._checked.get(key)
            if checked is None:
                try:
                    checked = check(sql, self._catalog, dialect)
                except QueryDenied as first:
                    if not first.unknown_table:
                        raise
                    # Maybe loaded since the catalog was read (twin warehouse load): reload once, recheck.
                    self._install(_governance(self._root, self._cur, force=True))
                    checked = check(sql, self._catalog, dialect)
                _remember(self._checked, key, checked)
            if checked.query_history:
                if HISTORY_ROLE not in self.active_roles:
                    raise QueryDenied(f"query_history is readable by {HISTORY_ROLE} only")
                self._register_history()
        except QueryDenied as denied:
            self._log(sql, [], 0, start, allowed=False, reason=denied.reason, outcome="denied")
            raise
        except Exception as e:  # whatever else stopped the attempt, it is still audited
            self._log(sql, [], 0, start, allowed=False, reason=_scrub(e), outcome="failed")
            raise
        ticket = WATCHDOG.arm(self._cur, self.limits.timeout_s)
        try:
            try:
                self._ensure_views(checked.tables)
                result = self._cur.execute(self._statement(checked.sql), params or [])
                columns = [d[0] for d in result.description or []]
                rows = self._fetch(result)
            finally:
                timed_out = WATCHDOG.disarm(ticket)
        except duckdb.Error as e:
            if timed_out and isinstance(e, duckdb.InterruptException):
                reason = (
                    f"statement timed out after {self.limits.timeout_s:g}s "
                    f"(limit for role {self.claims.role})"
                )
                self._log(sql, checked.tables, 0, start, allowed=False, reason=reason, outcome="timeout")
                raise QueryLimitExceeded(reason) from None
            reason = _scrub(e)
            self._log(sql, checked.tables, 0, start, allowed=False, reason=reason)
            raise QueryFailed(reason) from None
        except QueryLimitExceeded as e:
            self._log(sql, checked.tables, 0, start, allowed=False, reason=e.reason, outcome="limit")
            raise
        except Exception as e:  # whatever else stopped the run, it is still audited
            self._log(sql, checked.tables, 0, start, allowed=False, reason=_scrub(e), outcome="failed")
            raise
        duration = self._log(sql, checked.tables, len(rows), start, allowed=True, reason=None)
        # Built from values this method produced itself: validation would only re-check their types.
        return QueryResult.model_construct(
            columns=columns, rows=rows, row_count=len(rows), duration_ms=duration, tables=list(checked.tables)
        )

    def _fetch(self, result: duckdb.DuckDBPyConnection) -> list[tuple[Any, ...]]:
        """The result's rows, a chunk at a time, stopping as soon as the role's row or byte limit is
        passed: a query that selects too much costs one chunk past the limit, not the whole result."""
        max_rows, max_bytes = self.limits.max_rows, self.limits.max_bytes
        rows: list[tuple[Any, ...]] = []
        size = 0
        while True:
            chunk = result.fetchmany(min(_CHUNK, max_rows + 1 - len(rows)))
            rows.extend(chunk)
            size += _approx_bytes(chunk)
            over = None
            if len(rows) > max_rows:
                over = f"result has more than {max_rows:,} rows"
            elif size > max_bytes:
                over = f"result passes {max_bytes:,} bytes after {len(rows):,} rows"
            if over:
                # Drop the rest of the streaming result now rather than at the next statement.
                self._cur.execute("SELECT NULL").fetchall()
                raise QueryLimitExceeded(
                    f"{over} (limit for role {self.claims.role}): add a LIMIT, aggregate or select "
                    "fewer columns"
                )
            if len(chunk) < _CHUNK:
                return rows

    def _statement(self, sql: str) -> duckdb.Statement | str:
        """DuckDB's parse of a checked query, kept: a parsed statement is bound afresh at each execute,
        so it follows catalog changes (a gold refresh) like the SQL text would."""
        stmt = self._parsed.get(sql)
        if stmt is None:
            parsed = self._cur.extract_statements(sql)
            stmt = parsed[0] if len(parsed) == 1 else sql
            _remember(self._parsed, sql, stmt)
        return stmt

    def _register_history(self) -> None:
        import pyarrow as pa

        rows = query_history_rows(self.audit) if self.audit else []
        cols: list[Any] = list(zip(*rows, strict=True)) if rows else [[] for _ in QUERY_HISTORY_COLUMNS]
        types = [pa.int64(), pa.string(), pa.string(), pa.string(), pa.string(), pa.timestamp("us"),
                 pa.float64(), pa.int64(), pa.string(), pa.string(), pa.string()]  # fmt: skip
        table = pa.table(
            {n: pa.array(list(c), t) for n, c, t in zip(QUERY_HISTORY_COLUMNS, cols, types, strict=True)}
        )
        self._cur.register(QUERY_HISTORY_SOURCE, table)

    def _log(
        self,
        sql: str,
        tables: list[str],
        rows: int,
        start: float,
        *,
        allowed: bool,
        reason: str | None,
        outcome: str | None = None,
    ) -> float:
        """Audit one attempt. `outcome`: success, denied, failed (the default for a refused run), or a
        caller's finer word for a failure (timeout, lock_conflict)."""
        duration = (time.perf_counter() - start) * 1000
        if self.audit is not None:
            self.audit.append(
                "query",
                user=self.claims.user,
                role=self.claims.role,
                secondary_roles=self.claims.secondary_roles,
                department=self.claims.department,
                sql=sql,
                sql_hash=sql_hash(sql),
                tables=tables,
                rows=rows,
                duration_ms=round(duration, 3),
                allowed=allowed,
                outcome=outcome or ("success" if allowed else "failed"),
                reason=reason,
            )
        return duration

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._cur.close()

    def __enter__(self) -> SecureSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# Rows per fetch: two of DuckDB's vectors, so a small result comes back in one call.
_CHUNK = 4096


def _approx_bytes(rows: list[tuple[Any, ...]]) -> int:
    """What a chunk of result rows weighs: text and blobs by length, nested values by their repr,
    everything else 8 bytes. A bound, not an accounting."""
    n = 0
    for row in rows:
        for v in row:
            if isinstance(v, (str, bytes, bytearray)):
                n += len(v)
            elif isinstance(v, (list, dict, tuple)):
                n += len(repr(v))
            else:
                n += 8
    return n


def _lit(v: str | None) -> str:
    return "NULL::VARCHAR" if v is None else "'" + v.replace("'", "''") + "'"


def _scrub(e: Exception) -> str:
    """Error text without quoted values: an error over a hidden row must not echo its data."""
    msg = str(e).splitlines()[0]
    msg = re.sub(r"'(?:[^']|'')*'", "'…'", msg)
    msg = re.sub(r'"(?:[^"])*"', '"…"', msg)
    return f"{type(e).__name__}: {msg}"


def open_session(
    db: Any,
    claims: Claims,
    *,
    audit: AuditLog | None = None,
    limits: RoleLimits | None = None,
) -> SecureSession:
    """A governed session over `db` (a Warehouse, a DuckDB connection or a database path).

    `limits` default to the role's entry in the limits file (`twin.governance.limits`)."""
    return SecureSession(_root(db), claims, audit=audit, limits=limits)


def claims_from(fields: Mapping[str, Any], *, audit: AuditLog | None = None) -> Claims:
    """Validate raw claims; invalid ones are audited (as `session_denied`) before the error is raised."""
    try:
        return Claims.model_validate(dict(fields))
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "claims"
        reason = f"invalid claims: {where}: {first['msg']}"
        if audit is not None:
            user, role = fields.get("user"), fields.get("role")
            audit.append(
                "session_denied",
                user=user if isinstance(user, str) else None,
                role=role[:128] if isinstance(role, str) else None,
                reason=reason,
            )
        raise GovernanceError(reason) from None


_LOCK_HOLDER = re.compile(r"Conflicting lock is held in (.*?) \(PID (\d+)\)")


def open_reader(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse file: any number of processes can read at once.

    DuckDB lets readers share a file but not with a writer; while one (a build, a load, a refresh, a
    policy apply, an ingest) holds it this raises `WarehouseLocked` naming the process. A warehouse
    without policies gets the shipped ones first, in one short write.
    """
    con = _connect(path, read_only=True)
    if load_state(con):
        return con
    con.close()
    writer = _connect(path, read_only=False)
    try:
        ensure_shipped(writer)
    finally:
        writer.close()
    return _connect(path, read_only=True)


def _connect(path: str | Path, *, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        return duckdb.connect(str(path), read_only=read_only)
    except duckdb.ConnectionException as e:
        if "different configuration" in str(e):
            # This process already has the file open for writing: share that instance.
            return duckdb.connect(str(path))
        raise GovernanceError(f"cannot open warehouse {path}: {_scrub(e)}") from None
    except duckdb.IOException as e:
        m = _LOCK_HOLDER.search(str(e))
        if m is None:
            raise GovernanceError(f"cannot open warehouse {path}: {_scrub(e)}") from None
        raise WarehouseLocked(
            f"warehouse {path} is being written by {Path(m.group(1)).name} (PID {m.group(2)}); readers "
            "cannot open it until that writer (a build, load, refresh, policy apply or ingest) "
            "finishes: wait for it, or stop it, and retry"
        ) from None


def log_refusal(audit: AuditLog | None, claims: Claims, sql: str, reason: str) -> None:
    """Audit a query refused before any session could open (the warehouse was locked, say)."""
    if audit is not None:
        audit.append(
            "query",
            user=claims.user,
            role=claims.role,
            secondary_roles=claims.secondary_roles,
            department=claims.department,
            sql=sql,
            sql_hash=sql_hash(sql),
            tables=[],
            rows=0,
            duration_ms=0.0,
            allowed=False,
            outcome="lock_conflict",
            reason=reason,
        )


def harden(db: Any, limits: RoleLimits | None = None) -> None:
    """Disable file access and lock the configuration of the whole DuckDB instance.

    DuckDB 2.0.0 applies both instance-wide (verified): after this, no connection of the instance —
    the admin's included — can read files, load extensions or change settings. Use it in processes that
    only serve user queries (`twin sql` does); a process that also rebuilds gold must not call it.
    """
    con = _root(db)
    if limits is not None:
        # Instance-wide, so it must come before the configuration is locked.
        con.execute(f"SET memory_limit = '{int(limits.memory_mb)}MB'").fetchall()
    con.execute("SET enable_external_access = false").fetchall()
    con.execute("SET lock_configuration = true").fetchall()
