"""`twin warehouse load`: put a Parquet or CSV file into a table of a published schema.

Published schemas are the ones the governance layer lets users read: anything but the medallion layers
(bronze is fed by ingestion, silver and gold by dbt) and the platform's private schemas. A file's rows
of customers forgotten earlier are anonymised as they load (`twin.warehouse.erasure`).
"""

from __future__ import annotations

import re
from pathlib import Path

from twin.warehouse.engine import (
    MEDALLION_SCHEMAS,
    PRIVATE_SCHEMAS,
    SYSTEM_SCHEMAS,
    Warehouse,
    WarehouseError,
    record_published,
    transaction,
)
from twin.warehouse.erasure import scrub_file

# Names DuckDB or the platform already gives a meaning: a schema called `temp` or `main` (or after any
# attached database, `warehouse` included) makes every unqualified or two-part reference ambiguous, and
# the medallion and private schemas are written by the platform only.
RESERVED_SCHEMAS = frozenset(
    {*MEDALLION_SCHEMAS, *PRIVATE_SCHEMAS, *SYSTEM_SCHEMAS, "dlq", "account_usage", "main", "temp", "system",
     "memory"}
)  # fmt: skip
# A published name: letters, digits and underscores, starting with a letter, folded to lower case as
# DuckDB resolves it (so `TEMP` is `temp`). Anything else (quotes, dots, spaces) is refused.
_PART = r"[A-Za-z][A-Za-z0-9_]{0,62}"
_NAME = re.compile(rf"^({_PART})\.({_PART})$")
READERS = {".parquet": "read_parquet", ".csv": "read_csv_auto"}


def load_published(wh: Warehouse, qualified: str, file: Path, *, replace: bool = False) -> int:
    """Create `schema.table` from `file` (Parquet or CSV); returns the number of rows loaded."""
    import duckdb

    match = _NAME.match(qualified)
    if not match:
        raise WarehouseError(
            f"expected SCHEMA.TABLE, each a letter then letters, digits or _, got {qualified!r}"
        )
    schema, table = (part.lower() for part in match.groups())
    attached = wh.con.execute("SELECT database_name FROM duckdb_databases()").fetchall()
    databases = {r[0].lower() for r in attached}
    if schema in RESERVED_SCHEMAS or schema in databases or schema.startswith(("duckdb_", "pg_")):
        raise WarehouseError(
            f"schema {schema!r} is reserved (DuckDB's temp/main/system, the platform's bronze/silver/gold/"
            "dlq/governance, or a database name); use a schema of your own, e.g. published.<table>"
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
    # One transaction: a file that fails halfway (a bad row past the sniffed sample) leaves neither a
    # new schema nor a partial table behind.
    try:
        with transaction(wh.con):
            wh.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}").fetchall()
            # Forgotten customers are anonymised on the way in: a published file cannot bring them back.
            source = scrub_file(wh.con, f"(SELECT * FROM {reader}(?))", reader, str(file))
            wh.con.execute(f"{verb} {schema}.{table} AS SELECT * FROM {source}", [str(file)]).fetchall()
            record_published(wh.con, schema, table)
            n = wh.count(f"{schema}.{table}")
    except duckdb.Error as exc:  # rolled back by `transaction`
        raise WarehouseError(f"cannot load {file}: {str(exc).splitlines()[0]}") from None
    return n
