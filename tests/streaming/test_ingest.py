"""Ingestion into bronze on the in-memory broker: exact counts, replay without duplicates, dead letters,
replay of dead letters, and backpressure that pauses and resumes without losing anything."""

from __future__ import annotations

import base64
import threading

import pyarrow as pa

from tests.streaming.memory_setup import memory_broker
from twin.streaming.contracts.topics import DLQ_TOPIC
from twin.streaming.dlq import parse_dead_letter, replay
from twin.streaming.ingest import TOPIC_TABLES, IngestConfig, Ingester
from twin.streaming.memory import MemoryBroker
from twin.streaming.port import TopicPartition
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, produce
from twin.warehouse.engine import Warehouse

TRADES = "asset-management.trades.execution"
SMALL = IngestConfig(batch_max_records=500, batch_max_ms=1, poll_max_records=200, poll_timeout_s=0.01)


def _fill(broker: MemoryBroker, n: int, source: str = "trades", seed: int = 1) -> int:
    producer = ContractProducer(broker.producer(), source="test")
    return produce(producer, SOURCES[source], rate=1e9, count=n, seed=seed).sent


def _drive(ing: Ingester, steps: int = 200) -> None:
    for _ in range(steps):
        ing.step()
    ing.flush()


def _bronze_keys(wh: Warehouse, table: str) -> list[tuple[int, int]]:
    return wh.con.execute(f"SELECT _partition, _offset FROM bronze.{table} ORDER BY 1, 2").fetchall()


def _all_offsets(broker: MemoryBroker, topic_name: str) -> list[tuple[int, int]]:
    parts = broker.admin().list_topics()[topic_name].partitions
    ends = broker.admin().end_offsets([TopicPartition(topic_name, p) for p in range(parts)])
    return sorted((tp.partition, o) for tp, end in ends.items() for o in range(end))


def test_every_event_lands_once_and_offsets_are_committed() -> None:
    broker = memory_broker()
    sent = _fill(broker, 3000)
    wh = Warehouse()
    ing = Ingester(broker, wh, TRADES, config=SMALL)
    _drive(ing)
    assert wh.count("bronze.trades_raw") == sent == ing.stats.written
    assert _bronze_keys(wh, "trades_raw") == _all_offsets(broker, TRADES)
    ends = broker.admin().end_offsets(ing._consumer.assignment())
    assert ing._consumer.committed(list(ends)) == ends
    dups = wh.con.execute("SELECT count(*) FROM bronze.trades_raw WHERE _dup_of IS NOT NULL").fetchall()[0][0]
    assert dups > 0  # injected duplicates reach bronze, flagged for silver


def test_a_crash_after_the_write_before_the_commit_replays_without_duplicates() -> None:
    broker = memory_broker()
    sent = _fill(broker, 2000)
    wh = Warehouse()
    crashed = Ingester(broker, wh, TRADES, config=SMALL)
    for _ in range(30):
        crashed.poll_once()  # consume and seal batches …
    while crashed.write_once():  # … write them to bronze, but never commit: the process "dies" here
        pass
    crashed.close()
    written_before = wh.count("bronze.trades_raw")
    assert written_before > 0
    restarted = Ingester(broker, wh, TRADES, config=SMALL)
    _drive(restarted)
    assert wh.count("bronze.trades_raw") == sent
    assert restarted.stats.replayed_skips == written_before
    assert _bronze_keys(wh, "trades_raw") == _all_offsets(broker, TRADES)


