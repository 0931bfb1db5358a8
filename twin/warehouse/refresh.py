"""Incremental refresh of silver and gold without dbt: the path the simulation takes every simulated hour.

It replays the compiled SQL dbt recorded at build time (`silver._twin_models`), so it cannot drift from the
project, and does only the work new bronze rows call for:

- a silver dedup model whose bronze table has rows past its watermark runs its own SQL over just those
  rows, then merges the winners with the current silver rows of the same natural keys by the model's
  version order (business time, then emission, then ingestion position): the same rule as a full build;
- a model marked `delta_of` (a monotone aggregate such as an account's last trade) merges the same way
  from the rows its upstream merge model just changed;
- a model marked `keyed` (customer_360) whose changed inputs all map to keys recomputes just those keys'
  rows, its SQL run over inputs narrowed to the keys;
- every other model downstream of a changed model is recomputed in place (delete + insert in the same
  transaction, so the table, and any policy or view on it, stays the same object); views need nothing.

The whole refresh is one transaction: readers see the old gold or the new gold, never a mix. It assumes
bronze is appended through one `Warehouse` (whose lock orders the ingestion timestamps it compares).

`refresh_silver` is the streaming path's short-cadence step: it merges new bronze rows into silver's
event feeds (the merge models read straight from bronze) and nothing downstream, so a streamed row is
visible in silver within seconds without recomputing gold each time. It keeps its own watermarks; the
next `refresh_gold` merges only what silver has not seen and hands the models downstream the silver rows
merged since the gold watermark, so gold ends up as if every merge had happened there.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Protocol

import duckdb
from pydantic import BaseModel, ConfigDict

from twin.warehouse.catalog import META_SCHEMA, ModelSpec, recorded_models
from twin.warehouse.engine import Warehouse, WarehouseError, table_names, transaction

_DELTA = "_twin_bronze_delta"


class _Db(Protocol):
    """What the merge helpers use of a `Warehouse`; refresh_silver passes its own connection."""

    con: duckdb.DuckDBPyConnection

    def tables(self, schema: str) -> list[str]: ...


_SILVER_MARKS = "_twin_silver_watermarks"
_SILVER_DELTA = "_twin_silver_delta_"


class RefreshStats(BaseModel):
    model_config = ConfigDict(frozen=True)

    new_bronze_rows: dict[str, int]
    merged: dict[str, int]
    """Silver relation → candidate rows merged."""
    rebuilt: list[str]
    keyed: dict[str, int] = {}
    """Keyed model → keys recomputed (the rest of its rows were untouched)."""
    seconds: float

    @property
    def changed(self) -> bool:
        return bool(self.new_bronze_rows)


def _watermarks(wh: _Db) -> dict[str, datetime | None]:
    rows = wh.con.execute(
        f"SELECT bronze_table, ingested_through FROM {META_SCHEMA}._twin_watermarks"
    ).fetchall()
    return {r[0]: r[1] for r in rows}


def _silver_watermarks(wh: _Db, *, exists: bool = False) -> dict[str, datetime]:
    if not exists and _SILVER_MARKS not in wh.tables(META_SCHEMA):
        return {}
    rows = wh.con.execute(
        f"SELECT bronze_table, merged_through FROM {META_SCHEMA}.{_SILVER_MARKS}"
    ).fetchall()
    return {r[0]: r[1] for r in rows if r[1] is not None}


def _ahead(silver: datetime | None, gold: datetime | None) -> bool:
    """Whether refresh_silver has merged bronze rows past the gold watermark."""
    return silver is not None and (gold is None or silver > gold)


def _merged_mark(
    table: str, gold: dict[str, datetime | None], silver: dict[str, datetime]
) -> datetime | None:
    """Through which ingestion time `table`'s rows are in silver: the later of the two refreshes' marks."""
    return silver[table] if _ahead(silver.get(table), gold.get(table)) else gold.get(table)


def merged_through(wh: Warehouse) -> dict[str, datetime | None]:
    """Per bronze table, the ingestion time through which its rows have been merged into silver (by
    either refresh): a streaming reader's "visible in silver" line."""
    db = _Session(wh)
    try:
        marks = _watermarks(db)
        silver = _silver_watermarks(db)
    finally:
        db.con.close()
    return {t: _merged_mark(t, marks, silver) for t in marks.keys() | silver.keys()}


