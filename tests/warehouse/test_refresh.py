"""The incremental refresh: same silver and gold as a full dbt build over the same bronze."""

from __future__ import annotations

import math
import shutil
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from tests.warehouse.tiny_fixtures import SCHEMAS
from twin.warehouse.build import layer_rows
from twin.warehouse.catalog import recorded_models
from twin.warehouse.dbt_runner import run_dbt
from twin.warehouse.engine import BronzeIsAppendOnly, Warehouse
from twin.warehouse.refresh import refresh_gold, refresh_silver


def _feed_meta(
    n: int, prefix: str, dup_of: list[str | None] | None = None, late: list[bool] | None = None
) -> dict:
    return {
        "_event_id": [f"{prefix}-new{i}" for i in range(n)],
        "_emitted_at": [datetime(2026, 2, 1, 12, i) for i in range(n)],
        "_dup_of": dup_of or [None] * n,
        "_late": late or [False] * n,
    }


def _append_new_bronze(wh: Warehouse) -> None:
    existing = wh.con.execute(
        "SELECT trade_id, account_id, symbol, side, quantity, price, executed_at, _event_id "
        "FROM bronze.trades_raw WHERE _dup_of IS NULL ORDER BY trade_id LIMIT 1"
    ).fetchall()[0]
    trades = {
        "trade_id": ["N1", "N2", "N3", existing[0]],
        "account_id": ["A1", "A2", "A1", existing[1]],
        "symbol": ["TK1", "TK2", "TK3", existing[2]],
        "side": ["BUY", "SELL", "BUY", existing[3]],
        "quantity": [Decimal("5"), Decimal("7"), Decimal("9"), existing[4]],
        "price": [Decimal("100"), Decimal("101"), Decimal("102"), existing[5]],
        # N3 is late: executed long before the others arrive.
        "executed_at": [
            datetime(2025, 3, 3, 10),
            datetime(2025, 3, 3, 11),
            datetime(2025, 2, 3, 9),
            existing[6],
        ],
        **_feed_meta(4, "trades", dup_of=[None, None, None, existing[7]], late=[False, False, True, False]),
    }
    wh.append_bronze("trades_raw", pa.table(trades, schema=SCHEMAS["trades"]), source="stream")
    balances = {
        "account_id": ["A1", "A2"],
        "balance": [Decimal("1.00"), Decimal("77777.00")],
        "currency": ["USD", "USD"],
        # A1's update is late (older than its current balance) and must not become current.
        "updated_at": [datetime(2025, 1, 15), datetime(2025, 3, 3)],
        **_feed_meta(2, "balances", late=[True, False]),
    }
    wh.append_bronze("balances_raw", pa.table(balances, schema=SCHEMAS["balances"]), source="stream")
    positions = {
        "account_id": ["A1"],
        "fund_id": ["F1"],
        "quantity": [Decimal("500")],
        "market_value": [Decimal("50000.00")],
        "as_of": [date(2025, 3, 3)],
        **_feed_meta(1, "positions"),
    }
    wh.append_bronze(
        "aladdin_positions_raw", pa.table(positions, schema=SCHEMAS["positions"]), source="aladdin"
    )
    nav = {
        "fund_id": ["F1"],
        "nav_date": [date(2025, 3, 3)],
        "nav": [Decimal("123.4567")],
        "aum": [Decimal("1234567.00")],
        **_feed_meta(1, "nav"),
    }
    wh.append_bronze("nav_raw", pa.table(nav, schema=SCHEMAS["nav"]), source="stream")
    customer = wh.con.sql(
        "SELECT * EXCLUDE (_source, _topic, _partition, _offset, _ingested_at) FROM bronze.customers_raw "
        "WHERE customer_id = 'C1'"
    ).to_arrow_table()
    renamed = customer.set_column(
        customer.schema.get_field_index("name"), "name", pa.array(["Renamed Customer"])
    )
    wh.append_bronze("customers_raw", renamed, source="crm")


def _append_trade(wh: Warehouse, trade_id: str, account_id: str, executed_at: datetime) -> None:
    trade = {
        "trade_id": [trade_id],
        "account_id": [account_id],
        "symbol": ["TK1"],
        "side": ["BUY"],
        "quantity": [Decimal("3")],
        "price": [Decimal("99")],
        "executed_at": [executed_at],
        **_feed_meta(1, trade_id),
    }
    wh.append_bronze("trades_raw", pa.table(trade, schema=SCHEMAS["trades"]), source="stream")


