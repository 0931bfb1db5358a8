"""A full warehouse build: fixtures → bronze (append-only loads) → `dbt build` (silver, gold, tests).

After dbt, the models' compiled SQL is recorded in the database (`silver._twin_models`) together with the
bronze watermarks it was built from, so `twin.warehouse.refresh.refresh_gold` can bring silver and gold
up to date later without starting dbt.

A fresh build (`fresh=True`) starts from an empty database file but carries the erasure register over:
customers forgotten in the old database are anonymised as the fixtures load into the new one
(`twin.warehouse.erasure`), so no rebuild brings them back.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from twin.warehouse.bronze import load_fixtures
from twin.warehouse.catalog import bronze_watermarks, record_models
from twin.warehouse.dbt_runner import DbtError, DbtNodeResult, run_dbt
from twin.warehouse.engine import MEDALLION_SCHEMAS, Warehouse, WarehouseError
from twin.warehouse.erasure import Erasure, erasures, record

Progress = Callable[[str], None]


class BuildResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    db_path: str
    bronze_loaded: dict[str, int]
    rows: dict[str, dict[str, int]]
    """Rows per table, by layer: {"bronze": {...}, "silver": {...}, "gold": {...}}."""
    dbt_results: list[DbtNodeResult]
    seconds: float

    @property
    def tests_passed(self) -> int:
        return sum(1 for r in self.dbt_results if r.resource_type == "test" and r.status == "pass")

    @property
    def tests_failed(self) -> list[DbtNodeResult]:
        return [r for r in self.dbt_results if r.resource_type == "test" and r.status != "pass"]

    @property
    def models_built(self) -> int:
        return sum(1 for r in self.dbt_results if r.resource_type == "model" and r.status == "success")


def layer_rows(wh: Warehouse) -> dict[str, dict[str, int]]:
    """Rows per table by layer (the platform's own `_twin_*` bookkeeping tables left out)."""
    return {
        layer: {t: wh.count(f"{layer}.{t}") for t in wh.tables(layer) if not t.startswith("_twin_")}
        for layer in MEDALLION_SCHEMAS
    }


def build_warehouse(
    db_path: str | Path,
    fixtures_dir: str | Path,
    *,
    progress: Progress | None = None,
    work_dir: Path | None = None,
    fresh: bool = False,
) -> BuildResult:
    """Load `fixtures_dir` into bronze at `db_path` and run `dbt build`; raises on model or test errors.

    `work_dir` receives dbt's target/ and logs/ (default: a temporary folder removed afterwards). An
    in-memory database cannot be shared with dbt, so `db_path` must be a file. `fresh` deletes an existing
    database first, keeping only its erasure register.
    """
    started = time.perf_counter()
    say = progress or (lambda _msg: None)
    db_path = Path(db_path)
    if str(db_path) == ":memory:":
        raise DbtError("dbt needs a database file: pass a path, not :memory:")
    forgotten = start_fresh(db_path) if fresh else []
    with Warehouse(db_path) as wh:
        if forgotten:
            record(wh.con, forgotten)
        loaded = load_fixtures(wh, Path(fixtures_dir), progress=lambda t: say(f"loading {t}"))
        # Taken before dbt reads bronze: rows appended later are picked up by the next refresh.
        marks = bronze_watermarks(wh)
    own_tmp = work_dir is None
    work = Path(tempfile.mkdtemp(prefix="twin-dbt-")) if work_dir is None else Path(work_dir)
    try:
        say("dbt build (silver, gold, tests)")
        # The Warehouse handle is closed above: dbt-duckdb opens the file with its own connection.
        run = run_dbt(["build"], db_path, work)
        errors = [r for r in run.results if r.status in ("error", "fail", "runtime error")]
        if not run.success or errors:
            detail = "; ".join(f"{r.unique_id}: {r.status} {r.message or ''}".strip() for r in errors)
            raise DbtError(f"dbt build failed: {detail or 'see dbt logs'}")
        say("recording models for incremental refresh")
        with Warehouse(db_path) as wh:
            record_models(wh, run.manifest(), marks)
            rows = layer_rows(wh)
    finally:
        if own_tmp:
            shutil.rmtree(work, ignore_errors=True)
    return BuildResult(
        db_path=str(db_path),
        bronze_loaded=loaded,
        rows=rows,
        dbt_results=run.results,
        seconds=time.perf_counter() - started,
    )


def start_fresh(db_path: Path) -> list[Erasure]:
    """Delete the database at `db_path` (and its write-ahead log) and return its erasure register, which
    the new database must start with. An unreadable database is left in place: dropping it would drop
    the register, and with it every forget request it honours."""
    wal = db_path.with_name(db_path.name + ".wal")
    forgotten: list[Erasure] = []
    if db_path.exists():
        try:
            with Warehouse(db_path) as wh:
                forgotten = erasures(wh.con)
        except Exception as exc:  # duckdb raises several unrelated types for an unreadable file
            raise WarehouseError(
                f"cannot read the erasure register of {db_path} before deleting it ({exc}); "
                "repair or move the file, then build again"
            ) from None
    for leftover in (db_path, wal):
        leftover.unlink(missing_ok=True)
    return forgotten
