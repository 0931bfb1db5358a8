"""The warehouse engine: one DuckDB database with `bronze`, `silver` and `gold` schemas.

Bronze is append-only through this API, like a landing zone fed by Snowpipe: rows carry ingestion
metadata (`_source`, `_topic`, `_partition`, `_offset`, `_ingested_at`) and an append is idempotent on
(`_topic`, `_partition`, `_offset`), so a consumer that crashes after writing but before committing its
offsets can replay a batch without creating duplicates.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from twin.errors import TwinError

MEDALLION_SCHEMAS = ("bronze", "silver", "gold")
# The schema names the platform gives a meaning, defined once (the firewall, the policy store, published
# tables and erasure read them from here). Users query gold and published tables, never the private ones.
GOVERNANCE_SCHEMA = "governance"  # compiled secure views, mapping tables, session context
PRIVATE_SCHEMAS = frozenset({"bronze", "silver", GOVERNANCE_SCHEMA})
SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog"})
# What a governed session may read is an allowlist: gold, plus the tables `twin warehouse load` published
# (recorded in a register kept in a private schema). Every other schema (the medallion's private layers,
# governance, the DLQ's raw payloads, whatever a later feature adds) stays unreadable until published.
READABLE_SCHEMAS = frozenset({"gold"})
PUBLISHED_REGISTER = "silver._twin_published"
WAL_AUTOCHECKPOINT = "1GB"
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def published_tables(con: duckdb.DuckDBPyConnection) -> frozenset[str]:
    """`schema.table` (lower case) of every table `twin warehouse load` published."""
    try:
        rows = con.execute(f"SELECT schema_name, table_name FROM {PUBLISHED_REGISTER}").fetchall()
    except duckdb.CatalogException:
        return frozenset()
    return frozenset(f"{s}.{t}".lower() for s, t in rows)


def record_published(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> None:
    """Add `schema.table` to the register of readable published tables (inside the caller's transaction)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS silver").fetchall()
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {PUBLISHED_REGISTER} "
        "(schema_name VARCHAR, table_name VARCHAR, PRIMARY KEY (schema_name, table_name))"
    ).fetchall()
    con.execute(f"INSERT OR IGNORE INTO {PUBLISHED_REGISTER} VALUES (?, ?)", [schema, table]).fetchall()


class WarehouseError(TwinError):
    """A warehouse operation was refused; the message says why."""


class BronzeIsAppendOnly(WarehouseError):
    """Bronze is a landing zone: rows are only ever appended."""


def _ident(name: str) -> str:
    if not _IDENT.match(name):
        raise WarehouseError(f"not a plain identifier: {name!r}")
    return name


def table_names(con: duckdb.DuckDBPyConnection, schema: str) -> list[str]:
    """The tables and views of `schema`, sorted, as seen by `con` (a warehouse's connection or a cursor)."""
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? ORDER BY 1",
        [_ident(schema)],
    ).fetchall()
    return [r[0] for r in rows]


def offset_ranges(partitions: pa.Array, offsets: pa.Array) -> dict[int, tuple[int, int]]:
    """Each partition's (min, max) offset in a batch. A mask per partition (a dozen or so per topic) in
    numpy: Arrow's group_by costs 0.3 ms to set up, which is most of a small streaming batch's."""
    p = partitions.to_numpy(zero_copy_only=False)
    o = offsets.to_numpy(zero_copy_only=False)
    out: dict[int, tuple[int, int]] = {}
    for part in pc.unique(partitions).to_pylist():
        mine = o[p == part]
        out[int(part)] = (int(mine.min()), int(mine.max()))
    return out


def _offset_ranges(partitions: pa.Array, offsets: pa.Array) -> str:
    """A SQL predicate covering each partition's [min, max] offset in the batch (integers only)."""
    return " OR ".join(
        f"(_partition = {p} AND _offset BETWEEN {lo} AND {hi})"
        for p, (lo, hi) in offset_ranges(partitions, offsets).items()
    )


