"""The SQL firewall: user SQL is parsed with sqlglot and checked on the AST, never by string matching.

Rules: one statement; SELECT / WITH … SELECT / set operations only; no DDL, DML, PRAGMA, SET, ATTACH,
COPY, … anywhere in the tree; no table functions (read_parquet, glob, range…); only the functions on
the allowlist (twin.governance.functions) — any other, a future DuckDB function included, is denied by
name; casts to safe types only; no method-call syntax (`ssn.stats()`); every table reference is
resolved, whatever its spelling, to a published table — and a governed table is swapped for its secure
view. Table references that name a CTE in scope stay CTE references. Nesting is bounded before the
recursive parser sees the query, so a deeply nested query gets a denial, not a RecursionError.
"""

from __future__ import annotations

import threading
from functools import lru_cache
from typing import cast

from pydantic import BaseModel, ConfigDict, PrivateAttr
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect
from sqlglot.errors import ParseError, SqlglotError, TokenError
from sqlglot.optimizer.scope import traverse_scope
from sqlglot.tokens import Token, TokenType

from twin.governance import snowflake_sql
from twin.governance.context import NAMES as CONTEXT_FUNCTIONS
from twin.governance.context import context_name, rewrite_context
from twin.governance.errors import QueryDenied
from twin.governance.functions import DIALECTS, denied_function, denied_type, func_name, oversized_call
from twin.warehouse.engine import PRIVATE_SCHEMAS, SYSTEM_SCHEMAS

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
_ALLOWED_ROOTS = (exp.Select, exp.SetOperation, exp.Subquery)
_TABLE_PARTS = frozenset({"this", "db", "catalog", "alias", "joins", "laterals", "pivots", "sample", "hints"})
PRIVATE = PRIVATE_SCHEMAS | SYSTEM_SCHEMAS


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


# Bounds checked before the recursive parser and generator see a query (each nesting level costs them
# a few Python frames; ~300 levels reach the interpreter's recursion limit). Far above any real query.
MAX_QUERY_CHARS = 200_000
MAX_NESTING = 64  # brackets, CASE … END, and runs of prefix operators or `::` casts
MAX_TREE_DEPTH = 256  # the parsed tree, walked iteratively before anything recurses over it
_OPEN = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
_CLOSE = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}
_PREFIX = {TokenType.NOT, TokenType.DASH, TokenType.PLUS, TokenType.TILDE}
# Chain tokens and the distance from one link to the next (0: `[` right after `]`).
_CHAINS = {TokenType.DCOLON: 2, TokenType.DOT: 2, TokenType.BETWEEN: 4, TokenType.L_BRACKET: 0}


def _too_deep(limit: int = MAX_NESTING, what: str = "levels") -> QueryDenied:
    return QueryDenied(f"query nested too deeply (limit {limit} {what}): simplify it")


def check_size(sql: str) -> None:
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryDenied(f"query too long ({len(sql):,} characters, limit {MAX_QUERY_CHARS:,})")


def check_nesting(tokens: list[Token]) -> None:
    """Refuse token streams nested deeper than MAX_NESTING, in one iterative pass.

    Brackets and CASE … END nest. So do chains that the parser reads flat but the tree nests: prefix
    operators (`NOT NOT …`, `- - …`), casts (`x::int::text…`), dotted names (`a.b.c…`), subscripts
    (`x[1][1]…`, which also cost sqlglot's parser quadratic time: 5,000 of them took minutes) and
    BETWEEN chains. A chain is the same token again at its pattern's distance from the last one.
    """
    if len(tokens) <= MAX_NESTING:
        return  # every counter below is at most the number of tokens
    depth = prefix = 0
    chain: dict[TokenType, int] = {}
    last: dict[TokenType, int] = {}
    previous: TokenType | None = None
    for i, tok in enumerate(tokens):
        tt = tok.token_type
        if tt in _OPEN:
            depth += 1
        elif tt in _CLOSE:
            depth -= 1
        prefix = prefix + 1 if tt in _PREFIX else 0
        gap = _CHAINS.get(tt)
        if gap is not None:
            linked = previous is TokenType.R_BRACKET if gap == 0 else i - last.get(tt, -9) == gap
            chain[tt] = chain.get(tt, 0) + 1 if linked else 1
            last[tt] = i
            if chain[tt] > MAX_NESTING:
                raise _too_deep()
        if depth > MAX_NESTING or prefix > MAX_NESTING:
            raise _too_deep()
        previous = tt


