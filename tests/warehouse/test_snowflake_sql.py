"""Every compiled model is also Snowflake SQL: the code that would be promoted to production."""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from twin.warehouse.catalog import recorded_models
from twin.warehouse.engine import Warehouse

# sqlglot's Snowflake reader is lenient: it accepts a few DuckDB-only joins, so they are refused here.
DUCKDB_ONLY_JOINS = {"ANTI", "SEMI", "ASOF", "POSITIONAL"}


def snowflake_problems(sql: str) -> list[str]:
    """Why `sql` would not run on Snowflake ([] if it looks portable). Raises if it does not parse."""
    tree = sqlglot.parse_one(sql, read="snowflake")
    problems = []
    # A statement sqlglot does not understand degrades to a bare Command; a model must be a query.
    if not isinstance(tree, exp.Query):
        problems.append(f"not a query: {type(tree).__name__}")
    for join in tree.find_all(exp.Join):
        for part in (join.args.get("kind"), join.args.get("side"), join.args.get("method")):
            if part and str(part).upper() in DUCKDB_ONLY_JOINS:
                problems.append(f"{part} JOIN")
    return problems


def test_every_compiled_model_parses_as_snowflake(tiny) -> None:
    with Warehouse(tiny.db_path) as wh:
        specs = recorded_models(wh)
    assert len(specs) >= 20
    for spec in specs:
        assert snowflake_problems(spec.sql) == [], spec.relation


def test_the_check_catches_duckdb_only_syntax() -> None:
    assert snowflake_problems("SELECT * FROM t ANTI JOIN u USING (k)") == ["ANTI JOIN"]
    assert snowflake_problems("SELECT * FROM t WHERE NOT EXISTS (SELECT 1 FROM u WHERE u.k = t.k)") == []
