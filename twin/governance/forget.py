"""Right to be forgotten: anonymise one customer in place across silver and gold.

Direct identifiers are replaced by a keyed hash (HMAC-SHA256 under the audit key), so the customer's
rows still join and aggregate but can no longer be tied to the person; the audit log keeps the proof
(the subject token and the row counts), never the identifiers. Bronze is append-only by design and is
left alone: its retention, not an update, removes raw records.
"""

from __future__ import annotations

import hashlib
import hmac

import duckdb
from pydantic import BaseModel

from twin.governance.audit import AuditLog
from twin.governance.errors import GovernanceError
from twin.governance.store import bump_generation

SCHEMAS = ("silver", "gold")
IDENTIFIERS = frozenset(
    {"name", "first_name", "last_name", "full_name", "ssn", "email", "phone", "address", "street",
     "date_of_birth", "dob", "account_number", "card_number"}
)  # fmt: skip


class ForgetReport(BaseModel):
    subject: str
    rows: dict[str, int]


def token(key: bytes, value: str) -> str:
    return "anon_" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


def forget(
    con: duckdb.DuckDBPyConnection, customer_id: str, *, audit: AuditLog, actor: str = "admin"
) -> ForgetReport:
    cols = con.execute(
        """SELECT table_schema, table_name, list(column_name), list(data_type)
           FROM information_schema.columns c
           WHERE table_schema IN ('silver', 'gold') AND table_catalog = current_database()
             AND (SELECT table_type FROM information_schema.tables t WHERE t.table_schema = c.table_schema
                  AND t.table_name = c.table_name AND t.table_catalog = c.table_catalog) = 'BASE TABLE'
           GROUP BY ALL ORDER BY 1, 2"""
    ).fetchall()
    key = audit._key
    subject = token(key, customer_id)
    rows: dict[str, int] = {}
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        for schema, table, names, types in cols:
            if "customer_id" not in names:
                continue
            targets = [
                n
                for n, t in zip(names, types, strict=True)
                if n.lower() in IDENTIFIERS and "VARCHAR" in t.upper()
            ]
            if not targets:
                continue
            sets = ", ".join(f'"{c}" = CASE WHEN "{c}" IS NULL THEN NULL ELSE ? END' for c in targets)
            params: list[str] = [token(key, f"{customer_id}:{c}") for c in targets]
            n = con.execute(
                f'UPDATE "{schema}"."{table}" SET {sets} WHERE customer_id = ?', [*params, customer_id]
            ).fetchall()
            rows[f"{schema}.{table}"] = int(n[0][0]) if n else 0
        con.execute("COMMIT").fetchall()
    except duckdb.Error as e:
        con.execute("ROLLBACK").fetchall()
        raise GovernanceError(f"forget failed, nothing changed: {e}") from None
    if not any(rows.values()):
        raise GovernanceError(f"customer {customer_id!r} not found in silver or gold")
    audit.append("forget", user=actor, subject=subject, rows=rows)
    bump_generation()
    return ForgetReport(subject=subject, rows=rows)
