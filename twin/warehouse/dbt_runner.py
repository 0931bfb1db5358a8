"""Run the bundled dbt project in-process (`dbt.cli.main.dbtRunner`), offline and telemetry-free.

How dbt connects: dbt-duckdb opens the database file itself with a plain `duckdb.connect(path)` (default
configuration) for the duration of the invocation. DuckDB keeps one instance per file per process and
refuses a second connection with a *different* configuration, so callers close their own handles on the
file (see `build_warehouse`) and must not hold a differently-configured connection (e.g. a locked-down
governed session) open on the same file while dbt runs.

The profile is generated per run in a work folder, and dbt's `target/` and `logs/` go there too: nothing
is ever written into the installed package.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from twin.errors import TwinError

PROJECT_DIR = Path(__file__).resolve().parent / "dbt"
PROFILE_NAME = "twin"


class DbtError(TwinError):
    """dbt could not run or reported errors; the message carries dbt's own."""


class DbtNodeResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    unique_id: str
    resource_type: str
    status: str
    message: str | None = None


class DbtRun(BaseModel):
    model_config = ConfigDict(frozen=True)

    success: bool
    results: list[DbtNodeResult]
    target_dir: Path

    @property
    def manifest_path(self) -> Path:
        return self.target_dir / "manifest.json"

    def manifest(self) -> dict[str, Any]:
        return json.loads(self.manifest_path.read_text())


def _offline_env() -> None:
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ["DO_NOT_TRACK"] = "1"
    os.environ.setdefault("DBT_PARTIAL_PARSE", "false")


def release_database() -> None:
    """Close the DuckDB connection dbt-duckdb caches across invocations.

    dbt-duckdb keeps its environment (and so the database file) open after a run; left open, it would
    make every later `duckdb.connect` of the file with another configuration (read-only, or a governed
    session's locked-down settings) fail in this process.
    """
    import gc

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
        if env is not None:
            env.close()
    gc.collect()


def write_profile(work_dir: Path, db_path: str | Path, threads: int = 4) -> Path:
    """Write a profiles.yml pointing dbt-duckdb at `db_path`; returns the profiles folder."""
    profiles_dir = work_dir / "profiles"
    profiles_dir.mkdir(parents=True, exist_ok=True)
    profile = {
        PROFILE_NAME: {
            "target": "twin",
            "outputs": {
                "twin": {"type": "duckdb", "path": str(db_path), "schema": "main", "threads": threads}
            },
        }
    }
    (profiles_dir / "profiles.yml").write_text(yaml.safe_dump(profile))
    return profiles_dir


def run_dbt(command: list[str], db_path: str | Path, work_dir: Path, *, threads: int = 4) -> DbtRun:
    """Run `dbt <command>` against `db_path`, with target/ and logs/ under `work_dir`."""
    from dbt.cli.main import dbtRunner

    _offline_env()
    work_dir = Path(work_dir)
    profiles_dir = write_profile(work_dir, db_path, threads)
    target_dir = work_dir / "target"
    args = [
        *command,
        "--project-dir",
        str(PROJECT_DIR),
        "--profiles-dir",
        str(profiles_dir),
        "--target-path",
        str(target_dir),
        "--log-path",
        str(work_dir / "logs"),
        "--quiet",
        "--no-use-colors",
        "--no-send-anonymous-usage-stats",
        "--no-partial-parse",
    ]
    try:
        res = dbtRunner().invoke(args)
    finally:
        release_database()
    if res.exception is not None:
        raise DbtError(f"dbt {' '.join(command)} failed: {res.exception}")
    results: list[DbtNodeResult] = []
    for r in getattr(res.result, "results", None) or []:
        results.append(
            DbtNodeResult(
                unique_id=r.node.unique_id,
                resource_type=str(r.node.resource_type),
                status=str(r.status),
                message=r.message,
            )
        )
    return DbtRun(success=bool(res.success), results=results, target_dir=target_dir)
