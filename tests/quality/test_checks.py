"""Warehouse data-quality checks: clean on a fresh build, and each failure mode detected."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from twin.quality import check_warehouse
from twin.warehouse.engine import Warehouse


def test_a_fresh_build_passes(gold_db: Path) -> None:
    with Warehouse(gold_db) as wh:
        report = check_warehouse(wh)
    assert report.passed, report.failures
    assert {c.name for c in report.checks} == {"unique_key", "not_empty", "freshness"}


def test_stale_feeds_duplicate_keys_and_empty_gold_are_reported(gold_db_copy: Path) -> None:
    with Warehouse(gold_db_copy) as wh:
        wh.con.execute("INSERT INTO silver.trades SELECT * FROM silver.trades LIMIT 1").fetchall()
        wh.con.execute("DELETE FROM gold.portfolio_daily").fetchall()
        report = check_warehouse(wh, as_of=datetime(2030, 1, 1), max_staleness=timedelta(days=1))
    failed = {(c.name, c.relation) for c in report.failures}
    assert ("unique_key", "silver.trades") in failed
    assert ("not_empty", "gold.portfolio_daily") in failed
    assert ("freshness", "silver.nav") in failed
    assert ("unique_key", "silver.customers") not in failed
