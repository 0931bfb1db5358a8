"""The erasure register: customers forgotten on request (GDPR art. 17), honoured by every write.

Anonymising silver and gold alone does not last: both are rebuilt from bronze, so the next `dbt build`
or refresh brought the name and SSN back. Forgetting therefore does two things, because each closes a
gap the other leaves:

- it anonymises the customer's rows where they already are, bronze included (the one sanctioned
  exception to bronze being append-only: the law asks for erasure, not for a corrected record), so a
  rebuild from bronze finds nothing to bring back;
- it records the customer in this register, and every later write into bronze or a published schema
  (fixture loads, stream batches, dead-letter replays, `twin warehouse load`) passes through `scrub_*`,
  which anonymises the register's customers on the way in. Re-delivered source data cannot resurrect
  them, and silver and gold, built only from bronze, follow.

The register keeps `customer_id`, the surrogate key silver and gold keep too (so the customer's rows
still join and aggregate), and the subject token; never a name or identifier. Replacement values are
derived from the subject token alone (`replacement`), in Python and in SQL alike, so a row anonymised
at forget time and one scrubbed at load time carry the same value, and a re-forget changes nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime

import duckdb
import pyarrow as pa
from pydantic import BaseModel, ConfigDict

from twin.warehouse.catalog import META_SCHEMA
from twin.warehouse.engine import SYSTEM_SCHEMAS

REGISTER_TABLE = "_twin_erasures"
REGISTER = f"{META_SCHEMA}.{REGISTER_TABLE}"
SUBJECT_KEY = "customer_id"
IDENTIFIERS = frozenset(
    {"name", "first_name", "last_name", "full_name", "ssn", "email", "phone", "address", "street",
     "date_of_birth", "dob", "account_number", "card_number"}
)  # fmt: skip
"""Columns that identify a person, erased in any table that also has a `customer_id` column. Every
column the dbt project tags `pii` must be here (tests/governance/test_forget_lasts.py checks it)."""


class Erasure(BaseModel):
    """One forgotten customer."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_id: str
    subject: str
    erased_at: datetime


def replacement(subject: str, column: str) -> str:
    """The value a text identifier takes once its customer is forgotten: one per (subject, column), so
    joins on the anonymised value still line up. `_replacement_sql` computes the same in DuckDB."""
    return "anon_" + hashlib.sha256(f"{subject}:{column.lower()}".encode()).hexdigest()[:24]


def _replacement_sql(subject: str, column: str) -> str:
    # `column` is one of IDENTIFIERS (plain lowercase words), so the literal needs no escaping.
    return f"'anon_' || left(sha256({subject} || ':{column.lower()}'), 24)"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def register_exists(con: duckdb.DuckDBPyConnection) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE database_name = current_database() "
        "AND schema_name = ? AND table_name = ?",
        [META_SCHEMA, REGISTER_TABLE],
    ).fetchall()
    return bool(rows[0][0])


