"""`twin bench warehouse`: the warehouse's numbers at a given scale (default 1).

    twin bench warehouse [--scale 1] [--fixtures DIR] [--db PATH] [--skip-build]
                         [--refreshes 5] [--lookups 10000] [--aum-runs 30] [--seed 7]

- build: `build_warehouse` (fixtures → bronze → `dbt build` with its tests), one run (target ≤ 90 s);
- refresh: append 10,000 new trades to bronze, then `refresh_gold` (target ≤ 1 s), median and p95 of
  several rounds, side by side with a full `dbt build` of the same database (the ratio is the saving);
- lookups: 10,000 `gold.customer_360` point lookups by customer_id (target p95 ≤ 5 ms);
- aum: `aum_by_department_asset_class` recomputed from silver with its compiled SQL (target p95 ≤ 200 ms),
  next to reading the materialised gold table.

Fixtures are generated into the work folder if missing (seed 42). Prints JSON with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "p95": _pct(values, 0.95),
        "min": min(values),
        "max": max(values),
    }


def _new_trades(wh, n: int, round_no: int, rng: random.Random) -> pa.Table:  # type: ignore[no-untyped-def]
    sample = wh.con.sql(
        f"SELECT * EXCLUDE (_source, _topic, _partition, _offset, _ingested_at) FROM bronze.trades_raw "
        f"USING SAMPLE {n} ROWS (reservoir, {rng.randrange(1 << 30)})"
    ).to_arrow_table()
    start = datetime(2026, 11, 22) + timedelta(hours=round_no)
    ids = [f"BENCH-{round_no:03d}-{i:06d}" for i in range(n)]
    table = sample.set_column(sample.schema.get_field_index("trade_id"), "trade_id", pa.array(ids))
    table = table.set_column(
        table.schema.get_field_index("executed_at"),
        "executed_at",
        pa.array([start + timedelta(milliseconds=250 * i) for i in range(n)], pa.timestamp("us")),
    )
    table = table.set_column(table.schema.get_field_index("_event_id"), "_event_id", pa.array(ids))
    return table.set_column(table.schema.get_field_index("_dup_of"), "_dup_of", pa.nulls(n, pa.string()))


def main(argv: list[str]) -> None:
    from twin.fixtures import generate
    from twin.warehouse.build import build_warehouse
    from twin.warehouse.catalog import recorded_models
    from twin.warehouse.dbt_runner import run_dbt
    from twin.warehouse.engine import Warehouse
    from twin.warehouse.refresh import refresh_gold

    p = argparse.ArgumentParser(prog="twin bench warehouse", description=__doc__.split("\n\n")[0])
    p.add_argument("--scale", type=float, default=1.0)
    p.add_argument("--fixtures", type=Path, default=None, help="fixture folder (generated if missing)")
    p.add_argument("--db", type=Path, default=None, help="database file (default: in a temp folder)")
    p.add_argument("--skip-build", action="store_true", help="reuse --db as built")
    p.add_argument("--refreshes", type=int, default=5)
    p.add_argument("--trades", type=int, default=10_000, help="new trades per refresh")
    p.add_argument("--lookups", type=int, default=10_000)
    p.add_argument("--aum-runs", type=int, default=30)
    p.add_argument("--seed", type=int, default=7)
    args = p.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="twin-bench-wh-"))
    out: dict[str, object] = {
        "scale": args.scale,
        "load_avg_start": os.getloadavg()[0],
        "cpus": os.cpu_count(),
    }
    try:
        fixtures = args.fixtures or work / "fixtures"
        if not args.skip_build and not (fixtures / "manifest.json").is_file():
            t0 = time.perf_counter()
            generate(fixtures, scale=args.scale, seed=42)
            out["generate_s"] = time.perf_counter() - t0
        db = args.db or work / "warehouse.duckdb"
        if not args.skip_build:
            if db.exists():
                db.unlink()
            result = build_warehouse(db, fixtures, progress=lambda m: print(f"  {m}", flush=True))
            out["build_s"] = result.seconds
            out["build_rows"] = result.rows
            out["dbt_tests_passed"] = result.tests_passed

        with Warehouse(db) as wh:
            refresh: list[float] = []
            for i in range(args.refreshes):
                wh.append_bronze("trades_raw", _new_trades(wh, args.trades, i, rng), source="bench")
                t0 = time.perf_counter()
                stats = refresh_gold(wh)
                refresh.append(time.perf_counter() - t0)
                assert stats.merged.get("silver.trades") == args.trades, stats
            out["refresh_s"] = _summary(refresh)
            # The WAL checkpoint a refresh defers (see Warehouse): paid once for all rounds.
            t0 = time.perf_counter()
            wh.con.execute("CHECKPOINT").fetchall()
            out["checkpoint_after_refreshes_s"] = time.perf_counter() - t0
            out["refresh_rebuilt"] = stats.rebuilt
            out["refresh_keyed"] = stats.keyed

            ids = [r[0] for r in wh.con.execute("SELECT customer_id FROM gold.customer_360").fetchall()]
            cur = wh.con.cursor()
            lookups: list[float] = []
            for _ in range(args.lookups):
                cid = rng.choice(ids)
                t0 = time.perf_counter()
                rows = cur.execute("SELECT * FROM gold.customer_360 WHERE customer_id = ?", [cid]).fetchall()
                lookups.append((time.perf_counter() - t0) * 1000)
                assert len(rows) == 1
            out["lookup_ms"] = _summary(lookups)

            aum_sql = next(
                s.sql for s in recorded_models(wh) if s.relation == "gold.aum_by_department_asset_class"
            )
            recompute, read = [], []
            for _ in range(args.aum_runs):
                t0 = time.perf_counter()
                cur.execute(aum_sql).fetchall()
                recompute.append((time.perf_counter() - t0) * 1000)
                t0 = time.perf_counter()
                cur.execute("SELECT * FROM gold.aum_by_department_asset_class").fetchall()
                read.append((time.perf_counter() - t0) * 1000)
            out["aum_recompute_ms"] = _summary(recompute)
            out["aum_read_gold_ms"] = _summary(read)
            cur.close()

        # Side by side: what the refresh saves over a full dbt rebuild of the same database.
        t0 = time.perf_counter()
        run = run_dbt(["build"], db, work / "dbt")
        out["dbt_rebuild_s"] = time.perf_counter() - t0
        out["dbt_rebuild_ok"] = run.success
        out["refresh_vs_rebuild"] = out["dbt_rebuild_s"] / out["refresh_s"]["median"]  # type: ignore[index,operator]
        out["load_avg_end"] = os.getloadavg()[0]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=2, default=str))
