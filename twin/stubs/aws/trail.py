"""Reading the endpoint's CloudTrail-like trail: the `aws_call` records of its hash-chained audit log.

Reading needs no key and takes no lock (the log is append-only, one JSON record per line); checking
that nobody edited it is `twin audit verify --log <state>/cloudtrail.jsonl --digests
<state>/cloudtrail.jsonl.digests --keys <state>/keys`, as for the warehouse log.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from twin.stubs.aws.router import AUDIT_KIND

__all__ = ["query_trail"]


def query_trail(
    log: Path,
    *,
    account: str | None = None,
    service: str | None = None,
    outcome: str | None = None,
    operation: str | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """Matching calls, oldest first (the newest `limit` of them when given)."""
    out: list[dict[str, Any]] = []
    with open(log, "rb") as f:
        for raw in f:
            try:
                rec = json.loads(raw)
            except ValueError:
                continue  # a torn last line; `verify` reports it
            if not isinstance(rec, dict) or rec.get("kind") != AUDIT_KIND:
                continue
            if account is not None and rec.get("account") != account:
                continue
            if service is not None and rec.get("service") != service:
                continue
            if outcome is not None and rec.get("outcome") != outcome:
                continue
            if operation is not None and rec.get("operation") != operation:
                continue
            out.append(rec)
    return out[-limit:] if limit else out
