# ruff: noqa: E501  (the BENCHMARKS.md template below keeps its Markdown rows on one line each)
"""`twin bench ingest`: ingestion from a real local Kafka into DuckDB bronze.

1. Freshness at the architecture's combined rate (Aladdin 10,000/s + trades 2,000/s + balances 500/s +
   CRM 100/s = 12,600 events/s), produced by four load-generator processes (one per source) while four
   ingesters (one consumer group each) and a silver refresher (`refresh_silver` every
   `--silver-interval` s) run in this process, on a warehouse built from small fixtures so silver's
   models exist. Produce time (the CloudEvents `time`) → row visible in bronze (the write committed) and
   → row visible in silver (the refresh that merged it committed), p50/p99 over every row after a
   warm-up; this process's peak RSS. The load generator is not under test: it replays 20,000
   contract-valid payloads per source (built through `ContractProducer`) with a fresh event id and
   produce time patched into each, paced in 5 ms ticks like `twin produce`, so it costs about 9 µs of
   CPU per event (0.09 cores for Aladdin's 10,000/s, librdkafka included) and the offered rate is the
   architecture's even on a loaded machine (the pydantic path could not keep up there).
2. Throughput: a topic pre-filled with `--events` Aladdin events; first a bare confluent-kafka consume
   loop (touching every value) drains it, then the ingester (decode + bronze append + commit) drains it
   again under another group; rates from first record to last, side by side.

    twin bench ingest [--events 8000000] [--duration 60] [--fresh-duration 40] [--silver-interval 0.5]
                      [--bootstrap B] [--write]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import psutil

from twin.config import paths
from twin.streaming.contracts.apply import apply_topics
from twin.streaming.contracts.topics import DLQ_TOPIC, TOPICS, topic
from twin.streaming.envelope import encode
from twin.streaming.ingest import INGEST_SOURCES, Batch, IngestConfig, Ingester
from twin.streaming.kafka_adapter import PRODUCER_DEFAULTS, KafkaBroker
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, tick_sleep_s
from twin.warehouse.engine import Warehouse
from twin.warehouse.refresh import merged_through, refresh_silver

BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"
TARGET_RATE = 100_000
TARGET_RATIO = 0.5
TARGET_P99_S = 2.0
TARGET_RSS_MIB = 1024
FRESH_SOURCES = ("aladdin", "trades", "balances", "crm")
WARMUP_S = 5.0
TEMPLATES = 20_000
TICK_S = 0.005  # the load generator wakes once per tick and sends what is due, as `twin produce` does
FRESH_CONFIG = IngestConfig(batch_max_records=20_000, batch_max_ms=200, poll_timeout_s=0.05)
_ID_MARK = "0" * 32
_TIME_MARK = datetime(2000, 1, 1, 0, 0, 0, 123456, UTC)  # non-zero microseconds: a fixed-width string


def _say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


# -- 1. freshness at 12,600 events/s ------------------------------------------------------------------
def _templates(source: str, seed: int) -> list[tuple[bytes, bytes, bytes, bytes]]:
    """(head, middle, tail, key) per payload: the encoded event split around its id and its time."""
    import random

    spec = topic(SOURCES[source].topic)
    from twin.streaming.memory import MemoryBroker

    maker = ContractProducer(MemoryBroker().producer(), source="twin/bench")  # only builds envelopes
    rng = random.Random(seed)
    out = []
    for n in range(TEMPLATES):
        value = SOURCES[source].make(rng, n, datetime.now(UTC))
        _, event = maker.envelope(spec, value, event_id=_ID_MARK, time=_TIME_MARK)
        head, rest = encode(event).split(_ID_MARK.encode(), 1)
        mark = event.model_dump(mode="json")["time"].encode()
        middle, tail = rest.split(mark, 1)
        out.append((head, middle, tail, spec.key_of(value)))
    return out


def produce_worker(source: str, rate: float, duration_s: float, bootstrap: str, seed: int) -> dict[str, Any]:
    """One load-generator process: `rate`/s of `source` for `duration_s` s, paced by schedule."""
    from confluent_kafka import Producer

    templates = _templates(source, seed)
    name = SOURCES[source].topic
    p = Producer({"bootstrap.servers": bootstrap, **PRODUCER_DEFAULTS})
    total = int(rate * duration_s)
    sent = 0
    second, prefix = -1, b""
    start = time.monotonic()
    cpu_start = time.process_time()
    while sent < total:
        due = min(total, int((time.monotonic() - start) * rate) + 1)
        while sent < due:
            head, middle, tail, key = templates[sent % TEMPLATES]
            now = time.time()
            if int(now) != second:
                second = int(now)
                prefix = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)).encode()
            stamp = prefix + b".%06dZ" % int((now - second) * 1e6)
            value = b"".join((head, os.urandom(16).hex().encode(), middle, stamp, tail))
            try:
                p.produce(name, value, key=key)
            except BufferError:
                p.poll(0.05)
                continue
            sent += 1
        p.poll(0)
        time.sleep(tick_sleep_s(start, sent, rate, TICK_S, time.monotonic()))
    undelivered = p.flush(60)
    seconds = time.monotonic() - start
    return {
        "source": source,
        "sent": sent - undelivered,
        "seconds": seconds,
        "rate": sent / seconds,
        "cpu_s": time.process_time() - cpu_start,
    }


def _silver_refresher(
    wh: Warehouse,
    stop: threading.Event,
    interval_s: float,
    warm: list[float],
    lags: list[np.ndarray],
    waits: list[np.ndarray],
    written: threading.Event | None = None,
) -> list[float]:
    """`refresh_silver` every `interval_s`; after each, the produce → visible lag of the silver rows it
    made current (read back from silver, so a version another one replaced in the same batch is not
    counted as visible), and of those rows the part spent between their bronze write and the start of
    the refresh that merged them (`waits`). With `written` (set by every bronze write) it refreshes as
    soon as a write lands instead of on the tick, and `interval_s` is only the longest it waits."""
    from twin.warehouse.catalog import recorded_models

    with wh.write_lock:
        feeds = {
            s.source_table: s.relation for s in recorded_models(wh) if s.refresh == "merge" and s.source_table
        }
    took: list[float] = []
    reader = wh.con.cursor()  # its own connection: reading back does not hold up the appends
    before = merged_through(wh)
    while not stop.is_set():
        t0 = time.monotonic()
        if written is not None:
            written.clear()
        began = time.time()
        stats = refresh_silver(wh)
        visible = time.time()
        if stats.changed:
            took.append(stats.seconds)
            after = merged_through(wh)
            for table in stats.new_bronze_rows:
                rows = reader.execute(
                    f"SELECT epoch_us(_emitted_at) AS us, epoch_us(_ingested_at) AS ing FROM {feeds[table]} "
                    "WHERE _ingested_at > ? AND _ingested_at <= ? AND _emitted_at > make_timestamp(?)",
                    [before.get(table) or datetime(1970, 1, 1), after[table], int(warm[0] * 1e6)],
                ).fetchnumpy()
                lags.append(visible - rows["us"] / 1e6)
                waits.append(began - rows["ing"] / 1e6)
            before = after
        if written is not None:
            written.wait(interval_s)
        else:
            stop.wait(max(0.0, interval_s - (time.monotonic() - t0)))
    reader.close()
    return took


def _cpu_by_process(me: psutil.Process) -> dict[str, float]:
    """CPU seconds (user + system) so far of this process and of the broker JVMs it started (the load
    generators report their own: they have exited by the time this is read)."""
    out = {"ingest": sum(me.cpu_times()[:2]), "broker": 0.0}
    for child in me.children(recursive=True):
        try:
            if "java" in child.name():
                out["broker"] += sum(child.cpu_times()[:2])
        except psutil.NoSuchProcess:
            pass
    return out


def freshness(
    broker: KafkaBroker,
    bootstrap: str,
    wh: Warehouse,
    duration_s: float,
    silver_interval_s: float,
    silver_on_write: bool = False,
) -> dict[str, Any]:
    config = FRESH_CONFIG
    lags: list[np.ndarray] = []
    silver_lags: list[np.ndarray] = []
    silver_waits: list[np.ndarray] = []
    warm = [time.time() + 3600]  # no sample before the producers start (set below)

    # Where a bronze row's time goes, per batch (wall clock): produce → its batch's first record
    # consumed (for the batch's oldest row: broker append + fetch), first consumed → sealed (batching),
    # sealed → write started (queue), write started → committed (decode + append).
    wall = time.time() - time.monotonic()
    stages: dict[str, list[float]] = {"fetch": [], "batching": [], "queue": [], "write": []}

    bronze_written = threading.Event()

    def on_written(batch: Batch, visible: float) -> None:
        bronze_written.set()
        emitted = batch.decoded.table.column("_emitted_at").cast("int64").to_numpy() / 1e6
        lags.append(visible - emitted[emitted > warm[0]])
        if emitted.size and emitted.min() > warm[0]:
            stages["fetch"].append(batch.started_at + wall - emitted.min())
            stages["batching"].append(batch.sealed_at - batch.started_at)
            stages["queue"].append(batch.write_started_at - batch.sealed_at)
            stages["write"].append(visible - (batch.write_started_at + wall))

    ingesters = [
        Ingester(broker, wh, SOURCES[s].topic, INGEST_SOURCES[s][1], config=config, on_written=on_written)
        for s in FRESH_SOURCES
    ]
    stop = threading.Event()
    threads = [threading.Thread(target=i.run, args=(stop,), daemon=True) for i in ingesters]
    for t in threads:
        t.start()
    stop_refresh = threading.Event()
    refresh_took: list[list[float]] = []
    refresher = threading.Thread(
        target=lambda: refresh_took.append(
            _silver_refresher(
                wh,
                stop_refresh,
                silver_interval_s,
                warm,
                silver_lags,
                silver_waits,
                bronze_written if silver_on_write else None,
            )
        ),
        daemon=True,
    )
    refresher.start()
    # Read from the stats the ingester threads keep: calling the consumers' assignment() from this thread
    # while those threads sit in consume stalled it for minutes.
    deadline = time.monotonic() + 120
    while not all(i.stats.assigned for i in ingesters) and time.monotonic() < deadline:
        time.sleep(0.2)
    _say(
        f"freshness: ingesters assigned; producing {sum(SOURCES[s].rate for s in FRESH_SOURCES):,.0f}/s for {duration_s:.0f} s"
    )
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--produce-worker",
                s,
                str(SOURCES[s].rate),
                str(duration_s),
                bootstrap,
                str(n),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for n, s in enumerate(FRESH_SOURCES)
    ]
    # The warm-up starts once every ingester has consumed something (the workers build their templates
    # first, a few seconds).
    deadline = time.monotonic() + 60
    while not all(i.stats.consumed for i in ingesters) and time.monotonic() < deadline:
        time.sleep(0.05)
    warm[0] = time.time() + WARMUP_S
    me = psutil.Process()
    cpu0 = _cpu_by_process(me)
    rss_peak = 0
    while any(p.poll() is None for p in procs):
        rss_peak = max(rss_peak, me.memory_info().rss)
        time.sleep(0.5)
    cpu1 = _cpu_by_process(me)
    window = time.time() - warm[0] + WARMUP_S
    reports = [json.loads(p.stdout.read().strip().splitlines()[-1]) for p in procs if p.stdout]
    # On two shared cores the freshness tail is mostly waiting for a core: where they went says how much
    # room the run had. The broker is counted only when this process started it.
    cores = {k: (cpu1[k] - cpu0[k]) / window for k in cpu1}
    cores["load generators"] = sum(r["cpu_s"] / r["seconds"] for r in reports)
    sent = sum(r["sent"] for r in reports)
    deadline = time.monotonic() + 30
    while (
        sum(i.stats.written + i.stats.dead_lettered for i in ingesters) < sent and time.monotonic() < deadline
    ):
        rss_peak = max(rss_peak, me.memory_info().rss)
        time.sleep(0.2)
    stop.set()
    for t in threads:
        t.join()
    time.sleep(min(5.0, 2 * silver_interval_s))  # the last batches reach silver
    stop_refresh.set()
    refresher.join()
    written = sum(i.stats.written for i in ingesters)
    for i in ingesters:
        i.close()
    all_lags = np.concatenate(lags) if lags else np.array([0.0])
    s_lags = np.concatenate(silver_lags) if silver_lags else np.array([0.0])
    took = np.array(refresh_took[0] if refresh_took and refresh_took[0] else [0.0])
    s_waits = np.concatenate(silver_waits) if silver_waits else np.array([0.0])

    def pct(xs: list[float] | np.ndarray) -> list[float]:
        a = np.asarray(xs) if len(xs) else np.array([0.0])
        return [float(np.percentile(a, 50)), float(np.percentile(a, 99))]

    return {
        "stages_p50_p99_s": {
            **{k: pct(v) for k, v in stages.items()},
            "silver_wait": pct(s_waits),
            "refresh": pct(took),
        },
        "sent": sent,
        "written": written,
        "producer_rates": {s: sum(r["rate"] for r in reports if r["source"] == s) for s in FRESH_SOURCES},
        "offered_rate": sum(r["rate"] for r in reports),
        "p50_s": float(np.percentile(all_lags, 50)),
        "p99_s": float(np.percentile(all_lags, 99)),
        "max_s": float(all_lags.max()),
        "samples": int(all_lags.size),
        "silver_p50_s": float(np.percentile(s_lags, 50)),
        "silver_p99_s": float(np.percentile(s_lags, 99)),
        "silver_max_s": float(s_lags.max()),
        "silver_samples": int(s_lags.size),
        "silver_interval_s": silver_interval_s,
        "refresh_p50_s": float(np.percentile(took, 50)),
        "refresh_p99_s": float(np.percentile(took, 99)),
        "refreshes": int(took.size),
        "rss_peak_mib": rss_peak / 2**20,
        "pauses": sum(i.stats.pauses for i in ingesters),
        "cpu_cores": cores,
    }


# -- 2. throughput ------------------------------------------------------------------------------------
def fill(broker: KafkaBroker, bootstrap: str, topic_name: str, events: int) -> float:
    from confluent_kafka import Producer

    spec = topic(topic_name)
    maker = ContractProducer(broker.producer(), source="twin/bench")
    rng = __import__("random").Random(42)
    templates: list[tuple[bytes, bytes]] = []
    for n in range(20_000):
        value = SOURCES["aladdin"].make(rng, n, datetime.now(UTC))
        _, event = maker.envelope(spec, value)
        templates.append((encode(event), spec.key_of(value)))
    p = Producer(
        {
            "bootstrap.servers": bootstrap,
            **PRODUCER_DEFAULTS,
            "linger.ms": 20,
            "batch.size": 1_000_000,
            "queue.buffering.max.messages": 1_000_000,
        }
    )
    t0 = time.perf_counter()
    for n in range(events):
        value, key = templates[n % len(templates)]
        while True:
            try:
                p.produce(topic_name, value, key=key)
                break
            except BufferError:
                p.poll(0.05)
        if n % 100_000 == 0:
            p.poll(0)
    p.flush(120)
    return events / (time.perf_counter() - t0)


def bare_consume(bootstrap: str, topic_name: str, events: int, limit_s: float) -> dict[str, float]:
    from confluent_kafka import Consumer

    from twin.streaming.kafka_adapter import CONSUMER_DEFAULTS

    c = Consumer(
        {
            "bootstrap.servers": bootstrap,
            **CONSUMER_DEFAULTS,
            "group.id": f"bench-bare-{uuid.uuid4().hex[:6]}",
        }
    )
    c.subscribe([topic_name])
    n = 0
    nbytes = 0
    first = last = None
    deadline = time.monotonic() + 60 + limit_s
    while n < events and time.monotonic() < deadline:
        msgs = c.consume(num_messages=10_000, timeout=1.0)
        if not msgs:
            continue
        if first is None:
            first = time.perf_counter()
        for m in msgs:
            if m.error() is None:
                nbytes += len(m.value())
                n += 1
        last = time.perf_counter()
        if last - first > limit_s:
            break
    c.close()
    elapsed = (last or 0) - (first or 0)
    return {"events": n, "seconds": elapsed, "rate": n / elapsed if elapsed else 0.0, "mb": nbytes / 1e6}


def ingest_throughput(
    broker: KafkaBroker, workdir: Path, topic_name: str, events: int, limit_s: float
) -> dict[str, float]:
    wh = Warehouse(workdir / "throughput.duckdb")
    config = IngestConfig(batch_max_records=50_000, batch_max_ms=1000, poll_max_records=10_000)
    marks: dict[str, float] = {}

    def on_written(batch: Batch, visible: float) -> None:
        marks["last"] = time.perf_counter()

    ing = Ingester(
        broker,
        wh,
        topic(topic_name),
        "bench_positions_raw",
        config=config,
        on_written=on_written,
        group_id=f"bench-ingest-{uuid.uuid4().hex[:6]}",
    )
    stop = threading.Event()
    thread = threading.Thread(target=ing.run, args=(stop,), daemon=True)
    me = psutil.Process()
    rss_peak = 0
    thread.start()
    deadline = time.monotonic() + 60 + limit_s
    while time.monotonic() < deadline:
        if "first" not in marks and ing.stats.consumed:
            marks["first"] = time.perf_counter()
        rss_peak = max(rss_peak, me.memory_info().rss)
        if ing.stats.written >= events or (
            "first" in marks and time.perf_counter() - marks["first"] > limit_s
        ):
            break
        time.sleep(0.05)
    stop.set()
    thread.join()
    written = wh.count("bronze.bench_positions_raw")
    ing.close()
    wh.close()
    elapsed = marks.get("last", 0.0) - marks.get("first", 0.0)
    return {
        "events": written,
        "seconds": elapsed,
        "rate": written / elapsed if elapsed else 0.0,
        "rss_peak_mib": rss_peak / 2**20,
        "slow_batches": ing.stats.slow_batches,
        "pauses": ing.stats.pauses,
    }


def _fixture_warehouse(workdir: Path) -> Warehouse:
    """A warehouse built from small fixtures (silver and gold models recorded), for the silver step."""
    from twin.fixtures import generate
    from twin.warehouse.build import build_warehouse

    _say("freshness: building a small fixture warehouse (silver's models)")
    generate(workdir / "fixtures", scale=0.002, seed=42)
    build_warehouse(workdir / "fresh.duckdb", workdir / "fixtures")
    return Warehouse(workdir / "fresh.duckdb")


def measure(args: argparse.Namespace) -> dict[str, Any]:
    load_before = os.getloadavg()[0]
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    cluster = None
    broker_ready_s = 0.0
    bootstrap = args.bootstrap
    if not bootstrap:
        from twin.streaming.broker import LocalKafkaCluster, install

        install(paths().cache)
        cluster = LocalKafkaCluster(nodes=1, data_dir=workdir / "kafka")
        t0 = time.perf_counter()
        cluster.start()
        broker_ready_s = time.perf_counter() - t0
        bootstrap = cluster.bootstrap
    try:
        broker = KafkaBroker(bootstrap)
        bench_topic = f"bench.positions.{uuid.uuid4().hex[:6]}"
        spec = TOPICS["aladdin.positions.cdc"].model_copy(update={"name": bench_topic})
        apply_topics(
            broker.admin(), [*[TOPICS[SOURCES[s].topic] for s in FRESH_SOURCES], TOPICS[DLQ_TOPIC], spec]
        )
        from twin.streaming.contracts import topics as topics_mod

        topics_mod.TOPICS[bench_topic] = spec  # so topic(bench_topic) resolves in this process
        wh = _fixture_warehouse(workdir)
        try:
            fresh = freshness(
                broker, bootstrap, wh, args.fresh_duration, args.silver_interval, args.silver_on_write
            )
        finally:
            wh.close()
        _say(
            f"freshness: bronze p99 {fresh['p99_s']:.2f} s, silver p99 {fresh['silver_p99_s']:.2f} s, "
            f"{fresh['written']:,}/{fresh['sent']:,} rows"
        )
        _say(f"freshness: stages p50/p99 (s) {fresh['stages_p50_p99_s']}")
        fill_rate = 0.0
        bare: dict[str, float] = {"events": 0, "seconds": 0.0, "rate": 0.0, "mb": 0.0}
        ing: dict[str, float] = {"events": 0, "seconds": 0.0, "rate": 0.0, "rss_peak_mib": 0.0}
        if not args.skip_throughput:
            _say(f"throughput: filling {bench_topic} with {args.events:,} events")
            fill_rate = fill(broker, bootstrap, bench_topic, args.events)
            _say(f"filled at {fill_rate:,.0f}/s; bare consume loop")
            bare = bare_consume(bootstrap, bench_topic, args.events, args.duration)
            _say(f"bare: {bare['rate']:,.0f}/s over {bare['seconds']:.1f} s; ingest")
            ing = ingest_throughput(broker, workdir, bench_topic, args.events, args.duration)
            _say(f"ingest: {ing['rate']:,.0f}/s over {ing['seconds']:.1f} s")
    finally:
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)  # gigabytes of Kafka log and DuckDB files
    return {
        "events": args.events,
        "duration": args.duration,
        "fresh_duration": args.fresh_duration,
        "fill_rate": fill_rate,
        "bare": bare,
        "ingest": ing,
        "ratio": ing["rate"] / bare["rate"] if bare["rate"] else 0.0,
        "fresh": fresh,
        "broker_ready_s": broker_ready_s,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "message_bytes": bare["mb"] * 1e6 / max(1, bare["events"]),
    }


def _cores(cores: dict[str, float]) -> str:
    shown = {k: v for k, v in cores.items() if not (k == "broker" and v == 0.0)}  # an external broker
    return ", ".join(f"{k} {v:.2f}" for k, v in shown.items()) + f" (total {sum(shown.values()):.2f})"


def _verdict(ok: bool) -> str:
    return "meets" if ok else "misses"


def render(m: dict[str, Any]) -> str:
    b, i, f = m["bare"], m["ingest"], m["fresh"]
    rates = ", ".join(f"{k} {v:,.0f}/s" for k, v in f["producer_rates"].items())
    return f"""## ingest

