"""A tiny, hand-made fixture set with the generator's file contract, for warehouse tests.

Small enough to reason about by hand: known injected duplicates (`_dup_of` set, same business fields,
later `_emitted_at`) and late events (emitted after records with a later business time) in every feed,
and a balance update that arrives late and must not become the current balance.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

MONEY = pa.decimal128(18, 2)
UNIT = pa.decimal128(18, 4)
META = [
    pa.field("_event_id", pa.string()),
    pa.field("_emitted_at", pa.timestamp("us")),
    pa.field("_dup_of", pa.string()),
    pa.field("_late", pa.bool_()),
]
SCHEMAS: dict[str, pa.Schema] = {
    "customers": pa.schema(
        [(c, pa.string()) for c in ("customer_id", "name", "ssn", "email", "phone")]
        + [("date_of_birth", pa.date32())]
        + [(c, pa.string()) for c in ("department", "advisor_id", "region")]
    ),
    "accounts": pa.schema(
        [(c, pa.string()) for c in ("account_id", "customer_id", "account_number", "type")]
        + [("balance", MONEY), ("currency", pa.string())]
    ),
    "institutional_clients": pa.schema(
        [
            (c, pa.string())
            for c in ("client_id", "name", "type", "salesforce_account_id", "aws_account_id", "region")
        ]
    ),
    "funds": pa.schema(
        [(c, pa.string()) for c in ("fund_id", "ticker", "name", "asset_class", "currency")]
        + [("inception_date", pa.date32())]
    ),
    "nav": pa.schema(
        [("fund_id", pa.string()), ("nav_date", pa.date32()), ("nav", UNIT), ("aum", MONEY), *META]
    ),
    "trades": pa.schema(
        [(c, pa.string()) for c in ("trade_id", "account_id", "symbol", "side")]
        + [("quantity", UNIT), ("price", UNIT), ("executed_at", pa.timestamp("us")), *META]
    ),
    "positions": pa.schema(
        [
            ("account_id", pa.string()),
            ("fund_id", pa.string()),
            ("quantity", UNIT),
            ("market_value", MONEY),
            ("as_of", pa.date32()),
            *META,
        ]
    ),
    "balances": pa.schema(
        [
            ("account_id", pa.string()),
            ("balance", MONEY),
            ("currency", pa.string()),
            ("updated_at", pa.timestamp("us")),
            *META,
        ]
    ),
    "crm_signals": pa.schema(
        [(c, pa.string()) for c in ("signal_id", "client_id", "kind")]
        + [("score", pa.float64()), ("occurred_at", pa.timestamp("us")), *META]
    ),
    "data_products": pa.schema(
        [(c, pa.string()) for c in ("product_id", "name", "description")]
        + [("gold_tables", pa.list_(pa.string())), ("price_per_month_usd", MONEY)]
    ),
    "contracts": pa.schema(
        [(c, pa.string()) for c in ("contract_id", "client_id", "product_id", "status")]
        + [("start_date", pa.date32()), ("end_date", pa.date32())]
    ),
}


@dataclass
class TinyManifest:
    duplicates: dict[str, int] = field(default_factory=dict)
    late: dict[str, int] = field(default_factory=dict)
    originals: dict[str, int] = field(default_factory=dict)
    navs: dict[str, list[tuple[date, Decimal]]] = field(default_factory=dict)


def business_days(start: date, end: date) -> list[date]:
    days, d = [], start
    while d <= end:
        if d.weekday() < 5:
            days.append(d)
        d += timedelta(days=1)
    return days


def _feed(
    rows: list[dict], business: str, prefix: str, rng: random.Random, dup_every: int, late_every: int
) -> tuple[list[dict], int, int]:
    """Mark rows with feed metadata, inject duplicates and late events; return rows in arrival order."""
    rows = sorted(rows, key=lambda r: r[business])
    base = datetime(2026, 1, 1)
    out, dups, late = [], 0, 0
    for i, r in enumerate(rows):
        r = dict(
            r,
            _event_id=f"{prefix}-{i:06d}",
            _emitted_at=base + timedelta(minutes=i),
            _dup_of=None,
            _late=False,
        )
        if late_every and i % late_every == 3 and i + 10 < len(rows):
            r["_emitted_at"] = base + timedelta(minutes=i + 10, seconds=30)
            r["_late"] = True
            late += 1
        out.append(r)
    for i, r in enumerate(list(out)):
        if dup_every and i % dup_every == 1 and not r["_late"]:
            out.append(
                dict(
                    r,
                    _event_id=f"{prefix}-d{i:05d}",
                    _emitted_at=r["_emitted_at"] + timedelta(seconds=7),
                    _dup_of=r["_event_id"],
                )
            )
            dups += 1
    out.sort(key=lambda r: (r["_emitted_at"], r["_event_id"]))
    return out, dups, late


def write_tiny_fixtures(out: Path, seed: int = 7) -> TinyManifest:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    m = TinyManifest()
    data: dict[str, list[dict]] = {}
    data["customers"] = [
        {
            "customer_id": f"C{i}",
            "name": f"Customer {i}",
            "ssn": f"12{i}-45-678{i}",
            "email": f"c{i}@example.com",
            "phone": f"+1-555-010{i}",
            "date_of_birth": date(1970 + i, 1, 1 + i),
            "department": "Wealth" if i % 2 else "Retail",
            "advisor_id": f"ADV{i % 2}",
            "region": "US",
        }
        for i in range(1, 6)
    ]
    data["accounts"] = [
        {
            "account_id": f"A{i}",
            "customer_id": f"C{(i - 1) % 4 + 1}",
            "account_number": f"99000{i}",
            "type": "brokerage",
            "balance": Decimal(f"{1000 * i}.50"),
            "currency": "USD",
        }
        for i in range(1, 8)
    ]
    data["institutional_clients"] = [
        {
            "client_id": f"IC{i}",
            "name": f"Inst {i}",
            "type": "hedge_fund",
            "salesforce_account_id": f"001{i}",
            "aws_account_id": f"{i:012d}",
            "region": "US",
        }
        for i in range(1, 3)
    ]
    classes = ["Equity", "Fixed Income", "Money Market"]
    data["funds"] = [
        {
            "fund_id": f"F{i}",
            "ticker": f"TK{i}",
            "name": f"Fund {i}",
            "asset_class": classes[i - 1],
            "currency": "USD",
            "inception_date": date(2024, 1, 2),
        }
        for i in range(1, 4)
    ]
    days = business_days(date(2024, 1, 2), date(2025, 2, 28))
    nav_rows = []
    for f in data["funds"]:
        nav = 100.0
        series = []
        for d in days:
            nav *= 1 + rng.gauss(0.0003, 0.01)
            q = Decimal(f"{nav:.4f}")
            series.append((d, q))
            nav_rows.append(
                {"fund_id": f["fund_id"], "nav_date": d, "nav": q, "aum": Decimal(f"{q * 10000:.2f}")}
            )
        m.navs[f["fund_id"]] = series
    data["nav"] = nav_rows
    t0 = datetime(2025, 2, 3, 9, 30)
    data["trades"] = [
        {
            "trade_id": f"T{i:04d}",
            "account_id": f"A{i % 6 + 1}",
            "symbol": f"TK{i % 3 + 1}",
            "side": "BUY" if i % 3 else "SELL",
            "quantity": Decimal(f"{10 + i}.0000"),
            "price": Decimal("101.2500"),
            "executed_at": t0 + timedelta(hours=5 * i),
        }
        for i in range(60)
    ]
    data["positions"] = [
        {
            "account_id": f"A{a}",
            "fund_id": f"F{f}",
            "quantity": Decimal(f"{q}.0000"),
            "market_value": Decimal(f"{q * 100}.00"),
            "as_of": d,
        }
        for a in range(1, 7)
        for f in range(1, 4)
        if (a + f) % 2 == 0
        for d, q in ((date(2025, 2, 27), 10 * a + f), (date(2025, 2, 28), 10 * a + f + 1))
    ]
    data["balances"] = [
        {
            "account_id": f"A{a}",
            "balance": Decimal(f"{500 * a + k}.00"),
            "currency": "USD",
            "updated_at": datetime(2025, 2, 1 + k, 12),
        }
        for a in range(1, 7)
        for k in range(4)
    ]
    data["crm_signals"] = [
        {
            "signal_id": f"S{i}",
            "client_id": f"IC{i % 2 + 1}",
            "kind": "meeting",
            "score": 0.5 + i / 100,
            "occurred_at": datetime(2025, 2, 1) + timedelta(hours=i),
        }
        for i in range(12)
    ]
    data["data_products"] = [
        {
            "product_id": f"P{i}",
            "name": n,
            "description": n,
            "gold_tables": ["fund_nav"],
            "price_per_month_usd": Decimal("1000.00"),
        }
        for i, n in enumerate(
            ["ESG Insights", "Private Credit Performance", "Hedge Fund Benchmarks", "Macro Signals"], 1
        )
    ]
    data["contracts"] = [
        {
            "contract_id": f"K{i}",
            "client_id": f"IC{i % 2 + 1}",
            "product_id": f"P{i}",
            "status": "active",
            "start_date": date(2025, 1, 1),
            "end_date": None,
        }
        for i in range(1, 4)
    ]
    business = {
        "nav": "nav_date",
        "trades": "executed_at",
        "positions": "as_of",
        "balances": "updated_at",
        "crm_signals": "occurred_at",
    }
    for name, col in business.items():
        m.originals[name] = len(data[name])
        data[name], m.duplicates[name], m.late[name] = _feed(data[name], col, name, rng, 9, 11)
    for name, rows in data.items():
        pq.write_table(pa.Table.from_pylist(rows, schema=SCHEMAS[name]), out / f"{name}.parquet")
    return m