def check_tree_depth(tree: exp.Expr, n_tokens: int | None = None) -> None:
    """Refuse trees deeper than MAX_TREE_DEPTH: postfix chains (`x[1][1]…`, `a.b.c…`) parse flat
    but nest in the tree, and the generator recurses over it.

    Each level of a sqlglot tree comes with at least one token but for a wrapper or two (the deepest
    tree per token in the firewall's tests: 1.5 levels per token), so a query of few tokens cannot be
    deep and is not walked: the walk would add a fifth to the cost of checking a typical query.
    """
    if n_tokens is not None and 2 * n_tokens + 2 <= MAX_TREE_DEPTH:
        return
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_TREE_DEPTH:
            raise _too_deep(MAX_TREE_DEPTH, "levels of the parsed query")
        stack.extend((child, depth + 1) for child in node.iter_expressions())


# One dialect instance for every check: resolving "duckdb" and building a Dialect per parse and per
# generation cost about a tenth of a check. A Dialect holds no per-query state.
_DUCKDB = Dialect.get_or_raise("duckdb")
# Queries are read in DuckDB's dialect or Snowflake's (`twin sql --dialect`); either way the checks run
# on the parsed tree and the SQL that runs is generated for DuckDB.
_READERS = {name: Dialect.get_or_raise(name) for name in DIALECTS}
# A parser and a tokenizer per thread (each resets itself per call but is not safe to share between
# threads: the API serves queries from a thread pool); building them costs another tenth of a check.
_tools = threading.local()

# What a node of a given class means to the firewall, decided once per class by the same isinstance
# tests a per-node check would do (so subclasses are classified like their bases).
_OK, _FORBIDDEN, _FUNC, _ANON, _TABLE, _CTE, _PLACEHOLDER, _TYPE, _DOT = range(9)
_kinds: dict[type, int] = {}
# Built-in (non-Anonymous) function classes have one verdict per dialect: the name denied, or None.
_func_denied: dict[tuple[type, str], str | None] = {}


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
        elif issubclass(cls, exp.DataType):
            kind = _TYPE
        elif issubclass(cls, exp.Dot):
            kind = _DOT
        else:
            kind = _OK
        _kinds[cls] = kind
    return kind