`twin bench ingest --events {m["events"]} --duration {m["duration"]:.0f} --fresh-duration {m["fresh_duration"]:.0f} --silver-interval {f["silver_interval_s"]:g}`
· 1-node local Apache Kafka (KRaft, the `twin broker` JVM settings) · confluent-kafka / librdkafka, DuckDB
{duckdb.__version__} file database · machine: 2 cores, 24 GiB, shared with other work (1-min load average
{m["load_before"]:.1f} before, {m["load_after"]:.1f} after) · {time.strftime("%Y-%m-%d")}. Events are CloudEvents JSON,
{m["message_bytes"]:.0f} bytes each (Aladdin positions), keyed, lz4-compressed by the producer.

| measure | bare confluent-kafka consume loop | ingester → DuckDB bronze | ratio |
|---|---|---|---|
| throughput, first record → last | {b["rate"]:,.0f} events/s ({b["events"]:,} in {b["seconds"]:.1f} s) | {i["rate"]:,.0f} events/s ({i["events"]:,} in {i["seconds"]:.1f} s) | {m["ratio"]:.2f} |

| freshness at {f["offered_rate"]:,.0f} events/s offered ({rates}) | value |
|---|---|
| produce → visible in bronze, p50 | {f["p50_s"]:.2f} s |
| produce → visible in bronze, p99 | {f["p99_s"]:.2f} s |
| produce → visible in bronze, max | {f["max_s"]:.2f} s |
| rows checked in bronze (after a {WARMUP_S:.0f} s warm-up) | {f["samples"]:,} |
| produce → visible in silver (`refresh_silver` every {f["silver_interval_s"]:g} s), p50 | {f["silver_p50_s"]:.2f} s |
| produce → visible in silver, p99 | {f["silver_p99_s"]:.2f} s |
| produce → visible in silver, max | {f["silver_max_s"]:.2f} s |
| silver rows checked (current versions only) | {f["silver_samples"]:,} |
| `refresh_silver` duration p50 / p99 ({f["refreshes"]} refreshes) | {f["refresh_p50_s"]:.2f} / {f["refresh_p99_s"]:.2f} s |
| rows landed / events sent | {f["written"]:,} / {f["sent"]:,} |
| ingester process peak RSS (4 ingesters) | {f["rss_peak_mib"]:.0f} MiB |
| backpressure pauses | {f["pauses"]} |
| CPU cores used while producing (of 2) | {_cores(f["cpu_cores"])} |

