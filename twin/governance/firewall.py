"""The SQL firewall: user SQL is parsed with sqlglot and checked on the AST, never by string matching.

Rules: one statement; SELECT / WITH … SELECT / set operations only; no DDL, DML, PRAGMA, SET, ATTACH,
COPY, … anywhere in the tree; no table functions (read_parquet, glob, range…) and no scalar functions
that reach outside the query (getenv, current_setting…); every table reference is resolved, whatever
its spelling, to a published table — and a governed table is swapped for its secure view. Table
references that name a CTE in scope stay CTE references.
"""

from __future__ import annotations

import re
import threading
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, PrivateAttr
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, TokenError
from sqlglot.optimizer.scope import traverse_scope

from twin.governance.context import NAMES as CONTEXT_FUNCTIONS
from twin.governance.context import context_name, rewrite_context
from twin.governance.errors import QueryDenied

QUERY_HISTORY = "account_usage.query_history"
QUERY_HISTORY_SOURCE = "twin_query_history"

_FORBIDDEN_NODES = tuple(
    getattr(exp, n)
    for n in (
        "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "Command", "Set", "SetItem",
        "Pragma", "Copy", "Attach", "Detach", "Use", "Transaction", "Commit", "Rollback", "Describe",
        "Show", "Install", "Load", "Export", "Into", "Analyze", "TruncateTable", "LoadData", "Grant",
        "Revoke", "Summarize", "Refresh", "Cache", "Uncache",
    )
    if hasattr(exp, n)
)  # fmt: skip
_FORBIDDEN_FUNCS = re.compile(
    r"^(read_|parquet_|glob|sniff_csv|query|query_table|getenv|current_setting|getvariable|duckdb_|"
    r"pragma_|sqlite_|postgres_|mysql_|iceberg_|delta_|load_|install_|export_|checkpoint|"
    r"force_checkpoint|enable_|disable_|set_|reset_|which_secret|json_execute_serialized_sql|"
    r"current_schemas|current_database|current_catalog|ducklake|httpfs|system)",
    re.IGNORECASE,
)
_ALLOWED_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery)
PRIVATE = frozenset({"bronze", "silver", "governance", "information_schema", "pg_catalog"})


class Catalog(BaseModel):
    """What a session may read: published tables (lower-case `schema.table`) and the secure views."""

    model_config = ConfigDict(frozen=True)

    database: str
    published: frozenset[str]
    governed: dict[str, str]
    # Hashed on every check (the LRU key): computed once, the model being frozen.
    _hash: int | None = PrivateAttr(default=None)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash((self.database, self.published, tuple(sorted(self.governed.items()))))
        return self._hash


class Checked(BaseModel):
    model_config = ConfigDict(frozen=True)

    sql: str  # the rewritten, executable DuckDB SQL
    tables: list[str]  # published tables (or query_history) the query reads
    query_history: bool = False


def _func_name(node: exp.Func) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name)
    return node.sql_name()


# One dialect instance for every check: resolving "duckdb" and building a Dialect per parse and per
# generation cost about a tenth of a check. A Dialect holds no per-query state.
_DUCKDB = Dialect.get_or_raise("duckdb")
# A parser and a tokenizer per thread (each resets itself per call but is not safe to share between
# threads: the API serves queries from a thread pool); building them costs another tenth of a check.
_tools = threading.local()

# What a node of a given class means to the firewall, decided once per class by the same isinstance
# tests a per-node check would do (so subclasses are classified like their bases).
_OK, _FORBIDDEN, _FUNC, _ANON, _TABLE, _CTE, _PLACEHOLDER = range(7)
_kinds: dict[type, int] = {}
# Built-in (non-Anonymous) function classes have one name each: the verdict is per class too.
_func_denied: dict[type, bool] = {}


def _kind(cls: type) -> int:
    kind = _kinds.get(cls)
    if kind is None:
        if issubclass(cls, _FORBIDDEN_NODES):
            kind = _FORBIDDEN
        elif issubclass(cls, exp.Anonymous):
            kind = _ANON
        elif issubclass(cls, exp.Func):
            kind = _FUNC
        elif issubclass(cls, exp.Table):
            kind = _TABLE
        elif issubclass(cls, exp.CTE):
            kind = _CTE
        elif issubclass(cls, exp.Placeholder):
            kind = _PLACEHOLDER
        else:
            kind = _OK
        _kinds[cls] = kind
    return kind


def _parse(sql: str) -> list[exp.Expr | None]:
    tools = getattr(_tools, "pair", None)
    if tools is None:
        tools = _tools.pair = (_DUCKDB.tokenizer(), _DUCKDB.parser())
    tokenizer, parser = tools
    return parser.parse(tokenizer.tokenize(sql), sql)


def check(sql: str, catalog: Catalog) -> Checked:
    """Parse, check and rewrite one user query; raises QueryDenied naming the rule it broke."""
    return _check(sql, catalog)


