"""The Snowpipe Streaming stand-in: one consumer group per source topic, micro-batches (by count or by
time) decoded to Arrow and appended to bronze, offsets committed only after the bronze write (and the
batch's dead letters) are durable.

Why that order gives exactly-once rows: bronze is idempotent on (topic, partition, offset). A crash
before the commit replays the batch, and the replayed rows are skipped; a crash before the write loses
nothing because nothing was committed.

Backpressure: the consumer thread decodes while a writer thread appends (DuckDB releases the GIL, so the
two overlap). When the oldest unwritten batch is older than `lag_threshold_s`, too many batches wait,
or the write has failed `max_consecutive_failures` times in a row (the circuit breaker), the consumer
pauses its partitions. The failing batch is retried with backoff, never dropped, and consumption resumes
once writes succeed and the queue drains.

A poison message cannot hold a partition: its dead letter is bounded (a big payload is kept in the
warehouse, see `dlq`), and if the DLQ still refuses after `dlq_max_attempts`, the letters are spooled in
the warehouse and the batch commits; no message is lost and no offset commits before a durable record.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from twin.streaming.contracts.topics import TopicSpec, topic
from twin.streaming.decode import BatchDecoder, Decoded
from twin.streaming.dlq import dead_letter, send_dead_letter, spool_dead_letters
from twin.streaming.polled import Polled
from twin.streaming.port import Broker, BrokerError, Producer, TopicPartition
from twin.warehouse.engine import Warehouse, offset_ranges

# Source name → (topic, bronze table). Bronze table names are shared with the fixture loader.
INGEST_SOURCES: dict[str, tuple[str, str]] = {
    "aladdin": ("aladdin.positions.cdc", "aladdin_positions_raw"),
    "trades": ("asset-management.trades.execution", "trades_raw"),
    "balances": ("cash.balances", "balances_raw"),
    "crm": ("crm.signals", "crm_signals_raw"),
    "nav": ("asset-management.nav.intraday", "nav_raw"),
}
TOPIC_TABLES: dict[str, str] = dict(INGEST_SOURCES.values())
GROUP_JOIN_GRACE_S = 30.0


class IngestConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    batch_max_records: int = Field(default=50_000, ge=1)
    batch_max_ms: int = Field(default=500, ge=1)
    poll_max_records: int = Field(default=10_000, ge=1)
    # The running ingester commits at most this often (a flush commits at once). Fewer synchronous
    # commits keep the consumer thread consuming; a crash replays at most this much more, and bronze
    # skips the replayed rows.
    commit_interval_ms: int = Field(default=1_000, ge=0)
    poll_timeout_s: float = Field(default=0.1, gt=0)
    lag_threshold_s: float = Field(default=30.0, gt=0)
    max_consecutive_failures: int = Field(default=3, ge=1)
    max_queued_batches: int = Field(default=4, ge=1)
    retry_backoff_s: float = Field(default=0.2, gt=0)
    retry_backoff_max_s: float = Field(default=10.0, gt=0)
    # A batch's dead letters are tried on the DLQ this many times (with the write backoff between);
    # then they are spooled in the warehouse and the partition moves on instead of stalling.
    dlq_max_attempts: int = Field(default=3, ge=1)
    dlq_flush_timeout_s: float = Field(default=30.0, gt=0)


@dataclass
class Batch:
    decoded: Decoded | None  # decoded by the writer thread, once (a retried write reuses it)
    commit: dict[TopicPartition, int]  # filled by the writer thread, before it decodes
    records: int
    started_at: float  # monotonic time the first record of the batch was consumed
    raw: Polled | None = None
    sealed_at: float = 0.0  # monotonic: when the consumer thread queued it
    write_started_at: float = 0.0  # monotonic: when the writer thread took it up (the last attempt)
    dlq_failures: int = 0  # attempts at sending this batch's dead letters that the DLQ did not take


@dataclass
class IngestStats:
    consumed: int = 0
    written: int = 0
    replayed_skips: int = 0
    dead_lettered: int = 0
    dead_letters_spooled: int = 0  # of those, kept in the warehouse because the DLQ refused them
    batches: int = 0
    committed_batches: int = 0
    pauses: int = 0
    write_failures: int = 0
    consecutive_failures: int = 0
    state: str = "starting"
    lag_s: float = 0.0
    last_error: str | None = None
    slow_batches: int = 0
    assigned: int = 0  # partitions the group gave this consumer, as of its last poll
    extra: dict[str, float] = field(default_factory=dict)


BatchHook = Callable[[Batch, float], None]


class Ingester:
    """Ingests one source topic into one bronze table. Drive it with `run()` (threads) or `step()`."""

    def __init__(
        self,
        broker: Broker,
        warehouse: Warehouse,
        topic_name: str | TopicSpec,
        table: str | None = None,
        *,
        config: IngestConfig | None = None,
        group_id: str | None = None,
        dlq_producer: Producer | None = None,
        on_written: BatchHook | None = None,
        consumer_config: dict[str, str | int | float | bool] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.spec = topic(topic_name)
        self.table = table or TOPIC_TABLES[self.spec.name]
        self.config = config or IngestConfig()
        self.group_id = group_id or f"twin-ingest-{self.table}"
        self.name = f"twin/ingest/{self.table}"
        self.warehouse = warehouse
        self.decoder = BatchDecoder(self.spec)
        self.stats = IngestStats()
        self._consumer = broker.consumer(self.group_id, **(consumer_config or {}))
        self._consumer.subscribe([self.spec.name])
        self._dlq = dlq_producer or broker.producer()
        self._on_written = on_written
        self._clock = clock
        self._buffer: list[Polled] = []
        self._buffered = 0
        self._last_commit = 0.0
        self._consume = getattr(self._consumer, "consume_columns", None) or self._consume_records
        self._buffer_started = 0.0
        self._queue: deque[Batch] = deque()
        self._done: list[dict[TopicPartition, int]] = []
        self._cond = threading.Condition()
        self._paused = False
        self._retry_at = 0.0
        self._stop = threading.Event()
        self._evolved = False

    # -- the consumer side -----------------------------------------------------------------------
    def _consume_records(self, max_records: int, timeout_s: float) -> Polled:
        return Polled.from_records(self._consumer.consume(max_records, timeout_s))

    def _commit_done(self, *, force: bool = True) -> None:
        if not force and self._clock() - self._last_commit < self.config.commit_interval_ms / 1000:
            return
        with self._cond:
            done, self._done = self._done, []
        merged: dict[TopicPartition, int] = {}
        for offsets in done:
            for tp, off in offsets.items():
                merged[tp] = max(merged.get(tp, 0), off)
        if not merged:
            return
        self._last_commit = self._clock()
        try:
            # The running loop's commits do not wait for the broker: a synchronous one stalled the
            # consumer thread for a round trip each second, and that showed in the freshness tail. Only
            # offsets of durable writes are ever passed, so a commit that is lost just replays rows bronze
            # skips; flush() (shutdown, tests) still waits for the broker.
            self._consumer.commit(merged, asynchronous=not force)
            self.stats.committed_batches += len(done)
        except BrokerError as e:
            # Partitions moved to another member: it replays from the last commit; bronze skips repeats.
            self.stats.last_error = str(e)

    def _healthy(self) -> bool:
        now = self._clock()
        with self._cond:
            oldest = self._queue[0].started_at if self._queue else None
            queued = len(self._queue)
        self.stats.lag_s = now - oldest if oldest is not None else 0.0
        if self.stats.consecutive_failures >= self.config.max_consecutive_failures:
            self.stats.state = "breaker-open"
            return False
        if self.stats.lag_s > self.config.lag_threshold_s:
            self.stats.state = "lagging"
            return False
        self.stats.state = "queue-full" if queued >= self.config.max_queued_batches else "running"
        return True

    def _apply_backpressure(self) -> None:
        healthy = self._healthy()
        assigned = self._consumer.assignment()
        self.stats.assigned = len(assigned)
        if not healthy:
            # Re-pause every time: a rebalance may have handed us partitions that are not paused yet.
            self._consumer.pause(assigned)
            if not self._paused:
                self._paused = True
                self.stats.pauses += 1
        elif self._paused:
            self._consumer.resume(assigned)
            self._paused = False

    def _seal(self) -> None:
        # Sealing is cheap on purpose (list concatenation in C): everything per-record happens on the
        # writer thread, so the consumer thread spends its GIL time consuming.
        parts, self._buffer = self._buffer, []
        polled = Polled.concat(parts)
        self._buffered = 0
        batch = Batch(None, {}, len(polled), self._buffer_started, polled, sealed_at=self._clock())
        with self._cond:
            self._queue.append(batch)
            self.stats.batches += 1
            self._cond.notify_all()

    def _queue_full(self) -> bool:
        with self._cond:
            return len(self._queue) >= self.config.max_queued_batches

    def poll_once(self) -> int:
        """One consumer-side iteration: commit finished batches, apply backpressure, consume, seal."""
        self._commit_done(force=False)
        self._apply_backpressure()
        if not self._paused and self._queue_full():
            # A short stall is absorbed by waiting, not by pausing: pausing makes librdkafka drop what it
            # has prefetched and fetch it again, which costs most when the ingester is busiest.
            with self._cond:
                self._cond.wait(self.config.poll_timeout_s)
            return 0
        timeout = 0.0 if self._paused else self.config.poll_timeout_s
        polled = self._consume(self.config.poll_max_records, timeout)
        now = self._clock()
        n = len(polled)
        if n:
            if not self._buffer:
                self._buffer_started = now
            self._buffer.append(polled)
            self._buffered += n
            self.stats.consumed += n
        if self._buffer and (
            self._buffered >= self.config.batch_max_records
            or (now - self._buffer_started) * 1000 >= self.config.batch_max_ms
        ):
            self._seal()
        return n

    # -- the writer side -------------------------------------------------------------------------
    def write_once(self) -> bool:
        """Write the oldest sealed batch; True if one was written. A failed batch stays queued."""
        with self._cond:
            if not self._queue or self._clock() < self._retry_at:
                return False
            batch = self._queue[0]
        batch.write_started_at = self._clock()
        try:
            self._write(batch)
        except Exception as e:  # any failure of the sink is retried; the batch is never dropped
            self.stats.write_failures += 1
            self.stats.consecutive_failures += 1
            self.stats.last_error = f"{type(e).__name__}: {e}"
            backoff = min(
                self.config.retry_backoff_max_s,
                self.config.retry_backoff_s * 2 ** (self.stats.consecutive_failures - 1),
            )
            self._retry_at = self._clock() + backoff
            return False
        visible = time.time()
        self.stats.consecutive_failures = 0
        with self._cond:
            self._queue.popleft()
            self._done.append(batch.commit)
            self._cond.notify_all()
        if self._on_written is not None:
            self._on_written(batch, visible)
        return True

    def _evolve_table(self, schema: pa.Schema) -> None:
        """Add columns a newer (BACKWARD-compatible) contract introduced, as Snowpipe's schema evolution
        does; existing rows read them as NULL."""
        if self._evolved:
            return
        con = self.warehouse.con.cursor()
        try:
            have = {
                r[0]
                for r in con.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'bronze' AND table_name = ?",
                    [self.table],
                ).fetchall()
            }
            for f in schema:
                if have and f.name not in have:
                    con.execute(
                        f'ALTER TABLE bronze.{self.table} ADD COLUMN "{f.name}" {duckdb_type(f.type)}'
                    ).fetchall()
        finally:
            con.close()
        self._evolved = True

    def _decode(self, batch: Batch) -> Decoded:
        """Decode a sealed batch once (a retried write reuses it). Off the consumer thread: Arrow's JSON
        reader releases the GIL, so it overlaps the next consume."""
        if batch.decoded is None:
            raw = batch.raw or Polled.from_records([])
            partitions = pa.array(raw.partitions, pa.int32())
            offsets = pa.array(raw.offsets, pa.int64())
            batch.commit = self._commit_offsets(partitions, offsets)
            batch.decoded = self.decoder.decode_columns(raw, partitions, offsets)
            batch.raw = None
            self.stats.slow_batches += batch.decoded.slow_path
        return batch.decoded

    def _write(self, batch: Batch) -> None:
        d = self._decode(batch)
        if d.table.num_rows:
            self._evolve_table(d.table.schema)
            new = self.warehouse.append_bronze(
                self.table,
                d.table,
                source=self.name,
                topic=self.spec.name,
                partitions=d.partitions,
                offsets=d.offsets,
            )
            self.stats.written += new
            self.stats.replayed_skips += d.table.num_rows - new
        if d.rejected:
            self._dead_letter(batch, d)

    def _dead_letter(self, batch: Batch, d: Decoded) -> None:
        """Send the batch's dead letters to the DLQ; after `dlq_max_attempts` refusals, spool them in the
        warehouse instead. Either way they are durable before the batch's offsets can be committed."""
        letters = [
            dead_letter(rec, why, ingester=self.name, warehouse=self.warehouse) for rec, why in d.rejected
        ]
        try:
            for letter in letters:
                send_dead_letter(self._dlq, letter, source=self.name)
            remaining = self._dlq.flush(self.config.dlq_flush_timeout_s)
            if remaining:
                raise BrokerError(f"{remaining} dead letter(s) not acknowledged by the broker")
        except BrokerError as e:
            batch.dlq_failures += 1
            if batch.dlq_failures < self.config.dlq_max_attempts:
                raise  # retried with the write backoff; bronze skips the rows already appended
            # Some of them may still reach the DLQ later: a letter twice is harmless, replay is idempotent.
            spool_dead_letters(self.warehouse, letters, source=self.name)
            self.stats.dead_letters_spooled += len(letters)
            self.stats.last_error = f"dead letters spooled after {batch.dlq_failures} DLQ failures: {e}"
        self.stats.dead_lettered += len(letters)
        d.rejected.clear()  # a retry after a later failure must not send them twice

    def _commit_offsets(self, partitions: pa.Array, offsets: pa.Array) -> dict[TopicPartition, int]:
        """Last offset + 1 per partition over every record of the batch, dead letters included."""
        if not len(partitions):
            return {}
        ranges = offset_ranges(partitions, offsets)
        return {TopicPartition(self.spec.name, p): hi + 1 for p, (_, hi) in ranges.items()}

    # -- drivers ---------------------------------------------------------------------------------
    def step(self) -> None:
        """Consume, then write inline: the single-threaded driver used by sim and tests."""
        self.poll_once()
        self.write_once()
        self._commit_done()

    def flush(self) -> None:
        """Seal the buffer and write and commit everything queued (retrying failed writes)."""
        if self._buffer:
            self._seal()
        while True:
            with self._cond:
                if not self._queue:
                    break
                wait = max(0.0, self._retry_at - self._clock())
            if wait:
                time.sleep(min(wait, 0.5))
            self.write_once()
        self._commit_done()

    def _writer_loop(self) -> None:
        while not self._stop.is_set():
            with self._cond:
                if not self._queue:
                    self._cond.wait(0.1)
                    continue
            if not self.write_once():
                time.sleep(min(0.05, max(0.0, self._retry_at - self._clock())))

    def run(self, stop: threading.Event | None = None, *, until_idle_s: float | None = None) -> IngestStats:
        """Consume and write on two threads until `stop` is set (or nothing arrived for `until_idle_s`).

        A third thread decoding ahead of the writer was measured and gained nothing on two cores: the
        decode and the append are both CPU-bound and already overlap the consumer."""
        stop = stop or threading.Event()
        writer = threading.Thread(target=self._writer_loop, name=f"{self.name}-writer", daemon=True)
        writer.start()
        started = idle_since = self._clock()
        try:
            while not stop.is_set():
                if self.poll_once() or not self._settled(started):
                    idle_since = self._clock()
                elif until_idle_s is not None and self._clock() - idle_since > until_idle_s:
                    break
        finally:
            self._stop.set()
            writer.join()
            self.flush()
            self.stats.state = "stopped"
        return self.stats

    def _settled(self, started: float) -> bool:
        """Nothing buffered or queued, and the group has been joined (a real broker takes seconds)."""
        with self._cond:
            if self._queue or self._buffer:
                return False
        return bool(self._consumer.assignment()) or self._clock() - started > GROUP_JOIN_GRACE_S

    def close(self) -> None:
        self._consumer.close()


def duckdb_type(t: pa.DataType) -> str:
    if pa.types.is_decimal(t):
        return f"DECIMAL({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    simple = {
        pa.string(): "VARCHAR",
        pa.int64(): "BIGINT",
        pa.float64(): "DOUBLE",
        pa.bool_(): "BOOLEAN",
        pa.date32(): "DATE",
        pa.int32(): "INTEGER",
    }
    return simple[t]