class Scan(BaseModel):
    """What one walk over a parsed query found, after every node passed the rules."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    tables: list[exp.Table]
    identity: list[exp.Expr]  # context functions (CURRENT_ROLE() …) to rewrite
    has_cte: bool


# Typed nodes that can be a size-setting call (checked by oversized_call); other typed calls skip it.
_SIZED = (exp.Repeat, exp.Pad, exp.Format)


def scan(tree: exp.Expr, extra_functions: frozenset[str] = frozenset(), dialect: str = "duckdb") -> Scan:
    """Apply the node rules to every node of `tree` (user SQL and policy bodies alike).

    Raises QueryDenied naming the statement kind, function, type or syntax refused. `extra_functions`
    names untyped functions allowed on top of the allowlist (a policy body's GETVARIABLE).
    """
    found: list[exp.Table] = []
    identity: list[exp.Expr] = []
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
            name = denied_function(cast(exp.Func, node))  # the kind tables map only Func classes here
            if name is not None and name.lower() not in extra_functions:
                raise QueryDenied(f"function {name}() is not allowed (not on the function allowlist)")
            if (why := oversized_call(cast(exp.Func, node))) is not None:
                raise QueryDenied(why)
            if context_name(node) in CONTEXT_FUNCTIONS:
                identity.append(node)
        elif kind == _FUNC:
            if context_name(node) in CONTEXT_FUNCTIONS:
                identity.append(node)
            key = (type(node), dialect)
            if key not in _func_denied:
                _func_denied[key] = denied_function(cast(exp.Func, node), dialect)
            if _func_denied[key] is not None:
                raise QueryDenied(
                    f"function {_func_denied[key]}() is not allowed (not on the function allowlist)"
                )
            if isinstance(node, _SIZED) and (why := oversized_call(node)) is not None:
                raise QueryDenied(why)
        elif kind == _TABLE:
            found.append(cast(exp.Table, node))
        elif kind == _CTE:
            has_cte = True
        elif kind == _PLACEHOLDER and node.this and not str(node.this).isdigit():
            raise QueryDenied("named parameters are not supported")
        elif kind == _TYPE:
            bad = denied_type(cast(exp.DataType, node))
            if bad is not None:
                raise QueryDenied(f"type {bad} is not allowed in a cast")
        elif kind == _DOT and isinstance(node.expression, exp.Func):
            # `x.f()` is a method call or a schema-qualified function: either way write `f(x)`.
            called = func_name(node.expression)
            raise QueryDenied(f"method-call syntax .{called}() is not allowed: write {called}(x)")
    # Built from values this function produced itself: validation would only re-check their types.
    return Scan.model_construct(tables=found, identity=identity, has_cte=has_cte)


def _parse(sql: str, dialect: str = "duckdb") -> tuple[list[exp.Expr | None], int]:
    """The statements of `sql`, and how many tokens it has."""
    pairs = getattr(_tools, "pairs", None)
    if pairs is None:
        pairs = _tools.pairs = {}
    tools = pairs.get(dialect)
    if tools is None:
        reader = _READERS[dialect]
        tools = pairs[dialect] = (reader.tokenizer(), reader.parser())
    tokenizer, parser = tools
    tokens = tokenizer.tokenize(sql)
    check_nesting(tokens)
    return parser.parse(tokens, sql), len(tokens)


def check(sql: str, catalog: Catalog, dialect: str = "duckdb") -> Checked:
    """Parse (in `dialect`: duckdb or snowflake), check and rewrite one user query into DuckDB SQL;
    raises QueryDenied naming the rule it broke."""
    check_size(sql)
    if dialect not in _READERS:
        raise QueryDenied(f"unknown SQL dialect {dialect!r}; choose from {', '.join(_READERS)}")
    try:
        return _check(sql, catalog, dialect)
    except RecursionError:
        # The bounds above stop every nesting form we know of first; this is the backstop for one we
        # do not, so the caller still gets a denial rather than a traceback.
        raise _too_deep() from None


def check_uncached(sql: str, catalog: Catalog) -> Checked:
    """`check` without its per-(query, catalog) cache: what the first sight of a query costs (benchmarks)."""
    check_size(sql)
    return _check.__wrapped__(sql, catalog)


@lru_cache(maxsize=8192)
def _check(sql: str, catalog: Catalog, dialect: str = "duckdb") -> Checked:
    try:
        parsed, n_tokens = _parse(sql, dialect)
        trees = [t for t in parsed if t is not None]
    except (ParseError, TokenError) as e:
        raise QueryDenied(f"cannot parse the query: {str(e).splitlines()[0]}") from None
    if len(trees) != 1:
        raise QueryDenied(f"exactly one statement per query ({len(trees)} given)")
    tree = trees[0]
    if not isinstance(tree, _ALLOWED_ROOTS):
        raise QueryDenied(f"only SELECT queries are allowed ({tree.key.upper()} is not)")
    check_tree_depth(tree, n_tokens)
    # One walk over every node: the deny rules, and the table references and CTEs collected on the way.
    found = scan(tree, dialect=dialect)
    tables: list[str] = []
    history = False
    cte_refs: set[int] = set()
    # Scope analysis only matters when there are CTEs to shadow a name; most queries have none.
    for scope in traverse_scope(tree) if found.has_cte else ():
        for t in scope.tables:
            if not t.args.get("db") and not t.args.get("catalog") and t.name in scope.cte_sources:
                cte_refs.add(id(t))
    for t in found.tables:
        if id(t) in cte_refs:
            continue
        if not isinstance(t.this, exp.Identifier):
            name = t.this.sql_name() if isinstance(t.this, exp.Func) else type(t.this).__name__
            raise QueryDenied(f"table function {name}() is not allowed")
        # An allowlist of a table reference's parts: anything else (time travel AT/BEFORE, CHANGES,
        # FOR VERSION AS OF, PARTITION …) would be dropped by the rewrite below and answered silently
        # from current data, so it is refused by name.
        extra = sorted(k for k, v in t.args.items() if v and k not in _TABLE_PARTS)
        if extra:
            raise QueryDenied(f"{t.name}: {extra[0].upper()} on a table reference is not supported")
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
    for node in found.identity:
        rewritten = rewrite_context(node)
        if dialect == "snowflake" and isinstance(node.parent, exp.Select) and node.arg_key == "expressions":
            rewritten = exp.alias_(rewritten, snowflake_sql.context_column(node), quoted=True)
        node.replace(rewritten)
    if dialect == "snowflake":
        tree = snowflake_sql.transform(tree)
    # The tree was parsed for this call alone: generating from it in place spares a deep copy of it.
    try:
        sql_out = _DUCKDB.generate(tree, copy=False)
    except SqlglotError as e:
        # sqlglot rewrites some functions into other SQL and can fail on odd arguments: a denial.
        raise QueryDenied(f"cannot rewrite the query: {str(e).splitlines()[0]}") from None
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
                f"{shown}: not a published table (readable: gold and tables published with "
                "`twin warehouse load`)",
                unknown_table=db not in PRIVATE,
            )
        return qualified
    matches = sorted(q for q in catalog.published if q.split(".", 1)[1] == name)
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise QueryDenied(f"{shown}: no published table of that name", unknown_table=True)
    raise QueryDenied(f"{shown}: ambiguous, qualify it with a schema ({', '.join(matches)})")