@lru_cache(maxsize=8192)
def _check(sql: str, catalog: Catalog) -> Checked:
    try:
        trees = [t for t in _parse(sql) if t is not None]
    except (ParseError, TokenError) as e:
        raise QueryDenied(f"cannot parse the query: {str(e).splitlines()[0]}") from None
    if len(trees) != 1:
        raise QueryDenied(f"exactly one statement per query ({len(trees)} given)")
    tree = trees[0]
    if not isinstance(tree, _ALLOWED_ROOTS):
        raise QueryDenied(f"only SELECT queries are allowed ({tree.key.upper()} is not)")
    # One walk over every node: the deny rules, and the table references and CTEs collected on the way.
    found: list[exp.Table] = []
    identity: list[exp.Expression] = []
    has_cte = False
    for node in tree.walk():
        kind = _kinds.get(type(node))
        if kind is None:
            kind = _kind(type(node))
        if kind == _OK:
            continue
        if kind == _FORBIDDEN:
            raise QueryDenied(f"{node.key.upper()} is not allowed in a query")
        if kind == _ANON:
            if _FORBIDDEN_FUNCS.match(str(node.name)):
                raise QueryDenied(f"function {node.name}() is not allowed")
            if context_name(node) in CONTEXT_FUNCTIONS:
                identity.append(node)
        elif kind == _FUNC:
            if context_name(node) in CONTEXT_FUNCTIONS:
                identity.append(node)
            denied = _func_denied.get(type(node))
            if denied is None:
                denied = _func_denied[type(node)] = bool(_FORBIDDEN_FUNCS.match(_func_name(node)))
            if denied:
                raise QueryDenied(f"function {_func_name(node)}() is not allowed")
        elif kind == _TABLE:
            found.append(node)
        elif kind == _CTE:
            has_cte = True
        elif kind == _PLACEHOLDER and node.this and not str(node.this).isdigit():
            raise QueryDenied("named parameters are not supported")
    tables: list[str] = []
    history = False
    cte_refs: set[int] = set()
    # Scope analysis only matters when there are CTEs to shadow a name; most queries have none.
    for scope in traverse_scope(tree) if has_cte else ():
        for t in scope.tables:
            if not t.args.get("db") and not t.args.get("catalog") and t.name in scope.cte_sources:
                cte_refs.add(id(t))
    for t in found:
        if id(t) in cte_refs:
            continue
        if not isinstance(t.this, exp.Identifier):
            name = t.this.sql_name() if isinstance(t.this, exp.Func) else type(t.this).__name__
            raise QueryDenied(f"table function {name}() is not allowed")
        resolved = _resolve(t, catalog)
        if resolved == QUERY_HISTORY:
            history = True
            new = exp.Table(this=exp.to_identifier(QUERY_HISTORY_SOURCE))
        elif resolved in catalog.governed:
            schema, view = catalog.governed[resolved].split(".")
            new = exp.Table(
                this=exp.to_identifier(view, quoted=True), db=exp.to_identifier(schema, quoted=True)
            )
        else:
            schema, name = resolved.split(".")
            new = exp.Table(
                this=exp.to_identifier(name, quoted=True), db=exp.to_identifier(schema, quoted=True)
            )
        # The old node is dropped from the tree: its alias can move rather than be copied.
        alias = t.args.get("alias") or exp.TableAlias(this=exp.to_identifier(t.name, quoted=True))
        new.set("alias", alias)
        for k in ("joins", "laterals", "pivots", "sample", "hints"):
            if t.args.get(k):
                new.set(k, t.args[k])
        t.replace(new)
        tables.append(resolved)
    # CURRENT_ROLE() and friends answer with the session's identity, as in Snowflake, not DuckDB's
    # own role; the rewrite is the same for every session, so the cached verdict stays shared.
    for node in identity:
        node.replace(rewrite_context(node))
    # The tree was parsed for this call alone: generating from it in place spares a deep copy of it.
    sql_out = _DUCKDB.generate(tree, copy=False)
    return Checked(sql=sql_out, tables=sorted(set(tables)), query_history=history)


def _resolve(t: exp.Table, catalog: Catalog) -> str:
    name, db, cat = t.name.lower(), t.db.lower(), t.catalog.lower()
    shown = ".".join(p for p in (cat, db, name) if p)
    if cat and cat not in (catalog.database.lower(), "snowflake"):
        raise QueryDenied(f"{shown}: only the warehouse's own catalog can be read")
    if f"{db}.{name}" == QUERY_HISTORY:
        return QUERY_HISTORY
    if cat == "snowflake":
        raise QueryDenied(f"{shown}: not a readable table")
    if db:
        qualified = f"{db}.{name}"
        if qualified not in catalog.published:
            raise QueryDenied(
                f"{shown}: not a published table (bronze, silver and governance are private)",
                unknown_table=db not in PRIVATE,
            )
        return qualified
    matches = sorted(q for q in catalog.published if q.split(".", 1)[1] == name)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise QueryDenied(f"{shown}: no published table of that name", unknown_table=True)
    raise QueryDenied(f"{shown}: ambiguous, qualify it with a schema ({', '.join(matches)})")
