"""Snowflake SQL in: what a query read in Snowflake's dialect needs beyond sqlglot's own transpiling.

sqlglot reads the query with its `snowflake` dialect; the firewall checks that tree (the same rules,
the allowlist extended by `functions.SNOWFLAKE_ONLY`), then these transforms run and DuckDB SQL is
generated from the result. sqlglot already rewrites IFF, NVL/NVL2, ZEROIFNULL, DIV0, DATEADD/DATEDIFF,
TO_DATE with a format, QUALIFY and ILIKE into DuckDB; each transform here covers one gap, in the manner
of fakesnow's one-transform-per-feature:

- `to_char_format`: TO_VARCHAR/TO_CHAR with a date format. sqlglot drops the format (it warns and casts),
  which would answer `2024-01-02` for `TO_CHAR(d, 'DD/MM/YYYY')`; it becomes STRFTIME with the format
  translated. A numeric format model (`'999.99'`) has no DuckDB equivalent and is refused by name.
- `values_columns`: `FROM VALUES (1), (2)` has columns COLUMN1, COLUMN2 … (DuckDB calls them col0 …).
- `context_column`: `SELECT CURRENT_ROLE()` names its column `CURRENT_ROLE()`, as Snowflake does, not
  after the session-variable read the firewall puts in its place.
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.dialect import Dialect

from twin.governance.errors import QueryDenied

_SNOWFLAKE = Dialect.get_or_raise("snowflake")


def to_char_format(tree: exp.Expression) -> exp.Expression:
    for node in list(tree.find_all(exp.ToChar)):
        fmt = node.args.get("format")
        if fmt is None:
            continue  # TO_VARCHAR(x): a cast to text, which sqlglot writes already
        if not (isinstance(fmt, exp.Literal) and fmt.is_string):
            raise QueryDenied("TO_VARCHAR/TO_CHAR: the format must be a string literal")
        translated = _SNOWFLAKE.format_time(fmt)
        if not isinstance(translated, exp.Literal) or "%" not in translated.this:
            raise QueryDenied(
                f"TO_VARCHAR/TO_CHAR format '{fmt.this}': numeric format models are not supported; "
                "use ROUND or a CAST"
            )
        node.replace(exp.TimeToStr(this=node.this, format=translated))
    return tree


def values_columns(tree: exp.Expression) -> exp.Expression:
    """`FROM VALUES (1), (2)` names its columns COLUMN1, COLUMN2 … in Snowflake (DuckDB: col0 …)."""
    for node in list(tree.find_all(exp.Values)):
        alias = node.args.get("alias")
        if not isinstance(node.parent, (exp.From, exp.Join)) or (alias is not None and alias.columns):
            continue
        width = len(node.expressions[0].expressions) if node.expressions else 0
        columns = [exp.to_identifier(f"COLUMN{i}") for i in range(1, width + 1)]
        name = alias.this if alias is not None else exp.to_identifier("VALUES")
        node.set("alias", exp.TableAlias(this=name, columns=columns))
    return tree


def context_column(node: exp.Expr) -> str:
    """The column name Snowflake gives a context function selected without an alias."""
    return node.sql(dialect="snowflake")


def transform(tree: exp.Expression) -> exp.Expression:
    return values_columns(to_char_format(tree))
