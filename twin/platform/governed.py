"""The in-process adapter: queries run through the governance layer's secure sessions on DuckDB.

Safe to share between threads: each thread gets its own secure session per principal scope (a session
is one DuckDB cursor, which DuckDB lets one thread use at a time), all cursors of one database
instance, so every thread sees gold as soon as a refresh commits. Sessions live as long as the
platform: serve it from a bounded pool of threads, not a thread per request. Every query is audited
when an audit log is given, allowed or refused, by the session itself (the same records `twin sql`
writes); `open_platform` always gives one.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from typing import Any

from twin.cache.keys import CacheScope
from twin.governance import session as gov
from twin.governance.audit import AuditLog
from twin.governance.errors import GovernanceError, QueryDenied, QueryFailed, WarehouseLocked
from twin.governance.limits import Limits, load_limits
from twin.platform.errors import Denied, Failed, Unavailable
from twin.platform.operations import CATALOGUE, is_operation_name, operation
from twin.platform.port import Outcome
from twin.platform.principal import Principal
from twin.warehouse.engine import Warehouse

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")

# What a query on one table still needs from DuckDB's optimizer: its filters pushed into the scan
# (zone maps, index scans) and ORDER BY … LIMIT as a Top-N. The other ~45 passes cost more than such
# a lookup takes to run (~0.6 M of DuckDB's ~2.2 M instructions per statement here) and only find
# work in joins, subqueries and aggregates over large inputs. Plans change; answers cannot.
LEAN_KEEP = frozenset({"filter_pushdown", "top_n"})

_Scope = tuple[str, str | None, tuple[str, ...], bool]


class GovernedPlatform:
    """Queries go through `twin.governance.session.open_session` with the principal's claims."""

    name = "governed-duckdb"

    def __init__(
        self, db_path: str | Path, limits: Limits | None = None, *, audit: AuditLog | None = None
    ) -> None:
        # Per-role query limits (`twin.governance.limits`), the same file `twin sql` reads.
        self._limits = limits if limits is not None else load_limits()
        self.audit = audit
        self.wh = Warehouse(db_path)
        self._local = threading.local()
        self._all: list[Any] = []  # every thread's sessions, to close them all
        self._lock = threading.Lock()
        self._lean: dict[str, bool] = {}
        optimizers = self.wh.con.execute("SELECT name FROM duckdb_optimizers()").fetchall()
        self._lean_off = [name for (name,) in optimizers if name not in LEAN_KEEP]
        self._threads = int(self.wh.con.execute("SELECT current_setting('threads')").fetchall()[0][0])
        # This instance serves a stream of small governed lookups: a second DuckDB worker thread per
        # query only adds hand-offs, and late materialisation turns a Top-N over a small table
        # (`… ORDER BY nav_date DESC LIMIT 30`) into a costlier semi-join back to the table.
        # Neither changes any answer. Gold refreshes get the threads back (see refresh_gold).
        self._tune(threads=1)

    def _tune(self, *, threads: int) -> None:
        self.wh.con.execute(f"SET threads = {int(threads)}").fetchall()

    def _session(self, principal: Principal, lean: bool = False) -> Any:
        sessions: dict[_Scope, Any] | None = getattr(self._local, "sessions", None)
        if sessions is None:
            sessions = self._local.sessions = {}
        scope = (principal.role, principal.department, principal.secondary_roles, lean)
        s = sessions.get(scope)
        if s is None:
            with self._lock:  # cursors are opened from the shared root connection
                s = gov.open_session(
                    self.wh,
                    principal.claims(),
                    audit=self.audit,
                    limits=self._limits.for_role(principal.role),
                )
                self._all.append(s)
            s.tune("late_materialization_max_rows", 0)  # per connection, unlike threads
            if lean:
                s.tune("disabled_optimizers", self._lean_off)
            sessions[scope] = s
        return s

    def query(self, principal: Principal, request: str, params: list[Any]) -> Outcome:
        if is_operation_name(request):
            op = operation(request)
            sql, params = op.sql, op.bind(params)
        else:
            sql = request
        t0 = time.perf_counter()
        try:
            result = self._session(principal, self._is_lean(sql)).query(sql, params or None)
        except QueryDenied as e:
            raise Denied(str(e)) from e
        except WarehouseLocked as e:
            raise Unavailable(str(e)) from e
        except QueryFailed as e:
            raise Failed(str(e)) from e
        except GovernanceError as e:  # an unknown role, a closed session: refused, not run
            raise Denied(str(e)) from e
        took = time.perf_counter() - t0
        return Outcome.model_construct(
            rows=int(result.row_count),
            duration_s=took,
            digest=hash(repr(result.rows)),
            columns=tuple(result.columns),
        )

    def check(self, principal: Principal) -> str | None:
        """Why the governance layer would refuse every call of this principal (an unknown role), or None."""
        try:
            self._session(principal)
        except GovernanceError as e:
            return str(e)
        return None

    def _is_lean(self, sql: str) -> bool:
        lean = self._lean.get(sql)
        if lean is None:
            lean = self._lean[sql] = single_table_select(sql)
        return lean

    def cache_scope(self, principal: Principal) -> CacheScope:
        return principal.cache_scope()

    def operations(self) -> list[str]:
        return sorted(CATALOGUE)

    # -- harness side ---------------------------------------------------------------------------

    def sample_keys(self, table: str, column: str, limit: int) -> list[Any]:
        return sample_keys(self.wh.con, table, column, limit)

    def refresh_gold(self) -> float:
        from twin.warehouse.refresh import refresh_gold

        t0 = time.perf_counter()
        self._tune(threads=self._threads)
        try:
            refresh_gold(self.wh)
        finally:
            self._tune(threads=1)
        return time.perf_counter() - t0

    def close(self) -> None:
        with self._lock:
            for s in self._all:
                s.close()
            self._all.clear()
        self.wh.close()


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


def sample_keys(con: Any, table: str, column: str, limit: int) -> list[Any]:
    """Distinct non-null values of one column, smallest first (a harness's parameter pool)."""
    if not (_IDENT.match(table) and _IDENT.match(column)):
        raise ValueError(f"not a plain identifier: {table}.{column}")
    rows = con.execute(
        f"SELECT DISTINCT {column} FROM {table} WHERE {column} IS NOT NULL ORDER BY 1 LIMIT {int(limit)}"
    ).fetchall()
    if not rows:
        raise ValueError(f"{table}.{column} has no values to sample keys from")
    return [r[0] for r in rows]


def open_platform(
    db_path: str | Path,
    limits: Limits | None = None,
    *,
    audit: AuditLog | None = None,
) -> GovernedPlatform:
    """The in-process platform over a built warehouse, auditing every query to `audit` (by default
    the twin home's audit log, the one `twin sql` writes and `twin audit verify` checks)."""
    if not Path(db_path).exists():
        raise FileNotFoundError(f"no warehouse at {db_path}; run `twin warehouse build` first")
    if audit is None:
        from twin.config import paths

        home = paths()
        audit = AuditLog(home.audit_log, home.audit_keys, digest_dir=home.audit_digests)
    return GovernedPlatform(db_path, limits, audit=audit)