def test_malformed_messages_go_to_the_dlq_and_the_consumer_keeps_going() -> None:
    broker = memory_broker()
    producer = ContractProducer(broker.producer(), source="test")
    _fill(broker, 200)
    producer.send_raw(TRADES, b"{broken", key=b"T-bad")
    lowercase = producer.envelope(TRADES, SOURCES["trades"].make(__import__("random").Random(3), 0, _now()))[
        1
    ]
    wrong = (
        lowercase.model_dump_json()
        .replace('"side":"BUY"', '"side":"buy"')
        .replace('"side":"SELL"', '"side":"sell"')
    )
    producer.send_raw(TRADES, wrong.encode(), key=b"T-lower")
    _fill(broker, 200, seed=2)
    wh = Warehouse()
    ing = Ingester(broker, wh, TRADES, config=SMALL)
    _drive(ing)
    assert wh.count("bronze.trades_raw") == 400
    assert ing.stats.dead_lettered == 2
    dlq = broker.consumer("inspect")
    dlq.subscribe([DLQ_TOPIC])
    letters = [parse_dead_letter(r.value) for r in dlq.consume(100, 0)]
    by_key = {base64.b64decode(x.key_b64): x for x in letters if x}
    assert by_key[b"T-bad"].reason.startswith("malformed JSON")
    assert base64.b64decode(by_key[b"T-bad"].original_b64) == b"{broken"
    assert "side" in by_key[b"T-lower"].reason
    assert base64.b64decode(by_key[b"T-lower"].original_b64) == wrong.encode()

    # The fix: upstream lower-cased the enum; replay repairs and re-ingests under the original offsets.
    def repair(value: bytes) -> bytes:
        return value.replace(b'"side":"buy"', b'"side":"BUY"').replace(b'"side":"sell"', b'"side":"SELL"')

    first = replay(broker, wh, TOPIC_TABLES, idle_timeout_s=0.05, repair=repair)
    assert (first.read, first.landed, first.still_failing) == (2, 1, 1)
    assert wh.count("bronze.trades_raw") == 401
    landed = wh.con.execute(
        "SELECT _partition, _offset FROM bronze.trades_raw WHERE _source LIKE 'replay:%'"
    ).fetchall()
    assert landed == [(by_key[b"T-lower"].partition, by_key[b"T-lower"].offset)]
    # The still-broken one went back with attempts 2; a second replay reads only it and lands nothing.
    second = replay(broker, wh, TOPIC_TABLES, idle_timeout_s=0.05, repair=repair)
    assert (second.read, second.landed, second.still_failing) == (1, 0, 1)
    assert wh.count("bronze.trades_raw") == 401


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


class FlakyWarehouse(Warehouse):
    """A warehouse whose appends fail while `down` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.down = threading.Event()
        self.attempts = 0

    def append_bronze(self, table: str, data: pa.Table, **kw: object) -> int:  # type: ignore[override]
        self.attempts += 1
        if self.down.is_set():
            raise OSError("warehouse unavailable")
        return super().append_bronze(table, data, **kw)  # type: ignore[arg-type]


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def test_repeated_write_failures_open_the_breaker_pause_and_resume_losing_nothing() -> None:
    broker = memory_broker()
    sent = _fill(broker, 1500)
    wh = FlakyWarehouse()
    wh.down.set()
    clock = FakeClock()
    config = SMALL.model_copy(update={"max_consecutive_failures": 3, "retry_backoff_s": 1.0})
    ing = Ingester(broker, wh, TRADES, config=config, clock=clock)
    for _ in range(20):
        ing.step()
        clock.t += 5  # past every backoff
    assert ing.stats.consecutive_failures >= 3 and ing.stats.state == "breaker-open"
    assert ing.stats.pauses == 1 and ing._paused
    consumed_while_open = ing.stats.consumed
    for _ in range(5):
        ing.step()
        clock.t += 5
    assert ing.stats.consumed == consumed_while_open  # paused: nothing more is taken in
    assert ing._consumer.committed(ing._consumer.assignment()) == dict.fromkeys(ing._consumer.assignment())
    wh.down.clear()
    for _ in range(200):
        ing.step()
        clock.t += 5
    ing.flush()
    assert not ing._paused and ing.stats.state == "running"
    assert wh.count("bronze.trades_raw") == sent
    assert _bronze_keys(wh, "trades_raw") == _all_offsets(broker, TRADES)


def test_write_lag_past_the_threshold_pauses_until_the_queue_drains() -> None:
    broker = memory_broker()
    _fill(broker, 400)
    clock = FakeClock()
    config = SMALL.model_copy(update={"lag_threshold_s": 30.0, "max_queued_batches": 100})
    wh = Warehouse()
    ing = Ingester(broker, wh, TRADES, config=config, clock=clock)
    ing.poll_once()
    clock.t += 0.01
    ing.poll_once()  # the batch is sealed and waits for the (stalled) writer
    assert ing.stats.batches == 1
    clock.t += 31
    ing.poll_once()
    assert ing._paused and ing.stats.state == "lagging" and ing.stats.lag_s > 30
    while ing.write_once():
        pass
    ing.poll_once()
    assert not ing._paused and ing.stats.state == "running"


def test_threaded_run_ingests_several_sources_into_their_tables() -> None:
    broker = memory_broker()
    counts = {
        name: _fill(broker, 300, source=name, seed=i) for i, name in enumerate(("aladdin", "balances", "crm"))
    }
    wh = Warehouse()
    for name, n in counts.items():
        ing = Ingester(broker, wh, SOURCES[name].topic, config=SMALL)
        stats = ing.run(until_idle_s=0.3)
        ing.close()
        assert stats.written == n
        assert wh.count(f"bronze.{TOPIC_TABLES[SOURCES[name].topic]}") == n
