"""Silver on the generator's fixtures: exactly the injected duplicates removed, late events placed."""

from __future__ import annotations

from collections import defaultdict

import duckdb
import pyarrow.parquet as pq

from twin.fixtures import RAW_FEEDS

SILVER = {
    "nav": "nav",
    "trades": "trades",
    "positions": "positions",
    "balances": "balances",
    "crm_signals": "crm_signals",
}
KEYS = {
    "nav": ("fund_id", "nav_date"),
    "trades": ("trade_id",),
    "positions": ("account_id", "fund_id", "as_of"),
    "balances": ("account_id", "updated_at"),
    "crm_signals": ("signal_id",),
}
BUSINESS = {
    "nav": "nav_date",
    "trades": "executed_at",
    "positions": "as_of",
    "balances": "updated_at",
    "crm_signals": "occurred_at",
}


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def test_row_counts_per_layer(gold_build) -> None:
    rows = gold_build.result.rows
    for entity, n in gold_build.fixtures.rows.items():
        table = "aladdin_positions_raw" if entity == "positions" else f"{entity}_raw"
        assert rows["bronze"][table] == n
    for entity in ("customers", "accounts", "funds", "institutional_clients", "contracts", "data_products"):
        assert rows["silver"][entity] == gold_build.fixtures.rows[entity]
    assert rows["gold"]["customer_360"] == gold_build.fixtures.rows["customers"]
    assert rows["gold"]["accounts"] == gold_build.fixtures.rows["accounts"]
    assert gold_build.result.tests_failed == []
    assert gold_build.result.tests_passed >= 40


def test_silver_removes_exactly_the_injected_duplicates(gold_build) -> None:
    with duckdb.connect(str(gold_build.db_path), read_only=True) as con:
        for feed in RAW_FEEDS:
            stats = gold_build.fixtures.feeds[feed]
            assert stats.duplicates > 0
            silver = _rows(con, f"SELECT count(*) FROM silver.{SILVER[feed]}")[0][0]
            assert silver == stats.rows - stats.duplicates, feed
            key = ", ".join(KEYS[feed])
            dup_keys = _rows(
                con,
                f"SELECT count(*) FROM (SELECT {key} FROM silver.{SILVER[feed]} "
                "GROUP BY ALL HAVING count(*) > 1)",
            )
            assert dup_keys == [(0,)], feed
            # Every original event survives, as itself or as its (identical) duplicate.
            missing = _rows(
                con,
                f"""SELECT count(*) FROM read_parquet('{gold_build.fixtures_dir / f"{feed}.parquet"}') f
                    WHERE f._dup_of IS NULL AND NOT EXISTS (
                        SELECT 1 FROM silver.{SILVER[feed]} s
                        WHERE s._event_id = f._event_id OR s._dup_of = f._event_id)""",
            )
            assert missing == [(0,)], feed


def test_late_events_are_placed_by_business_time(gold_build) -> None:
    positions = pq.read_table(gold_build.fixtures_dir / "positions.parquet").to_pylist()
    assert any(p["_late"] for p in positions)
    by_business: dict[tuple, dict] = {}
    by_arrival: dict[tuple, dict] = {}
    for p in positions:  # the file is in arrival order
        k = (p["account_id"], p["fund_id"])
        by_arrival[k] = p
        if k not in by_business or p["as_of"] >= by_business[k]["as_of"]:
            by_business[k] = p
    expected = {k: (p["as_of"], p["quantity"]) for k, p in by_business.items() if p["quantity"] > 0}
    with duckdb.connect(str(gold_build.db_path), read_only=True) as con:
        got = {
            (a, f): (d, q)
            for a, f, d, q in _rows(con, "SELECT account_id, fund_id, as_of, quantity FROM silver.holdings")
        }
        late_in_silver = _rows(con, "SELECT count(*) FROM silver.trades WHERE _late")[0][0]
    assert got == expected
    assert late_in_silver == gold_build.fixtures.feeds["trades"].late


def test_late_snapshot_does_not_replace_a_newer_one(tiny) -> None:
    """In the tiny set a 2/27 position snapshot arrives after the same holding's 2/28 one."""
    rows = pq.read_table(tiny.fixtures_dir / "positions.parquet").to_pylist()
    arrival: dict[tuple, dict] = {}
    for p in rows:
        arrival[(p["account_id"], p["fund_id"])] = p
    overtaken = {k for k, p in arrival.items() if p["_late"]}
    assert overtaken, "the tiny set must contain a late snapshot that arrives last"
    with duckdb.connect(str(tiny.db_path), read_only=True) as con:
        holdings = {
            (a, f): d for a, f, d in _rows(con, "SELECT account_id, fund_id, as_of FROM silver.holdings")
        }
    latest = defaultdict(lambda: None)
    for p in rows:
        k = (p["account_id"], p["fund_id"])
        latest[k] = max(filter(None, [latest[k], p["as_of"]]))
    for k in overtaken:
        assert holdings[k] == latest[k] != arrival[k]["as_of"]
