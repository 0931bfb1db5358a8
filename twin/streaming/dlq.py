"""Dead letters: messages the ingester could not land, kept with their reason and exact original bytes on
`ingest.dlq`, and `replay`, which re-ingests them after a fix (a corrected contract, a repaired
decoder). A replayed message lands in bronze under its ORIGINAL (topic, partition, offset), so replaying
twice, or replaying a message that was somehow ingested, adds nothing. Messages that still fail go back
to the DLQ with `attempts` incremented; nothing is lost either way.

A dead letter always fits on the broker. Its original bytes travel inline only up to
`INLINE_PAYLOAD_MAX_BYTES`; a bigger payload (an 800 KB poison event base64-encodes to 1.07 MB, past
Kafka's default `message.max.bytes` of 1,048,588) is kept in the warehouse table `dlq.payloads`, keyed
by (topic, partition, offset) and checked by its SHA-256, and the letter carries only that reference.
The letter's other variable fields are capped too, so a whole DLQ record stays under
`DLQ_RECORD_MAX_BYTES`, a tenth of the broker's limit.

If the DLQ itself cannot be written (the broker refuses or never acknowledges, after the ingester's
retries), the letters are kept in `dlq.spool`, in the same durable warehouse as bronze, and the partition
moves on: offsets are committed only after that durable record. `forward_spooled` (run by `replay`)
sends spooled letters on to the DLQ once the broker takes them.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
from pydantic import ValidationError

from twin.errors import TwinError
from twin.streaming.contracts.topics import DLQ_TOPIC, TopicSpec, topic
from twin.streaming.contracts.values import (
    DEAD_LETTER_KEY_MAX_CHARS,
    DEAD_LETTER_REASON_MAX_CHARS,
    INLINE_PAYLOAD_MAX_BYTES,
    IngestDeadLetter,
)
from twin.streaming.decode import BatchDecoder
from twin.streaming.envelope import encode, wrap
from twin.streaming.port import Broker, BrokerError, Producer, Record, TopicPartition
from twin.warehouse.engine import Warehouse

REPLAY_GROUP = "twin-dlq-replay"
DLQ_SCHEMA = "dlq"
PAYLOAD_TABLE = f"{DLQ_SCHEMA}.payloads"
SPOOL_TABLE = f"{DLQ_SCHEMA}.spool"
# A tenth of Kafka's default message.max.bytes (1,048,588): the bound every letter is built to respect.
DLQ_RECORD_MAX_BYTES = 104_857
# Raw key bytes kept inline; a longer key goes to the payload table with the value.
_INLINE_KEY_MAX_BYTES = (DEAD_LETTER_KEY_MAX_CHARS // 4) * 3


class DeadLetterPayloadMissing(TwinError, LookupError):
    """A letter refers to a payload the warehouse does not have (or whose hash does not match)."""


_TABLES_LOCK = threading.Lock()
_HAVE_TABLES: weakref.WeakSet[Warehouse] = weakref.WeakSet()


def _ensure_tables(warehouse: Warehouse) -> None:
    # Once per warehouse, under a lock: two ingesters creating the same table at once would conflict.
    with _TABLES_LOCK:
        if warehouse not in _HAVE_TABLES:
            _create_tables(warehouse)
            _HAVE_TABLES.add(warehouse)


def _create_tables(warehouse: Warehouse) -> None:
    con = warehouse.con.cursor()
    try:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {DLQ_SCHEMA}").fetchall()
        con.execute(
            f"""CREATE TABLE IF NOT EXISTS {PAYLOAD_TABLE} (
                    topic VARCHAR NOT NULL, "partition" INTEGER NOT NULL, "offset" BIGINT NOT NULL,
                    sha256 VARCHAR NOT NULL, "key" BLOB, "value" BLOB NOT NULL,
                    stored_at TIMESTAMP NOT NULL,
                    PRIMARY KEY (topic, "partition", "offset"))"""
        ).fetchall()
        con.execute(
            f"""CREATE TABLE IF NOT EXISTS {SPOOL_TABLE} (
                    event_id VARCHAR PRIMARY KEY, letter VARCHAR NOT NULL, spooled_at TIMESTAMP NOT NULL)"""
        ).fetchall()
    finally:
        con.close()


def payload_hash(key: bytes | None, value: bytes) -> str:
    """SHA-256 over the key (length-prefixed, so key/value boundaries cannot shift) and the value."""
    h = hashlib.sha256()
    k = key or b""
    h.update(len(k).to_bytes(8, "big") + (b"\x01" if key is not None else b"\x00") + k)
    h.update(value)
    return h.hexdigest()


def store_payload(warehouse: Warehouse, record: Record) -> str:
    """Keep a record's exact key and value in `dlq.payloads` (idempotent) and return their hash."""
    _ensure_tables(warehouse)
    value = record.value or b""
    digest = payload_hash(record.key, value)
    con = warehouse.con.cursor()
    try:
        con.execute(
            f"INSERT INTO {PAYLOAD_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            [
                record.topic,
                record.partition,
                record.offset,
                digest,
                record.key,
                value,
                datetime.now(UTC).replace(tzinfo=None),
            ],
        ).fetchall()
    finally:
        con.close()
    return digest


