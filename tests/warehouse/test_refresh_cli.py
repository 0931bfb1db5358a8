"""`twin warehouse refresh` prints a table by default, like the other data-printing commands; `--format
json` keeps the full statistics and `--format csv` one row per relation changed."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from tests.warehouse.conftest import TinyBuild
from twin.cli.main import app

runner = CliRunner()


def _copy(tiny: TinyBuild, tmp_path: Path) -> Path:
    db = tmp_path / "w.duckdb"
    shutil.copy(tiny.db_path, db)
    return db


def test_refresh_prints_a_table_by_default(tiny: TinyBuild, tmp_path: Path) -> None:
    res = runner.invoke(
        app, ["warehouse", "refresh", "--db", str(_copy(tiny, tmp_path))], env={"COLUMNS": "200"}
    )
    assert res.exit_code == 0, res.output
    flat = " ".join(res.stdout.split())  # the title wraps to the table's width
    assert "refresh:" in flat and "nothing new in bronze" in flat
    assert "relation" in res.output and "{" not in res.output  # a table, not JSON


def test_refresh_json_keeps_the_statistics(tiny: TinyBuild, tmp_path: Path) -> None:
    res = runner.invoke(app, ["warehouse", "refresh", "--db", str(_copy(tiny, tmp_path)), "--format", "json"])
    assert res.exit_code == 0, res.output
    stats = json.loads(res.stdout)  # the quality checks' verdict goes to stderr
    assert stats["new_bronze_rows"] == {} and stats["rebuilt"] == [] and stats["seconds"] >= 0


def test_refresh_csv_has_a_header_row(tiny: TinyBuild, tmp_path: Path) -> None:
    res = runner.invoke(app, ["warehouse", "refresh", "--db", str(_copy(tiny, tmp_path)), "--format", "csv"])
    assert res.exit_code == 0, res.output
    assert next(csv.reader(io.StringIO(res.stdout))) == ["relation", "change", "rows"]


def test_an_unknown_format_is_a_usage_error(tiny: TinyBuild, tmp_path: Path) -> None:
    res = runner.invoke(app, ["warehouse", "refresh", "--db", str(_copy(tiny, tmp_path)), "--format", "xml"])
    assert res.exit_code == 2 and "xml" in res.output
