"""Streaming commands: `twin topics apply|list`, `twin produce`, `twin pipeline run|status` (alias `twin
ingest run|status`), `twin dlq replay`."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from twin.cli.errors import fail
from twin.cli.inputs import database as checked_database

console = Console()
PIPELINE_FAILED_EXIT = 3  # a worker kept crashing: apart from usage errors (2) and twin's bugs (1)

BOOTSTRAP = typer.Option(
    None, "--bootstrap", "-b", help="Kafka bootstrap HOST:PORT (default: `twin broker up`'s)."
)
FORMAT = typer.Option("table", "--format", help="table or json.")
DATABASE = typer.Option(
    None, "--database", help="DuckDB warehouse file (default: TWIN_HOME/warehouse.duckdb)."
)


def _broker(bootstrap: str | None) -> Any:
    from twin.streaming.connect import NoBroker, connect

    try:
        return connect(bootstrap)
    except NoBroker as e:
        fail(str(e))


def _check_format(fmt: str) -> None:
    if fmt not in ("table", "json"):
        fail(f"--format must be table or json, not {fmt!r}")


def _warehouse(database: Path | None) -> Any:
    from twin.config import paths
    from twin.warehouse.engine import Warehouse

    path = checked_database(database or paths().database, must_exist=False, option="--database")
    try:
        return Warehouse(path)
    except Exception as e:  # a DuckDB lock held by another process is the usual cause
        fail(f"cannot open the warehouse: {e}")


def register(app: typer.Typer) -> None:
    topics_app = typer.Typer(
        help="Topics as contracts: apply them to the broker, list them.", no_args_is_help=True
    )
    ingest_app = typer.Typer(
        help="Snowpipe-style ingestion from topics into bronze (the pipeline's old name).",
        no_args_is_help=True,
    )
    dlq_app = typer.Typer(help="The ingest dead-letter queue (ingest.dlq).", no_args_is_help=True)
    app.add_typer(topics_app, name="topics")
    app.add_typer(ingest_app, name="ingest")
    pipeline_app = typer.Typer(
        help="The streaming pipeline as one supervised service (ingest → bronze → silver → gold).",
        no_args_is_help=True,
    )
    app.add_typer(pipeline_app, name="pipeline")
    app.add_typer(dlq_app, name="dlq")

    @topics_app.command("apply")
    def topics_apply(bootstrap: str | None = BOOTSTRAP, fmt: str = FORMAT) -> None:
        """Create or update every contract topic on the broker (idempotent)."""
        _check_format(fmt)
        from twin.streaming.contracts.apply import apply_topics
        from twin.streaming.port import BrokerError

        broker = _broker(bootstrap)
        try:
            changes = apply_topics(broker.admin())
        except BrokerError as e:
            fail(str(e))
        if fmt == "json":
            typer.echo(json.dumps([c.model_dump() for c in changes], indent=2))
            return
        t = Table("topic", "action", "partitions", "RF", "details")
        for c in changes:
            t.add_row(c.topic, c.action, str(c.partitions), str(c.replication_factor), "; ".join(c.details))
        console.print(t)

    @topics_app.command("list")
    def topics_list(
        bootstrap: str | None = BOOTSTRAP,
        fmt: str = FORMAT,
        contracts_only: bool = typer.Option(False, "--contracts", help="Only the definitions; no broker."),
    ) -> None:
        """The contract topics (partitions, RF, retention, cleanup, key, value) and their broker state."""
        _check_format(fmt)
        from twin.streaming.contracts.topics import TOPICS

        live = {} if contracts_only else _broker(bootstrap).admin().list_topics()
        rows: list[dict[str, Any]] = []
        for spec in TOPICS.values():
            info = live.get(spec.name)
            rows.append(
                {
                    "topic": spec.name,
                    "partitions": spec.partitions,
                    "replication_factor": spec.replication_factor,
                    "retention_ms": spec.retention_ms,
                    "cleanup_policy": spec.cleanup_policy.value,
                    "key": list(spec.key),
                    "value_schema": spec.value.__name__,
                    "on_broker": None
                    if contracts_only
                    else (
                        None
                        if info is None
                        else {"partitions": info.partitions, "rf": info.replication_factor}
                    ),
                }
            )
        if fmt == "json":
            typer.echo(json.dumps(rows, indent=2))
            return
        t = Table("partitions", "RF", "retention (h)", "cleanup", "key", "value", "on broker")
        t.columns.insert(0, Table("topic").columns[0])
        t.columns[0].no_wrap = True
        for r in rows:
            ob = r["on_broker"]
            t.add_row(
                r["topic"],
                str(r["partitions"]),
                str(r["replication_factor"]),
                f"{r['retention_ms'] / 3_600_000:g}",
                r["cleanup_policy"],
                ":".join(r["key"]),
                r["value_schema"],
                "-" if contracts_only else ("missing" if ob is None else f"{ob['partitions']}p RF{ob['rf']}"),
            )
        console.print(t)

    @app.command("produce")
    def produce_cmd(
        source: str = typer.Argument(..., help="aladdin, trades, balances, crm or nav."),
        rate: float | None = typer.Option(
            None, "--rate", "-r", help="Events per second (default: the architecture's)."
        ),
        duration: float = typer.Option(10.0, "--duration", "-d", help="Seconds to produce for."),
        seed: int = typer.Option(0, "--seed", help="RNG seed (deterministic payloads)."),
        fixtures: Path | None = typer.Option(
            None,
            "--fixtures",
            help="Fixtures directory to draw account, fund and client ids from (default: synthetic ids).",
        ),
        bootstrap: str | None = BOOTSTRAP,
        fmt: str = FORMAT,
    ) -> None:
        """Produce synthetic events of one source to its topic at a controlled rate."""
        _check_format(fmt)
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from twin.config import paths
        from twin.fixtures import FixtureError
        from twin.streaming.contracts.registry import IncompatibleSchema, SchemaStore
        from twin.streaming.port import BrokerError
        from twin.streaming.producer import ContractProducer
        from twin.streaming.sources import SOURCES, ids_from_fixtures, produce

        if source not in SOURCES:
            fail(f"unknown source {source!r}; choose from {', '.join(SOURCES)}")
        if duration <= 0 or (rate is not None and rate <= 0):
            fail("--rate and --duration must be positive")
        ids = None
        if fixtures is not None:
            if not fixtures.is_dir():
                fail(f"--fixtures: no such directory: {fixtures}")
            try:
                ids = ids_from_fixtures(fixtures)
            except (FixtureError, ValueError) as e:
                fail(f"--fixtures: {e}")
        src = SOURCES[source]
        broker = _broker(bootstrap)
        producer = ContractProducer(
            broker.producer(), source=f"twin/produce/{source}", store=SchemaStore(paths().home / "schemas")
        )
        total = int((rate or src.rate) * duration)
        try:
            with Progress(
                TextColumn(f"{source} → {src.topic}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,}"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=fmt == "json",
            ) as bar:
                task = bar.add_task("produce", total=total)
                report = produce(
                    producer,
                    src,
                    rate=rate,
                    duration_s=duration,
                    seed=seed,
                    ids=ids,
                    progress=lambda n: bar.update(task, completed=n),
                )
        except (BrokerError, IncompatibleSchema) as e:
            fail(str(e))
        out = {
            "source": source,
            "topic": src.topic,
            "sent": report.sent,
            "duplicates": report.duplicates,
            "late": report.late,
            "seconds": round(report.seconds, 3),
            "rate": round(report.rate, 1),
        }
        if fmt == "json":
            typer.echo(json.dumps(out))
        else:
            console.print(
                f"sent {report.sent:,} events to {src.topic} in {report.seconds:.1f} s "
                f"({report.rate:,.0f}/s; {report.duplicates} duplicates, {report.late} late injected)"
            )

    def pipeline_run(
        sources: str = typer.Option(
            "aladdin,trades,balances,crm,nav", "--sources", help="Comma-separated sources."
        ),
        duration: float | None = typer.Option(None, "--duration", help="Stop after this many seconds."),
        until_idle: float | None = typer.Option(
            None, "--until-idle", help="Stop once nothing arrived for this many seconds."
        ),
        batch_records: int = typer.Option(20_000, "--batch-records", help="Micro-batch size cap."),
        batch_ms: int = typer.Option(200, "--batch-ms", help="Micro-batch time cap (ms)."),
        lag_threshold: float = typer.Option(
            30.0, "--lag-threshold", help="Pause partitions past this write lag (s)."
        ),
        silver_interval: float = typer.Option(
            0.5, "--silver-interval", help="Seconds between silver refreshes (0: no silver refresher)."
        ),
        gold_interval: float = typer.Option(
            300.0, "--gold-interval", help="Seconds between gold refreshes (0: no gold refresh)."
        ),
        quality_interval: float = typer.Option(
            60.0, "--quality-interval", help="Seconds between data-quality checks (0: none)."
        ),
        max_restarts: int = typer.Option(
            3, "--max-restarts", help="Restarts a worker may use within a minute before the pipeline stops."
        ),
        bootstrap: str | None = BOOTSTRAP,
        database: Path | None = DATABASE,
        fmt: str = FORMAT,
    ) -> None:
        """Run the streaming pipeline in the foreground: ingesters into bronze, silver refresher, gold
        refresh and quality checks, supervised (a crashed worker restarts; one that keeps crashing stops
        the pipeline, exit code 3). SIGTERM or Ctrl-C stops cleanly, committing what was written.
        Health: `twin pipeline status`."""
        _check_format(fmt)
        from rich.live import Live

        from twin.config import paths
        from twin.streaming.ingest import INGEST_SOURCES
        from twin.streaming.pipeline import (
            STATUS_FILE,
            STREAMING,
            IngestWorker,
            PipelineConfig,
            PipelineFailed,
            build_pipeline,
            stop_on_signals,
        )

        names = [s.strip() for s in sources.split(",") if s.strip()]
        unknown = [n for n in names if n not in INGEST_SOURCES]
        if unknown or not names:
            fail(f"unknown source(s) {unknown}; choose from {', '.join(INGEST_SOURCES)}")
        for option, value in (
            ("--silver-interval", silver_interval),
            ("--gold-interval", gold_interval),
            ("--quality-interval", quality_interval),
        ):
            if value < 0:
                fail(f"{option} must be 0 (off) or a positive number of seconds, not {value:g}")
        if max_restarts < 0 or batch_records < 1 or batch_ms < 1 or lag_threshold <= 0:
            fail("--max-restarts must be ≥ 0; --batch-records, --batch-ms and --lag-threshold positive")
        broker = _broker(bootstrap)
        from twin.streaming.contracts.apply import apply_topics
        from twin.streaming.contracts.topics import DLQ_TOPIC, TOPICS

        missing = [
            t
            for t in [INGEST_SOURCES[n][0] for n in names] + [DLQ_TOPIC]
            if t not in broker.admin().list_topics()
        ]
        if missing:
            apply_topics(broker.admin(), [TOPICS[t] for t in missing])
        wh = _warehouse(database)
        config = PipelineConfig(
            sources=tuple(names),
            ingest=STREAMING.model_copy(
                update={
                    "batch_max_records": batch_records,
                    "batch_max_ms": batch_ms,
                    "lag_threshold_s": lag_threshold,
                }
            ),
            silver_interval_s=silver_interval or None,
            gold_interval_s=gold_interval or None,
            quality_interval_s=quality_interval or None,
            max_restarts=max_restarts,
        )
        pipeline = build_pipeline(broker, wh, config, status_path=paths().home / STATUS_FILE)
        ingesters = [w for w in pipeline.workers if isinstance(w, IngestWorker)]
        started = time.monotonic()

        def line() -> str:
            parts = []
            for w in ingesters:
                i = w.ingester
                if i is None:
                    continue
                s = i.stats
                parts.append(
                    f"{i.table}: {w.rows():,} rows, {w.dead_lettered()} dlq, {s.state}"
                    + (f" lag {s.lag_s:.0f}s" if s.lag_s > 1 else "")
                )
            for worker in pipeline.workers:
                if not isinstance(worker, IngestWorker):
                    parts.append(f"{worker.name}: {worker.rows():,}")
            total = sum(w.rows() for w in ingesters)
            el = time.monotonic() - started
            return f"[{el:5.0f}s] {total / max(el, 1e-9):,.0f} rows/s | " + " | ".join(parts)

        status = Console(stderr=True)
        stop = threading.Event()
        outcome: dict[str, Any] = {}

        def supervise() -> None:
            try:
                pipeline.run(stop, duration_s=duration, until_idle_s=until_idle)
            except PipelineFailed as e:
                outcome["failed"] = str(e)
            except Exception as e:  # the supervisor itself: still one message, never a half-run
                outcome["failed"] = f"{type(e).__name__}: {e}"

        # The supervisor runs on a thread so this one keeps the signal handlers and the status line.
        runner = threading.Thread(target=supervise, name="twin-pipeline", daemon=True)

        def wait(show: Callable[[str], None], every_s: float) -> None:
            shown = time.monotonic()
            while runner.is_alive():
                if time.monotonic() - shown >= every_s:
                    show(line())
                    shown = time.monotonic()
                runner.join(0.25)

        for note in pipeline.notes:  # before it starts: what this pipeline will not do
            status.print(f"note: {note}", soft_wrap=True)
        with stop_on_signals(stop):
            runner.start()
            if status.is_terminal:
                with Live(line(), console=status, refresh_per_second=4, transient=fmt == "json") as live:
                    wait(live.update, 0.0)
                    live.update(line())
            else:
                # Piped or in CI: a line every 10 s, as a log, instead of a live line that only a terminal
                # can redraw (rich would print it once, at the end, without its newline).
                wait(lambda text: status.print(text, soft_wrap=True), 10.0)
                status.print(line(), soft_wrap=True)
        wh.close()
        if "failed" in outcome:
            fail(f"pipeline stopped: {outcome['failed']}", code=PIPELINE_FAILED_EXIT)
        result = {
            w.ingester.table: {
                "consumed": w.ingester.stats.consumed,
                "written": w.rows(),
                "dead_lettered": w.dead_lettered(),
                "skipped_replays": w.ingester.stats.replayed_skips,
                "pauses": w.ingester.stats.pauses,
                "last_error": w.ingester.stats.last_error,
            }
            for w in ingesters
            if w.ingester is not None
        }
        final = pipeline.status()
        if fmt == "json":
            typer.echo(json.dumps(result, indent=2))
        else:
            for table, r in result.items():
                console.print(
                    f"{table}: {r['written']:,} rows written, {r['dead_lettered']} dead-lettered, "
                    f"{r['pauses']} pauses"
                )
            for w in final.workers:
                if w.kind != "ingest":
                    console.print(f"{w.name}: {w.rows:,} ({w.state}, {w.restarts} restarts)")
        if final.quality is not None:
            for text in final.quality.lines():
                status.print(text, highlight=False, soft_wrap=True)

    def pipeline_status(fmt: str = FORMAT) -> None:
        """Health of the running (or last) pipeline: each worker's state, restarts, errors, rows, lag, and
        the last quality checks. Exits 1 when the pipeline failed, died, or a worker is not running."""
        _check_format(fmt)
        from twin.config import paths
        from twin.streaming.pipeline import STATUS_FILE, PipelineState, pid_alive, read_status

        path = paths().home / STATUS_FILE
        try:
            st = read_status(path)
        except ValueError as e:
            fail(f"cannot read the pipeline status file {path}: {e}")
        if st is None:
            fail("no pipeline has run here: start one with `twin pipeline run`")
        state: PipelineState | Literal["dead"] = st.state
        if state in ("starting", "running", "stopping") and not pid_alive(st.pid):
            state = "dead"  # the process ended without writing a final status (killed)
        data = st.model_dump(mode="json")
        data["state"] = state
        data["healthy"] = state == "running" and all(w.state == "running" for w in st.workers)
        if fmt == "json":
            typer.echo(json.dumps(data, indent=2))
        else:
            console.print(
                f"pipeline {state} (pid {st.pid}, since {st.started_at:%Y-%m-%d %H:%M:%S}, "
                f"updated {st.updated_at:%H:%M:%S})" + (f": {st.error}" if st.error else "")
            )
            t = Table("worker", "state", "restarts", "rows", "lag (s)", "behind", "last error")
            t.columns[0].no_wrap = True
            for w in st.workers:
                behind = w.detail.get("records_behind")
                t.add_row(
                    w.name,
                    w.state,
                    str(w.restarts),
                    f"{w.rows:,}",
                    f"{w.lag_s:.1f}",
                    "" if behind is None else f"{behind:,}",
                    w.last_error or "",
                )
            console.print(t)
            if st.quality is not None:
                console.print("\n".join(st.quality.lines()), highlight=False)
            for note in st.notes:
                console.print(f"note: {note}")
        stopped_cleanly = state == "stopped" and not st.error
        if not (data["healthy"] or stopped_cleanly):
            raise typer.Exit(1)

    pipeline_app.command("run")(pipeline_run)
    pipeline_app.command("status")(pipeline_status)
    # `twin ingest run|status` predate the pipeline: the same commands under their old names.
    ingest_app.command("run")(pipeline_run)
    ingest_app.command("status")(pipeline_status)

    @dlq_app.command("replay")
    def dlq_replay(
        bootstrap: str | None = BOOTSTRAP,
        database: Path | None = DATABASE,
        idle: float = typer.Option(3.0, "--idle", help="Stop once the DLQ is idle this many seconds."),
        fmt: str = FORMAT,
    ) -> None:
        """Re-ingest dead letters (after a fix); still-failing ones go back with attempts + 1."""
        _check_format(fmt)
        from twin.streaming.dlq import replay
        from twin.streaming.ingest import TOPIC_TABLES
        from twin.streaming.port import BrokerError

        broker = _broker(bootstrap)
        wh = _warehouse(database)
        try:
            with console.status("replaying ingest.dlq …"):
                result = replay(broker, wh, TOPIC_TABLES, idle_timeout_s=idle)
        except BrokerError as e:
            fail(str(e))
        finally:
            wh.close()
        out = {k: v for k, v in vars(result).items() if k != "reasons"}
        out["reasons"] = sorted(set(result.reasons))
        if fmt == "json":
            typer.echo(json.dumps(out, indent=2))
        else:
            console.print(
                f"read {result.read} dead letters: {result.landed} landed in bronze, "
                f"{result.already_present} already there, {result.still_failing} still failing, "
                f"{result.unreadable} unreadable"
            )
            for r in out["reasons"]:
                console.print(f"  still failing: {r}")