def ensure_register(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {META_SCHEMA}").fetchall()
    con.execute(
        f"CREATE TABLE IF NOT EXISTS {REGISTER} "
        "(customer_id VARCHAR PRIMARY KEY, subject VARCHAR NOT NULL, erased_at TIMESTAMP NOT NULL)"
    ).fetchall()


def erasures(con: duckdb.DuckDBPyConnection) -> list[Erasure]:
    """Every forgotten customer, oldest first (none when nothing was ever forgotten)."""
    if not register_exists(con):
        return []
    rows = con.execute(
        f"SELECT customer_id, subject, erased_at FROM {REGISTER} ORDER BY erased_at, customer_id"
    ).fetchall()
    return [Erasure(customer_id=c, subject=s, erased_at=t) for c, s, t in rows]


def lookup(con: duckdb.DuckDBPyConnection, customer_id: str) -> Erasure | None:
    if not register_exists(con):
        return None
    rows = con.execute(
        f"SELECT customer_id, subject, erased_at FROM {REGISTER} WHERE customer_id = ?", [customer_id]
    ).fetchall()
    return Erasure(customer_id=rows[0][0], subject=rows[0][1], erased_at=rows[0][2]) if rows else None


def record(con: duckdb.DuckDBPyConnection, entries: Sequence[Erasure]) -> int:
    """Add `entries` to the register (existing customers keep their first entry); returns how many
    were new."""
    ensure_register(con)
    if not entries:
        return 0
    before = int(con.execute(f"SELECT count(*) FROM {REGISTER}").fetchall()[0][0])
    con.executemany(
        f"INSERT OR IGNORE INTO {REGISTER} VALUES (?, ?, ?)",
        [[e.customer_id, e.subject, e.erased_at] for e in entries],
    )
    return int(con.execute(f"SELECT count(*) FROM {REGISTER}").fetchall()[0][0]) - before


def targets(columns: Mapping[str, str]) -> dict[str, bool]:
    """The identifier columns of a relation with `columns` (name → DuckDB type), each with whether it is
    text (anonymised to a token) or not (set to NULL). Empty when the relation has no `customer_id`."""
    if SUBJECT_KEY not in {c.lower() for c in columns}:
        return {}
    return {n: t.upper() == "VARCHAR" for n, t in columns.items() if n.lower() in IDENTIFIERS}


def scrub(con: duckdb.DuckDBPyConnection, source: str, columns: Mapping[str, str]) -> str:
    """`source` (a parenthesised query or a relation) with the register's customers anonymised.

    Returns `source` unchanged when the relation carries no identifiers of a customer or when nothing
    was ever forgotten, so a stream of trades or NAVs pays nothing for this."""
    cols = targets(columns)
    if not cols or not register_exists(con):
        return source
    key = next(c for c in columns if c.lower() == SUBJECT_KEY)
    subject = "_twin_e.subject"
    replaced = []
    for name, text in cols.items():
        col = f"_twin_s.{_quote(name)}"
        value = _replacement_sql(subject, name) if text else "NULL"
        replaced.append(
            f"CASE WHEN {subject} IS NULL OR {col} IS NULL THEN {col} ELSE {value} END AS {_quote(name)}"
        )
    # A LEFT JOIN on the register's primary key keeps every row exactly once; ids compare as text, the
    # register's type, whatever type a published file gave its customer_id column.
    return (
        f"(SELECT _twin_s.* REPLACE ({', '.join(replaced)}) FROM {source} AS _twin_s "
        f"LEFT JOIN {REGISTER} AS _twin_e ON _twin_e.customer_id = _twin_s.{_quote(key)}::VARCHAR)"
    )


def arrow_columns(schema: pa.Schema) -> dict[str, str]:
    """Name → a DuckDB-style type family, enough for `targets` (only text vs not matters)."""
    return {
        f.name: "VARCHAR" if pa.types.is_string(f.type) or pa.types.is_large_string(f.type) else str(f.type)
        for f in schema
    }


def scrub_arrow(con: duckdb.DuckDBPyConnection, source: str, schema: pa.Schema) -> str:
    """`scrub` for a batch whose columns are known from its Arrow schema (no catalog look-up when the
    batch has no `customer_id`)."""
    if SUBJECT_KEY not in {n.lower() for n in schema.names}:
        return source
    return scrub(con, source, arrow_columns(schema))


def scrub_file(con: duckdb.DuckDBPyConnection, source: str, reader: str, path: str) -> str:
    """`scrub` for a query over a file (`reader` is a DuckDB table function such as read_parquet): the
    file's columns are described only when something was ever forgotten."""
    if not register_exists(con):
        return source
    described = con.execute(f"DESCRIBE SELECT * FROM {reader}(?)", [path]).fetchall()
    return scrub(con, source, {r[0]: r[1] for r in described})


def _customer_tables(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, dict[str, bool]]]:
    """Every base table of every schema (bronze, silver, gold, published ones) holding identifiers of
    a customer: (schema, table, its customer_id column, identifier column → is text). The platform's
    `_twin_*` bookkeeping tables are left out (the register itself is one)."""
    rows = con.execute(
        """SELECT schema_name, table_name, list(column_name ORDER BY column_index),
                  list(data_type ORDER BY column_index)
           FROM duckdb_columns()
           WHERE database_name = current_database() AND NOT internal
             AND schema_name NOT IN (SELECT unnest(?::VARCHAR[]))
             AND NOT starts_with(table_name, '_twin_')
             AND (schema_name, table_name) IN (
                 SELECT (schema_name, table_name) FROM duckdb_tables()
                 WHERE database_name = current_database() AND NOT temporary)
           GROUP BY ALL ORDER BY 1, 2""",
        [sorted(SYSTEM_SCHEMAS)],
    ).fetchall()
    out = []
    for schema, table, names, types in rows:
        cols = targets(dict(zip(names, types, strict=True)))
        if cols:
            key = next(n for n in names if n.lower() == SUBJECT_KEY)
            out.append((schema, table, _quote(key), cols))
    return out


def erase(con: duckdb.DuckDBPyConnection, customer_id: str, subject: str) -> dict[str, int]:
    """Anonymise `customer_id`'s identifiers in every table that has them, bronze included; returns the
    rows changed per table. Runs in the caller's transaction."""
    changed: dict[str, int] = {}
    for schema, table, key, cols in _customer_tables(con):
        sets = ", ".join(
            f"{_quote(c)} = CASE WHEN {_quote(c)} IS NULL THEN NULL ELSE ? END"
            if text
            else f"{_quote(c)} = NULL"
            for c, text in cols.items()
        )
        params = [replacement(subject, c) for c, text in cols.items() if text]
        n = con.execute(
            f"UPDATE {_quote(schema)}.{_quote(table)} SET {sets} WHERE {key}::VARCHAR = ?",
            [*params, customer_id],
        ).fetchall()
        changed[f"{schema}.{table}"] = int(n[0][0]) if n else 0
    return {t: n for t, n in changed.items() if n}


def residue(con: duckdb.DuckDBPyConnection, customer_id: str, subject: str) -> dict[str, int]:
    """Rows of `customer_id` that still hold an identifier other than its replacement, per table: the
    check behind a forget's proof (empty once the erasure is complete)."""
    left: dict[str, int] = {}
    for schema, table, key, cols in _customer_tables(con):
        still = " OR ".join(
            f"({_quote(c)} IS NOT NULL AND {_quote(c)} <> ?)" if text else f"{_quote(c)} IS NOT NULL"
            for c, text in cols.items()
        )
        params = [replacement(subject, c) for c, text in cols.items() if text]
        n = con.execute(
            f"SELECT count(*) FROM {_quote(schema)}.{_quote(table)} WHERE {key}::VARCHAR = ? AND ({still})",
            [customer_id, *params],
        ).fetchall()[0][0]
        if n:
            left[f"{schema}.{table}"] = int(n)
    return left