def _merge(wh: _Db, spec: ModelSpec, source: str, delta: str) -> tuple[int, str]:
    """Run `spec`'s SQL with `source` (a quoted relation it reads) replaced by the `delta` rows, and merge
    the result into the model by natural key and version order. Returns the candidate count and the
    temp table of winning rows for the affected keys (the delta a downstream merge model reads)."""
    if source not in spec.sql:
        raise WarehouseError(f"{spec.relation}: compiled SQL does not read {source}")
    con = wh.con
    winners = "_twin_winners_" + spec.relation.replace(".", "_")
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE _twin_candidates AS {spec.sql.replace(source, delta)}"
    ).fetchall()
    key = ", ".join(spec.natural_key)
    on = " AND ".join(f"s.{k} IS NOT DISTINCT FROM c.{k}" for k in spec.natural_key)
    # One scan of the model finds the current rows of the affected keys, with their row ids, so the
    # delete below touches only those rows instead of joining the whole table a second time.
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _twin_current AS
            SELECT s.rowid AS _twin_rowid, s.* FROM {spec.relation} s SEMI JOIN _twin_candidates c ON {on}"""
    ).fetchall()
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {winners} AS
            SELECT * FROM (
                SELECT * FROM _twin_candidates
                UNION ALL BY NAME
                SELECT * EXCLUDE (_twin_rowid) FROM _twin_current
            ) QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {spec.version_order}) = 1"""
    ).fetchall()
    con.execute(
        f"DELETE FROM {spec.relation} WHERE rowid IN (SELECT _twin_rowid FROM _twin_current)"
    ).fetchall()
    con.execute(f"INSERT INTO {spec.relation} BY NAME SELECT * FROM {winners}").fetchall()
    con.execute("DROP TABLE _twin_current").fetchall()
    n = int(con.execute("SELECT count(*) FROM _twin_candidates").fetchall()[0][0])
    con.execute("DROP TABLE _twin_candidates").fetchall()
    return n, winners


def _bronze_delta(wh: _Db, table: str, since: datetime | None, through: datetime) -> str:
    bounds = "_ingested_at <= ?" + (" AND _ingested_at > ?" if since is not None else "")
    params: list[object] = [through]
    if since is not None:
        params.append(since)
    wh.con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_DELTA} AS SELECT * FROM bronze.{table} WHERE {bounds}", params
    ).fetchall()
    return _DELTA


def _rebuild(wh: Warehouse, spec: ModelSpec) -> None:
    wh.con.execute(f"DELETE FROM {spec.relation}").fetchall()
    wh.con.execute(f"INSERT INTO {spec.relation} BY NAME SELECT * FROM ({spec.sql})").fetchall()


_KEYS = "_twin_refresh_keys"


def _keyed(wh: Warehouse, spec: ModelSpec, deltas: dict[str, str]) -> int:
    """Recompute only the rows of `spec` whose key the changed inputs touch: its SQL with every input
    narrowed by `spec.restrict` to those keys. Returns the number of keys recomputed."""
    con, key = wh.con, spec.refresh_key
    sources = " UNION ".join(
        sql.replace("{delta}", deltas[rel]) for rel, sql in sorted(spec.keys_from.items()) if rel in deltas
    )
    con.execute(f"CREATE OR REPLACE TEMP TABLE {_KEYS} AS SELECT DISTINCT {key} FROM ({sources})").fetchall()
    sql = spec.sql
    for rel, predicate in spec.restrict.items():
        quoted = ".".join(f'"{part}"' for part in rel.split("."))
        if quoted not in sql:
            raise WarehouseError(f"{spec.relation}: compiled SQL does not read {rel}")
        sql = sql.replace(quoted, f"(SELECT * FROM {quoted} WHERE {predicate.replace('{keys}', _KEYS)})")
    con.execute(f"DELETE FROM {spec.relation} WHERE {key} IN (SELECT {key} FROM {_KEYS})").fetchall()
    con.execute(f"INSERT INTO {spec.relation} BY NAME SELECT * FROM ({sql})").fetchall()
    n = int(con.execute(f"SELECT count(*) FROM {_KEYS}").fetchall()[0][0])
    con.execute(f"DROP TABLE {_KEYS}").fetchall()
    return n


def _catch_up(
    wh: Warehouse, spec: ModelSpec, gold: datetime | None, silver: datetime, high: datetime
) -> tuple[int, str]:
    """A bronze-fed merge model whose rows up to `silver` refresh_silver already merged: merge the rest,
    and return as its delta the model's rows ingested after the gold watermark. Those are exactly the
    versions that became current since gold last looked (a merge only replaces a key's row by a newer
    one), which is all a downstream merge or keyed model needs."""
    table = spec.source_table or ""
    n = 0
    if high > silver:
        n, winners = _merge(wh, spec, f'"bronze"."{table}"', _bronze_delta(wh, table, silver, high))
        wh.con.execute(f"DROP TABLE {winners}").fetchall()
    delta = _SILVER_DELTA + spec.relation.replace(".", "_")
    where, params = ("WHERE _ingested_at > ?", [gold]) if gold is not None else ("", [])
    wh.con.execute(
        f"CREATE OR REPLACE TEMP TABLE {delta} AS SELECT * FROM {spec.relation} {where}", params
    ).fetchall()
    return n, delta


