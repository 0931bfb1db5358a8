"""Live ingestion against the real local Kafka: end to end with exact counts, SIGKILL and restart with
zero loss and zero duplicates, dead letters and their replay, schema evolution."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from tests.streaming.helpers import unique
from twin.domain.entities import CrmSignal
from twin.streaming.contracts.apply import apply_topics
from twin.streaming.contracts.registry import IncompatibleSchema, SchemaStore
from twin.streaming.contracts.topics import DLQ_TOPIC, TOPICS, TopicSpec, topic
from twin.streaming.dlq import replay
from twin.streaming.ingest import IngestConfig, Ingester
from twin.streaming.kafka_adapter import KafkaBroker
from twin.streaming.port import TopicPartition
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, produce
from twin.warehouse.engine import Warehouse

pytestmark = pytest.mark.live
ROOT = Path(__file__).resolve().parents[2]
FAST = IngestConfig(batch_max_records=2000, batch_max_ms=100, poll_timeout_s=0.1)


@pytest.fixture
def kafka(kafka_cluster: Any) -> KafkaBroker:
    broker = KafkaBroker(kafka_cluster.bootstrap)
    apply_topics(broker.admin(), [TOPICS[DLQ_TOPIC]])
    return broker


def _copy(broker: KafkaBroker, base: str, **update: Any) -> TopicSpec:
    spec = topic(base).model_copy(update={"name": unique(base.split(".")[-1]), **update})
    apply_topics(broker.admin(), [spec])
    return spec


def _offsets(broker: KafkaBroker, spec: TopicSpec) -> list[tuple[int, int]]:
    ends = broker.admin().end_offsets([TopicPartition(spec.name, p) for p in range(spec.partitions)])
    return sorted((tp.partition, o) for tp, end in ends.items() for o in range(end))


def _keys(wh: Warehouse, table: str) -> list[tuple[int, int]]:
    return wh.con.execute(f"SELECT _partition, _offset FROM bronze.{table} ORDER BY 1, 2").fetchall()


def test_produce_ingest_bronze_end_to_end_exact_counts(kafka: KafkaBroker) -> None:
    spec = _copy(kafka, "aladdin.positions.cdc")
    producer = ContractProducer(kafka.producer(), source="test")
    report = produce(producer, SOURCES["aladdin"], rate=20_000, count=5000, topic=spec, seed=7)
    wh = Warehouse()
    ing = Ingester(kafka, wh, spec, "aladdin_positions_raw", config=FAST)
    stats = ing.run(until_idle_s=2.0)
    ing.close()
    assert report.sent == 5000, report
    assert stats.written == 5000, stats
    assert wh.count("bronze.aladdin_positions_raw") == 5000
    assert _keys(wh, "aladdin_positions_raw") == _offsets(kafka, spec)
    dup_rows = wh.con.execute(
        "SELECT count(*) FROM bronze.aladdin_positions_raw WHERE _dup_of IS NOT NULL"
    ).fetchall()[0][0]
    assert dup_rows == report.duplicates
    # Committed offsets are the topic's end: a restarted ingester has nothing left to do.
    again = Ingester(kafka, wh, spec, "aladdin_positions_raw", config=FAST)
    assert again.run(until_idle_s=1.5).consumed == 0
    again.close()


def _worker(bootstrap: str, topic_name: str, db: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.streaming.ingest_worker", bootstrap, topic_name, str(db), *extra],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_sigkill_mid_batch_then_restart_loses_and_duplicates_nothing(
    kafka: KafkaBroker, kafka_cluster: Any, tmp_path: Path
) -> None:
    spec = _copy(kafka, "asset-management.trades.execution")
    producer = ContractProducer(kafka.producer(), source="test")
    sent = produce(producer, SOURCES["trades"], rate=1e9, count=20_000, topic=spec, seed=3).sent
    db = tmp_path / "wh.duckdb"
    first = _worker(kafka_cluster.bootstrap, spec.name, db)
    assert first.stdout is not None
    written = 0
    for line in first.stdout:  # kill once a few batches are in: the next one is mid-flight
        if line.startswith("written"):
            written = int(line.split()[1])
            if written >= 3000:
                break
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert 0 < written < sent
    second = _worker(kafka_cluster.bootstrap, spec.name, db, "--until-idle", "3")
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    wh = Warehouse(db)
    keys = _keys(wh, "trades_raw")
    assert len(keys) == len(set(keys)) == sent  # zero duplicates, zero loss, by (partition, offset)
    assert keys == _offsets(kafka, spec)
    wh.close()


def test_malformed_events_go_to_the_dlq_with_reasons_and_replay_lands_them(kafka: KafkaBroker) -> None:
    spec = _copy(kafka, "crm.signals")
    producer = ContractProducer(kafka.producer(), source="test")
    good = produce(producer, SOURCES["crm"], rate=1e9, count=300, topic=spec, seed=5).sent
    event = producer.envelope(
        spec,
        CrmSignal(
            signal_id="S-x",
            client_id="INST00001",
            kind="meeting_logged",
            score=0.5,
            occurred_at="2026-11-22T09:00:00",
        ),
    )[1]
    fixable = event.model_dump_json().replace('"score":0.5', '"score":"high"')
    producer.send_raw(spec.name, fixable.encode(), key=b"INST00001")
    producer.send_raw(spec.name, b"\x00\x01 not json", key=b"INST00002")
    producer.flush()
    wh = Warehouse()
    ing = Ingester(kafka, wh, spec, "crm_signals_raw", config=FAST)
    stats = ing.run(until_idle_s=2.0)
    ing.close()
    assert stats.written == good and stats.dead_lettered == 2
    result = replay(
        kafka,
        wh,
        {spec.name: "crm_signals_raw"},
        specs={spec.name: spec},
        group_id=unique("replay"),
        idle_timeout_s=2.0,
        repair=lambda v: v.replace(b'"score":"high"', b'"score":0.9'),
    )
    assert result.landed == 1
    assert any("malformed JSON" in r for r in result.reasons)
    assert wh.count("bronze.crm_signals_raw") == good + 1
    score = wh.con.execute("SELECT score FROM bronze.crm_signals_raw WHERE signal_id = 'S-x'").fetchall()
    assert score == [(0.9,)]


class _V(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class QuoteV1(_V):
    quote_id: str
    price: float


class QuoteV2(_V):
    quote_id: str
    price: float
    venue: str | None = None


class QuoteV3(_V):
    quote_id: str
    price: str
    venue: str | None = None


def test_schema_evolution_accepts_an_optional_field_and_rejects_a_type_change(
    kafka: KafkaBroker, tmp_path: Path
) -> None:
    name = unique("quotes")
    store = SchemaStore(tmp_path / "schemas")
    v1 = TopicSpec(
        name=name, partitions=2, replication_factor=1, key=("quote_id",), value=QuoteV1, event_type="q"
    )
    apply_topics(kafka.admin(), [v1])
    p1 = ContractProducer(kafka.producer(), source="test", store=store)
    for i in range(50):
        p1.send(v1, {"quote_id": f"Q{i}", "price": i})
    p1.flush()
    wh = Warehouse()
    ing = Ingester(kafka, wh, v1, "quotes_raw", config=FAST)
    ing.run(until_idle_s=1.5)
    ing.close()

    v2 = v1.model_copy(update={"value": QuoteV2})
    p2 = ContractProducer(kafka.producer(), source="test", store=store)
    for i in range(50, 80):
        p2.send(v2, {"quote_id": f"Q{i}", "price": i, "venue": "XLON"})
    p2.flush()
    assert store.versions(v1.subject) == [1, 2]
    # A v2 consumer reads old and new events; bronze grows the new column (NULL for v1 rows).
    ing2 = Ingester(kafka, wh, v2, "quotes_raw", config=FAST)
    assert ing2.run(until_idle_s=1.5).written == 30
    ing2.close()
    venues = dict(
        wh.con.execute("SELECT venue IS NULL, count(*) FROM bronze.quotes_raw GROUP BY 1").fetchall()
    )
    assert venues == {True: 50, False: 30}

    v3 = v1.model_copy(update={"value": QuoteV3})
    p3 = ContractProducer(kafka.producer(), source="test", store=store)
    with pytest.raises(IncompatibleSchema, match="'price'"):
        p3.send(v3, {"quote_id": "Q999", "price": "1.0"})
    assert p3.sent == 0
    assert store.versions(v1.subject) == [1, 2]
