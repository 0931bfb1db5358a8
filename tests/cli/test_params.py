"""The shared CLI option definitions and the one rendering module."""

from __future__ import annotations

import csv
import io
import json

import pytest
import typer
from typer.testing import CliRunner

from twin.cli import params, render


@pytest.mark.parametrize(("text", "seconds"), [("90s", 90.0), ("15m", 900.0), ("2h", 7200.0), ("30", 30.0)])
def test_durations_read_the_same_everywhere(text: str, seconds: float) -> None:
    assert params.duration(text, option="--duration") == seconds


def test_a_bad_duration_is_a_usage_error_naming_the_option() -> None:
    with pytest.raises(typer.BadParameter, match="expected a duration like '90s'"):
        params.duration("soon", option="--interval")
    assert params.duration(None, option="--interval") is None


def _app() -> typer.Typer:
    app = typer.Typer()

    @app.command()
    def show(fmt: params.Format = params.output_format()) -> None:
        render.rows([{"name": "[bold]x[/]", "n": 1234}, {"name": "y", "n": None}], fmt, columns=("name", "n"))

    return app


def test_render_prints_one_table_json_or_csv_from_the_same_rows() -> None:
    runner = CliRunner()
    table = runner.invoke(_app(), ["--format", "table"], env={"COLUMNS": "120"})
    assert (
        table.exit_code == 0 and "[bold]x[/]" in table.output and "1,234" in table.output
    )  # text, not markup
    js = json.loads(runner.invoke(_app(), ["--format", "json"]).output)
    assert js == [{"name": "[bold]x[/]", "n": 1234}, {"name": "y", "n": None}]
    rows = list(csv.reader(io.StringIO(runner.invoke(_app(), ["--format", "csv"]).output)))
    assert rows == [["name", "n"], ["[bold]x[/]", "1234"], ["y", ""]]
    assert runner.invoke(_app(), ["--format", "yaml"]).exit_code == 2
