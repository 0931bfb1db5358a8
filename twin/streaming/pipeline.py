"""The streaming pipeline as one supervised service: ingesters (one per source), the silver refresher,
the gold refresh cadence and the data-quality checks, each a worker thread under one supervisor.

Why a supervisor: before it, `twin ingest run` landed events in bronze and stopped there (nothing in the
product merged them into silver), and a worker that died left the rest running as if nothing happened.
Here every worker is watched: one that raises (or returns while the pipeline is running) is restarted
after a backoff that doubles, and one that fails more than `max_restarts` times within
`restart_window_s` stops the whole pipeline with `PipelineFailed`, naming the worker and its error. The
pipeline is either whole or stopped, never half running.

Shutdown (SIGTERM, Ctrl-C, `--duration`): every worker's stop event is set; an ingester seals its
buffer, writes and commits what it consumed (offsets only ever follow durable bronze writes, so a
restart neither loses nor repeats rows: bronze is idempotent on (topic, partition, offset)); the silver
refresher runs one last refresh so what reached bronze also reaches silver.

Health is published as a JSON status file (`PipelineStatus`) the supervisor rewrites every
`status_interval_s`: per worker its state, restarts, last error, rows and lag; the last quality report.
`twin ingest status` reads it from another process.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import duckdb
from pydantic import BaseModel, ConfigDict, Field

from twin.errors import TwinError
from twin.quality.checks import QualityReport, check_warehouse
from twin.streaming.ingest import INGEST_SOURCES, Batch, IngestConfig, Ingester
from twin.streaming.port import Admin, Broker, TopicPartition
from twin.warehouse.catalog import recorded_models
from twin.warehouse.engine import Warehouse, WarehouseError
from twin.warehouse.refresh import RefreshStats, refresh_gold, refresh_silver

WorkerState = Literal["starting", "running", "restarting", "stopped", "failed"]
PipelineState = Literal["starting", "running", "stopping", "stopped", "failed"]
STATUS_FILE = "pipeline-status.json"
JOIN_GRACE_S = 30.0


class PipelineFailed(TwinError):
    """A worker kept crashing: the pipeline stopped (cleanly, offsets of durable writes committed)."""


STREAMING = IngestConfig(
    batch_max_records=20_000, batch_max_ms=200, poll_timeout_s=0.05, max_queued_batches=2
)
"""The pipeline's ingest settings (what `twin bench ingest` measures). Batches close after 200 ms so a
row reaches bronze within about half a second at 12,600 events/s; at most 20,000 records a batch and two
batches queued bound what a backlog holds in memory (five of 50,000 did, plus their decoded tables)."""


class PipelineConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: tuple[str, ...] = tuple(INGEST_SOURCES)
    ingest: IngestConfig = STREAMING
    # Silver's merge is cheap when little changed (one aggregate per feed), so a short cadence keeps the
    # produce → silver tail near the bronze one; `silver_on_write` refreshes as soon as a write lands and
    # the interval is then only the longest wait.
    silver_interval_s: float | None = Field(default=0.5, gt=0)
    silver_on_write: bool = False
    gold_interval_s: float | None = Field(default=300.0, gt=0)
    quality_interval_s: float | None = Field(default=60.0, gt=0)
    max_restarts: int = Field(default=3, ge=0)
    restart_window_s: float = Field(default=60.0, gt=0)
    restart_backoff_s: float = Field(default=0.5, ge=0)
    restart_backoff_max_s: float = Field(default=10.0, ge=0)
    status_interval_s: float = Field(default=1.0, gt=0)
    # DuckDB keeps rows appended since the last checkpoint in memory, so the warehouse's 1 GB WAL
    # allowance (right for hourly batch refreshes) let a long stream hold ~1 GB of bronze in RSS: the
    # 8 M-event throughput run peaked at 1.2-2 GiB. A smaller WAL checkpoints every few hundred thousand
    # rows (3 M synthetic rows: 501 MiB peak at 1 GB, 356 MiB at 128 MB); the checkpoint work is the
    # same in total, paid along the way instead of at close.
    wal_autocheckpoint: str = Field(default="128MB", pattern=r"^[0-9]+(KB|MB|GB)$")


class WorkerStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    kind: Literal["ingest", "silver", "gold", "quality"]
    state: WorkerState
    restarts: int
    last_error: str | None
    rows: int  # ingest: rows written to bronze; silver/gold: rows merged; quality: checks run
    lag_s: float  # ingest: age of the oldest unwritten batch; refreshers: since the last success
    detail: dict[str, float | int | str | None] = {}


class PipelineStatus(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state: PipelineState
    pid: int
    started_at: datetime
    updated_at: datetime
    error: str | None
    workers: list[WorkerStatus]
    quality: QualityReport | None = None
    notes: list[str] = []

    @property
    def healthy(self) -> bool:
        return self.state == "running" and all(w.state == "running" for w in self.workers)


# -- workers -------------------------------------------------------------------------------------------
class Worker:
    """One supervised unit. `start()` builds fresh state (a crashed ingester gets a new consumer, which
    resumes from the group's committed offsets); `run(stop)` blocks until `stop` is set."""

    kind: Literal["ingest", "silver", "gold", "quality"]

    def __init__(self, name: str) -> None:
        self.name = name

    def start(self) -> None:
        """Build fresh state (called before every run, restarts included)."""

    def run(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def close(self) -> None:
        """Release what `start` built."""

    def rows(self) -> int:
        return 0

    def lag_s(self) -> float:
        return 0.0

    def detail(self) -> dict[str, float | int | str | None]:
        return {}


class IngestWorker(Worker):
    kind = "ingest"

    def __init__(
        self,
        broker: Broker,
        wh: Warehouse,
        source: str,
        config: IngestConfig,
        on_written: Callable[[Batch, float], None] | None = None,
        consumer_config: dict[str, str | int | float | bool] | None = None,
        *,
        route: tuple[str, str] | None = None,
        group_id: str | None = None,
    ) -> None:
        """`source` names one of INGEST_SOURCES; `route` = (topic, bronze table) overrides its route (the
        throughput benchmark streams a topic of its own)."""
        topic_name, table = route or INGEST_SOURCES[source]
        super().__init__(f"ingest:{source}")
        self._broker = broker
        self._admin: Admin | None = None
        self._positions: dict[TopicPartition, int] = {}  # next offset after the last durable write
        self._behind: tuple[float, int | None] = (0.0, None)

        def written(batch: Batch, visible: float) -> None:
            for tp, offset in batch.commit.items():
                self._positions[tp] = max(offset, self._positions.get(tp, 0))
            if on_written is not None:
                on_written(batch, visible)

        self._make = lambda: Ingester(
            broker,
            wh,
            topic_name,
            table,
            config=config,
            on_written=written,
            consumer_config=consumer_config,
            group_id=group_id,
        )
        self.ingester: Ingester | None = None
        self._closed = False
        self._written_before = 0  # rows written by earlier incarnations (restarts)
        self._dead_before = 0

    def start(self) -> None:
        fresh = self._make()
        if self.ingester is not None:
            self._written_before += self.ingester.stats.written
            self._dead_before += self.ingester.stats.dead_lettered
        self.ingester, self._closed = fresh, False

    def run(self, stop: threading.Event) -> None:
        assert self.ingester is not None
        self.ingester.run(stop)

    def close(self) -> None:
        # Once per incarnation: the supervisor closes a crashed worker and again at shutdown, and a
        # Kafka consumer refuses a second close.
        if self.ingester is not None and not self._closed:
            self._closed = True
            self.ingester.close()
        self._behind = (0.0, self._behind[1])  # the next status asks the broker again: a final figure

    def rows(self) -> int:
        return self._written_before + (self.ingester.stats.written if self.ingester else 0)

    def dead_lettered(self) -> int:
        return self._dead_before + (self.ingester.stats.dead_lettered if self.ingester else 0)

    def lag_s(self) -> float:
        return self.ingester.stats.lag_s if self.ingester else 0.0

    def records_behind(self, every_s: float = 5.0) -> int | None:
        """Records in the partitions this worker has written that are not in bronze yet (end offsets
        from the broker's admin API, asked at most every `every_s`; never the consumer, which belongs to
        the ingester's thread). None until a first batch is written."""
        now = time.monotonic()
        if now - self._behind[0] < every_s or not self._positions:
            return self._behind[1]
        positions = dict(self._positions)
        try:
            self._admin = self._admin or self._broker.admin()
            ends = self._admin.end_offsets(list(positions))
            behind: int | None = sum(max(0, ends[tp] - off) for tp, off in positions.items() if tp in ends)
        except Exception:  # a status figure: the broker being away shows in the ingester's state
            behind = None
        self._behind = (now, behind)
        return behind

    def detail(self) -> dict[str, float | int | str | None]:
        s = self.ingester.stats if self.ingester else None
        if s is None:
            return {}
        return {
            "table": self.ingester.table if self.ingester else None,
            "consumed": s.consumed,
            "dead_lettered": self.dead_lettered(),
            "replayed_skips": s.replayed_skips,
            "pauses": s.pauses,
            "ingest_state": s.state,
            "assigned": s.assigned,
            "records_behind": self.records_behind(),
            "write_error": s.last_error,
        }


class _Cadence(Worker):
    """A worker that does one step every `interval_s` (or sooner when `wake` is set)."""

    def __init__(self, name: str, interval_s: float, wake: threading.Event | None = None) -> None:
        super().__init__(name)
        self.interval_s = interval_s
        self._wake = wake
        self.steps = 0
        self.cpu_s = 0.0
        self.last_ok = time.monotonic()
        self.last_seconds = 0.0

    def step(self) -> None:
        raise NotImplementedError

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            t0 = time.monotonic()
            cpu0 = time.thread_time()
            if self._wake is not None:
                self._wake.clear()
            self.step()
            # This thread's CPU (DuckDB's own worker threads not included): what the cadence costs.
            self.cpu_s += time.thread_time() - cpu0
            self.steps += 1
            self.last_ok = time.monotonic()
            self.last_seconds = self.last_ok - t0
            wait = max(0.0, self.interval_s - self.last_seconds)
            # With a wake event a bronze write starts the next step at once; a stop waits at most
            # one interval either way.
            (self._wake or stop).wait(wait)

    def lag_s(self) -> float:
        return time.monotonic() - self.last_ok

    def detail(self) -> dict[str, float | int | str | None]:
        return {
            "steps": self.steps,
            "last_seconds": round(self.last_seconds, 4),
            "cpu_s": round(self.cpu_s, 3),
        }


RefreshHook = Callable[[RefreshStats, float, float], None]


class SilverWorker(_Cadence):
    """`refresh_silver` on a cadence; a last refresh on stop so bronze's final rows reach silver."""

    kind = "silver"

    def __init__(
        self,
        wh: Warehouse,
        interval_s: float,
        wake: threading.Event | None = None,
        on_refresh: RefreshHook | None = None,
    ) -> None:
        super().__init__("silver", interval_s, wake)
        self.wh = wh
        self.merged = 0
        self._on_refresh = on_refresh

    def step(self) -> None:
        began = time.time()
        stats = refresh_silver(self.wh)
        self.merged += sum(stats.merged.values())
        if self._on_refresh is not None:
            self._on_refresh(stats, began, time.time())

    def final(self) -> None:
        self.step()

    def rows(self) -> int:
        return self.merged


class GoldWorker(_Cadence):
    kind = "gold"

    def __init__(self, wh: Warehouse, interval_s: float) -> None:
        super().__init__("gold", interval_s)
        self.wh = wh
        self.merged = 0
        self.rebuilt = 0

    def run(self, stop: threading.Event) -> None:
        # Gold waits one interval first: a fresh build is current, and the refresh holds the warehouse
        # lock the appends wait on.
        if stop.wait(self.interval_s):
            return
        super().run(stop)

    def step(self) -> None:
        stats = refresh_gold(self.wh)
        self.merged += sum(stats.merged.values())
        self.rebuilt += len(stats.rebuilt)

    def rows(self) -> int:
        return self.merged


@dataclass
class _CursorDb:
    """What the quality checks read through: a cursor of its own, so they never share a connection
    object with the appends (a DuckDB connection is not safe to use from two threads at once)."""

    con: duckdb.DuckDBPyConnection


class QualityWorker(_Cadence):
    kind = "quality"

    def __init__(self, wh: Warehouse, interval_s: float) -> None:
        super().__init__("quality", interval_s)
        self.wh = wh
        self.report: QualityReport | None = None

    def step(self) -> None:
        cursor = self.wh.con.cursor()
        try:
            self.report = check_warehouse(_CursorDb(cursor))
        finally:
            cursor.close()

    def rows(self) -> int:
        return len(self.report.checks) if self.report else 0

    def detail(self) -> dict[str, float | int | str | None]:
        failing = len(self.report.failures) if self.report else 0
        return {**super().detail(), "failing_checks": failing}


# -- the supervisor ------------------------------------------------------------------------------------
@dataclass
class _Slot:
    worker: Worker
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None
    error: str | None = None
    state: WorkerState = "starting"
    restarts: int = 0
    crashes: list[float] = field(default_factory=list)
    restart_at: float | None = None


class Pipeline:
    """Runs workers under supervision. `run()` blocks until `stop` is set, `duration_s` passes, or a
    worker exhausts its restarts (then it raises `PipelineFailed` after a clean stop of the rest)."""

    def __init__(
        self,
        workers: list[Worker],
        *,
        config: PipelineConfig | None = None,
        status_path: Path | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not workers:
            raise ValueError("a pipeline needs at least one worker")
        self.config = config or PipelineConfig()
        self.status_path = status_path
        self._slots = [_Slot(w) for w in workers]
        self._clock = clock
        self._state: PipelineState = "starting"
        self._error: str | None = None
        self._started_at = datetime.now(UTC)
        self._run_started = self._active_at = 0.0  # set by run()
        self._consumed_seen = -1
        self.notes: list[str] = []

    @property
    def workers(self) -> list[Worker]:
        return [s.worker for s in self._slots]

    # -- status ----------------------------------------------------------------------------------
    def status(self) -> PipelineStatus:
        quality = next((w.report for w in self.workers if isinstance(w, QualityWorker)), None)
        return PipelineStatus(
            state=self._state,
            pid=os.getpid(),
            started_at=self._started_at,
            updated_at=datetime.now(UTC),
            error=self._error,
            quality=quality,
            notes=self.notes,
            workers=[
                WorkerStatus(
                    name=s.worker.name,
                    kind=s.worker.kind,
                    state=s.state,
                    restarts=s.restarts,
                    last_error=s.error,
                    rows=s.worker.rows(),
                    lag_s=round(s.worker.lag_s(), 3),
                    detail=s.worker.detail(),
                )
                for s in self._slots
            ],
        )

    def write_status(self) -> None:
        if self.status_path is None:
            return
        self.status_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.status_path.with_suffix(".tmp")
        tmp.write_text(self.status().model_dump_json(indent=2))
        tmp.replace(self.status_path)  # atomic: a reader never sees half a file

    # -- workers' threads ------------------------------------------------------------------------
    def _launch(self, slot: _Slot) -> None:
        slot.stop = threading.Event()
        slot.restart_at = None
        try:
            slot.worker.start()
        except Exception as e:  # e.g. no consumer could be made: a crash like any other
            slot.error = f"{type(e).__name__}: {e}"
            slot.thread = None
            self._crashed(slot, self._clock())
            return
        slot.state = "running"

        def target() -> None:
            try:
                slot.worker.run(slot.stop)
                if not slot.stop.is_set():
                    slot.error = "exited while the pipeline was running"
            except BaseException as e:  # any crash is the supervisor's to handle, never silent
                slot.error = f"{type(e).__name__}: {e}"

        slot.thread = threading.Thread(target=target, name=f"twin-pipeline-{slot.worker.name}", daemon=True)
        slot.thread.start()

    def _crashed(self, slot: _Slot, now: float) -> None:
        """A worker's thread ended on its own: restart it after a backoff, or fail the pipeline."""
        slot.worker.close()
        slot.crashes = [t for t in slot.crashes if now - t <= self.config.restart_window_s] + [now]
        if len(slot.crashes) > self.config.max_restarts:
            slot.state = "failed"
            self._error = (
                f"worker {slot.worker.name} failed {len(slot.crashes)} times within "
                f"{self.config.restart_window_s:g} s (max restarts {self.config.max_restarts}); "
                f"last error: {slot.error}"
            )
            return
        backoff = min(
            self.config.restart_backoff_max_s,
            self.config.restart_backoff_s * 2 ** (len(slot.crashes) - 1),
        )
        slot.state = "restarting"
        slot.restart_at = now + backoff

    def _supervise(self, now: float) -> None:
        for slot in self._slots:
            if slot.state == "running" and slot.thread is not None and not slot.thread.is_alive():
                slot.thread.join()
                if slot.error is None:
                    slot.error = "exited while the pipeline was running"
                self._crashed(slot, now)
            elif slot.state == "restarting" and slot.restart_at is not None and now >= slot.restart_at:
                slot.restarts += 1
                self._launch(slot)

    def _shutdown(self) -> None:
        self._state = "stopping"
        self.write_status()
        for slot in self._slots:
            slot.stop.set()
        # Ingesters first (they flush and commit), then one last silver refresh so bronze's last rows
        # reach silver before the process exits.
        for slot in self._slots:
            if slot.thread is not None:
                slot.thread.join()
            if slot.state in ("running", "restarting"):
                slot.state = "stopped"
        for slot in self._slots:
            if isinstance(slot.worker, SilverWorker) and slot.state == "stopped":
                try:
                    slot.worker.final()
                except Exception as e:
                    slot.error = f"final refresh: {type(e).__name__}: {e}"
        for slot in self._slots:
            slot.worker.close()

    def _idle_for(self, now: float) -> float:
        """Seconds since any ingester last consumed a record, once every ingester has joined its group
        (a real broker takes seconds to assign partitions; before that, quiet means nothing)."""
        ingesters = [w.ingester for w in self.workers if isinstance(w, IngestWorker) and w.ingester]
        consumed = sum(i.stats.consumed for i in ingesters)
        if consumed != self._consumed_seen:
            self._consumed_seen, self._active_at = consumed, now
        joined = all(i.stats.assigned for i in ingesters) or now - self._run_started > JOIN_GRACE_S
        if not joined:
            self._active_at = now  # idle time counts from the join, not from the start
        return now - self._active_at

    def run(
        self,
        stop: threading.Event | None = None,
        *,
        duration_s: float | None = None,
        until_idle_s: float | None = None,
    ) -> PipelineStatus:
        """Supervise until `stop` is set, `duration_s` passed, or (with `until_idle_s`) no ingester has
        consumed anything for that long."""
        stop = stop or threading.Event()
        started = self._run_started = self._active_at = self._clock()
        self._consumed_seen = -1
        for slot in self._slots:
            self._launch(slot)
        self._state = "running"
        self.write_status()
        last_status = self._clock()
        try:
            while not stop.is_set() and self._error is None:
                now = self._clock()
                if duration_s is not None and now - started >= duration_s:
                    break
                if until_idle_s is not None and self._idle_for(now) > until_idle_s:
                    break
                self._supervise(now)
                if now - last_status >= self.config.status_interval_s:
                    self.write_status()
                    last_status = now
                stop.wait(0.05)
        finally:
            self._shutdown()
            self._state = "failed" if self._error else "stopped"
            self.write_status()
        if self._error:
            raise PipelineFailed(self._error)
        return self.status()


def build_pipeline(
    broker: Broker,
    wh: Warehouse,
    config: PipelineConfig | None = None,
    *,
    status_path: Path | None = None,
    on_written: Callable[[Batch, float], None] | None = None,
    on_refresh: RefreshHook | None = None,
    consumer_config: dict[str, str | int | float | bool] | None = None,
) -> Pipeline:
    """The shipped service: one ingester per source, silver, gold and quality on their cadences."""
    config = config or PipelineConfig()
    unknown = [s for s in config.sources if s not in INGEST_SOURCES]
    if unknown or not config.sources:
        raise ValueError(f"unknown source(s) {unknown}; choose from {', '.join(INGEST_SOURCES)}")
    wake = threading.Event() if config.silver_on_write else None
    wh.con.execute(f"SET wal_autocheckpoint = '{config.wal_autocheckpoint}'").fetchall()

    def written(batch: Batch, visible: float) -> None:
        if wake is not None:
            wake.set()
        if on_written is not None:
            on_written(batch, visible)

    workers: list[Worker] = [
        IngestWorker(broker, wh, s, config.ingest, written, consumer_config) for s in config.sources
    ]
    notes = []
    if _built(wh):
        if config.silver_interval_s is not None:
            workers.append(SilverWorker(wh, config.silver_interval_s, wake, on_refresh))
        if config.gold_interval_s is not None:
            workers.append(GoldWorker(wh, config.gold_interval_s))
        if config.quality_interval_s is not None:
            workers.append(QualityWorker(wh, config.quality_interval_s))
    else:
        # Silver, gold and the checks replay the models a build recorded; without them there is nothing
        # to refresh, and saying so beats a refresher that fails until the pipeline gives up.
        notes.append("bronze only: the warehouse has no silver/gold models (run `twin warehouse build`)")
    pipeline = Pipeline(workers, config=config, status_path=status_path)
    pipeline.notes = notes
    return pipeline


def _built(wh: Warehouse) -> bool:
    cursor = wh.con.cursor()
    try:
        recorded_models(_CursorDb(cursor))
    except WarehouseError:
        return False
    finally:
        cursor.close()
    return True


@contextmanager
def stop_on_signals(stop: threading.Event) -> Iterator[None]:
    """SIGTERM and SIGINT set `stop` (a clean shutdown) instead of killing the process mid-write.
    Only the main thread may install handlers; elsewhere this does nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        stop.set()

    previous = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def read_status(path: Path) -> PipelineStatus | None:
    if not path.exists():
        return None
    return PipelineStatus.model_validate_json(path.read_text())


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
