"""The cost projection from windows of different lengths and positions, against the whole day.

`python -m benchmarks.bench_cost --db WAREHOUSE` runs `advisor_peak_day` (its own seed) over each
window on the governed DuckDB platform, with one calibration for all runs, and prints per window
the factor the day's queries were scaled by, the per-query and warehouse-clock $/day, and how the
day was projected. Behind the `## cost` section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

WINDOWS = [
    ("00:00", "10m"), ("00:00", "2h"), ("10:00", "2h"), ("01:00", "2h"), ("00:00", "24h"),
    ("09:00", "30m"), ("14:00", "2h"), ("16:00", "2h"), ("19:00", "2h"),
]  # fmt: skip


def main() -> None:
    from twin.sim.calibration import Calibration
    from twin.sim.durations import parse_clock, parse_duration
    from twin.sim.platform import open_platform
    from twin.sim.report import build_report
    from twin.sim.runner import RunOptions, run_scenario
    from twin.sim.scenario import find_scenario, load_scenario

    ap = argparse.ArgumentParser()
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--calibration", type=Path, required=True, help="written on the first use")
    ap.add_argument("--scenario", default="advisor_peak_day")
    ap.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    args = ap.parse_args()
    base = load_scenario(find_scenario(args.scenario))
    if args.seed is not None:
        base = base.model_copy(update={"seed": args.seed})
    platform = open_platform(args.db)
    cal = Calibration.load(args.calibration) if args.calibration.exists() else None
    try:
        for start, dur in WINDOWS:
            s = base.model_copy(update={"start": parse_clock(start), "duration": parse_duration(dur)})
            t0 = time.process_time()
            result = run_scenario(s, platform, RunOptions(calibration=cal, reuse_results=True))
            if cal is None:
                cal = result.calibration
                cal.save(args.calibration)
            run = build_report(result)["cost"]["run"]
            proj = run.get("projection") or {}
            print(json.dumps({
                "start": start, "duration": dur, "cpu_s": round(time.process_time() - t0, 1),
                "scaled_to_day_by": run.get("scaled_to_day_by"), "hit_rate": run.get("hit_rate"),
                "per_query_per_day": run.get("per_query_per_day"),
                "warehouse_clock_per_day": run.get("warehouse_clock_per_day"),
                "method": proj.get("method"),
                "low": proj.get("warehouse_clock_per_day_low"),
                "high": proj.get("warehouse_clock_per_day_high"),
                "note": proj.get("note"),
            }), flush=True)  # fmt: skip
    finally:
        platform.close()


if __name__ == "__main__":
    main()