@contextmanager
def transaction(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """One explicit transaction on `con`: COMMIT when the block ends, ROLLBACK (and re-raise) when anything
    in it, the COMMIT included, raises. The one place twin writes BEGIN/COMMIT/ROLLBACK for the warehouse."""
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        yield con
        con.execute("COMMIT").fetchall()
    except BaseException:
        con.execute("ROLLBACK").fetchall()
        raise


class Warehouse:
    """An administrative handle on the DuckDB database (user queries go through governance sessions)."""

    def __init__(self, path: str | Path = ":memory:") -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self.con = duckdb.connect(self.path)
        # Checkpoint after 1 GiB of WAL instead of 16 MiB: the hourly gold refresh and stream appends
        # then commit by appending to the WAL, and the checkpoint (rewriting changed row groups) is
        # paid every few refreshes or at close rather than inside each one. Durability is unchanged.
        self.con.execute(f"SET wal_autocheckpoint = '{WAL_AUTOCHECKPOINT}'").fetchall()
        self._lock = threading.Lock()
        # Bronze tables append_bronze has seen exist. Every append looked the table up in the catalog
        # while holding the lock the other ingesters and the silver refresher wait on; nothing in the
        # twin drops a bronze table, and a failed append forgets the name so the retry looks again.
        self._bronze_known: set[str] = set()
        for schema in MEDALLION_SCHEMAS:
            self.con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}").fetchall()

    @property
    def write_lock(self) -> threading.Lock:
        """Held by every writer of the shared connection (bronze appends, refreshes) for its statements."""
        return self._lock

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def tables(self, schema: str) -> list[str]:
        return table_names(self.con, schema)

    def count(self, qualified: str) -> int:
        schema, table = qualified.split(".", 1)
        rows = self.con.execute(f"SELECT count(*) FROM {_ident(schema)}.{_ident(table)}").fetchall()
        return int(rows[0][0])

    def append_bronze(
        self,
        table: str,
        data: pa.Table,
        *,
        source: str,
        topic: str | None = None,
        partitions: pa.Array | None = None,
        offsets: pa.Array | None = None,
    ) -> int:
        """Append `data` to `bronze.<table>` and return how many rows were new.

        Without offsets (a batch file load) rows get partition 0 and offsets continuing the table's
        sequence for that topic. With offsets (a stream) rows whose (topic, partition, offset) is already
        present are skipped, which makes a replayed batch a no-op.
        """
        table = _ident(table)
        topic = topic or f"file:{source}"
        n = data.num_rows
        if n == 0:
            return 0
        with self._lock:
            exists = table in self._bronze_known or table in self.tables("bronze")
            if offsets is None:
                start = self._next_file_offset(table, topic) if exists else 0
                offsets = pa.array(range(start, start + n), pa.int64())
                partitions = pa.array([0] * n, pa.int32())
            elif partitions is None:
                raise WarehouseError("offsets given without partitions")
            now = datetime.now(UTC).replace(tzinfo=None)
            partitions = partitions.cast(pa.int32())
            offsets = offsets.cast(pa.int64())
            self.con.register(
                "_bronze_rows",
                data.append_column("_partition", partitions).append_column("_offset", offsets),
            )
            # The per-batch constants are SQL parameters, not Arrow columns of n copies: DuckDB keeps them
            # as constant vectors instead of converting n strings per column on every append.
            batch = (
                "(SELECT * EXCLUDE (_partition, _offset), $source::VARCHAR AS _source, "
                "$topic::VARCHAR AS _topic, _partition, _offset, $now::TIMESTAMP AS _ingested_at "
                "FROM _bronze_rows)"
            )
            params = {"source": source, "topic": topic, "now": now}
            from twin.warehouse.erasure import scrub_arrow  # erasure imports the catalog, which imports us

            # Forgotten customers are anonymised on the way in, so no replay or re-delivery brings them back.
            batch = scrub_arrow(self.con, batch, data.schema)
            try:
                if not exists:
                    self.con.execute(
                        f"CREATE TABLE bronze.{table} AS SELECT * FROM {batch} LIMIT 0", params
                    ).fetchall()
                # Only rows in the batch's per-partition offset ranges can collide. Checking those ranges
                # first (integer literals let DuckDB's zone maps skip older row groups) keeps the usual
                # case, a fresh batch, a plain append: O(batch), not an anti-join over the whole table.
                seen = f"_topic = $topic AND ({_offset_ranges(partitions, offsets)})"
                overlap = self.con.execute(
                    f"SELECT count(*) FROM bronze.{table} WHERE {seen}", {"topic": topic}
                ).fetchall()[0][0]
                # INSERT returns how many rows it wrote: no count(*) before and after.
                if not overlap:
                    inserted = self.con.execute(
                        f"INSERT INTO bronze.{table} BY NAME SELECT * FROM {batch}", params
                    ).fetchall()
                else:
                    inserted = self.con.execute(
                        f"""INSERT INTO bronze.{table} BY NAME
                            SELECT b.* FROM {batch} b
                            ANTI JOIN (SELECT _topic, _partition, _offset FROM bronze.{table}
                                       WHERE {seen}) seen
                            ON b._topic = seen._topic AND b._partition = seen._partition
                               AND b._offset = seen._offset""",
                        params,
                    ).fetchall()
                self._bronze_known.add(table)
                return int(inserted[0][0])
            except BaseException:
                self._bronze_known.discard(table)
                raise
            finally:
                self.con.unregister("_bronze_rows")

    def append_bronze_files(
        self,
        files: list[tuple[str, Path, str]],
        *,
        progress: Callable[[str], None] | None = None,
    ) -> dict[str, int]:
        """Append Parquet files to bronze as file loads, all or none; returns new rows per table.

        `files` holds (table, path, source). Each file gets what `append_bronze` gives a batch without
        offsets (partition 0, offsets continuing its topic's sequence, one ingestion time), but DuckDB
        reads the file itself: no Arrow copy of every file in Python first, and the read and the write
        run in one parallel pipeline (a scale-1 load takes about a fifth less CPU). One transaction covers
        every file, so a corrupt one leaves bronze as it was.
        """
        loaded: dict[str, int] = {}
        with self._lock, transaction(self.con):
            for table, path, source in files:
                if progress:
                    progress(f"bronze.{table}")
                loaded[table] = loaded.get(table, 0) + self._append_parquet(table, path, source)
        return loaded

    def _append_parquet(self, table: str, path: Path, source: str) -> int:
        table = _ident(table)
        topic = f"file:{source}"
        exists = table in self.tables("bronze")
        start = self._next_file_offset(table, topic) if exists else 0
        now = datetime.now(UTC).replace(tzinfo=None)
        # file_row_number is the row's position in the file: the offset the Arrow path assigns.
        select = (
            "SELECT * EXCLUDE (file_row_number), ?::VARCHAR AS _source, ?::VARCHAR AS _topic, "
            "0::INTEGER AS _partition, (? + file_row_number)::BIGINT AS _offset, "
            "?::TIMESTAMP AS _ingested_at FROM read_parquet(?, file_row_number = true)"
        )
        params = [source, topic, start, now, str(path)]
        from twin.warehouse.erasure import scrub_file  # erasure imports the catalog, which imports us

        try:
            # Forgotten customers are anonymised on the way in (see twin.warehouse.erasure).
            select = "SELECT * FROM " + scrub_file(self.con, f"({select})", "read_parquet", str(path))
            # A new table is created with its rows in one CREATE TABLE AS. DuckDB 2.0.0 loses sight of
            # the rows of `CREATE TABLE ... AS ... LIMIT 0` followed by an INSERT of more than one row
            # group in the same transaction: scans on this database return none of them until the next
            # checkpoint (tests/warehouse/test_engine.py guards it).
            verb = f"INSERT INTO bronze.{table} BY NAME" if exists else f"CREATE TABLE bronze.{table} AS"
            inserted = self.con.execute(f"{verb} {select}", params).fetchall()
        except (duckdb.IOException, duckdb.InvalidInputException) as exc:
            raise WarehouseError(f"corrupt fixture file {path}: {exc}") from exc
        return int(inserted[0][0])

    def _next_file_offset(self, table: str, topic: str) -> int:
        """Where a file load's offsets continue: past the last row loaded under `topic` (partition 0)."""
        rows = self.con.execute(
            f"SELECT coalesce(max(_offset) + 1, 0) FROM bronze.{table} WHERE _topic = ?", [topic]
        ).fetchall()
        return int(rows[0][0])

    def update_bronze(self, table: str, *args: object, **kwargs: object) -> None:
        raise BronzeIsAppendOnly(
            f"bronze.{table} is append-only: fix data by appending a corrected record; "
            "silver keeps the latest version of each natural key"
        )

    def delete_bronze(self, table: str, *args: object, **kwargs: object) -> None:
        raise BronzeIsAppendOnly(
            f"bronze.{table} is append-only: rows cannot be deleted (right-to-be-forgotten "
            "anonymises a customer's rows in every layer: twin governance forget)"
        )
