"""One way to print rows of data: a rich table for people, JSON or CSV for programs (`--format`)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.cli.params import Format


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.4g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def rows(
    data: Sequence[Mapping[str, Any]],
    fmt: Format,
    *,
    columns: Sequence[str],
    title: str | None = None,
    console: Console | None = None,
) -> None:
    """Print `data` (one mapping per row, keyed by `columns`) in the chosen format."""
    if fmt == Format.json:
        typer.echo(json.dumps([{c: r.get(c) for c in columns} for r in data], indent=2, default=str))
        return
    if fmt == Format.csv:
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(columns)
        w.writerows([[r.get(c) for c in columns] for r in data])
        typer.echo(buf.getvalue(), nl=False)
        return
    t = Table(title=title)
    for c in columns:
        t.add_column(c)
    for r in data:
        # escaped: names come from files and databases; `[/x]` in one is text, not rich markup
        t.add_row(*(escape(_cell(r.get(c))) for c in columns))
    (console or Console()).print(t)
