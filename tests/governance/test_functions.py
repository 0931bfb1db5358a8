# ruff: noqa: E501 -- SQL cases read best kept on one line
"""The function allowlist: only known-safe functions run; every other one is denied by name and audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from twin.governance.audit import AuditLog
from twin.governance.errors import QueryDenied
from twin.governance.firewall import MAX_NESTING, MAX_TREE_DEPTH, check
from twin.governance.functions import ALLOWED
from twin.governance.session import Claims, SecureSession, open_session
from twin.warehouse.engine import Warehouse

Make = Callable[..., SecureSession]


@pytest.mark.parametrize("role", ["WEALTH_ADVISOR", "RETAIL_TELLER"])
def test_stats_cannot_read_whole_table_min_max(governed: Warehouse, tmp_path: Path, role: str) -> None:
    """stats() answers from table statistics, not from the rows the row policy lets through."""
    log = AuditLog(tmp_path / "audit.jsonl")
    s = open_session(governed, Claims(user="attacker", role=role, department="Wealth"), audit=log)
    try:
        for sql in (
            "SELECT stats(ssn)['max'], stats(name) FROM gold.customer_360",
            "SELECT ssn.stats() FROM gold.customer_360",
            'SELECT STATS("ssn") FROM gold.customer_360',
            "SELECT max(x) FROM (SELECT stats(ssn) AS x FROM gold.customer_360) t",
            "SELECT list_transform([1], x -> stats(ssn)) FROM gold.customer_360",
            "SELECT count(*) FILTER (WHERE stats(ssn) IS NOT NULL) FROM gold.customer_360",
            "SELECT max(customer_id) OVER (ORDER BY stats(name)) FROM gold.customer_360",
        ):
            with pytest.raises(QueryDenied, match=r"(?i)stats\(\)") as info:
                s.query(sql)
            assert "allowlist" in info.value.reason or "method-call" in info.value.reason, sql
        denials = [r for r in log.records() if r.get("kind") == "query" and r.get("allowed") is False]
        assert len(denials) == 7
        assert all("stats()" in r["reason"].lower() for r in denials)
    finally:
        s.close()
        log.close()


PG_METADATA = [
    "pg_get_viewdef('governance.gold__customer_360')",
    "pg_get_constraintdef(1)",
    "pg_get_expr('x', 1)",
    "col_description(1, 1)",
    "obj_description(1, 'pg_class')",
    "shobj_description(1, 'pg_class')",
    "format_type(1, 1)",
    "format_pg_type('x', 'y')",
    "pg_typeof(1)",
    "pg_table_is_visible(1)",
    "pg_has_role('x', 'member')",
    "has_table_privilege('gold.customer_360', 'select')",
    "has_column_privilege('gold.customer_360', 'ssn', 'select')",
    "has_schema_privilege('silver', 'usage')",
    "has_database_privilege('warehouse', 'connect')",
    "has_function_privilege('stats', 'execute')",
    "has_any_column_privilege('gold.customer_360', 'select')",
    "current_schemas(true)",
    "current_database()",
    "current_catalog()",
    "current_schema()",
    "current_query()",
    "current_setting('threads')",
    "getvariable('twin_role')",
    "version()",
    "session_user()",
    "user()",
    "inet_server_addr()",
    "pg_postmaster_start_time()",
    "nextval('s')",
    "setval('s', 1)",
    "sleep_ms(10000)",
    "pg_sleep(10)",
    "error('x')",
    "write_log('x')",
    "json_serialize_sql('SELECT 1')",
    "query('SELECT * FROM silver.customers')",
    "read_text('/etc/passwd')",
    "getenv('HOME')",
]


@pytest.mark.parametrize("call", PG_METADATA)
def test_metadata_and_side_effect_functions_are_denied_by_name(session: Make, call: str) -> None:
    name = call.split("(")[0]
    with pytest.raises(QueryDenied) as info:
        session("WEALTH_ADMIN").query(f"SELECT {call} FROM gold.customer_360")
    assert name.lower() in info.value.reason.lower() or "not allowed" in info.value.reason


SHAPES = [
    "SELECT COLUMNS(*) FROM gold.customer_360",
    "SELECT COLUMNS('ss.*') FROM gold.customer_360",
    "SELECT unnest([1, 2]) FROM gold.customer_360",
    "SELECT generate_series(1, 1000000000)",
    "SELECT * FROM generate_series(1, 3)",
    "SELECT * FROM unnest([1, 2])",
    "SELECT CAST(ssn AS my_type) FROM gold.customer_360",
    "SELECT ssn::int::my_type FROM gold.customer_360",
    "SELECT main.upper(ssn) FROM gold.customer_360",
    "SELECT ssn.upper() FROM gold.customer_360",
    "SELECT * REPLACE (stats(ssn) AS ssn) FROM gold.customer_360",
    "SELECT * FROM gold.customer_360 c, LATERAL (SELECT stats(c.ssn) AS s) l",
    "SELECT department FROM gold.customer_360 GROUP BY department HAVING max(stats(ssn)) IS NOT NULL",
    "SELECT customer_id FROM gold.customer_360 QUALIFY stats(ssn) IS NOT NULL",
    'SELECT "pg_catalog"."pg_get_viewdef"(\'x\')',
]


@pytest.mark.parametrize("sql", SHAPES)
def test_other_ways_to_reach_a_function_are_denied(session: Make, sql: str) -> None:
    with pytest.raises(QueryDenied):
        session("WEALTH_ADMIN").query(sql)


ORDINARY = [
    "SELECT upper(name), lower(email), length(ssn), left(phone, 3) || '…' FROM gold.customer_360",
    "SELECT CAST(total_balance AS DOUBLE)::VARCHAR, try_cast(account_count AS BIGINT) FROM gold.customer_360",
    "SELECT coalesce(name, 'x'), nullif(department, ''), CASE WHEN risk_score > 0.5 THEN 'hi' ELSE 'lo' END FROM gold.customer_360",
    "SELECT department, count(*), sum(total_balance), avg(risk_score), max(last_trade_date) FROM gold.customer_360 GROUP BY ALL",
    "SELECT count(*) FILTER (WHERE risk_score > 0.5) FROM gold.customer_360",
    "SELECT customer_id, row_number() OVER (PARTITION BY department ORDER BY total_balance DESC), lag(total_balance) OVER (ORDER BY customer_id) FROM gold.customer_360",
    "SELECT sum(total_balance) OVER (ORDER BY customer_id ROWS BETWEEN 2 PRECEDING AND CURRENT ROW) FROM gold.customer_360",
    "SELECT date_trunc('month', last_trade_date), extract(year FROM last_trade_date), strftime(profile_refreshed_at, '%Y') FROM gold.customer_360",
    "SELECT list_transform([1, 2, 3], x -> x + 1), list_filter([1, 2], x -> x > 1), {'a': 1}.a",
    "SELECT regexp_replace(ssn, '[0-9]', '#', 'g'), round(risk_score, 2), greatest(1, 2) FROM gold.customer_360",
    "SELECT quantile_cont(total_balance, 0.5), median(total_balance), string_agg(department, ',') FROM gold.customer_360",
    "SELECT current_role(), current_user(), is_role_in_session('PUBLIC')",
    "SELECT * EXCLUDE (ssn) FROM gold.customer_360",
    "SELECT count(*) FROM gold.customer_360 c WHERE (c.department = 'Retail' OR c.risk_score > 0.5) AND NOT c.name LIKE 'x%' AND EXISTS (SELECT 1 FROM gold.accounts a WHERE a.customer_id = c.customer_id)",
    "SELECT name COLLATE nocase, [1, 2] @> [1], current_time FROM gold.customer_360 ORDER BY 1",
]


@pytest.mark.parametrize("sql", ORDINARY)
def test_ordinary_functions_still_run(session: Make, sql: str) -> None:
    assert session("WEALTH_ADMIN").query(sql).columns


# Names the generated SQL may show that are syntax, not function calls.
_SYNTAX = {"cast", "try_cast", "extract", "filter", "over", "in", "exists", "as", "from", "select", "case",
           "values", "struct_pack", "list_value", "interval", "lambda", "count_star", "and", "or", "not"}  # fmt: skip


def _duckdb_functions() -> list[tuple[str, str, int]]:
    """Every function DuckDB knows (name, type, fewest parameters), from an ordinary connection."""
    con = duckdb.connect()
    try:
        return con.execute(
            "SELECT function_name, any_value(function_type), min(len(parameters)) FROM duckdb_functions() "
            "WHERE regexp_full_match(function_name, '[A-Za-z_][A-Za-z0-9_]*') GROUP BY function_name ORDER BY 1"
        ).fetchall()
    finally:
        con.close()


def test_every_duckdb_function_is_on_the_allowlist_or_denied(session: Make) -> None:
    """A function a new DuckDB adds is denied by default: nothing off the allowlist gets through."""
    catalog = session("WEALTH_ADMIN")._catalog
    functions = _duckdb_functions()
    assert len(functions) > 1000
    allowed, denied = [], []
    for name, _kind, arity in functions:
        args = ", ".join(["customer_id"] * arity)
        for sql in (
            f"SELECT {name}({args}) FROM gold.customer_360",
            f"SELECT customer_id.{name}() FROM gold.customer_360",
        ):
            try:
                out = check(sql, catalog).sql
            except QueryDenied:
                denied.append(name)
                continue
            # CURRENT_ROLE() and friends are rewritten into reads of the session's identity.
            out = re.sub(r"GETVARIABLE\('twin_(role|user|roles)'\)", "", out)
            called = {m.lower() for m in re.findall(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", out)}
            off_list = called - ALLOWED - _SYNTAX
            assert not off_list, f"{sql!r} runs {sorted(off_list)}, which the allowlist does not name"
            allowed.append(name)
    # The allowlist is a small, deliberate part of what DuckDB offers; the families below stay out.
    assert len(set(allowed)) < len(functions) / 3
    for name in ("stats", "query", "query_table", "read_text", "read_blob", "pg_get_viewdef", "getvariable",
                 "current_setting", "duckdb_tables", "glob", "sleep_ms", "nextval", "to_aggregate_state"):  # fmt: skip
        assert name in denied and name not in allowed, name


def test_allowlist_names_only_functions_that_exist() -> None:
    """A typo in the allowlist would hide nothing, but it would hide a gap: every name is real."""
    known = {n for n, _, _ in _duckdb_functions()}
    snowflake_spellings = {"ifnull", "nvl", "nvl2", "coalesce", "extract", "current_timestamp", "percentile_cont",
                           "percentile_disc", "invoker_role", "is_role_in_session"}  # fmt: skip
    assert ALLOWED - known <= snowflake_spellings


# ---- nesting --------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth", [500, 5000])
@pytest.mark.parametrize(
    "shape",
    [
        lambda n: "SELECT " + "(" * n + "1" + ")" * n,
        lambda n: "SELECT * FROM gold.customer_360 WHERE " + "(" * n + "TRUE" + ")" * n,
        lambda n: "SELECT " + "[" * n + "1" + "]" * n,
        lambda n: "SELECT " + "NOT " * n + "TRUE",
        lambda n: "SELECT " + "- " * n + "1",
        lambda n: "SELECT " + "CASE WHEN TRUE THEN " * n + "1" + " END" * n,
        lambda n: "SELECT 1" + "::INT" * n,
        lambda n: "SELECT " + "abs(" * n + "1" + ")" * n,
        lambda n: "SELECT * FROM " + "(SELECT * FROM " * n + "gold.fund_nav" + ") t" * n,
        lambda n: "SELECT x" + "[1]" * n + " FROM gold.customer_360",
        lambda n: "SELECT " + ".".join(["a"] * n) + " FROM gold.customer_360",
        lambda n: "SELECT 1" + " BETWEEN 1 AND 2" * n,
    ],
    ids=[
        "parens",
        "where",
        "brackets",
        "not",
        "minus",
        "case",
        "casts",
        "calls",
        "subqueries",
        "subscripts",
        "dots",
        "between",
    ],
)
def test_deep_nesting_is_denied_not_a_traceback(
    session: Make, depth: int, shape: Callable[[int], str]
) -> None:
    with pytest.raises(QueryDenied, match=rf"nested too deeply \(limit ({MAX_NESTING}|{MAX_TREE_DEPTH}) "):
        session("RETAIL_TELLER").query(shape(depth))


def test_nesting_within_the_limit_still_runs(session: Make) -> None:
    n = MAX_NESTING - 2
    assert session("RETAIL_TELLER").query("SELECT " + "(" * n + "1" + ")" * n + " AS one").rows == [(1,)]


def test_a_long_flat_query_is_bounded_too(session: Make) -> None:
    with pytest.raises(QueryDenied, match="too long"):
        session("RETAIL_TELLER").query("SELECT " + "+".join(["1"] * 150_000))


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT repeat('x', 3000000000) FROM gold.customer_360",
        "SELECT repeat(name, customer_id::INTEGER) FROM gold.customer_360",
        "SELECT lpad(name, 2000000, '*') FROM gold.customer_360",
        "SELECT rpad(name, length(name) * 1000000) FROM gold.customer_360",
        "SELECT printf('%3000000000d', 1) FROM gold.customer_360",
        "SELECT format(name, 1) FROM gold.customer_360",
    ],
)
def test_a_call_that_sets_its_own_output_size_needs_a_small_literal_size(sql: str, session: Make) -> None:
    # One value of gigabytes is not seen by DuckDB's memory limit: refuse it before it runs.
    with pytest.raises(QueryDenied, match=r"literal|width"):
        check(sql, session("RETAIL_TELLER")._catalog)


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT repeat('-', 20) FROM gold.customer_360",
        "SELECT lpad(name, 30, ' ') FROM gold.customer_360",
        "SELECT printf('%05d', 7) FROM gold.customer_360",
        "SELECT format('{} {}', name, ssn) FROM gold.customer_360",
    ],
)
def test_small_literal_sizes_stay_allowed(sql: str, session: Make) -> None:
    assert check(sql, session("RETAIL_TELLER")._catalog).sql