- Throughput target ≥ {TARGET_RATE:,}/s: {_verdict(i["rate"] >= TARGET_RATE)} it; sustained over {i["seconds"]:.0f} s
  (the run stops at `--duration` s or when the {m["events"]:,} pre-filled events are drained).
  Goal ratio ≥ {TARGET_RATIO}: {_verdict(m["ratio"] >= TARGET_RATIO)} it.
- Freshness target p99 ≤ {TARGET_P99_S:.0f} s into silver: {_verdict(f["silver_p99_s"] <= TARGET_P99_S)} it
  (into bronze: {f["p99_s"]:.2f} s).
- RSS target ≤ {TARGET_RSS_MIB} MiB: {_verdict(f["rss_peak_mib"] <= TARGET_RSS_MIB)} it (ingester RSS during the
  throughput run: {i["rss_peak_mib"]:.0f} MiB).
- The pre-fill producer (raw confluent-kafka, idempotent, acks=all) ran at {m["fill_rate"]:,.0f} events/s;
  1-node broker start to ready: {m["broker_ready_s"]:.1f} s (target ≤ 20 s).
"""


def write_section(text: str, path: Path = BENCHMARKS_MD) -> None:
    # Re-read right before writing: other sections belong to other areas and change independently.
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == "## ingest")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    path.write_text("".join(lines[:start]) + text + "\n" + "".join(lines[end:]))


def main(argv: list[str]) -> None:
    if argv[:1] == ["--produce-worker"]:  # a load-generator process started by `freshness`
        source, rate, duration, bootstrap, seed = argv[1:6]
        print(json.dumps(produce_worker(source, float(rate), float(duration), bootstrap, int(seed))))
        return
    parser = argparse.ArgumentParser(prog="twin bench ingest", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=8_000_000, help="events to pre-fill for throughput")
    parser.add_argument("--duration", type=float, default=60.0, help="throughput window cap (s)")
    parser.add_argument("--fresh-duration", type=float, default=40.0, help="seconds of 12,600 events/s")
    parser.add_argument("--silver-interval", type=float, default=0.5, help="seconds between silver refreshes")
    parser.add_argument(
        "--silver-on-write",
        action="store_true",
        help="refresh silver as soon as a bronze write lands (the interval is then the longest wait)",
    )
    parser.add_argument("--bootstrap", default=None, help="use this broker instead of starting one")
    parser.add_argument(
        "--skip-throughput", action="store_true", help="freshness only (prints JSON, never writes)"
    )
    parser.add_argument("--write", action="store_true", help="update the ingest section of BENCHMARKS.md")
    parser.add_argument("--json", action="store_true", help="also print the raw figures as JSON")
    args = parser.parse_args(argv)
    m = measure(args)
    if args.skip_throughput:
        print(json.dumps(m, indent=2, default=str))
        return
    text = render(m)
    print(text)
    if args.json:
        print(json.dumps(m, indent=2, default=str))
    if args.write:
        write_section(text)
        print(f"written to {BENCHMARKS_MD.name}")


if __name__ == "__main__":
    main(sys.argv[1:])
