"""The quality checks run where data is made and their failures are shown: after `twin warehouse
refresh`, and on the streaming pipeline's cadence (in its status, read by `twin pipeline status`)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from typer.testing import CliRunner

from twin.cli.main import app
from twin.streaming.pipeline import STATUS_FILE, Pipeline, PipelineConfig, QualityWorker, Worker
from twin.warehouse.engine import Warehouse

runner = CliRunner()


def _duplicate_a_trade(db: Path) -> None:
    with Warehouse(db) as wh:
        wh.con.execute("INSERT INTO silver.trades SELECT * FROM silver.trades LIMIT 1").fetchall()


def test_warehouse_refresh_reports_the_checks_and_a_failing_one(gold_db_copy: Path) -> None:
    clean = runner.invoke(app, ["warehouse", "refresh", "--db", str(gold_db_copy), "--format", "json"])
    assert clean.exit_code == 0, clean.output
    quality = json.loads(clean.stdout)["quality"]
    assert quality["checks"] and all(c["passed"] for c in quality["checks"])
    _duplicate_a_trade(gold_db_copy)
    dirty = runner.invoke(app, ["warehouse", "refresh", "--db", str(gold_db_copy), "--format", "json"])
    failed = [c for c in json.loads(dirty.stdout)["quality"]["checks"] if not c["passed"]]
    assert [(c["name"], c["relation"]) for c in failed] == [("unique_key", "silver.trades")]
    assert "failing: unique_key silver.trades: 1 duplicated" in dirty.stderr


class _Stopper(Worker):
    """Stops the pipeline once the quality worker has a report (no timing in the test)."""

    kind = "gold"

    def __init__(self, quality: QualityWorker, stop: threading.Event) -> None:
        super().__init__("stopper")
        self.quality, self.pipeline_stop = quality, stop

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            if self.quality.report is not None:
                self.pipeline_stop.set()
            stop.wait(0.01)


def test_the_pipeline_runs_the_checks_and_its_status_shows_a_failure(
    gold_db_copy: Path, twin_home: Path
) -> None:
    _duplicate_a_trade(gold_db_copy)
    wh = Warehouse(gold_db_copy)
    quality = QualityWorker(wh, interval_s=0.05)
    stop = threading.Event()
    pipeline = Pipeline(
        [quality, _Stopper(quality, stop)], config=PipelineConfig(), status_path=twin_home / STATUS_FILE
    )
    final = pipeline.run(stop, duration_s=60)
    wh.close()
    assert final.quality is not None
    assert [(c.name, c.relation) for c in final.quality.failures] == [("unique_key", "silver.trades")]
    shown = runner.invoke(app, ["pipeline", "status"])
    assert shown.exit_code == 0, shown.output  # stopped cleanly; the failing check is reported, not fatal
    assert "failing: unique_key silver.trades" in shown.stdout
    as_json = json.loads(runner.invoke(app, ["pipeline", "status", "--format", "json"]).stdout)
    assert as_json["workers"][0]["detail"]["failing_checks"] == 1
