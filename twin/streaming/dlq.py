"""Dead letters: messages the ingester could not land, kept with their reason and exact original bytes on
`ingest.dlq`, and `replay`, which re-ingests them after a fix (a corrected contract, a repaired
decoder). A replayed message lands in bronze under its ORIGINAL (topic, partition, offset), so replaying
twice, or replaying a message that was somehow ingested, adds nothing. Messages that still fail go back
to the DLQ with `attempts` incremented; nothing is lost either way."""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from pydantic import ValidationError

from twin.streaming.contracts.topics import DLQ_TOPIC, TopicSpec, topic
from twin.streaming.contracts.values import IngestDeadLetter
from twin.streaming.decode import BatchDecoder
from twin.streaming.envelope import encode, wrap
from twin.streaming.port import Broker, Producer, Record, TopicPartition
from twin.warehouse.engine import Warehouse

REPLAY_GROUP = "twin-dlq-replay"


def dead_letter(record: Record, reason: str, *, ingester: str, attempts: int = 1) -> IngestDeadLetter:
    return IngestDeadLetter(
        source_topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        reason=reason,
        key_b64=base64.b64encode(record.key).decode() if record.key is not None else None,
        original_b64=base64.b64encode(record.value or b"").decode(),
        ingester=ingester,
        attempts=attempts,
        failed_at=datetime.now(UTC),
    )


def send_dead_letter(producer: Producer, letter: IngestDeadLetter, *, source: str) -> None:
    spec = topic(DLQ_TOPIC)
    event = wrap(
        letter,
        source=source,
        type=spec.event_type,
        subject=f"{letter.source_topic}/{letter.partition}/{letter.offset}",
        # One id per (message, attempt): a re-sent letter after a crash is recognisably the same.
        event_id=f"{letter.source_topic}/{letter.partition}/{letter.offset}#{letter.attempts}",
    )
    producer.produce(DLQ_TOPIC, encode(event), key=spec.key_of(letter))


def parse_dead_letter(value: bytes | None) -> IngestDeadLetter | None:
    from twin.streaming.envelope import envelope_model

    try:
        return envelope_model(IngestDeadLetter).model_validate_json(value or b"").data  # type: ignore[no-any-return]
    except ValidationError:
        return None


def original_record(letter: IngestDeadLetter) -> Record:
    return Record(
        letter.source_topic,
        letter.partition,
        letter.offset,
        base64.b64decode(letter.key_b64) if letter.key_b64 is not None else None,
        base64.b64decode(letter.original_b64),
        0,
    )


@dataclass
class ReplayResult:
    read: int = 0
    landed: int = 0
    already_present: int = 0
    still_failing: int = 0
    unreadable: int = 0
    reasons: list[str] = field(default_factory=list)


def replay(
    broker: Broker,
    warehouse: Warehouse,
    tables: dict[str, str],
    *,
    idle_timeout_s: float = 2.0,
    group_id: str = REPLAY_GROUP,
    progress: Callable[[ReplayResult], None] | None = None,
    repair: Callable[[bytes], bytes] | None = None,
    specs: dict[str, TopicSpec] | None = None,
) -> ReplayResult:
    """Drain `ingest.dlq` once (until idle for `idle_timeout_s`), landing what now decodes.

    `tables` maps a source topic to its bronze table; letters for other topics are put back unchanged.
    `specs` overrides the contract looked up for a topic (an evolved or renamed one). `repair`, if
    given, rewrites each original message first (a data fix for a known upstream bug).
    """
    result = ReplayResult()
    consumer = broker.consumer(group_id)
    producer = broker.producer()
    consumer.subscribe([DLQ_TOPIC])
    decoders: dict[str, BatchDecoder] = {}
    dlq = topic(DLQ_TOPIC)
    admin = broker.admin()
    parts = admin.list_topics()[DLQ_TOPIC].partitions if DLQ_TOPIC in admin.list_topics() else dlq.partitions
    # Replay what is there now: letters that fail again are appended behind this mark for the next run.
    stop_at = admin.end_offsets([TopicPartition(DLQ_TOPIC, p) for p in range(parts)])
    reached: dict[TopicPartition, int] = {}
    try:
        while any(reached.get(tp, -1) + 1 < end for tp, end in stop_at.items() if end > 0):
            polled = consumer.consume(max_records=5000, timeout_s=idle_timeout_s)
            if not polled:
                break
            records = [r for r in polled if r.offset < stop_at.get(TopicPartition(r.topic, r.partition), 0)]
            for rec in polled:
                tp = TopicPartition(rec.topic, rec.partition)
                reached[tp] = max(reached.get(tp, -1), rec.offset)
            for rec in records:
                result.read += 1
                letter = parse_dead_letter(rec.value)
                if letter is None:
                    result.unreadable += 1
                    continue
                table = tables.get(letter.source_topic)
                if table is None:
                    send_dead_letter(producer, letter, source="twin/dlq-replay")
                    result.still_failing += 1
                    continue
                decoder = decoders.setdefault(
                    letter.source_topic,
                    BatchDecoder((specs or {}).get(letter.source_topic) or topic(letter.source_topic)),
                )
                original = original_record(letter)
                if repair is not None and original.value is not None:
                    original = original._replace(value=repair(original.value))
                decoded = decoder.decode([original])
                if decoded.rejected:
                    why = decoded.rejected[0][1]
                    retry = dead_letter(
                        original, why, ingester="twin/dlq-replay", attempts=letter.attempts + 1
                    )
                    send_dead_letter(producer, retry, source="twin/dlq-replay")
                    result.still_failing += 1
                    result.reasons.append(why)
                    continue
                new = warehouse.append_bronze(
                    table,
                    decoded.table,
                    source=f"replay:{letter.source_topic}",
                    topic=letter.source_topic,
                    partitions=pa.array([letter.partition], pa.int32()),
                    offsets=pa.array([letter.offset], pa.int64()),
                )
                result.landed += new
                result.already_present += 1 - new
            producer.flush(30.0)
            ends: dict[TopicPartition, int] = {}
            for rec in records:
                tp = TopicPartition(rec.topic, rec.partition)
                ends[tp] = max(ends.get(tp, 0), rec.offset + 1)
            consumer.commit(ends)
            if progress:
                progress(result)
    finally:
        consumer.close()
    return result


__all__ = ["dead_letter", "encode", "parse_dead_letter", "replay", "send_dead_letter"]
