"""One way for every command to fail: a clear message on stderr and a non-zero exit, never a traceback.

Commands call `fail` for errors they expect. Everything else that escapes a command ends in
`TwinGroup.invoke`, the single place an exception becomes a message: `twin.errors.TwinError` (the root
of every layer's errors) and other errors about the user's input (files, settings) exit 2, anything else
is a bug in twin and exits 1. Either way the message is one line and names `--debug` / `TWIN_DEBUG=1`,
which re-raise with the full traceback.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperGroup

# re-exported: commands raise it as `twin.cli.errors.TwinError`; the root lives below every layer
from twin.errors import TwinError

__all__ = ["TwinError", "TwinGroup", "fail", "report_unexpected"]

err_console = Console(stderr=True)

DEBUG_ENV = "TWIN_DEBUG"
DEBUG_HINT = f"rerun with --debug (or {DEBUG_ENV}=1) for the traceback"


def fail(message: str, code: int = 2) -> NoReturn:
    # escaped: messages quote user input (paths, names), and `[/x]` in a file name is not rich markup
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _usage_errors() -> tuple[type[BaseException], ...]:
    """Exception classes that mean "your input is wrong" (exit 2) rather than "twin has a bug" (exit 1).

    Every layer's errors subclass `TwinError`, so that one class covers them all. pydantic's
    ValidationError is a settings or input file that does not validate. DuckDB's IOException is a file it
    cannot use (a directory, not a database, locked by another process): always about a path the user
    gave or the machine, never about twin's SQL.
    """
    try:
        import duckdb
        from pydantic import ValidationError
    except ImportError:  # a broken install: still one line, never a second traceback
        return (TwinError, OSError, UnicodeError)
    return (TwinError, ValidationError, OSError, UnicodeError, duckdb.IOException)


def debug_enabled(ctx: typer.Context | None) -> bool:
    if ctx is not None and ctx.find_root().params.get("debug"):
        return True
    return os.environ.get(DEBUG_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def describe(exc: BaseException) -> str:
    """One line: the exception's own message, collapsed, never empty."""
    text = " ".join(str(exc).split())
    if len(text) > 400:  # a message quoting a whole binary file helps nobody
        text = text[:400] + " ..."
    return text or type(exc).__name__


def report_unexpected(exc: Exception) -> int:
    """Print the one-line message for an exception no command handled; return the exit code."""
    usage = isinstance(exc, _usage_errors())
    if usage:
        message = f"{describe(exc)} ({DEBUG_HINT})"
    else:
        message = f"unexpected {type(exc).__name__}: {describe(exc)} (this is a bug in twin; {DEBUG_HINT})"
    # markup off: the message may quote user input holding [brackets]
    err_console.print("error: " + message, highlight=False, soft_wrap=True, markup=False)
    return 2 if usage else 1


class TwinGroup(TyperGroup):
    """The root command group: the CLI's single error path for exceptions no command handled."""

    # typer passes its own Context (a subclass of the click Context it vendors under a private name)
    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except (typer.TyperException, typer.Exit, typer.Abort):  # usage errors and exits: typer's own
            raise
        except Exception as exc:
            if debug_enabled(ctx):
                raise
            raise typer.Exit(report_unexpected(exc)) from None
