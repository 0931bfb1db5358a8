"""`twin bench sim`: a full simulated day of advisor_peak_day on a built warehouse.

Reports wall time, simulated seconds per wall second, and the share of wall time spent inside real
platform calls (governed DuckDB) against the simulator itself, with every cache miss executed and
with identical results reused (`reuse_results`). Writes nothing into the repository; paste the
printed figures into BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path


def _warehouse(work: Path, scale: float, seed: int) -> Path:
    from twin.fixtures import generate
    from twin.warehouse.build import build_warehouse

    db = work / "warehouse.duckdb"
    if not db.exists():
        generate(work / "fixtures", scale=scale, seed=seed)
        build_warehouse(db, work / "fixtures")
    return db


def main(argv: list[str]) -> None:
    ap = argparse.ArgumentParser(prog="twin bench sim", description=__doc__)
    ap.add_argument("--work", type=Path, default=None, help="reuse a folder holding the warehouse")
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--duration", default="24h")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--modes", default="reuse,full", help="comma list of: reuse, full")
    args = ap.parse_args(argv)

    from twin.sim.durations import parse_duration
    from twin.sim.platform import open_platform
    from twin.sim.report import build_report
    from twin.sim.runner import RunOptions, run_scenario
    from twin.sim.scenario import find_scenario, load_scenario

    work = args.work or Path(tempfile.mkdtemp(prefix="twin-bench-sim-"))
    work.mkdir(parents=True, exist_ok=True)
    db = _warehouse(work, args.scale, 42)
    s = load_scenario(find_scenario("advisor_peak_day")).with_duration(parse_duration(args.duration))
    platform = open_platform(db)
    try:
        cal_result = run_scenario(s.with_duration(60.0), platform, RunOptions())
        cal = cal_result.calibration
        for mode in args.modes.split(","):
            walls, cpus, sims, plats, plat_cpus, calls = [], [], [], [], [], []
            report = None
            for _ in range(args.repeat):
                t0, c0 = time.perf_counter(), time.process_time()
                r = run_scenario(s, platform, RunOptions(calibration=cal, reuse_results=mode == "reuse"))
                report = build_report(r)
                walls.append(time.perf_counter() - t0)
                # CPU time of this process: on a shared machine it moves far less than wall time does.
                cpus.append(time.process_time() - c0)
                sims.append(r.wall["simulation_s"])
                plats.append(r.wall["platform_s"])
                plat_cpus.append(r.wall["platform_cpu_s"])
                calls.append(r.wall["platform_calls"])
            assert report is not None
            wall, sim, plat = statistics.median(walls), statistics.median(sims), statistics.median(plats)
            n = report["overall"]["count"]
            print(f"[{mode}] {s.name}, {s.duration / 3600:.0f} h simulated, scale {args.scale}")
            print(f"  requests {n:,}; cache hit rate {report['cache']['hit_rate']:.1%}; "
                  f"governed DuckDB calls {statistics.median(calls):,.0f}")  # fmt: skip
            print(f"  events aggregated: {report['events']['emitted']:,}")
            print(f"  wall (run + report) median {wall:.1f} s; simulation {sim:.1f} s; "
                  f"{s.duration / sim:,.0f} simulated s per wall s")  # fmt: skip
            cpu, plat_cpu = statistics.median(cpus), statistics.median(plat_cpus)
            print(f"  CPU time of the run (all threads of this process) {cpu:.1f} s")
            print(f"  wall: platform code {plat:.1f} s ({plat / sim:.0%}), simulator {sim - plat:.1f} s "
                  f"({(sim - plat) / sim:.0%})")  # fmt: skip
            # the same split in CPU seconds, which a busy machine moves far less than wall seconds
            print(f"  CPU: platform code {plat_cpu:.1f} s ({plat_cpu / cpu:.0%}, "
                  f"{plat_cpu / max(1, statistics.median(calls)) * 1e3:.2f} ms per call), "
                  f"simulator and report {cpu - plat_cpu:.1f} s ({(cpu - plat_cpu) / cpu:.0%})")  # fmt: skip
    finally:
        platform.close()


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
