# ruff: noqa: E501 -- SQL cases read best kept on one line
"""SQL firewall: every bypass attempt is denied with a reason; ordinary spellings still work."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from twin.governance.errors import QueryDenied
from twin.governance.firewall import Catalog
from twin.governance.session import SecureSession

Make = Callable[..., SecureSession]

BYPASSES = [
    "SELECT * FROM silver.customers",
    "SELECT * FROM bronze.anything",
    "SELECT * FROM governance.role_department_map",
    'SELECT * FROM "governance"."gold__customer_360"',
    "SELECT * FROM read_parquet('x.parquet')",
    "SELECT * FROM (SELECT * FROM read_csv('/etc/passwd')) t",
    "SELECT * FROM glob('*')",
    "SELECT * FROM 'data.parquet'",
    'SELECT * FROM "data.csv"',
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE gold.customer_360",
    "SET VARIABLE twin_role = 'WEALTH_ADMIN'",
    "SET VARIABLE twin_roles = ['WEALTH_ADMIN']",
    "RESET VARIABLE twin_role",
    "ATTACH 'other.duckdb' AS o",
    "COPY gold.customer_360 TO 'out.csv'",
    "COPY (SELECT * FROM gold.customer_360) TO 'out.parquet'",
    "EXPORT DATABASE 'dump'",
    "PRAGMA table_info('gold.customer_360')",
    "INSTALL httpfs",
    "LOAD httpfs",
    "CALL pragma_version()",
    "CREATE TABLE gold.x AS SELECT 1",
    "DROP VIEW governance.gold__customer_360",
    "INSERT INTO gold.fund_nav VALUES ('x', current_date, 1)",
    "UPDATE gold.customer_360 SET ssn = 'x'",
    "DELETE FROM gold.customer_360",
    "SELECT getenv('HOME')",
    "SELECT current_setting('enable_external_access')",
    "SELECT getvariable('twin_role')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM system.main.duckdb_tables",
    "SELECT * FROM temp.main.anything",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM other_db.gold.customer_360",
    "SELECT * FROM query('SELECT * FROM silver.customers')",
    "DESCRIBE gold.customer_360",
    "SHOW TABLES",
    "SELECT * FROM range(10)",
    "USE silver",
    "WITH x AS (SELECT * FROM silver.customers) SELECT * FROM x",
    "SELECT * FROM gold.customer_360 UNION ALL SELECT * FROM silver.customers",
    "SELECT ssn FROM gold.customer_360 WHERE customer_id IN (SELECT customer_id FROM SiLvEr.CuStOmErS)",
    '/* hi */ SeLeCt * FrOm sIlVeR."customers" -- bye',
    "SELECT * FROM gold.customer_360 WHERE 1 = 1; -- ; SELECT 1\nSELECT 2",
    "SELECT '",
    "",
]


@pytest.mark.parametrize("sql", BYPASSES)
def test_bypass_is_denied(session: Make, sql: str) -> None:
    with pytest.raises(QueryDenied) as info:
        session("WEALTH_ADMIN").query(sql)
    assert info.value.reason


SPELLINGS = [
    "SELECT ssn FROM gold.customer_360",
    'SELECT ssn FROM "gold"."customer_360"',
    'SELECT ssn FROM "GOLD"."CUSTOMER_360"',
    "select SSN from Gold.Customer_360",
    "SELECT ssn FROM warehouse.gold.customer_360",
    "SELECT ssn FROM customer_360",
    "/* comment */ SELECT ssn -- trailing\n FROM gold . customer_360",
    "WITH customer_360 AS (SELECT * FROM gold.customer_360) SELECT ssn FROM customer_360",
    "SELECT c.ssn FROM gold.customer_360 AS c JOIN gold.accounts a USING (customer_id)",
    "SELECT ssn FROM (SELECT * FROM gold.customer_360) sub",
]


@pytest.mark.parametrize("sql", SPELLINGS)
def test_every_spelling_reads_the_secure_view(session: Make, sql: str) -> None:
    rows = session("RETAIL_TELLER").query(sql).rows
    assert rows, sql
    assert all(r[0].startswith("***-**-") for r in rows), sql


def test_cte_shadowing_a_governed_name_cannot_unmask(session: Make) -> None:
    s = session("RETAIL_TELLER")
    rows = s.query(
        "WITH gold_customer AS (SELECT * FROM gold.customer_360), customer_360 AS (SELECT * FROM gold_customer) "
        "SELECT ssn, department FROM customer_360"
    ).rows
    assert rows and all(ssn.startswith("***") and dept == "Retail" for ssn, dept in rows)


def test_role_cannot_change_inside_session(session: Make) -> None:
    s = session("RETAIL_TELLER")
    for sql in (
        "SET VARIABLE twin_roles = ['WEALTH_ADMIN']",
        "SET ROLE WEALTH_ADMIN",
        "USE ROLE WEALTH_ADMIN",
    ):
        with pytest.raises(QueryDenied):
            s.query(sql)
    assert s.query("SELECT DISTINCT department FROM gold.customer_360").rows == [("Retail",)]


# ---- the checker's own caches and per-thread parsers must not change a verdict ---------------------


def _verdict(sql: str, catalog: Catalog) -> tuple[str, str]:
    from twin.governance.firewall import check_uncached

    try:
        return "allowed", check_uncached(sql, catalog).sql
    except QueryDenied as e:
        return "denied", e.reason


def test_verdicts_do_not_depend_on_what_was_checked_before(session: Make) -> None:
    """Node and function verdicts are cached per class: a cold cache and a warm one judge alike."""
    from twin.governance import firewall

    catalog = session("WEALTH_ADMIN")._catalog
    queries = [*BYPASSES, *SPELLINGS]
    firewall._kinds.clear()
    firewall._func_denied.clear()
    cold = [_verdict(q, catalog) for q in queries]
    warm = [_verdict(q, catalog) for q in reversed(queries)][::-1]
    assert cold == warm
    assert all(v == "denied" for v, _ in cold[: len(BYPASSES)])
    assert all(v == "allowed" for v, _ in cold[len(BYPASSES) :])


def test_checks_from_many_threads_agree_with_one_thread(session: Make) -> None:
    """Each thread parses with its own parser: concurrent checks give exactly the sequential answers."""
    from concurrent.futures import ThreadPoolExecutor

    catalog = session("RETAIL_TELLER")._catalog
    queries = [*BYPASSES, *SPELLINGS] * 4
    expected = [_verdict(q, catalog) for q in queries]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(lambda q: _verdict(q, catalog), queries))
    assert got == expected


def test_a_comment_cannot_smuggle_code_into_the_generated_sql(session: Make) -> None:
    """Comments survive regeneration as block comments: one holding `*/` must not end early there."""
    s = session("RETAIL_TELLER")
    got = s.query("SELECT count(*) AS n -- */ , getenv('HOME') AS h /*\n FROM gold.customer_360")
    assert got.columns == ["n"]
