"""`twin warehouse load`: put a Parquet or CSV file into a table of a published schema.

Published schemas are the ones the governance layer lets users read: anything but the medallion layers
(bronze is fed by ingestion, silver and gold by dbt) and the platform's private schemas. A file's rows
of customers forgotten earlier are anonymised as they load (`twin.warehouse.erasure`).
"""

from __future__ import annotations

import re
from pathlib import Path

from twin.warehouse.engine import Warehouse, WarehouseError
from twin.warehouse.erasure import scrub_file

RESERVED_SCHEMAS = frozenset(
    {"bronze", "silver", "gold", "governance", "main", "information_schema", "pg_catalog"}
)
_NAME = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")
READERS = {".parquet": "read_parquet", ".csv": "read_csv_auto"}


def load_published(wh: Warehouse, qualified: str, file: Path, *, replace: bool = False) -> int:
    """Create `schema.table` from `file` (Parquet or CSV); returns the number of rows loaded."""
    import duckdb

    match = _NAME.match(qualified)
    if not match:
        raise WarehouseError(f"expected SCHEMA.TABLE with plain identifiers, got {qualified!r}")
    schema, table = match.groups()
    if schema.lower() in RESERVED_SCHEMAS:
        raise WarehouseError(
            f"schema {schema!r} is not a published schema (bronze/silver/gold are built by the platform); "
            "use e.g. published.<table>"
        )
    file = Path(file)
    if not file.is_file():
        raise WarehouseError(f"file not found: {file}")
    reader = READERS.get(file.suffix.lower())
    if reader is None:
        raise WarehouseError(f"{file}: unsupported file type (expected .parquet or .csv)")
    if not replace and table in wh.tables(schema):
        raise WarehouseError(f"{schema}.{table} already exists (pass --replace to overwrite it)")
    verb = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE"
    try:
        wh.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}").fetchall()
        # Forgotten customers are anonymised on the way in: a published file cannot bring them back.
        source = scrub_file(wh.con, f"(SELECT * FROM {reader}(?))", reader, str(file))
        wh.con.execute(f"{verb} {schema}.{table} AS SELECT * FROM {source}", [str(file)]).fetchall()
    except duckdb.Error as exc:
        raise WarehouseError(f"cannot load {file}: {exc}") from exc
    return wh.count(f"{schema}.{table}")
