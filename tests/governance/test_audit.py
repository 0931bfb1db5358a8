# ruff: noqa: E501 -- SQL cases read best kept on one line
"""Audit log: every query and policy change is chained; tampering is detected at the first bad record."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from twin.governance.audit import AuditLog
from twin.governance.ddl import parse_policies
from twin.governance.errors import QueryDenied
from twin.governance.session import Claims, open_session
from twin.governance.store import apply_policies
from twin.warehouse.engine import Warehouse


def _log(path: Path, n: int = 6) -> list[str]:
    with AuditLog(path) as log:
        for i in range(n):
            log.append("query", user=f"u{i}", sql=f"SELECT {i}", allowed=True)
    return path.read_text().splitlines()


def _verify(path: Path):
    with AuditLog(path) as log:
        return log.verify()


def test_intact_chain_verifies_and_survives_reopen(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    _log(p, 3)
    _log(p, 3)  # a second writer continues the chain
    r = _verify(p)
    assert r.ok and r.records == 6


def test_edit_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = _log(p)
    rec = json.loads(lines[2])
    rec["user"] = "someone-else"
    lines[2] = json.dumps(rec, sort_keys=True, separators=(",", ":"))
    p.write_text("\n".join(lines) + "\n")
    r = _verify(p)
    assert not r.ok and r.first_bad_line == 3 and r.first_bad_seq == 3


def test_delete_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = _log(p)
    del lines[1]
    p.write_text("\n".join(lines) + "\n")
    r = _verify(p)
    assert not r.ok and r.first_bad_line == 2


def test_insert_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = _log(p)
    forged = json.loads(lines[3])
    forged["sql"] = "SELECT 'forged'"
    lines.insert(4, json.dumps(forged))
    p.write_text("\n".join(lines) + "\n")
    r = _verify(p)
    assert not r.ok and r.first_bad_line == 5


def test_reorder_is_detected(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    lines = _log(p)
    lines[3], lines[4] = lines[4], lines[3]
    p.write_text("\n".join(lines) + "\n")
    r = _verify(p)
    assert not r.ok and r.first_bad_line == 4


def test_resealing_without_the_key_fails(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    _log(p)
    other = tmp_path / "other.jsonl"
    _log(other)  # a different key: a chain sealed elsewhere does not verify here
    p.write_text(other.read_text())
    assert not _verify(p).ok


def test_queries_denials_and_policy_changes_are_logged(fresh: Warehouse, audit: AuditLog) -> None:
    with open_session(fresh, Claims(user="ann", role="RETAIL_TELLER"), audit=audit) as s:
        s.query("SELECT count(*) FROM gold.customer_360")
        with pytest.raises(QueryDenied):
            s.query("SELECT * FROM silver.customers")
    apply_policies(
        fresh.con,
        parse_policies("CREATE OR REPLACE MASKING POLICY z AS (v STRING) RETURNS STRING -> 'z'"),
        actor="bob",
        audit=audit,
    )
    recs = list(audit.records())
    ok, denied, change = recs[-3:]
    assert ok["allowed"] and ok["tables"] == ["gold.customer_360"] and ok["rows"] == 1 and ok["user"] == "ann"
    assert not denied["allowed"] and "silver.customers" in denied["reason"]
    assert change["kind"] == "policy_change" and change["user"] == "bob" and change["new_hash"]
    assert audit.verify().ok


def test_query_history_is_for_auditors_only(fresh: Warehouse, audit: AuditLog) -> None:
    with open_session(fresh, Claims(user="ann", role="RETAIL_TELLER"), audit=audit) as s:
        s.query("SELECT 1 AS one")
        with pytest.raises(QueryDenied, match="COMPLIANCE_AUDITOR"):
            s.query("SELECT * FROM account_usage.query_history")
    with open_session(fresh, Claims(user="carl", role="COMPLIANCE_AUDITOR"), audit=audit) as s:
        rows = s.query(
            "SELECT user_name, role_name, execution_status FROM snowflake.account_usage.query_history ORDER BY query_id"
        ).rows
    assert rows[:2] == [("ann", "RETAIL_TELLER", "SUCCESS"), ("ann", "RETAIL_TELLER", "FAIL")]
