"""The platform port: what a simulated persona can ask of the platform.

Personas never touch DuckDB directly; they call a `PlatformPort`. The governed adapter here runs each
call through the governance layer's secure session for the persona's claims (real policies, real
DuckDB). The API tier and the entitlement workflow will add adapters behind the same port.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from twin.cache.keys import CacheScope

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")


class Denied(RuntimeError):
    """The governance layer refused the query for this caller."""


class Failed(RuntimeError):
    """A permitted query failed while running (counted as an error, not a denial)."""


@dataclass(frozen=True, slots=True)
class Caller:
    user: str
    role: str
    department: str | None = None
    secondary_roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Outcome:
    rows: int
    duration_s: float  # wall time of the real call
    digest: int = 0  # a fingerprint of the rows, so tests can tell who saw what


class PlatformPort(Protocol):
    name: str

    def query(self, caller: Caller, sql: str, params: list[Any]) -> Outcome: ...
    def sample_keys(self, table: str, column: str, limit: int) -> list[Any]: ...
    def refresh_gold(self) -> float: ...
    def cache_scope(self, caller: Caller) -> CacheScope: ...
    def close(self) -> None: ...


class GovernedDuckDB:
    """Queries go through `twin.governance.session.open_session` with the persona's claims."""

    name = "governed-duckdb"

    def __init__(self, db_path: str | Path, limits: Any = None) -> None:
        from twin.governance import session as gov
        from twin.governance.limits import load_limits
        from twin.warehouse.engine import Warehouse

        self._gov = gov
        # Per-role query limits (`twin.governance.limits.Limits`), the same file `twin sql` reads.
        self._limits = limits if limits is not None else load_limits()
        self.wh = Warehouse(db_path)
        self._sessions: dict[tuple[str, str | None, tuple[str, ...], bool], Any] = {}
        self._lean: dict[str, bool] = {}
        optimizers = self.wh.con.execute("SELECT name FROM duckdb_optimizers()").fetchall()
        self._lean_off = [name for (name,) in optimizers if name not in LEAN_KEEP]
        self._threads = int(self.wh.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        # This instance serves a stream of small governed lookups, one at a time: a second worker
        # thread only adds hand-offs, and late materialisation turns a Top-N over a small table
        # (`… ORDER BY nav_date DESC LIMIT 30`) into a costlier semi-join back to the table.
        # Neither changes any answer. Gold refreshes get the threads back (see refresh_gold).
        self._tune(threads=1)

    def _tune(self, *, threads: int) -> None:
        self.wh.con.execute(f"SET threads = {int(threads)}").fetchall()

    def _session(self, caller: Caller, lean: bool = False) -> Any:
        scope = (caller.role, caller.department, caller.secondary_roles, lean)
        s = self._sessions.get(scope)
        if s is None:
            claims = self._gov.Claims(
                user=caller.user,
                role=caller.role,
                department=caller.department,
                secondary_roles=list(caller.secondary_roles),
            )
            s = self._gov.open_session(self.wh, claims, limits=self._limits.for_role(caller.role))
            s.tune("late_materialization_max_rows", 0)  # per connection, unlike threads
            if lean:
                s.tune("disabled_optimizers", self._lean_off)
            self._sessions[scope] = s
        return s

    def query(self, caller: Caller, sql: str, params: list[Any]) -> Outcome:
        from twin.governance.errors import QueryDenied, QueryFailed

        t0 = time.perf_counter()
        try:
            result = self._session(caller, self._is_lean(sql)).query(sql, params or None)
        except QueryDenied as e:
            raise Denied(str(e)) from e
        except QueryFailed as e:
            raise Failed(str(e)) from e
        took = time.perf_counter() - t0
        return Outcome(rows=int(result.row_count), duration_s=took, digest=hash(repr(result.rows)))

    def check_caller(self, caller: Caller) -> str | None:
        """Why the governance layer would refuse every call of this caller (an unknown role), or None."""
        from twin.governance.errors import GovernanceError

        try:
            self._session(caller)
        except GovernanceError as e:
            return str(e)
        return None

    def _is_lean(self, sql: str) -> bool:
        lean = self._lean.get(sql)
        if lean is None:
            lean = self._lean[sql] = single_table_select(sql)
        return lean

    def sample_keys(self, table: str, column: str, limit: int) -> list[Any]:
        return _sample_keys(self.wh.con, table, column, limit)

    def refresh_gold(self) -> float:
        t0 = time.perf_counter()
        try:
            from twin.warehouse.refresh import refresh_gold
        except ImportError:
            return 0.0
        self._tune(threads=self._threads)
        try:
            refresh_gold(self.wh)
        finally:
            self._tune(threads=1)
        return time.perf_counter() - t0

    def cache_scope(self, caller: Caller) -> CacheScope:
        # Policies key on role, department and secondary roles; the user is not part of any
        # policy predicate today, so advisors of one department share entries.
        return CacheScope.of(caller.role, caller.department, caller.secondary_roles)

    def close(self) -> None:
        for s in self._sessions.values():
            close = getattr(s, "close", None)
            if close:
                close()
        self.wh.close()


# What a query on one table still needs from DuckDB's optimizer: its filters pushed into the scan
# (zone maps, index scans) and ORDER BY … LIMIT as a Top-N. The other ~45 passes cost more than such
# a lookup takes to run (~0.6 M of DuckDB's ~2.2 M instructions per statement here) and only find
# work in joins, subqueries and aggregates over large inputs. Plans change; answers cannot.
LEAN_KEEP = frozenset({"filter_pushdown", "top_n"})


def single_table_select(sql: str) -> bool:
    """True for one SELECT over one table, without joins, subqueries, CTEs or set operations."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.errors import SqlglotError

    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except SqlglotError:
        return False  # the firewall will say why
    if len(trees) != 1 or not isinstance(trees[0], exp.Select):
        return False
    tree = trees[0]
    if any(tree.find_all(exp.Join, exp.Subquery, exp.CTE, exp.SetOperation, exp.Lateral)):
        return False
    selects = list(tree.find_all(exp.Select))
    return len(selects) == 1 and len(list(tree.find_all(exp.Table))) == 1


def _sample_keys(con: Any, table: str, column: str, limit: int) -> list[Any]:
    if not (_IDENT.match(table) and _IDENT.match(column)):
        raise ValueError(f"not a plain identifier: {table}.{column}")
    rows = con.execute(
        f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY 1 LIMIT {int(limit)}"
    ).fetchall()
    if not rows:
        raise ValueError(f"{table}.{column} has no values to sample keys from")
    return [r[0] for r in rows]


def open_platform(db_path: str | Path, limits: Any = None) -> PlatformPort:
    if not Path(db_path).exists():
        raise FileNotFoundError(f"no warehouse at {db_path}; run `twin warehouse build` first")
    return GovernedDuckDB(db_path, limits)
