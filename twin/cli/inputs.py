"""Checks on paths the user gives, shared by every command that takes them.

A `--db` must be a DuckDB database file: DuckDB itself opens `x.json`, `x.parquet` or `x.csv` given as a
database as an in-memory database over that file (and fails read-only opens with a catalog error), and
reports a directory or a non-database file as an I/O error mid-command. Checked up front, each is one
clear message naming the path.
"""

from __future__ import annotations

from pathlib import Path

from twin.cli.errors import fail

# A DuckDB database file: an 8-byte checksum, then the magic bytes.
_MAGIC_AT, _MAGIC = 8, b"DUCK"


def is_duckdb_file(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            head = f.read(_MAGIC_AT + len(_MAGIC))
    except OSError:
        return False
    return head[_MAGIC_AT:] == _MAGIC


def database(path: Path, *, must_exist: bool = True, option: str = "--db") -> Path:
    """`path` if it is a DuckDB database (or absent, when the command creates it); else a clear error."""
    if not path.exists():
        if must_exist:
            # After `make demo` the only warehouse is the demo's own: point a newcomer at it.
            demo = path.parent / "demo" / path.name
            hint = f" (the demo's is {demo}: pass {option} {demo})" if demo.is_file() else ""
            fail(f"no warehouse at {path}: build it first (twin warehouse build) or pass {option}{hint}")
        return path
    if path.is_dir():
        fail(f"{option} {path} is a directory; give the warehouse's database file")
    if not is_duckdb_file(path):
        fail(f"{option} {path} is not a DuckDB database file")
    return path
