"""The in-process adapter beyond the contract: many threads at once, every query audited."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from twin.governance.audit import AuditLog
from twin.platform.errors import Denied
from twin.platform.governed import GovernedPlatform
from twin.platform.principal import Principal

QUERIES = (
    "SELECT DISTINCT department FROM gold.customer_360",
    "SELECT customer_id, ssn FROM gold.customer_360 ORDER BY customer_id LIMIT 50",
    "SELECT count(*), sum(balance) FROM gold.accounts",
)


def test_concurrent_callers_of_different_roles_never_see_each_others_rows(
    gold_db_copy: Path, tmp_path: Path
) -> None:
    principals = [
        Principal(user=f"{role.lower()}-{i}", role=role, department=dept)
        for i in range(3)
        for role, dept in (("WEALTH_ADVISOR", "Wealth"), ("RETAIL_TELLER", "Retail"))
    ]
    audit = AuditLog(tmp_path / "log" / "audit.jsonl", tmp_path / "keys")
    platform = GovernedPlatform(gold_db_copy, audit=audit)
    try:
        # what each role sees, asked one at a time
        expected = {
            (p.role, sql): platform.query(p, sql, []).digest for p in principals[:2] for sql in QUERIES
        }
        assert all(expected[("WEALTH_ADVISOR", sql)] != expected[("RETAIL_TELLER", sql)] for sql in QUERIES)
        rounds = 15
        start = threading.Barrier(len(principals))
        seen: dict[str, list[tuple[str, int]]] = {p.user: [] for p in principals}
        errors: list[BaseException] = []

        def caller(p: Principal, offset: int) -> None:
            try:
                start.wait()
                for i in range(rounds):
                    sql = QUERIES[(i + offset) % len(QUERIES)]
                    seen[p.user].append((sql, platform.query(p, sql, []).digest))
            except BaseException as e:  # surfaced below: a thread's failure must fail the test
                errors.append(e)

        threads = [threading.Thread(target=caller, args=(p, i)) for i, p in enumerate(principals)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        for p in principals:
            assert len(seen[p.user]) == rounds
            assert all(digest == expected[(p.role, sql)] for sql, digest in seen[p.user]), p.user
    finally:
        platform.close()
    queries = [r for r in audit.records() if r.get("kind") == "query"]
    assert len(queries) == len(expected) + rounds * len(principals)
    # each record carries the identity of the thread that ran it
    by_user = {p.user: p.role for p in principals}
    assert all(by_user[r["user"]] == r["role"] for r in queries)


def test_every_query_is_audited_allowed_or_denied(gold_db_copy: Path, tmp_path: Path) -> None:
    audit = AuditLog(tmp_path / "log" / "audit.jsonl", tmp_path / "keys")
    platform = GovernedPlatform(gold_db_copy, audit=audit)
    advisor = Principal(user="a-1", role="WEALTH_ADVISOR", department="Wealth")
    try:
        platform.query(advisor, "aum_overview", [])
        with pytest.raises(Denied):
            platform.query(advisor, "SELECT * FROM governance.role_department_map", [])
    finally:
        platform.close()
    records: list[dict[str, Any]] = [r for r in audit.records() if r.get("kind") == "query"]
    assert [(r["user"], r["allowed"], r["outcome"]) for r in records] == [
        ("a-1", True, "success"),
        ("a-1", False, "denied"),
    ]
    assert records[0]["sql"] == "SELECT * FROM gold.aum_by_department_asset_class"
    assert audit.verify().ok


GRANT_RETAIL = "INSERT INTO governance.role_department_map VALUES ('WEALTH_ADVISOR', 'Retail');\n"


def test_a_policy_change_another_process_made_is_seen(gold_db_copy: Path, tmp_path: Path) -> None:
    """DuckDB lets one process write a file that no other process has open: the service is closed
    while another process applies a policy file, and the reopened service answers under it."""
    import subprocess
    import sys

    import duckdb

    from twin.governance.store import stored_generation

    advisor = Principal(user="a-1", role="WEALTH_ADVISOR", department="Wealth")
    sql = "SELECT DISTINCT department FROM gold.customer_360"
    platform = GovernedPlatform(gold_db_copy)
    try:
        assert platform.query(advisor, sql, []).rows == 1
        before = stored_generation(platform.wh.con)
    finally:
        platform.close()
    policy = tmp_path / "grant.sql"
    policy.write_text(GRANT_RETAIL)
    apply = (
        "import sys; from twin.governance.ddl import parse_file; from twin.governance.store import "
        "apply_policies; import duckdb; con = duckdb.connect(sys.argv[1]); "
        "apply_policies(con, parse_file(sys.argv[2]), actor='other'); con.close()"
    )
    subprocess.run([sys.executable, "-c", apply, str(gold_db_copy), str(policy)], check=True)
    con = duckdb.connect(str(gold_db_copy), read_only=True)
    try:
        assert stored_generation(con) == before + 1
    finally:
        con.close()
    platform = GovernedPlatform(gold_db_copy)
    try:
        assert platform.query(advisor, sql, []).rows == 2  # Wealth, and now Retail too
    finally:
        platform.close()