def load_payload(warehouse: Warehouse, letter: IngestDeadLetter) -> tuple[bytes | None, bytes]:
    """The (key, value) a letter refers to, checked against its hash."""
    _ensure_tables(warehouse)
    con = warehouse.con.cursor()
    try:
        rows = con.execute(
            f'SELECT "key", "value", sha256 FROM {PAYLOAD_TABLE} '
            'WHERE topic = ? AND "partition" = ? AND "offset" = ?',
            [letter.source_topic, letter.partition, letter.offset],
        ).fetchall()
    finally:
        con.close()
    where = f"{letter.source_topic}/{letter.partition}/{letter.offset}"
    if not rows:
        raise DeadLetterPayloadMissing(f"{where}: payload not in {PAYLOAD_TABLE}")
    key, value, digest = rows[0]
    key = bytes(key) if key is not None else None
    value = bytes(value)
    if digest != letter.payload_sha256 or payload_hash(key, value) != digest:
        raise DeadLetterPayloadMissing(f"{where}: stored payload does not match the letter's sha256")
    return key, value


def _cap(reason: str) -> str:
    if len(reason) <= DEAD_LETTER_REASON_MAX_CHARS:
        return reason
    return reason[: DEAD_LETTER_REASON_MAX_CHARS - 14] + " … (truncated)"


def dead_letter(
    record: Record,
    reason: str,
    *,
    ingester: str,
    attempts: int = 1,
    warehouse: Warehouse | None = None,
) -> IngestDeadLetter:
    """The letter for `record`, bounded in size: a payload too big to carry inline is stored in
    `warehouse` (required then) and referenced by hash."""
    value = record.value or b""
    inline = len(value) <= INLINE_PAYLOAD_MAX_BYTES and (
        record.key is None or len(record.key) <= _INLINE_KEY_MAX_BYTES
    )
    common = {
        "source_topic": record.topic,
        "partition": record.partition,
        "offset": record.offset,
        "reason": _cap(reason),
        "ingester": ingester,
        "attempts": attempts,
        "failed_at": datetime.now(UTC),
    }
    if inline:
        return IngestDeadLetter(
            **common,
            key_b64=base64.b64encode(record.key).decode() if record.key is not None else None,
            original_b64=base64.b64encode(value).decode(),
        )
    if warehouse is None:
        raise ValueError(
            f"a {len(value):,}-byte message is over the {INLINE_PAYLOAD_MAX_BYTES:,}-byte inline limit: "
            "pass a warehouse to keep its payload"
        )
    return IngestDeadLetter(
        **common,
        payload_sha256=store_payload(warehouse, record),
        payload_bytes=len(value),
    )


def _event_id(letter: IngestDeadLetter) -> str:
    # One id per (message, attempt): a re-sent letter after a crash is recognisably the same.
    return f"{letter.source_topic}/{letter.partition}/{letter.offset}#{letter.attempts}"


def encode_dead_letter(letter: IngestDeadLetter, *, source: str) -> bytes:
    spec = topic(DLQ_TOPIC)
    event = wrap(
        letter,
        source=source,
        type=spec.event_type,
        subject=f"{letter.source_topic}/{letter.partition}/{letter.offset}",
        event_id=_event_id(letter),
    )
    return encode(event)


def send_dead_letter(producer: Producer, letter: IngestDeadLetter, *, source: str) -> None:
    value = encode_dead_letter(letter, source=source)
    if len(value) > DLQ_RECORD_MAX_BYTES:  # the contract's caps make this unreachable; say so if not
        raise BrokerError(f"dead letter is {len(value):,} bytes, over its {DLQ_RECORD_MAX_BYTES:,} bound")
    producer.produce(DLQ_TOPIC, value, key=topic(DLQ_TOPIC).key_of(letter))


