"""Produce → ingest → silver → gold, end to end against the real local Kafka, counts exact.

Trades on the fixture warehouse's own accounts and fund tickers go through the real broker and the real
Ingester into bronze; the incremental refresh (the path the twin takes every hour) then brings silver and
gold up to date. Injected duplicates must collapse, late events must land at their business time, and
gold must see every new unique trade.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from tests.streaming.helpers import unique
from twin.domain.entities import Trade
from twin.fixtures import read_entity
from twin.streaming.contracts.apply import apply_topics
from twin.streaming.contracts.topics import DLQ_TOPIC, TOPICS, TopicSpec, topic
from twin.streaming.ingest import IngestConfig, Ingester
from twin.streaming.kafka_adapter import KafkaBroker
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, ids_from_fixtures, produce
from twin.warehouse.engine import Warehouse
from twin.warehouse.refresh import refresh_gold

pytestmark = pytest.mark.live
FAST = IngestConfig(batch_max_records=2000, batch_max_ms=100, poll_timeout_s=0.1)
N_TRADES = 3000


class _Recording:
    """A ContractProducer that remembers what it sent, so expectations come from the events themselves."""

    def __init__(self, inner: ContractProducer) -> None:
        self.inner = inner
        self.sent: list[tuple[Trade, dict[str, Any]]] = []

    def send(self, target: str | TopicSpec, value: BaseModel, **kw: Any) -> Any:
        assert isinstance(value, Trade)
        self.sent.append((value, kw))
        return self.inner.send(target, value, **kw)

    def poll(self) -> None:
        self.inner.poll()

    def flush(self, timeout_s: float = 30.0) -> None:
        self.inner.flush(timeout_s)


def _scalar(wh: Warehouse, sql: str, *params: object) -> Any:
    return wh.con.execute(sql, list(params)).fetchall()[0][0]


def _last_trade_dates(wh: Warehouse) -> dict[str, date | None]:
    return dict(wh.con.execute("SELECT customer_id, last_trade_date FROM gold.customer_360").fetchall())


def test_trades_on_fixture_accounts_reach_silver_and_gold_with_exact_counts(
    kafka_cluster: Any, gold_build: Any, gold_db_copy: Path
) -> None:
    broker = KafkaBroker(kafka_cluster.bootstrap)
    spec = topic("asset-management.trades.execution").model_copy(update={"name": unique("trades-silver")})
    apply_topics(broker.admin(), [TOPICS[DLQ_TOPIC], spec])
    ids = ids_from_fixtures(gold_build.fixtures_dir)
    customer_of = dict(
        zip(
            *read_entity(gold_build.fixtures_dir, "accounts")
            .select(["account_id", "customer_id"])
            .to_pydict()
            .values(),
            strict=True,
        )
    )

    wh = Warehouse(gold_db_copy)
    silver_before = _scalar(wh, "SELECT count(*) FROM silver.trades")
    compliance_before = _scalar(wh, "SELECT count(*) FROM gold.compliance_transactions")
    last_before = _last_trade_dates(wh)

    producer = _Recording(ContractProducer(broker.producer(), source="test"))
    # Generous injection rates so a few thousand events carry dozens of duplicates and late events.
    report = produce(
        producer,  # type: ignore[arg-type]
        SOURCES["trades"],
        rate=1e9,
        count=N_TRADES,
        topic=spec,
        seed=11,
        ids=ids,
        dup_rate=0.03,
        late_rate=0.03,
    )
    originals = {v.trade_id: v for v, kw in producer.sent if kw.get("dupof") is None}
    late = {v.trade_id: v for v, kw in producer.sent if kw.get("late")}
    assert report.sent == N_TRADES and report.duplicates > 10 and report.late > 10, report
    assert len(originals) == N_TRADES - report.duplicates  # trade ids are unique among originals
    ingester = Ingester(broker, wh, spec, "trades_raw", config=FAST)
    stats = ingester.run(until_idle_s=2.0)
    ingester.close()
    assert stats.written == N_TRADES and stats.dead_lettered == 0, stats
    assert _scalar(wh, "SELECT count(*) FROM bronze.trades_raw WHERE _topic = ?", spec.name) == N_TRADES
    assert (
        _scalar(
            wh, "SELECT count(*) FROM bronze.trades_raw WHERE _topic = ? AND _dup_of IS NOT NULL", spec.name
        )
        == report.duplicates
    )

    refreshed = refresh_gold(wh)
    assert refreshed.new_bronze_rows == {"trades_raw": N_TRADES}

    # Silver: exactly one row per new trade id; the duplicates are gone.
    assert _scalar(wh, "SELECT count(*) FROM silver.trades") - silver_before == len(originals)
    silver_new = {
        r[0]: r[1:]
        for r in wh.con.execute(
            "SELECT trade_id, executed_at, _late, _emitted_at FROM silver.trades WHERE _topic = ?",
            [spec.name],
        ).fetchall()
    }
    assert set(silver_new) == set(originals)
    assert _scalar(wh, "SELECT count(*) - count(DISTINCT trade_id) FROM silver.trades") == 0
    # Late events sit at their business time (minutes before they were emitted), flagged late.
    for tid, v in late.items():
        executed_at, is_late, emitted_at = silver_new[tid]
        assert executed_at == v.executed_at and is_late
        assert emitted_at - executed_at >= timedelta(minutes=1)

    # Gold: the audit view carries every new trade with its lineage, and customer_360's last trade date
    # is the later of the fixture history and the new trades' business dates.
    assert _scalar(wh, "SELECT count(*) FROM gold.compliance_transactions") - compliance_before == len(
        originals
    )
    assert _scalar(
        wh,
        "SELECT count(*) FROM gold.compliance_transactions WHERE source_topic = ? AND arrived_late "
        "AND customer_id IS NOT NULL AND fund_id IS NOT NULL",
        spec.name,
    ) == len(late)
    newest: dict[str, date] = defaultdict(lambda: date.min)
    for v in originals.values():
        c = customer_of[v.account_id]
        newest[c] = max(newest[c], v.executed_at.date())
    last_after = _last_trade_dates(wh)
    expected = dict(last_before)
    for c, d in newest.items():
        expected[c] = d if expected[c] is None else max(expected[c], d)
    assert last_after == expected
    assert any(last_after[c] != last_before[c] for c in newest)

    # A second refresh with no new bronze changes nothing.
    again = refresh_gold(wh)
    assert not again.changed
    assert _scalar(wh, "SELECT count(*) FROM silver.trades") - silver_before == len(originals)

    # An older version of a trade silver already holds arrives late, through the next refresh's merge:
    # business time, not arrival, decides, so silver and gold keep the newer version.
    kept = next(v for tid, v in originals.items() if tid not in late)
    producer.send(
        spec, kept.model_copy(update={"executed_at": kept.executed_at - timedelta(days=3)}), late=True
    )
    producer.flush()
    ingester = Ingester(broker, wh, spec, "trades_raw", config=FAST)
    assert ingester.run(until_idle_s=2.0).written == 1
    ingester.close()
    third = refresh_gold(wh)
    assert third.new_bronze_rows == {"trades_raw": 1} and third.merged["silver.trades"] == 1
    assert _scalar(wh, "SELECT count(*) FROM silver.trades") - silver_before == len(originals)
    assert wh.con.execute(
        "SELECT executed_at, _late FROM silver.trades WHERE trade_id = ?", [kept.trade_id]
    ).fetchall() == [(kept.executed_at, False)]
    assert _last_trade_dates(wh) == expected
    wh.close()
