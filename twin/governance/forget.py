"""Right to be forgotten: a customer's identifiers erased for good, in every layer and every later load.

`forget` anonymises the customer's direct identifiers in place wherever they are (bronze, silver, gold
and published tables) and adds the customer to the warehouse's erasure register, which every later
write into bronze or a published schema honours (`twin.warehouse.erasure` explains why both are
needed). Rows keep their `customer_id`, so they still join and aggregate; text identifiers become
per-subject tokens and other identifiers (a date of birth) NULL.

The subject token is a keyed hash (HMAC-SHA256 under a secret derived from the audit's signing key) of
the customer id, and the register keeps the first one, so forgetting the same customer twice gives the
same token and changes nothing. The audit log keeps the proof (token, rows anonymised per table, the
residue check after the change), never the raw id or an identifier; a request for an unknown id is
refused and audited the same way."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
from datetime import UTC, datetime

import duckdb
from pydantic import BaseModel, ConfigDict

from twin.governance.audit import AuditLog
from twin.governance.errors import GovernanceError
from twin.governance.store import bump_generation
from twin.warehouse.erasure import IDENTIFIERS, Erasure, erase, lookup, record, residue

__all__ = ["IDENTIFIERS", "ForgetReport", "forget", "token"]


class ForgetReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str
    rows: dict[str, int]
    """Rows anonymised per table (`schema.table`)."""
    already_forgotten: bool = False
    """The customer was in the erasure register before this request (the request changed nothing)."""
    checkpointed: bool = False
    """The database was checkpointed afterwards, so the erased values no longer sit in its write-ahead log."""


def token(key: bytes, value: str) -> str:
    return "anon_" + hmac.new(key, value.encode(), hashlib.sha256).hexdigest()[:24]


def _subject(audit: AuditLog, customer_id: str) -> str:
    # A secret only the audit writer holds makes the token unlinkable without it.
    return token(audit.pseudonym_key, customer_id)


def forget(
    con: duckdb.DuckDBPyConnection, customer_id: str, *, audit: AuditLog, actor: str = "admin"
) -> ForgetReport:
    """Forget `customer_id` everywhere, for good; raises GovernanceError (audited) for an unknown id."""
    if not customer_id.strip():
        raise GovernanceError("customer id is empty: pass the id of the customer to forget, e.g. C00042")
    con.execute("BEGIN TRANSACTION").fetchall()
    try:
        known = lookup(con, customer_id)
        subject = known.subject if known else _subject(audit, customer_id)
        rows = erase(con, customer_id, subject)
        if not rows and known is None:
            con.execute("ROLLBACK").fetchall()
            audit.append("forget", user=actor, subject=subject, outcome="unknown_subject", rows={})
            raise GovernanceError(
                f"customer {customer_id!r} not found in any table (bronze, silver, gold or published): "
                "check the id; nothing was changed"
            )
        record(con, [Erasure(customer_id=customer_id, subject=subject, erased_at=_now())])
        left = residue(con, customer_id, subject)
        if left:
            raise GovernanceError(f"forget incomplete, identifiers left in {sorted(left)}; nothing changed")
        con.execute("COMMIT").fetchall()
    except GovernanceError:
        _rollback(con)
        raise
    except duckdb.Error as e:
        _rollback(con)
        raise GovernanceError(f"forget failed, nothing changed: {e}") from None
    checkpointed = _checkpoint(con)
    audit.append(
        "forget",
        user=actor,
        subject=subject,
        outcome="repeat" if known else "erased",
        rows=rows,
        residue=0,
        checkpointed=checkpointed,
    )
    bump_generation()
    return ForgetReport(
        subject=subject, rows=rows, already_forgotten=known is not None, checkpointed=checkpointed
    )


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    # Already rolled back (the unknown-id path), or the transaction failed on its own.
    with contextlib.suppress(duckdb.Error):
        con.execute("ROLLBACK").fetchall()


def _checkpoint(con: duckdb.DuckDBPyConnection) -> bool:
    """Write the change into the database file so the replaced values leave the write-ahead log. Fails
    while another connection has a transaction open; the log is then checkpointed later as usual."""
    try:
        con.execute("CHECKPOINT").fetchall()
    except duckdb.Error:
        return False
    return True