def _snapshot(db: Path, *, without: tuple[str, ...] = ()) -> dict[str, list[tuple]]:
    with Warehouse(db) as wh:
        out = {}
        for layer in ("silver", "gold"):
            for table in layer_rows(wh)[layer]:
                names = [r[0] for r in wh.con.execute(f"DESCRIBE {layer}.{table}").fetchall()]
                cols = ", ".join(f'"{c}"' for c in names if c not in without)
                rows = wh.con.execute(f"SELECT {cols} FROM {layer}.{table}").fetchall()
                out[f"{layer}.{table}"] = sorted(rows, key=repr)
        return out


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def test_refresh_equals_a_full_dbt_build(tiny, tmp_path: Path) -> None:
    db = tmp_path / "copy-under-another-name.duckdb"
    shutil.copy(tiny.db_path, db)
    before = _snapshot(db)
    with Warehouse(db) as wh:
        assert refresh_gold(wh).changed is False
        _append_new_bronze(wh)
        stats = refresh_gold(wh)
        assert refresh_gold(wh).changed is False
        # Trades alone: customer_360 recomputes only the customer whose account traded.
        _append_trade(wh, "N4", "A2", datetime(2025, 3, 9, 15))
        trades_only = refresh_gold(wh)
        c360 = dict(wh.con.execute("SELECT customer_id, last_trade_date FROM gold.customer_360").fetchall())
        owner = wh.con.execute("SELECT customer_id FROM silver.accounts WHERE account_id = 'A2'").fetchall()
    assert trades_only.keyed == {"gold.customer_360": 1}
    assert "gold.customer_360" not in trades_only.rebuilt
    assert c360[owner[0][0]] == date(2025, 3, 9)
    assert set(stats.new_bronze_rows) == {
        "trades_raw",
        "balances_raw",
        "aladdin_positions_raw",
        "nav_raw",
        "customers_raw",
    }
    assert stats.merged["silver.trades"] == 4
    assert {"gold.customer_360", "gold.accounts", "gold.risk_metrics", "gold.fund_performance"} <= set(
        stats.rebuilt
    )
    refreshed = _snapshot(db)
    assert refreshed != before
    assert len(refreshed["silver.trades"]) == len(before["silver.trades"]) + 4

    work = tmp_path / "dbt"
    run = run_dbt(["build"], db, work)
    assert run.success
    rebuilt = _snapshot(db)
    with Warehouse(db) as wh:  # the lookup index survives dbt replacing the table
        indexes = wh.con.execute(
            "SELECT table_name FROM duckdb_indexes() WHERE schema_name = 'gold'"
        ).fetchall()
    assert indexes == [("customer_360",)]
    assert refreshed.keys() == rebuilt.keys()
    for table in rebuilt:
        assert len(refreshed[table]) == len(rebuilt[table]), table
        mismatched = [
            (a, b) for a, b in zip(refreshed[table], rebuilt[table], strict=True) if not _same(a, b)
        ]
        assert not mismatched, (table, mismatched[:2])


def test_silver_refresh_then_gold_refresh_equals_gold_refresh_alone(tiny, tmp_path: Path) -> None:
    """The streaming path merges into silver's feeds every second; the next gold refresh must end where a
    gold refresh of the same bronze would, including rows bronze got after the silver refresh."""
    direct, staged = tmp_path / "direct.duckdb", tmp_path / "staged.duckdb"
    shutil.copy(tiny.db_path, direct)
    shutil.copy(tiny.db_path, staged)
    with Warehouse(direct) as wh:
        _append_new_bronze(wh)
        _append_trade(wh, "N4", "A2", datetime(2025, 3, 9, 15))
        refresh_gold(wh)
    before = _snapshot(staged)
    with Warehouse(staged) as wh:
        _append_new_bronze(wh)
        silver = refresh_silver(wh)
        assert refresh_silver(wh).changed is False
        _append_trade(wh, "N4", "A2", datetime(2025, 3, 9, 15))
        assert refresh_silver(wh).new_bronze_rows == {"trades_raw": 1}
        trades = len(wh.con.execute("SELECT * FROM silver.trades").fetchall())
    assert silver.merged["silver.trades"] == 4 and silver.rebuilt == []
    assert {"silver.trades", "silver.balances", "silver.positions"} <= set(silver.merged)
    after_silver = _snapshot(staged)
    assert trades == len(before["silver.trades"]) + 4  # N1-N3 and N4; the fourth is a known trade
    # Gold and the silver models downstream of the feeds wait for the gold refresh.
    for table in ("gold.customer_360", "gold.accounts", "silver.trade_activity", "silver.holdings"):
        assert after_silver[table] == before[table], table
    with Warehouse(staged) as wh:
        gold = refresh_gold(wh)
        assert refresh_gold(wh).changed is False and refresh_silver(wh).changed is False
    assert gold.new_bronze_rows["trades_raw"] == 5
    # The two copies appended and refreshed at different times: compare all but those timestamps.
    clocks = ("_ingested_at", "ingested_at", "profile_refreshed_at")
    assert _snapshot(staged, without=clocks) == _snapshot(direct, without=clocks)


def test_late_balance_update_does_not_become_current(tiny, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copy(tiny.db_path, db)
    with Warehouse(db) as wh:
        current = wh.con.execute("SELECT balance FROM gold.accounts WHERE account_id = 'A1'").fetchall()[0][0]
        _append_new_bronze(wh)
        refresh_gold(wh)
        rows = dict(wh.con.execute("SELECT account_id, balance FROM gold.accounts").fetchall())
        name = wh.con.execute("SELECT name FROM gold.customer_360 WHERE customer_id = 'C1'").fetchall()[0][0]
    assert rows["A1"] == current != Decimal("1.00")
    assert rows["A2"] == Decimal("77777.00")
    assert name == "Renamed Customer"


def test_bronze_is_append_only_through_the_api(tiny, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    shutil.copy(tiny.db_path, db)
    with Warehouse(db) as wh:
        n = wh.count("bronze.trades_raw")
        with pytest.raises(BronzeIsAppendOnly, match="append-only"):
            wh.update_bronze("trades_raw", {"price": 0})
        with pytest.raises(BronzeIsAppendOnly, match="append-only"):
            wh.delete_bronze("trades_raw")
        refresh_gold(wh)
        assert wh.count("bronze.trades_raw") == n


def test_recorded_models_cover_the_project(tiny) -> None:
    with Warehouse(tiny.db_path) as wh:
        specs = recorded_models(wh)
    relations = [s.relation for s in specs]
    for gold in (
        "customer_360",
        "accounts",
        "portfolio_daily",
        "fund_nav",
        "fund_performance",
        "risk_metrics",
        "compliance_transactions",
        "aum_by_department_asset_class",
    ):
        assert f"gold.{gold}" in relations
    # Dependency order: every model comes after the models it reads.
    for i, spec in enumerate(specs):
        assert not set(spec.depends_on) & set(relations[i:])
