"""`twin bench broker`: how long a local Apache Kafka cluster takes from `start()` to answering
metadata (1 node and 3 nodes, medians of a few runs side by side), how long it takes to stop, what
each node's JVM holds in memory (RSS) once ready, and what a cached `twin broker install` costs.

    twin bench broker [--runs 3] [--runs3 2] [--write]

`--write` replaces the "## broker" section of BENCHMARKS.md with the figures."""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import psutil

from twin.config import paths
from twin.streaming.broker import KAFKA_VERSION, LocalKafkaCluster, install

TARGET_1_NODE_S = 20.0
BENCHMARKS_MD = Path(__file__).resolve().parents[1] / "BENCHMARKS.md"


def _one_start(nodes: int) -> dict[str, float | list[float]]:
    cluster = LocalKafkaCluster(nodes=nodes)
    t0 = time.perf_counter()
    cluster.start()
    ready = time.perf_counter() - t0
    rss = [psutil.Process(n.pid).memory_info().rss / 2**20 for n in cluster.nodes if n.pid]
    t1 = time.perf_counter()
    cluster.stop()
    return {"ready_s": ready, "stop_s": time.perf_counter() - t1, "rss_mib": rss}


def measure(runs: int, runs3: int) -> dict[str, float | int]:
    load_before = os.getloadavg()[0]
    install(paths().cache)  # warm: the timed call below must be the cached path
    t0 = time.perf_counter()
    _, ran = install(paths().cache)
    install_ms = (time.perf_counter() - t0) * 1000
    assert not ran

    one = [_one_start(1) for _ in range(runs)]
    three = [_one_start(3) for _ in range(runs3)]
    med = statistics.median
    r1 = med(float(r["ready_s"]) for r in one)  # type: ignore[arg-type]
    r3 = med(float(r["ready_s"]) for r in three)  # type: ignore[arg-type]
    rss1 = [x for r in one for x in r["rss_mib"]]  # type: ignore[union-attr]
    rss3 = [x for r in three for x in r["rss_mib"]]  # type: ignore[union-attr]
    return {
        "runs": runs,
        "runs3": runs3,
        "install_cached_ms": install_ms,
        "ready1_median_s": r1,
        "ready1_min_s": min(float(r["ready_s"]) for r in one),  # type: ignore[arg-type]
        "ready1_max_s": max(float(r["ready_s"]) for r in one),  # type: ignore[arg-type]
        "ready3_median_s": r3,
        "ready3_min_s": min(float(r["ready_s"]) for r in three),  # type: ignore[arg-type]
        "ready3_max_s": max(float(r["ready_s"]) for r in three),  # type: ignore[arg-type]
        "ratio_3_to_1": r3 / r1,
        "stop1_median_s": med(float(r["stop_s"]) for r in one),  # type: ignore[arg-type]
        "stop3_median_s": med(float(r["stop_s"]) for r in three),  # type: ignore[arg-type]
        "rss1_median_mib": med(rss1),
        "rss3_median_mib": med(rss3),
        "rss3_max_mib": max(rss3),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
    }


def render(m: dict[str, float | int]) -> str:
    verdict = "meets" if m["ready1_median_s"] <= TARGET_1_NODE_S else "misses"
    ready1 = f"{m['ready1_median_s']:.1f} s (min {m['ready1_min_s']:.1f}, max {m['ready1_max_s']:.1f})"
    ready3 = f"{m['ready3_median_s']:.1f} s (min {m['ready3_min_s']:.1f}, max {m['ready3_max_s']:.1f})"
    rows = [
        ("start → ready, median", ready1, ready3, f"{m['ratio_3_to_1']:.2f}"),
        (
            "stop (SIGTERM to all nodes), median",
            f"{m['stop1_median_s']:.1f} s",
            f"{m['stop3_median_s']:.1f} s",
            "",
        ),
        (
            "RSS per node once ready, median",
            f"{m['rss1_median_mib']:.0f} MiB",
            f"{m['rss3_median_mib']:.0f} MiB (max {m['rss3_max_mib']:.0f})",
            "",
        ),
    ]
    table = "\n".join("| " + " | ".join(r) + " |" for r in rows)
    return f"""## broker

`twin bench broker --runs {m["runs"]} --runs3 {m["runs3"]}` · Apache Kafka {KAFKA_VERSION} (KRaft, combined
broker+controller nodes, `-Xms128m -Xmx384m -XX:+UseSerialGC`) on OpenJDK 17 · machine: 2 cores, 24 GiB,
shared with other work (1-min load average {m["load_before"]:.1f} before the run, {m["load_after"]:.1f} after)
· 2026-11-22. Start = `LocalKafkaCluster.start()`: write properties, format KRaft storage, launch the
JVMs, until AdminClient metadata lists every broker.

| measure | 1 node | 3 nodes | ratio 3 : 1 |
|---|---|---|---|
{table}

- Target: 1-node start to ready ≤ {TARGET_1_NODE_S:.0f} s — {verdict} it.
- `twin broker install` with the jars cached: {m["install_cached_ms"]:.1f} ms (a marker-file check; Maven
  is not started).
"""


def write_section(text: str, path: Path = BENCHMARKS_MD) -> None:
    # Re-read right before writing: other sections belong to other areas and change independently.
    lines = path.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.strip() == "## broker")
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    path.write_text("".join(lines[:start]) + text + "\n" + "".join(lines[end:]))


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="twin bench broker", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="1-node starts to take the median of")
    parser.add_argument("--runs3", type=int, default=2, help="3-node starts to take the median of")
    parser.add_argument("--write", action="store_true", help="update the broker section of BENCHMARKS.md")
    args = parser.parse_args(argv)
    print(f"{psutil.cpu_count()} cores; measuring…", flush=True)
    m = measure(args.runs, args.runs3)
    text = render(m)
    print(text)
    if args.write:
        write_section(text)
        print(f"written to {BENCHMARKS_MD.name}")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
