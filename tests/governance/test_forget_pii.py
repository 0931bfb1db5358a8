"""Right to be forgotten and the PII scanner."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.governance.conftest import raw
from twin.governance.audit import AuditLog
from twin.governance.errors import GovernanceError
from twin.governance.forget import forget
from twin.governance.pii import luhn, scan_parquet, scan_table
from twin.warehouse.engine import Warehouse


def test_forget_anonymises_silver_and_gold_and_logs(fresh: Warehouse, audit: AuditLog) -> None:
    cid = "C00003"
    before = raw(fresh, f"SELECT name, ssn, email FROM gold.customer_360 WHERE customer_id = '{cid}'")[0]
    others = raw(
        fresh, f"SELECT count(*) FROM gold.customer_360 WHERE customer_id <> '{cid}' AND ssn LIKE 'anon_%'"
    )
    n_accounts = raw(fresh, f"SELECT count(*) FROM gold.accounts WHERE customer_id = '{cid}'")[0][0]
    report = forget(fresh.con, cid, audit=audit, actor="dpo")
    assert report.rows == {"gold.accounts": n_accounts, "gold.customer_360": 1, "silver.customers": 1}
    after = raw(fresh, f"SELECT name, ssn, email FROM gold.customer_360 WHERE customer_id = '{cid}'")[0]
    assert all(v.startswith("anon_") for v in after) and not set(after) & set(before)
    silver = raw(fresh, f"SELECT ssn FROM silver.customers WHERE customer_id = '{cid}'")[0][0]
    assert silver == after[1]  # same keyed token in every layer, so joins still line up
    assert others == raw(
        fresh, f"SELECT count(*) FROM gold.customer_360 WHERE customer_id <> '{cid}' AND ssn LIKE 'anon_%'"
    )
    rec = list(audit.records())[-1]
    assert rec["kind"] == "forget" and rec["subject"] == report.subject and cid not in str(rec)
    with pytest.raises(GovernanceError, match="not found"):
        forget(fresh.con, "NOPE", audit=audit)


def test_luhn() -> None:
    assert luhn("4111111111111111") and not luhn("4111111111111112")


def test_scan_parquet_finds_each_kind(tmp_path: Path) -> None:
    path = tmp_path / "p.parquet"
    pq.write_table(
        pa.table(
            {
                "note": ["call 555-123-4567", "mail mary.smith@example.com", "ssn 123-45-6789", "fine"],
                "card": ["4111 1111 1111 1111", "4111111111111112", None, "x"],
                "acct": ["acct 12345678901", "n/a", "n/a", "n/a"],
                "who": ["James Carter", "the fund", "Linda Park", "Growth"],
                "amount": [1, 2, 3, 4],
            }
        ),
        path,
    )
    report = scan_parquet(path)
    got = {(f.column, f.detector): f.count for f in report.findings}
    assert got[("note", "phone")] == 1 and got[("note", "email")] == 1 and got[("note", "ssn")] == 1
    assert got[("card", "card_number")] == 1
    assert got[("acct", "account_number")] == 1
    assert got[("who", "person_name")] == 2
    assert "amount" not in report.columns_scanned
    sample = next(f for f in report.findings if f.detector == "ssn").samples[0]
    assert sample != "123-45-6789" and "*" in sample


def test_scan_table_skips_columns_tagged_pii(governed: Warehouse) -> None:
    report = scan_table(governed.con, "gold.customer_360")
    assert {"ssn", "email", "phone"} <= set(report.columns_skipped)
    assert ("name", "person_name") in {(f.column, f.detector) for f in report.findings}
    assert not any(f.column in ("ssn", "email", "phone") for f in report.findings)
