"""A small gold layer with the published tables' key columns, for runner tests that must not wait for
the full warehouse build. The governance layer applies its shipped policies to it on first use."""

from __future__ import annotations

from pathlib import Path

import duckdb

GOLD = [
    "CREATE SCHEMA IF NOT EXISTS gold",
    """CREATE TABLE gold.customer_360 AS SELECT 'CUST' || lpad(i::VARCHAR, 6, '0') AS customer_id,
         'Name ' || i AS name, lpad(i::VARCHAR, 9, '0') AS ssn, 'c' || i || '@example.com' AS email,
         '555-0100' AS phone, CASE WHEN i % 3 = 0 THEN 'Retail' ELSE 'Wealth' END AS department,
         'ADV' || (i % 50)::VARCHAR AS advisor_id
       FROM range(2000) t(i)""",
    """CREATE TABLE gold.accounts AS SELECT 'ACC' || lpad(i::VARCHAR, 6, '0') AS account_id,
         'CUST' || lpad((i // 2)::VARCHAR, 6, '0') AS customer_id, 'N' || i AS account_number,
         (1000 + i)::DECIMAL(18, 2) AS balance,
         CASE WHEN (i // 2) % 3 = 0 THEN 'Retail' ELSE 'Wealth' END AS department
       FROM range(4000) t(i)""",
    """CREATE TABLE gold.portfolio_daily AS SELECT 'ACC' || lpad(i::VARCHAR, 6, '0') AS account_id,
         DATE '2026-11-20' AS as_of, 1.0 * i AS market_value, 'Wealth' AS department FROM range(100) t(i)""",
    """CREATE TABLE gold.fund_nav AS SELECT 'FND' || lpad((i % 200)::VARCHAR, 4, '0') AS fund_id,
         DATE '2026-01-01' + (i // 200)::INTEGER AS nav_date, 100 + (i % 17) AS nav FROM range(20000) t(i)""",
    """CREATE TABLE gold.aum_by_department_asset_class AS
         SELECT * FROM (VALUES ('Wealth', 'Equity', 1.0e9), ('Retail', 'Bond', 2.0e8))
           v(department, asset_class, aum)""",
]


def build_gold_stub(path: Path) -> Path:
    con = duckdb.connect(str(path))
    for stmt in GOLD:
        con.execute(stmt).fetchall()
    con.close()
    return path