def spool_dead_letters(warehouse: Warehouse, letters: list[IngestDeadLetter], *, source: str) -> None:
    """Keep letters the DLQ would not take in `dlq.spool` (one transaction), for `forward_spooled`."""
    if not letters:
        return
    _ensure_tables(warehouse)
    now = datetime.now(UTC).replace(tzinfo=None)
    con = warehouse.con.cursor()
    try:
        con.execute("BEGIN").fetchall()
        con.executemany(
            f"INSERT INTO {SPOOL_TABLE} VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            [(_event_id(x), encode_dead_letter(x, source=source).decode(), now) for x in letters],
        )
        con.execute("COMMIT").fetchall()
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise
    finally:
        con.close()


def spooled(warehouse: Warehouse) -> list[tuple[str, bytes]]:
    """(event id, encoded letter) of everything in `dlq.spool`, oldest first."""
    _ensure_tables(warehouse)
    con = warehouse.con.cursor()
    try:
        rows = con.execute(
            f"SELECT event_id, letter FROM {SPOOL_TABLE} ORDER BY spooled_at, event_id"
        ).fetchall()
    finally:
        con.close()
    return [(str(i), str(v).encode()) for i, v in rows]


def forward_spooled(warehouse: Warehouse, producer: Producer, *, timeout_s: float = 30.0) -> int:
    """Send spooled letters to the DLQ; each leaves the spool only once the broker acknowledged it."""
    pending = spooled(warehouse)
    if not pending:
        return 0
    acked: list[str] = []

    def on_delivery(event_id: str) -> Callable[[Exception | None, Record | None], None]:
        def report(err: Exception | None, _rec: Record | None) -> None:
            if err is None:
                acked.append(event_id)

        return report

    for event_id, value in pending:
        letter = parse_dead_letter(value)
        if letter is None:
            continue
        try:
            producer.produce(
                DLQ_TOPIC, value, key=topic(DLQ_TOPIC).key_of(letter), on_delivery=on_delivery(event_id)
            )
        except BrokerError:
            break  # the broker still refuses: the rest stay spooled for the next run
    producer.flush(timeout_s)
    if acked:
        con = warehouse.con.cursor()
        try:
            con.executemany(f"DELETE FROM {SPOOL_TABLE} WHERE event_id = ?", [(i,) for i in acked])
        finally:
            con.close()
    return len(acked)


def parse_dead_letter(value: bytes | None) -> IngestDeadLetter | None:
    from twin.streaming.envelope import envelope_model

    try:
        return envelope_model(IngestDeadLetter).model_validate_json(value or b"").data
    except ValidationError:
        return None


def original_record(letter: IngestDeadLetter, warehouse: Warehouse | None = None) -> Record:
    """The message a letter stands for; a payload kept in the warehouse is fetched (and hash-checked)."""
    if letter.original_b64 is None:
        if warehouse is None:
            raise DeadLetterPayloadMissing("the letter's payload is in the warehouse: pass one")
        key, value = load_payload(warehouse, letter)
    else:
        key = base64.b64decode(letter.key_b64) if letter.key_b64 is not None else None
        value = base64.b64decode(letter.original_b64)
    return Record(letter.source_topic, letter.partition, letter.offset, key, value, 0)


@dataclass
class ReplayResult:
    read: int = 0
    landed: int = 0
    already_present: int = 0
    still_failing: int = 0
    unreadable: int = 0
    payload_missing: int = 0
    forwarded_from_spool: int = 0
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
    producer = broker.producer()
    # Letters the DLQ once refused join the queue first, so this run replays them too.
    result.forwarded_from_spool = forward_spooled(warehouse, producer)
    consumer = broker.consumer(group_id)
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
                try:
                    original = original_record(letter, warehouse)
                except DeadLetterPayloadMissing as e:
                    # Put it back unchanged: a restored warehouse may still have the payload.
                    send_dead_letter(producer, letter, source="twin/dlq-replay")
                    result.payload_missing += 1
                    result.reasons.append(str(e))
                    continue
                if repair is not None and original.value is not None:
                    original = original._replace(value=repair(original.value))
                decoded = decoder.decode([original])
                if decoded.rejected:
                    why = decoded.rejected[0][1]
                    retry = dead_letter(
                        original,
                        why,
                        ingester="twin/dlq-replay",
                        attempts=letter.attempts + 1,
                        warehouse=warehouse,
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


__all__ = [
    "dead_letter",
    "encode",
    "forward_spooled",
    "original_record",
    "parse_dead_letter",
    "replay",
    "send_dead_letter",
    "spool_dead_letters",
]
