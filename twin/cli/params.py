"""CLI options that mean the same in every command, defined once and composed (like dbt-core's
`cli/params.py`): `--db`, `--format table|json|csv`, `--out`, and durations written `90s`/`15m`/`2h`.

A command takes `db: Path | None = params.db()` and so on; the help text and the accepted values then
match everywhere. Commands not yet moved onto these keep their own definitions with the same meaning.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from twin.sim.durations import parse_duration


class Format(StrEnum):
    """How a command prints data: a table for people, JSON or CSV for programs."""

    table = "table"
    json = "json"
    csv = "csv"


DB_HELP = "DuckDB warehouse file (default: <twin home>/warehouse.duckdb)."


def db(help: str = DB_HELP) -> Any:
    return typer.Option(None, "--db", help=help, show_default=False)


def output_format(default: Format = Format.table, help: str = "table, json or csv.") -> Any:
    return typer.Option(default, "--format", help=help, case_sensitive=False)


def out(help: str = "Output directory.", default: Path | None = None) -> Any:
    return typer.Option(default, "--out", help=help)


def duration(value: str | None, *, option: str) -> float | None:
    """Seconds from a duration option (`90s`, `15m`, `2h`, or plain seconds); a clear usage error else."""
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint=option) from None
