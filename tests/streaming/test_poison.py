"""A poison message never stalls a source: an 800 KB invalid event is dead-lettered with a bounded DLQ
record (its payload kept in the warehouse), offsets move past it, a restart does not stall, a DLQ that
refuses every write makes the ingester spool the letter durably and move on, and replay brings the
oversized payload back from the warehouse."""

from __future__ import annotations

import json
import random
import threading
from datetime import UTC, datetime

from tests.streaming.memory_setup import memory_broker
from twin.streaming.contracts.topics import DLQ_TOPIC
from twin.streaming.dlq import (
    DLQ_RECORD_MAX_BYTES,
    PAYLOAD_TABLE,
    SPOOL_TABLE,
    parse_dead_letter,
    payload_hash,
    replay,
    spooled,
)
from twin.streaming.ingest import TOPIC_TABLES, IngestConfig, Ingester
from twin.streaming.memory import MemoryBroker
from twin.streaming.port import BrokerError, Producer, Record, TopicPartition
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, produce
from twin.warehouse.engine import Warehouse

TRADES = "asset-management.trades.execution"
SMALL = IngestConfig(
    batch_max_records=500, batch_max_ms=1, poll_max_records=200, poll_timeout_s=0.01, retry_backoff_s=0.001
)
POISON_KEY = b"T-poison"


def poison_event(producer: ContractProducer, size: int = 800_000) -> bytes:
    """A well-formed trade event with one unknown 800 KB field: invalid by contract (extra fields are
    forbidden), under the broker's 1 MiB limit, but its base64 copy in a dead letter would not be."""
    _, event = producer.envelope(TRADES, SOURCES["trades"].make(random.Random(3), 0, datetime.now(UTC)))
    doc = json.loads(event.model_dump_json())
    doc["data"]["note"] = "x" * size
    return json.dumps(doc).encode()


def _fill(broker: MemoryBroker, n: int, seed: int) -> int:
    producer = ContractProducer(broker.producer(), source="test")
    return produce(producer, SOURCES["trades"], rate=1e9, count=n, seed=seed).sent


def _poisoned(broker: MemoryBroker) -> bytes:
    _fill(broker, 200, seed=1)
    producer = ContractProducer(broker.producer(), source="test")
    value = poison_event(producer)
    producer.send_raw(TRADES, value, key=POISON_KEY)
    _fill(broker, 200, seed=2)
    return value


def _drive(ing: Ingester, steps: int = 100) -> None:
    for _ in range(steps):
        ing.step()
    ing.flush()


def _dlq_records(broker: MemoryBroker) -> list[Record]:
    c = broker.consumer("inspect-dlq")
    c.subscribe([DLQ_TOPIC])
    return c.consume(1000, 0)


def _end_offsets(broker: MemoryBroker) -> dict[TopicPartition, int]:
    parts = broker.admin().list_topics()[TRADES].partitions
    return broker.admin().end_offsets([TopicPartition(TRADES, p) for p in range(parts)])


def _committed(broker: MemoryBroker, group: str) -> dict[TopicPartition, int]:
    c = broker.consumer(group)
    ends = _end_offsets(broker)
    got = c.committed(list(ends))
    return {tp: off for tp, off in got.items() if off is not None}


def test_an_800kb_poison_event_is_dead_lettered_with_a_bounded_record_and_offsets_move_past_it() -> None:
    broker = memory_broker()
    value = _poisoned(broker)
    wh = Warehouse()
    ing = Ingester(broker, wh, TRADES, config=SMALL)
    _drive(ing)
    assert wh.count("bronze.trades_raw") == 400
    assert ing.stats.dead_lettered == 1 and ing.stats.write_failures == 0
    ends = _end_offsets(broker)
    assert _committed(broker, ing.group_id) == {tp: end for tp, end in ends.items() if end}
    [rec] = _dlq_records(broker)
    assert len(rec.value or b"") < DLQ_RECORD_MAX_BYTES < broker.message_max_bytes
    letter = parse_dead_letter(rec.value)
    assert letter is not None and letter.original_b64 is None
    assert "note" in letter.reason and letter.payload_bytes == len(value)
    stored = wh.con.execute(f'SELECT "key", "value", sha256 FROM {PAYLOAD_TABLE}').fetchall()
    assert [(bytes(k), bytes(v), h) for k, v, h in stored] == [(POISON_KEY, value, letter.payload_sha256)]
    assert letter.payload_sha256 == payload_hash(POISON_KEY, value)


def test_a_restart_after_the_poison_consumes_nothing_again_and_until_idle_returns() -> None:
    broker = memory_broker()
    _poisoned(broker)
    wh = Warehouse()
    first = Ingester(broker, wh, TRADES, config=SMALL)
    done = threading.Event()
    result: list[int] = []

    def run() -> None:
        result.append(first.run(until_idle_s=0.3).written)
        done.set()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(120)  # a safety net against a hang, not a timing assertion
    assert done.is_set(), "run(until_idle_s=…) never returned"
    first.close()
    assert result == [400]
    restarted = Ingester(broker, wh, TRADES, config=SMALL)
    _drive(restarted, steps=20)
    assert restarted.stats.consumed == 0 and restarted.stats.dead_lettered == 0
    assert wh.count("bronze.trades_raw") == 400
    assert len(_dlq_records(broker)) == 1


