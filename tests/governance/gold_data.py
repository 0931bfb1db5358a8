"""Small hand-made gold tables with exactly the published columns, for governance tests."""

from __future__ import annotations

import random
from pathlib import Path

from twin.warehouse.engine import Warehouse

CUSTOMERS = 40


def _ssn(rng: random.Random) -> str:
    return f"{rng.randint(100, 665):03d}-{rng.randint(10, 99):02d}-{rng.randint(1000, 9999):04d}"


def build(path: Path | str, seed: int = 7) -> Warehouse:
    rng = random.Random(seed)
    wh = Warehouse(path)
    con = wh.con
    con.execute(
        """CREATE OR REPLACE TABLE gold.customer_360 (customer_id VARCHAR, name VARCHAR, ssn VARCHAR,
           email VARCHAR, phone VARCHAR, department VARCHAR, advisor_id VARCHAR, total_balance DECIMAL(18,2),
           account_count INTEGER, last_trade_date DATE, risk_score DOUBLE, profile_refreshed_at TIMESTAMP)"""
    ).fetchall()
    con.execute(
        """CREATE OR REPLACE TABLE gold.accounts (account_id VARCHAR, customer_id VARCHAR,
           account_number VARCHAR, type VARCHAR, balance DECIMAL(18,2), currency VARCHAR,
           department VARCHAR)"""
    ).fetchall()
    con.execute(
        """CREATE OR REPLACE TABLE gold.portfolio_daily (as_of DATE, account_id VARCHAR, customer_id VARCHAR,
           department VARCHAR, asset_class VARCHAR, market_value DECIMAL(18,2))"""
    ).fetchall()
    con.execute(
        """CREATE OR REPLACE TABLE gold.aum_by_department_asset_class (department VARCHAR,
           asset_class VARCHAR,
           aum DECIMAL(18,2), accounts INTEGER)"""
    ).fetchall()
    con.execute(
        "CREATE OR REPLACE TABLE gold.fund_nav (fund_id VARCHAR, as_of DATE, nav DECIMAL(18,4))"
    ).fetchall()
    con.execute("CREATE SCHEMA IF NOT EXISTS silver").fetchall()
    con.execute(
        "CREATE OR REPLACE TABLE silver.customers (customer_id VARCHAR, name VARCHAR, ssn VARCHAR, "
        "email VARCHAR, phone VARCHAR, department VARCHAR)"
    ).fetchall()
    first = ["James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda"]
    last = ["Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis"]
    customers, accounts, portfolio = [], [], []
    for i in range(CUSTOMERS):
        cid = f"C{i:05d}"
        dept = "Wealth" if i % 2 == 0 else "Retail"
        name = f"{rng.choice(first)} {rng.choice(last)}"
        email = f"{name.split()[0].lower()}{i}@example.com"
        phone = f"555-{rng.randint(100, 999)}-{rng.randint(1000, 9999)}"
        n_acc = 1 + i % 3
        total = 0.0
        for j in range(n_acc):
            bal = round(rng.uniform(100, 500_000), 2)
            total += bal
            aid = f"A{i:05d}{j}"
            accounts.append((aid, cid, f"{rng.randint(10**9, 10**10 - 1)}", "brokerage", bal, "USD", dept))
            for ac in ("Equity", "Fixed Income"):
                portfolio.append(("2026-11-20", aid, cid, dept, ac, round(bal / 2, 2)))
        customers.append(
            (cid, name, _ssn(rng), email, phone, dept, f"ADV{i % 5}", round(total, 2), n_acc,
             "2026-11-19", round(rng.random(), 3), "2026-11-20 08:00:00")
        )  # fmt: skip
    con.executemany("INSERT INTO gold.customer_360 VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", customers)
    con.executemany("INSERT INTO gold.accounts VALUES (?,?,?,?,?,?,?)", accounts)
    con.executemany("INSERT INTO gold.portfolio_daily VALUES (?,?,?,?,?,?)", portfolio)
    con.execute(
        """INSERT INTO gold.aum_by_department_asset_class
           SELECT department, asset_class, sum(market_value), count(DISTINCT account_id)
           FROM gold.portfolio_daily GROUP BY ALL"""
    ).fetchall()
    con.execute("INSERT INTO gold.fund_nav VALUES ('F1', '2026-11-20', 101.5)").fetchall()
    con.execute(
        "INSERT INTO silver.customers "
        "SELECT customer_id, name, ssn, email, phone, department FROM gold.customer_360"
    ).fetchall()
    return wh


def copy_database(src: Path | str, dst: Path | str) -> None:
    """Copy a warehouse through DuckDB, not the file system: a connection still open in this process
    (dbt's) may hold committed data in its WAL that a file copy would miss."""
    import duckdb

    con = duckdb.connect(str(src))
    try:
        src_name = con.execute("SELECT current_database()").fetchall()[0][0]
        con.execute(f"ATTACH '{dst}' AS twin_copy_dst").fetchall()
        con.execute(f'COPY FROM DATABASE "{src_name}" TO twin_copy_dst').fetchall()
        con.execute("DETACH twin_copy_dst").fetchall()
    finally:
        con.close()
