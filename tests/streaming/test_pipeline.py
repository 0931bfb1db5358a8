"""The streaming pipeline as a supervised service, on the in-memory broker and a built warehouse:
SIGTERM mid-stream then a restart loses and repeats nothing up to silver; a worker that raises is
restarted and the status says so; one that keeps crashing stops the pipeline with a clear error."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.streaming.memory_setup import memory_broker
from twin.cli.main import app
from twin.streaming.ingest import IngestConfig, Ingester
from twin.streaming.memory import MemoryBroker
from twin.streaming.pipeline import (
    STATUS_FILE,
    Pipeline,
    PipelineConfig,
    PipelineFailed,
    Worker,
    build_pipeline,
    read_status,
    stop_on_signals,
)
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, produce
from twin.warehouse.engine import Warehouse

TRADES = "asset-management.trades.execution"
FAST = PipelineConfig(
    sources=("trades",),
    ingest=IngestConfig(batch_max_records=300, batch_max_ms=5, poll_max_records=100, poll_timeout_s=0.01),
    silver_interval_s=0.05,
    gold_interval_s=None,
    quality_interval_s=0.2,
    restart_backoff_s=0.01,
    status_interval_s=0.05,
)


def _produce(broker: MemoryBroker, n: int, seed: int) -> int:
    return produce(
        ContractProducer(broker.producer(), source="test"), SOURCES["trades"], rate=1e9, count=n, seed=seed
    ).sent


def _wait(cond, timeout_s: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not cond():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.01)


def _bronze_rows(wh: Warehouse) -> int:
    cur = wh.con.cursor()
    try:
        return cur.execute(f"SELECT count(*) FROM bronze.trades_raw WHERE _topic = '{TRADES}'").fetchall()[0][
            0
        ]
    finally:
        cur.close()


def test_sigterm_mid_stream_then_restart_loses_and_repeats_nothing(
    gold_db_copy: Path, tmp_path: Path
) -> None:
    broker = memory_broker()
    wh = Warehouse(gold_db_copy)
    before = wh.count("bronze.trades_raw")
    sent = _produce(broker, 2000, seed=1)
    status_path = tmp_path / STATUS_FILE
    stop = threading.Event()
    first = build_pipeline(broker, wh, FAST, status_path=status_path)

    def terminate_then_produce_more() -> None:
        _wait(lambda: _bronze_rows(wh) > 0)
        os.kill(os.getpid(), signal.SIGTERM)  # the handler sets `stop`; nothing is killed mid-write

    killer = threading.Thread(target=terminate_then_produce_more)
    with stop_on_signals(stop):
        killer.start()
        first.run(stop, duration_s=60)
    killer.join()
    assert stop.is_set()
    st = read_status(status_path)
    assert st is not None and st.state == "stopped" and st.error is None
    sent += _produce(broker, 1500, seed=2)  # more arrives while the pipeline is down

    second = build_pipeline(broker, wh, FAST, status_path=status_path)
    second.run(until_idle_s=0.5, duration_s=60)

    # Bronze: every offset of the topic exactly once.
    keys = wh.con.execute(
        f"SELECT _partition, _offset, count(*) FROM bronze.trades_raw WHERE _topic = '{TRADES}' GROUP BY 1, 2"
    ).fetchall()
    assert len(keys) == sent and all(n == 1 for _, _, n in keys)
    assert wh.count("bronze.trades_raw") == before + sent
    # Silver: every streamed trade once, deduplicated on its natural key, and nothing left to merge.
    streamed = wh.con.execute(
        f"SELECT count(DISTINCT trade_id) FROM bronze.trades_raw WHERE _topic = '{TRADES}'"
    ).fetchall()[0][0]
    in_silver = wh.con.execute(
        "SELECT count(*), count(DISTINCT trade_id) FROM silver.trades WHERE trade_id IN "
        f"(SELECT trade_id FROM bronze.trades_raw WHERE _topic = '{TRADES}')"
    ).fetchall()[0]
    assert in_silver == (streamed, streamed)
    wh.close()


def test_a_worker_that_raises_is_restarted_and_the_status_shows_it(
    gold_db_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = memory_broker()
    wh = Warehouse(gold_db_copy)
    sent = _produce(broker, 1000, seed=3)
    real = Ingester.poll_once
    calls = {"n": 0}

    def flaky(self: Ingester) -> int:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("injected consumer fault")
        return real(self)

    monkeypatch.setattr(Ingester, "poll_once", flaky)
    status_path = tmp_path / STATUS_FILE
    pipeline = build_pipeline(broker, wh, FAST, status_path=status_path)
    final = pipeline.run(until_idle_s=0.5, duration_s=60)
    worker = next(w for w in final.workers if w.name == "ingest:trades")
    assert worker.restarts == 1
    assert worker.last_error == "RuntimeError: injected consumer fault"
    assert worker.detail["records_behind"] == 0 and worker.rows == sent
    assert final.state == "stopped"
    written = read_status(status_path)
    assert written is not None and written.workers[0].restarts == 1
    offsets = wh.con.execute(
        "SELECT count(*), count(DISTINCT (_partition, _offset)) FROM bronze.trades_raw "
        f"WHERE _topic = '{TRADES}'"
    ).fetchall()[0]
    assert offsets == (sent, sent)
    wh.close()


class _Crashing(Worker):
    kind = "silver"

    def run(self, stop: threading.Event) -> None:
        raise ValueError("refresh exploded")


class _Quiet(Worker):
    kind = "gold"

    def __init__(self) -> None:
        super().__init__("quiet")
        self.stopped = False

    def run(self, stop: threading.Event) -> None:
        stop.wait()
        self.stopped = True


def test_a_worker_that_keeps_crashing_stops_the_whole_pipeline(tmp_path: Path) -> None:
    quiet = _Quiet()
    config = PipelineConfig(max_restarts=2, restart_backoff_s=0.0, status_interval_s=0.05)
    pipeline = Pipeline([_Crashing("silver"), quiet], config=config, status_path=tmp_path / STATUS_FILE)
    with pytest.raises(PipelineFailed, match=r"worker silver failed 3 times .* refresh exploded"):
        pipeline.run(duration_s=60)
    assert quiet.stopped  # the others were stopped, not left running
    st = read_status(tmp_path / STATUS_FILE)
    assert st is not None and st.state == "failed"
    assert {w.name: w.state for w in st.workers} == {"silver": "failed", "quiet": "stopped"}
    assert "refresh exploded" in (st.error or "")


def test_a_worker_that_returns_while_running_counts_as_a_crash() -> None:
    class _Returns(Worker):
        kind = "gold"

        def run(self, stop: threading.Event) -> None:
            return

    config = PipelineConfig(max_restarts=0)
    with pytest.raises(PipelineFailed, match="exited while the pipeline was running"):
        Pipeline([_Returns("gold")], config=config).run(duration_s=60)


def test_cli_pipeline_that_keeps_crashing_exits_3_with_a_message_and_status(
    twin_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = memory_broker()
    monkeypatch.setattr("twin.cli.streaming_cmd._broker", lambda bootstrap: broker)

    def broken(self: Ingester) -> int:
        raise RuntimeError("consumer is broken")

    monkeypatch.setattr(Ingester, "poll_once", broken)
    runner = CliRunner()
    db = twin_home / "wh.duckdb"
    args = ["--sources", "trades", "--database", str(db), "--max-restarts", "1", "--duration", "60"]
    result = runner.invoke(app, ["pipeline", "run", *args])
    assert result.exit_code == 3, result.output
    assert "worker ingest:trades failed 2 times" in result.output
    assert "consumer is broken" in result.output
    assert "Traceback" not in result.output
    status = runner.invoke(app, ["ingest", "status", "--format", "json"])
    assert status.exit_code == 1
    data = json.loads(status.stdout)
    assert data["state"] == "failed" and not data["healthy"]
    assert data["workers"][0]["last_error"] == "RuntimeError: consumer is broken"
    assert any("bronze only" in n for n in data["notes"])  # an unbuilt warehouse: no silver worker


def test_cli_ingest_run_alias_lands_rows_and_status_reports_a_clean_stop(
    twin_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broker = memory_broker()
    sent = _produce(broker, 500, seed=4)
    monkeypatch.setattr("twin.cli.streaming_cmd._broker", lambda bootstrap: broker)
    runner = CliRunner()
    db = twin_home / "wh.duckdb"
    args = ["--sources", "trades", "--database", str(db), "--until-idle", "0.5", "--format", "json"]
    result = runner.invoke(app, ["ingest", "run", *args])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["trades_raw"]["written"] == sent
    status = runner.invoke(app, ["pipeline", "status"])
    assert status.exit_code == 0, status.output
    assert "pipeline stopped" in status.stdout and "ingest:trades" in status.stdout


def test_a_worker_that_cannot_start_is_a_crash_too() -> None:
    class _NoStart(Worker):
        kind = "gold"

        def start(self) -> None:
            raise ConnectionError("no consumer could be made")

    config = PipelineConfig(max_restarts=1, restart_backoff_s=0.0)
    with pytest.raises(PipelineFailed, match=r"failed 2 times .* ConnectionError: no consumer could be made"):
        Pipeline([_NoStart("gold")], config=config).run(duration_s=60)
