"""Append-only, hash-chained audit log (the KMS + Object Lock stand-in).

One JSON record per line. Each record carries its sequence number, the previous record's hash and its
own hash: HMAC-SHA256 under a key kept beside the log (the KMS key's stand-in) over the previous hash
and the record's canonical JSON. Editing, deleting, inserting or reordering a record breaks the chain at
that record, and without the key nobody can re-seal a forged chain.
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import json
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel

GENESIS = "0" * 64


class VerifyResult(BaseModel):
    ok: bool
    records: int
    first_bad_line: int | None = None
    first_bad_seq: int | None = None
    reason: str | None = None


def _canonical(rec: dict[str, Any]) -> bytes:
    return json.dumps(rec, sort_keys=True, separators=(",", ":"), default=str).encode()


def sql_hash(sql: str) -> str:
    return hashlib.sha256(sql.encode()).hexdigest()


class AuditLog:
    """Appends records under an exclusive file lock, so several processes can share one log."""

    def __init__(self, path: str | Path, key_path: str | Path | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.key_path = Path(key_path) if key_path else self.path.with_name(self.path.name + ".key")
        self._key = self._load_key()
        self._lock = threading.Lock()
        self._fh = open(self.path, "a+b")  # noqa: SIM115 - kept open for the log's lifetime
        self._size = -1
        self._seq = 0
        self._prev = GENESIS

    def _load_key(self) -> bytes:
        if not self.key_path.exists():
            fd = os.open(self.key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(os.urandom(32).hex().encode())
        return bytes.fromhex(self.key_path.read_text().strip())

    def seal(self, prev: str, rec: dict[str, Any]) -> str:
        return hmac.new(self._key, prev.encode() + _canonical(rec), hashlib.sha256).hexdigest()

    def _refresh_tail(self) -> None:
        size = os.fstat(self._fh.fileno()).st_size
        if size == self._size:
            return
        self._seq, self._prev = 0, GENESIS
        if size:
            # Only the last line matters: read backwards until a full line is in hand.
            chunk = 4096
            while True:
                start = max(0, size - chunk)
                self._fh.seek(start)
                data = self._fh.read(size - start)
                lines = data.rstrip(b"\n").split(b"\n")
                if len(lines) > 1 or start == 0:
                    last = json.loads(lines[-1])
                    self._seq, self._prev = int(last["seq"]), str(last["hash"])
                    break
                chunk *= 4
        self._size = size

    def append(self, kind: str, **fields: Any) -> dict[str, Any]:
        with self._lock:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX)
            try:
                self._refresh_tail()
                rec: dict[str, Any] = {
                    "seq": self._seq + 1,
                    "ts": datetime.now(UTC).isoformat(),
                    "kind": kind,
                    **fields,
                    "prev": self._prev,
                }
                rec["hash"] = self.seal(self._prev, rec)
                line = _canonical(rec) + b"\n"
                self._fh.seek(0, os.SEEK_END)
                self._fh.write(line)
                self._fh.flush()
                self._seq, self._prev = rec["seq"], rec["hash"]
                self._size = os.fstat(self._fh.fileno()).st_size
                return rec
            finally:
                fcntl.flock(self._fh.fileno(), fcntl.LOCK_UN)

    def records(self) -> Iterator[dict[str, Any]]:
        if not self.path.exists():
            return
        with open(self.path, "rb") as f:
            for raw in f:
                if raw.strip():
                    yield json.loads(raw)

    def verify(self) -> VerifyResult:
        prev, seq, n = GENESIS, 0, 0
        with open(self.path, "rb") as f:
            for lineno, raw in enumerate(f, start=1):
                n = lineno

                def bad(reason: str, rec_seq: int | None = None, lineno: int = lineno) -> VerifyResult:
                    return VerifyResult(
                        ok=False,
                        records=lineno - 1,
                        first_bad_line=lineno,
                        first_bad_seq=rec_seq,
                        reason=reason,
                    )

                try:
                    rec = json.loads(raw)
                    claimed = rec.pop("hash")
                except (ValueError, KeyError, AttributeError):
                    return bad("not a sealed JSON record")
                rec_seq = rec.get("seq")
                if rec.get("prev") != prev:
                    return bad("chain broken: previous-hash does not match the record before it", rec_seq)
                if rec_seq != seq + 1:
                    return bad(f"sequence jumps from {seq} to {rec_seq}", rec_seq)
                if not hmac.compare_digest(self.seal(prev, rec), str(claimed)):
                    return bad("content does not match its seal (edited or forged)", rec_seq)
                prev, seq = claimed, rec_seq
        return VerifyResult(ok=True, records=n)

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


QUERY_HISTORY_COLUMNS = [
    "query_id",
    "query_text",
    "query_hash",
    "user_name",
    "role_name",
    "start_time",
    "total_elapsed_time",
    "rows_produced",
    "execution_status",
    "error_message",
    "tables_accessed",
]


def query_history_rows(log: AuditLog) -> list[tuple[Any, ...]]:
    """Query records shaped like Snowflake's ACCOUNT_USAGE.QUERY_HISTORY."""
    out = []
    for r in log.records():
        if r.get("kind") != "query":
            continue
        out.append(
            (
                r["seq"],
                r.get("sql"),
                r.get("sql_hash"),
                r.get("user"),
                r.get("role"),
                datetime.fromisoformat(r["ts"]).replace(tzinfo=None),
                float(r.get("duration_ms") or 0.0),
                int(r.get("rows") or 0),
                "SUCCESS" if r.get("allowed") else "FAIL",
                r.get("reason"),
                ",".join(r.get("tables") or []),
            )
        )
    return out
