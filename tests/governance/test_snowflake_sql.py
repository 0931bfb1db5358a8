# ruff: noqa: E501 -- SQL cases read best kept on one line
"""Snowflake SQL in: queries in Snowflake's dialect run through the same firewall and policies, each
function checked against the example and result in Snowflake's documentation."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests.governance.gold_data import build
from tests.governance.test_firewall import BYPASSES
from tests.governance.test_functions import _SYNTAX, PG_METADATA, SHAPES, _duckdb_functions
from twin.cli.main import app
from twin.governance.ddl import load_shipped
from twin.governance.errors import QueryDenied
from twin.governance.firewall import check
from twin.governance.functions import ALLOWED
from twin.governance.session import SecureSession
from twin.governance.store import apply_policies

Make = Callable[..., SecureSession]
runner = CliRunner()

# (Snowflake SQL, the row Snowflake's documentation shows for it)
DOC_EXAMPLES: list[tuple[str, tuple[Any, ...]]] = [
    (
        "SELECT IFF(TRUE, 'true', 'false'), IFF(FALSE, 'true', 'false'), IFF(NULL, 'true', 'false')",
        ("true", "false", "false"),
    ),
    ("SELECT NVL(NULL, 'x'), NVL('a', 'x')", ("x", "a")),
    ("SELECT NVL2(NULL, 1, 2), NVL2(0, 1, 2)", (2, 1)),
    ("SELECT ZEROIFNULL(NULL), ZEROIFNULL(5), ZEROIFNULL(3.14159)", (0, 5, Decimal("3.14159"))),
    ("SELECT DIV0(1, 0), DIV0(1, 2)", (0, 0.5)),
    ("SELECT TO_VARCHAR('2013-04-05'::DATE, 'mon dd, yyyy')", ("Apr 05, 2013",)),
    (
        "SELECT TO_VARCHAR('2024-04-05 01:02:03'::TIMESTAMP, 'mm/dd/yyyy, hh24:mi hours')",
        ("04/05/2024, 01:02 hours",),
    ),
    ("SELECT TO_CHAR('2024-04-03'::DATE, 'yyyy.mm.dd'), TO_VARCHAR(12)", ("2024.04.03", "12")),
    ("SELECT DATEADD(year, 2, TO_DATE('2022-05-08'))", (dt.datetime(2024, 5, 8),)),
    ("SELECT DATEADD(month, 1, '2023-01-31'::DATE)", (dt.datetime(2023, 2, 28),)),  # end of month clamps
    ("SELECT DATEADD(hour, 3, '2024-01-01 10:00:00'::TIMESTAMP)", (dt.datetime(2024, 1, 1, 13),)),
    ("SELECT DATEDIFF(year, '2010-04-09 14:39:20'::TIMESTAMP, '2013-05-08 23:39:20'::TIMESTAMP)", (3,)),
    # DATEDIFF counts boundaries crossed, not whole periods
    (
        "SELECT DATEDIFF(day, '2023-12-31'::DATE, '2024-01-01'::DATE), DATEDIFF(year, '2023-12-31'::DATE, '2024-01-01'::DATE)",
        (1, 1),
    ),
    ("SELECT 'John  Dddoe' ILIKE '%j%h%do%', 'Joe' ILIKE '%j%h%do%'", (True, False)),
    (
        "SELECT TO_DATE('02/01/2024', 'DD/MM/YYYY'), TRY_CAST('x' AS NUMBER(10, 2)), TO_NUMBER('12.3', 10, 2)",
        (dt.date(2024, 1, 2), None, Decimal("12.30")),
    ),
]


@pytest.mark.parametrize(
    "sql, row", DOC_EXAMPLES, ids=[re.sub(r"\W+", "_", s[7:40]) for s, _ in DOC_EXAMPLES]
)
def test_snowflake_functions_answer_as_the_documentation_shows(session: Make, sql: str, row: tuple) -> None:
    assert session("RETAIL_TELLER").query(sql, dialect="snowflake").rows == [row]


def test_values_columns_are_named_as_in_snowflake(session: Make) -> None:
    result = session("RETAIL_TELLER").query(
        "SELECT column1, ZEROIFNULL(column1) FROM VALUES (1), (NULL), (5)", dialect="snowflake"
    )
    assert result.columns[0] == "COLUMN1"
    assert [r[1] for r in result.rows] == [1, 0, 5]


def test_current_role_is_a_column_named_current_role(session: Make) -> None:
    s = session("RETAIL_TELLER")
    result = s.query(
        "SELECT CURRENT_ROLE(), CURRENT_USER(), IS_ROLE_IN_SESSION('RETAIL_TELLER')", dialect="snowflake"
    )
    assert result.columns == ["CURRENT_ROLE()", "CURRENT_USER()", "IS_ROLE_IN_SESSION('RETAIL_TELLER')"]
    assert result.rows == [("RETAIL_TELLER", "tester", True)]
    assert s.query("SELECT CURRENT_ROLE() AS r", dialect="snowflake").columns == ["r"]
    # DuckDB's dialect keeps today's name
    assert s.query("SELECT CURRENT_ROLE()").columns == ["getvariable('twin_role')"]


def test_qualify_and_policies_apply_to_snowflake_sql(session: Make) -> None:
    teller = session("RETAIL_TELLER")
    rows = teller.query(
        "SELECT department, ssn FROM gold.customer_360 QUALIFY ROW_NUMBER() OVER (PARTITION BY department ORDER BY customer_id) = 1",
        dialect="snowflake",
    ).rows
    assert [d for d, _ in rows] == ["Retail"]  # the row access policy still filters
    masked = teller.query(
        "SELECT IFF(ssn IS NULL, 'none', ssn), NVL(ssn, 'x') FROM gold.customer_360", dialect="snowflake"
    ).rows
    assert masked and all(a.startswith("***-**-") and b.startswith("***-**-") for a, b in masked)
    unmasked = (
        session("WEALTH_ADMIN").query("SELECT ssn FROM gold.customer_360 LIMIT 1", dialect="snowflake").rows
    )
    assert not unmasked[0][0].startswith("***")


def test_a_numeric_format_model_is_refused_by_name(session: Make) -> None:
    with pytest.raises(QueryDenied, match="numeric format models"):
        session("RETAIL_TELLER").query("SELECT TO_VARCHAR(12.5, '99.9')", dialect="snowflake")


SNOWFLAKE_ATTACKS = [
    "SELECT GETVARIABLE('twin_role')",
    "SELECT SYSTEM$WHITELIST()",
    "SELECT * FROM TABLE(RESULT_SCAN(LAST_QUERY_ID()))",
    "SELECT * FROM TABLE(FLATTEN(INPUT => PARSE_JSON('[1]')))",
    "SELECT $1 FROM @my_stage",
    "USE ROLE WEALTH_ADMIN",
    "USE SECONDARY ROLES ALL",
    "SET twin_role = 'WEALTH_ADMIN'",
    "SHOW GRANTS",
    "ALTER SESSION SET TIMEZONE = 'UTC'",
    "CREATE TEMPORARY TABLE x AS SELECT * FROM gold.customer_360",
    "SELECT CURRENT_SCHEMA(), CURRENT_DATABASE()",
    "SELECT * FROM silver.customers SAMPLE (10 ROWS)",
    "SELECT ssn FROM gold.customer_360 AT(OFFSET => -60)",
    "SELECT TO_VARCHAR(ssn, 'stats') FROM gold.customer_360",
    "SELECT IFF(TRUE, stats(ssn), NULL) FROM gold.customer_360",
]


@pytest.mark.parametrize(
    "sql", BYPASSES + SHAPES + [f"SELECT {c} FROM gold.customer_360" for c in PG_METADATA] + SNOWFLAKE_ATTACKS
)
def test_every_attack_is_denied_in_snowflakes_dialect_too(session: Make, sql: str) -> None:
    with pytest.raises(QueryDenied) as info:
        session("WEALTH_ADMIN").query(sql, dialect="snowflake")
    assert info.value.reason


def test_every_duckdb_function_read_as_snowflake_runs_only_allowlisted_functions(session: Make) -> None:
    """Read in Snowflake's dialect, a DuckDB function name is denied or becomes allowlisted DuckDB SQL."""
    catalog = session("WEALTH_ADMIN")._catalog
    syntax = _SYNTAX | {"when", "then", "else", "is", "like", "ilike"}  # Snowflake rewrites use CASE more
    allowed: list[str] = []
    for name, _kind, arity in _duckdb_functions():
        sql = f"SELECT {name}({', '.join(['customer_id'] * arity)}) FROM gold.customer_360"
        try:
            out = check(sql, catalog, "snowflake").sql
        except QueryDenied:
            continue
        out = re.sub(r"GETVARIABLE\('twin_(role|user|roles)'\)", "", out)
        called = {m.lower() for m in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", out)}
        assert not called - ALLOWED - syntax, f"{sql!r} runs {sorted(called - ALLOWED - syntax)}"
        allowed.append(name)
    for name in ("stats", "query", "read_text", "pg_get_viewdef", "getvariable", "current_setting", "glob"):
        assert name not in allowed, name


def test_an_unknown_dialect_is_a_denial(session: Make) -> None:
    with pytest.raises(QueryDenied, match="unknown SQL dialect"):
        session("RETAIL_TELLER").query("SELECT 1", dialect="tsql")


def test_twin_sql_reads_snowflake_by_default_and_duckdb_on_request(twin_home: Path) -> None:
    path = twin_home / "warehouse.duckdb"
    wh = build(path)
    apply_policies(wh.con, load_shipped())
    wh.close()
    base = ["sql", "--db", str(path), "--role", "RETAIL_TELLER", "--format", "json"]
    r = runner.invoke(app, [*base, "SELECT CURRENT_ROLE(), IFF(TRUE, 'a', 'b') AS x"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == [{"CURRENT_ROLE()": "RETAIL_TELLER", "x": "a"}]
    # DuckDB's dialect: today's behaviour, where IFF is no function at all
    r = runner.invoke(app, [*base, "--dialect", "duckdb", "SELECT IFF(TRUE, 'a', 'b') AS x"])
    assert r.exit_code == 3 and "iff()" in r.stderr.lower()
    r = runner.invoke(app, [*base, "--dialect", "duckdb", "SELECT [1, 2][1] AS x, CURRENT_ROLE()"])
    assert r.exit_code == 0 and json.loads(r.stdout) == [
        {"x": 1, "getvariable('twin_role')": "RETAIL_TELLER"}
    ]
    r = runner.invoke(app, [*base, "--dialect", "tsql", "SELECT 1"])
    assert r.exit_code == 2
