"""Secure views specialised to one session's context, so DuckDB does not re-fold the policies per query.

The shared secure views read the session's identity through `getvariable(…)`; DuckDB folds those to
constants while binding, which it redoes on every query: the masking CASE chains cost more to bind
than a point lookup costs to run. A session's identity cannot change, so the same folding is done
once here, on the view's AST: each `getvariable('twin_…')` the session set becomes its literal value,
`list_contains(<roles>, 'ROLE')` becomes TRUE or FALSE, and sqlglot's simplifier prunes the dead
CASE branches. Every projected column keeps its original type (a pruned `CASE … ELSE NULL` would
otherwise turn into an untyped NULL). The result is installed as a TEMP view, private to the
session's connection and unreachable from user SQL (the firewall resolves names against the
published catalog only).

A row filter that survives folding is anchored to the base table's indexed key column (`anchor`):
DuckDB 2.0 scans an ART index only when the table scan carries exactly one pushed-down filter, and a
row filter on one column is pushed down beside the user's `key = ?`, so every governed point lookup
became a full scan. `P OR (key IS NULL AND NULL)` keeps exactly the rows `P` keeps (the added branch is
FALSE or NULL, never TRUE), but it reads two columns, so DuckDB evaluates it above the scan instead.
"""

from __future__ import annotations

from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.simplify import simplify

TEMP_PREFIX = "twin_sv_"


def _var_name(node: exp.Expr) -> str | None:
    if (
        isinstance(node, exp.Anonymous)
        and node.name.lower() == "getvariable"
        and len(node.expressions) == 1
        and isinstance(node.expressions[0], exp.Literal)
        and node.expressions[0].is_string
    ):
        return str(node.expressions[0].this)
    return None


def _literal(v: Any) -> exp.Expr | None:
    if v is None:
        return exp.Null()
    if isinstance(v, str):
        return exp.Literal.string(v)
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return exp.cast(exp.Array(expressions=[exp.Literal.string(x) for x in v]), "VARCHAR[]")
    return None  # any other type stays a getvariable read


def specialise(
    view_sql: str,
    context: dict[str, Any],
    types: list[tuple[str, str]],
    base_types: dict[str, str] | None = None,
    anchor: str | None = None,
) -> str:
    """The view's SELECT with the session's variables folded in; `types` are its (column, type) pairs.

    `base_types` (column → type of the one table the view reads) lets a mask that folded down to the
    bare column go without its cast when the types already agree: DuckDB binds every cast at every
    query, and an identity cast per masked column is a tenth of a point lookup's cost.
    `anchor` names the base table's indexed column, if it has one: see the module docstring.
    """
    tree = sqlglot.parse_one(view_sql, read="duckdb")
    if isinstance(tree, exp.Create):
        tree = tree.expression
    if not isinstance(tree, exp.Select):
        raise ValueError("a secure view is a single SELECT")

    def fold(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.ArrayContains) and isinstance(node.expression, exp.Literal):
            name = _var_name(node.this)
            if name in context and node.expression.is_string:
                roles = context[name]
                if isinstance(roles, list):
                    return exp.Boolean(this=node.expression.this in roles)
        name = _var_name(node)
        if name is not None and name in context:
            lit = _literal(context[name])
            if lit is not None:
                return lit
        return node

    bare = [isinstance(p.this if isinstance(p, exp.Alias) else p, exp.Column) for p in tree.expressions]
    if base_types and (len(list(tree.find_all(exp.Table))) != 1 or tree.find(exp.Join)):
        base_types = None  # the columns could come from more than one table
    folded = simplify(tree.transform(fold))
    if not isinstance(folded, exp.Select) or len(folded.expressions) != len(types):
        raise ValueError("specialised view lost its shape")
    projections = []
    for proj, was_bare, (column, typ) in zip(folded.expressions, bare, types, strict=True):
        inner = proj.this if isinstance(proj, exp.Alias) else proj
        if isinstance(inner, exp.Column) and (
            was_bare or (base_types is not None and base_types.get(inner.name) == typ)
        ):
            projections.append(exp.alias_(inner, column, quoted=True))
        else:
            cast = exp.Cast(this=inner, to=exp.DataType.build(typ, dialect="duckdb"))
            projections.append(exp.alias_(cast, column, quoted=True))
    folded.set("expressions", projections)
    where = folded.args.get("where")
    if anchor is not None and where is not None and not isinstance(where.this, exp.Boolean):
        source = folded.args["from_"].this
        key = exp.column(anchor, table=source.alias_or_name, quoted=True)
        never = exp.paren(exp.and_(key.is_(exp.null()), exp.null()))
        where.set("this", exp.or_(exp.paren(where.this), never))
    return folded.sql(dialect="duckdb")