class RefusingProducer:
    """A DLQ producer whose broker refuses every write (the DLQ topic is down or misconfigured)."""

    def __init__(self) -> None:
        self.attempts = 0

    def produce(self, topic: str, value: bytes, key: bytes | None = None, **kw: object) -> None:
        self.attempts += 1
        raise BrokerError(f"{topic}: broker unavailable")

    def poll(self, timeout_s: float = 0.0) -> int:
        return 0

    def flush(self, timeout_s: float = 30.0) -> int:
        return 0


def test_when_the_dlq_refuses_every_write_the_letter_is_spooled_and_the_partition_moves_on() -> None:
    broker = memory_broker()
    value = _poisoned(broker)
    wh = Warehouse()
    refusing = RefusingProducer()
    config = SMALL.model_copy(update={"dlq_max_attempts": 3})
    ing = Ingester(broker, wh, TRADES, config=config, dlq_producer=refusing)  # type: ignore[arg-type]
    _drive(ing)
    assert refusing.attempts == 3  # retried, then spooled rather than stalled
    assert ing.stats.dead_letters_spooled == 1 and ing.stats.consecutive_failures == 0
    assert wh.count("bronze.trades_raw") == 400
    ends = _end_offsets(broker)
    assert _committed(broker, ing.group_id) == {tp: end for tp, end in ends.items() if end}
    assert _dlq_records(broker) == []
    [(_, encoded)] = spooled(wh)
    letter = parse_dead_letter(encoded)
    assert letter is not None and letter.payload_bytes == len(value)

    # Once the broker takes writes, replay forwards the spooled letter and replays it like any other.
    def strip_note(v: bytes) -> bytes:
        doc = json.loads(v)
        doc["data"].pop("note", None)
        return json.dumps(doc).encode()

    result = replay(broker, wh, TOPIC_TABLES, idle_timeout_s=0.05, repair=strip_note)
    assert (result.forwarded_from_spool, result.read, result.landed) == (1, 1, 1)
    assert wh.count(SPOOL_TABLE) == 0
    assert wh.count("bronze.trades_raw") == 401


def test_replay_fetches_an_oversized_payload_back_from_the_warehouse() -> None:
    broker = memory_broker()
    _poisoned(broker)
    wh = Warehouse()
    _drive(Ingester(broker, wh, TRADES, config=SMALL))
    [letter] = [parse_dead_letter(r.value) for r in _dlq_records(broker)]
    assert letter is not None

    # Without a fix it fails again: it goes back by reference (still bounded), attempts 2.
    again = replay(broker, wh, TOPIC_TABLES, idle_timeout_s=0.05)
    assert (again.read, again.landed, again.still_failing) == (1, 0, 1)
    retried = parse_dead_letter(_dlq_records(broker)[-1].value)
    assert retried is not None and retried.attempts == 2 and retried.original_b64 is None

    def strip_note(v: bytes) -> bytes:
        doc = json.loads(v)
        doc["data"].pop("note", None)
        return json.dumps(doc).encode()

    fixed = replay(broker, wh, TOPIC_TABLES, idle_timeout_s=0.05, repair=strip_note)
    assert (fixed.read, fixed.landed) == (1, 1)
    landed = wh.con.execute(
        "SELECT _partition, _offset FROM bronze.trades_raw WHERE _source LIKE 'replay:%'"
    ).fetchall()
    assert landed == [(letter.partition, letter.offset)]


def test_a_letter_whose_payload_is_gone_is_put_back_not_dropped() -> None:
    broker = memory_broker()
    _poisoned(broker)
    wh = Warehouse()
    _drive(Ingester(broker, wh, TRADES, config=SMALL))
    wh.con.execute(f"DELETE FROM {PAYLOAD_TABLE}").fetchall()
    result = replay(broker, wh, TOPIC_TABLES, idle_timeout_s=0.05)
    assert (result.read, result.payload_missing, result.landed) == (1, 1, 0)
    assert "payload not in" in result.reasons[0]
    assert len(_dlq_records(broker)) == 2  # the original and the one put back


def test_the_memory_broker_refuses_a_message_over_message_max_bytes_like_kafka() -> None:
    broker = memory_broker()
    p: Producer = broker.producer()
    try:
        p.produce(TRADES, b"x" * (broker.message_max_bytes + 1))
    except BrokerError as e:
        assert "message.max.bytes" in str(e)
    else:
        raise AssertionError("an oversized message was accepted")


def test_letters_in_the_old_inline_only_shape_still_parse_and_the_schema_change_is_backward() -> None:
    from pydantic import BaseModel, ConfigDict, Field

    from twin.streaming.contracts.compat import backward_problems
    from twin.streaming.contracts.registry import json_schema
    from twin.streaming.contracts.values import IngestDeadLetter
    from twin.streaming.dlq import encode_dead_letter, original_record

    class OldIngestDeadLetter(BaseModel):  # the contract before payloads could be kept by reference
        model_config = ConfigDict(frozen=True, extra="forbid")
        source_topic: str
        partition: int = Field(ge=0)
        offset: int = Field(ge=0)
        reason: str
        key_b64: str | None = None
        original_b64: str
        ingester: str
        attempts: int = Field(default=1, ge=1)
        failed_at: datetime

    assert backward_problems(json_schema(OldIngestDeadLetter), json_schema(IngestDeadLetter)) == []
    old = IngestDeadLetter(
        source_topic=TRADES, partition=1, offset=7, reason="r", original_b64="e30=", ingester="i",
        failed_at=datetime.now(UTC),
    )  # fmt: skip
    parsed = parse_dead_letter(encode_dead_letter(old, source="test"))
    assert parsed is not None and original_record(parsed).value == b"{}"
