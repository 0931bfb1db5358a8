"""`twin bench`: its own help before a benchmark's name, the benchmark's help after it."""

from __future__ import annotations

from typer.testing import CliRunner

from twin.cli.main import app


def test_help_lists_the_benchmarks() -> None:
    res = CliRunner().invoke(app, ["bench", "--help"])
    assert res.exit_code == 0
    assert "Benchmarks: " in res.output and "governance" in res.output and "sim" in res.output


def test_help_after_a_name_reaches_that_benchmark() -> None:
    res = CliRunner().invoke(app, ["bench", "sim", "--help"])
    assert res.exit_code == 0, res.output
    assert "usage: twin bench sim" in res.output


def test_no_name_or_an_unknown_name_is_an_error() -> None:
    r = CliRunner()
    assert r.invoke(app, ["bench"]).exit_code == 2
    res = r.invoke(app, ["bench", "nosuch"])
    assert res.exit_code == 2 and "no benchmark named 'nosuch'" in res.output