class _Session:
    """A private connection to the warehouse's database, with the two things the helpers above use of a
    `Warehouse` (`con`, `tables`): refresh_silver merges on one, so the ingesters keep appending (DuckDB
    runs the two transactions side by side; they write different tables)."""

    def __init__(self, wh: Warehouse) -> None:
        self.con = wh.con.cursor()

    def tables(self, schema: str) -> list[str]:
        return table_names(self.con, schema)


def _merge_feed(db: _Db, spec: ModelSpec, table: str, since: datetime | None, through: datetime) -> int:
    """`_merge` for refresh_silver, in three statements instead of about ten: the bronze delta is a
    subquery of the model's SQL, one pass ranks candidates and the current rows of their keys together,
    and only what changes is written (the current rows that lost, the candidates that won). Same result
    as `_merge`: a current row that wins stays as it is rather than being deleted and inserted again.
    Nothing downstream reads a winners table here, so none is kept. Returns the candidate count."""
    source = f'"bronze"."{table}"'
    if source not in spec.sql:
        raise WarehouseError(f"{spec.relation}: compiled SQL does not read {source}")
    bounds = "_ingested_at <= $through" + (" AND _ingested_at > $since" if since is not None else "")
    params: dict[str, object] = {"through": through}
    if since is not None:
        params["since"] = since
    sql = spec.sql.replace(source, f"(SELECT * FROM bronze.{table} WHERE {bounds})")
    key = ", ".join(spec.natural_key)
    on = " AND ".join(f"s.{k} IS NOT DISTINCT FROM c.{k}" for k in spec.natural_key)
    con = db.con
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _twin_feed_merge AS
            WITH _twin_c AS MATERIALIZED ({sql}),
            _twin_all AS (
                SELECT *, NULL::BIGINT AS _twin_rowid FROM _twin_c
                UNION ALL BY NAME
                SELECT s.rowid AS _twin_rowid, s.* FROM {spec.relation} s SEMI JOIN _twin_c c ON {on}
            )
            SELECT *, row_number() OVER (PARTITION BY {key} ORDER BY {spec.version_order}) = 1 AS _twin_win
            FROM _twin_all""",
        params,
    ).fetchall()
    con.execute(
        f"DELETE FROM {spec.relation} WHERE rowid IN "
        "(SELECT _twin_rowid FROM _twin_feed_merge WHERE _twin_rowid IS NOT NULL AND NOT _twin_win)"
    ).fetchall()
    con.execute(
        f"""INSERT INTO {spec.relation} BY NAME
            SELECT * EXCLUDE (_twin_rowid, _twin_win) FROM _twin_feed_merge
            WHERE _twin_win AND _twin_rowid IS NULL"""
    ).fetchall()
    return int(
        con.execute("SELECT count(*) FROM _twin_feed_merge WHERE _twin_rowid IS NULL").fetchall()[0][0]
    )


def refresh_silver(wh: Warehouse) -> RefreshStats:
    """Merge bronze rows appended since the last refresh into silver's event feeds, and nothing else.

    One transaction, like `refresh_gold`, cheap enough to run every second while streaming. Only its
    start holds the warehouse lock: the snapshot it reads is taken there, when no append stands between
    taking its ingestion time and committing, so no row at or below the new watermark can commit later.
    Feeds whose bronze table did not grow cost one aggregate and nothing else."""
    started = time.perf_counter()
    new: dict[str, int] = {}
    merged: dict[str, int] = {}
    db = _Session(wh)
    try:
        # Read outside the lock: the appends wait on it, and parsing the recorded models is not free.
        feeds = [s for s in recorded_models(db) if s.refresh == "merge" and s.source_table]
        # One catalog lookup for both schemas (information_schema costs several ms a query).
        present = {
            (schema, name)
            for schema, name in db.con.execute(
                "SELECT schema_name, table_name FROM duckdb_tables() WHERE schema_name IN (?, 'bronze')",
                [META_SCHEMA],
            ).fetchall()
        }
        if (META_SCHEMA, _SILVER_MARKS) not in present:
            db.con.execute(
                f"CREATE TABLE IF NOT EXISTS {META_SCHEMA}.{_SILVER_MARKS} "
                "(bronze_table VARCHAR PRIMARY KEY, merged_through TIMESTAMP)"
            ).fetchall()
        feeds = [s for s in feeds if ("bronze", s.source_table) in present]
        with wh.write_lock:
            db.con.execute("BEGIN TRANSACTION").fetchall()
            marks = _watermarks(db)
            silver_marks = _silver_watermarks(db, exists=True)
            sinces = {
                s.source_table: _merged_mark(s.source_table, marks, silver_marks)
                for s in feeds
                if s.source_table
            }
            grown = _grown(db, sinces)
        todo: list[tuple[ModelSpec, str, datetime | None, datetime]] = []
        for spec in feeds:
            table = spec.source_table or ""
            if table in grown:
                todo.append((spec, table, sinces[table], grown[table][1]))
        new = {table: grown[table][0] for _, table, _, _ in todo}
        try:
            for spec, table, since, high in todo:
                merged[spec.relation] = _merge_feed(db, spec, table, since, high)
            if todo:
                db.con.execute("DROP TABLE IF EXISTS _twin_feed_merge").fetchall()
                db.con.executemany(
                    f"INSERT OR REPLACE INTO {META_SCHEMA}.{_SILVER_MARKS} VALUES (?, ?)",
                    [[table, high] for _, table, _, high in todo],
                )
            db.con.execute("COMMIT").fetchall()
        except BaseException:
            db.con.execute("ROLLBACK").fetchall()
            raise
    finally:
        db.con.close()
    return RefreshStats(new_bronze_rows=new, merged=merged, rebuilt=[], seconds=time.perf_counter() - started)


def _grown(db: _Db, sinces: dict[str, datetime | None]) -> dict[str, tuple[int, datetime]]:
    """Per bronze table with rows past its watermark: (how many, the newest ingestion time). One
    statement for every feed instead of one each."""
    if not sinces:
        return {}
    parts, params = [], []
    for table, since in sinces.items():
        where = "WHERE _ingested_at > ?" if since is not None else ""
        parts.append(f"SELECT ? AS t, count(*) AS n, max(_ingested_at) AS high FROM bronze.{table} {where}")
        params += [table] + ([since] if since is not None else [])
    rows = db.con.execute(" UNION ALL ".join(parts), params).fetchall()
    return {t: (int(n), high) for t, n, high in rows if n and high is not None}


def refresh_gold(wh: Warehouse) -> RefreshStats:
    """Bring silver and gold up to date with bronze rows appended since the last build or refresh."""
    started = time.perf_counter()
    specs = recorded_models(wh)
    with wh.write_lock:
        marks = _watermarks(wh)
        silver_marks = _silver_watermarks(wh)
        grown = _grown(wh, {table: marks.get(table) for table in wh.tables("bronze")})
        new = {table: n for table, (n, _) in grown.items()}
        highs = {table: high for table, (_, high) in grown.items()}
        dirty = {f"bronze.{t}" for t in new}
        merged: dict[str, int] = {}
        deltas: dict[str, str] = {}
        rebuilt: list[str] = []
        keyed: dict[str, int] = {}
        if dirty:
            with transaction(wh.con):
                for spec in specs:
                    changed = dirty.intersection(spec.depends_on)
                    if not changed:
                        continue
                    dirty.add(spec.relation)
                    if spec.materialized == "view":
                        continue
                    if (
                        spec.refresh == "merge"
                        and spec.source_table
                        and _ahead(silver_marks.get(spec.source_table), marks.get(spec.source_table))
                    ):
                        merged[spec.relation], deltas[spec.relation] = _catch_up(
                            wh,
                            spec,
                            marks.get(spec.source_table),
                            silver_marks[spec.source_table],
                            highs[spec.source_table],
                        )
                    elif spec.refresh == "merge" and spec.source_table:
                        table = spec.source_table
                        delta = _bronze_delta(wh, table, marks.get(table), highs[table])
                        merged[spec.relation], deltas[spec.relation] = _merge(
                            wh, spec, f'"bronze"."{table}"', delta
                        )
                    elif spec.refresh == "merge" and spec.delta_of in deltas and changed == {spec.delta_of}:
                        schema, name = spec.delta_of.split(".")
                        merged[spec.relation], deltas[spec.relation] = _merge(
                            wh, spec, f'"{schema}"."{name}"', deltas[spec.delta_of]
                        )
                    elif (
                        spec.refresh == "keyed"
                        and spec.refresh_key
                        and changed <= spec.keys_from.keys()
                        and changed <= deltas.keys()
                    ):
                        keyed[spec.relation] = _keyed(wh, spec, deltas)
                    else:
                        _rebuild(wh, spec)
                        rebuilt.append(spec.relation)
                for temp in [_DELTA, *deltas.values()]:
                    wh.con.execute(f"DROP TABLE IF EXISTS {temp}").fetchall()
                wh.con.executemany(
                    f"INSERT OR REPLACE INTO {META_SCHEMA}._twin_watermarks VALUES (?, ?)",
                    [[t, h] for t, h in highs.items()],
                )
    return RefreshStats(
        new_bronze_rows=new,
        merged=merged,
        rebuilt=rebuilt,
        keyed=keyed,
        seconds=time.perf_counter() - started,
    )
