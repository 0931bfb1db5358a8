"""The 800 KB poison event against the real local Kafka: librdkafka refuses a message over
`message.max.bytes` at produce time, so this is where an unbounded dead letter used to stall the source."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest

from tests.streaming.helpers import unique
from tests.streaming.test_poison import POISON_KEY, poison_event
from twin.streaming.contracts.apply import apply_topics
from twin.streaming.contracts.topics import DLQ_TOPIC, TOPICS, topic
from twin.streaming.dlq import replay
from twin.streaming.ingest import IngestConfig, Ingester, IngestStats
from twin.streaming.kafka_adapter import KafkaBroker
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, produce
from twin.warehouse.engine import Warehouse

pytestmark = pytest.mark.live
FAST = IngestConfig(batch_max_records=2000, batch_max_ms=100, poll_timeout_s=0.1)


def _run(ing: Ingester) -> IngestStats:
    out: list[IngestStats] = []
    t = threading.Thread(target=lambda: out.append(ing.run(until_idle_s=2.0)), daemon=True)
    t.start()
    t.join(180)  # a safety net against the stall this test is about, not a timing assertion
    assert out, "ingester run(until_idle_s=2) never returned: the source stalled"
    return out[0]


def test_an_800kb_poison_event_on_real_kafka_is_dead_lettered_and_never_stalls(kafka_cluster: Any) -> None:
    broker = KafkaBroker(kafka_cluster.bootstrap)
    apply_topics(broker.admin(), [TOPICS[DLQ_TOPIC]])
    spec = topic("asset-management.trades.execution").model_copy(update={"name": unique("trades-poison")})
    apply_topics(broker.admin(), [spec])
    producer = ContractProducer(broker.producer(), source="test")
    produce(producer, SOURCES["trades"], rate=20_000, count=200, topic=spec, seed=1)
    producer.send_raw(spec.name, poison_event(producer), key=POISON_KEY)
    produce(producer, SOURCES["trades"], rate=20_000, count=200, topic=spec, seed=2)
    producer.flush()
    assert not producer.failed, producer.failed

    wh = Warehouse()
    ing = Ingester(broker, wh, spec, "trades_raw", config=FAST)
    stats = _run(ing)
    ing.close()
    assert (stats.written, stats.dead_lettered, stats.dead_letters_spooled) == (400, 1, 0), stats
    again = Ingester(broker, wh, spec, "trades_raw", config=FAST)
    assert _run(again).consumed == 0  # offsets were committed past the poison
    again.close()

    def strip_note(v: bytes) -> bytes:
        doc = json.loads(v)
        doc["data"].pop("note", None)
        return json.dumps(doc).encode()

    result = replay(
        broker,
        wh,
        {spec.name: "trades_raw"},
        idle_timeout_s=3.0,
        group_id=unique("replay"),
        repair=strip_note,
        specs={spec.name: spec},
    )
    assert result.landed == 1, result
    assert wh.count("bronze.trades_raw") == 401
