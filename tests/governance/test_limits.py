"""Per-role query limits in a session: statement timeout, result rows and bytes, the limits file."""

from __future__ import annotations

import sys
from pathlib import Path

import duckdb
import pytest

from tests.governance.gold_data import build
from twin.governance.audit import AuditLog
from twin.governance.ddl import load_shipped
from twin.governance.errors import GovernanceError, QueryLimitExceeded
from twin.governance.limits import Limits, RoleLimits, Watchdog, cap_process_memory, load_limits
from twin.governance.session import Claims, harden, open_reader, open_session
from twin.governance.store import apply_policies, load_state
from twin.warehouse.engine import Warehouse

FOREVER = "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT count(*) FROM r"
CROSS = (
    "WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r WHERE i < 200000) "
    "SELECT count(*) FROM r a, r b"
)


def _open(wh: Warehouse, role: str, limits: RoleLimits, audit: AuditLog | None = None):
    return open_session(wh, Claims(user="tester", role=role), audit=audit, limits=limits)


@pytest.mark.parametrize("sql", [FOREVER, CROSS], ids=["recursive-cte", "cross-join"])
def test_a_runaway_query_is_interrupted_at_the_roles_timeout_and_audited(
    governed: Warehouse, audit: AuditLog, sql: str
) -> None:
    with _open(governed, "WEALTH_ADMIN", RoleLimits(timeout_s=0.3), audit) as s:
        with pytest.raises(QueryLimitExceeded) as err:
            s.query(sql)
        assert err.value.reason == "statement timed out after 0.3s (limit for role WEALTH_ADMIN)"
        # The interrupt hit only the statement that overran: the session answers the next one.
        assert s.query("SELECT 42 AS x").rows == [(42,)]
    records = [r for r in audit.records() if r["kind"] == "query"]
    assert records[0]["allowed"] is False and "timed out" in records[0]["reason"]
    assert records[1]["allowed"] is True


def test_a_statement_that_finishes_in_time_is_not_interrupted() -> None:
    class Target:
        interrupted = 0

        def interrupt(self) -> None:
            self.interrupted += 1

    dog, target = Watchdog(), Target()
    for _ in range(200):
        assert dog.disarm(dog.arm(target, 60.0)) is False
    assert target.interrupted == 0


def test_a_result_over_the_row_limit_is_refused_not_truncated(governed: Warehouse, audit: AuditLog) -> None:
    with _open(governed, "WEALTH_ADMIN", RoleLimits(max_rows=5), audit) as s:
        assert s.query("SELECT customer_id FROM gold.customer_360 LIMIT 5").row_count == 5
        with pytest.raises(QueryLimitExceeded, match=r"more than 5 rows \(limit for role WEALTH_ADMIN\)"):
            s.query("SELECT customer_id FROM gold.customer_360")
        assert s.query("SELECT count(*) FROM gold.customer_360").rows == [(40,)]
    refused = [r for r in audit.records() if not r["allowed"]]
    assert len(refused) == 1 and "more than 5 rows" in refused[0]["reason"]


def test_a_result_over_the_byte_limit_is_refused(governed: Warehouse) -> None:
    with _open(governed, "WEALTH_ADMIN", RoleLimits(max_bytes=2048)) as s:
        assert s.query("SELECT repeat('x', 1000) AS v").row_count == 1
        with pytest.raises(QueryLimitExceeded, match=r"passes 2,048 bytes"):
            s.query("SELECT repeat('x', 1000) AS v, customer_id FROM gold.customer_360")


def test_the_limits_file_overrides_defaults_and_roles(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = load_limits()
    assert shipped.for_role("EXTERNAL_BI_TOOL").timeout_s < shipped.defaults.timeout_s
    f = tmp_path / "limits.yaml"
    f.write_text("defaults:\n  max_rows: 7\nroles:\n  wealth_admin: {timeout_s: 2}\n")
    monkeypatch.setenv("TWIN_LIMITS", str(f))
    limits = load_limits()
    admin = limits.for_role("WEALTH_ADMIN")
    assert (admin.timeout_s, admin.max_rows) == (2, 7)
    # Fields the file leaves alone keep the shipped values, and so do roles it does not name.
    assert admin.memory_mb == shipped.defaults.memory_mb
    assert limits.for_role("EXTERNAL_BI_TOOL").timeout_s == shipped.for_role("EXTERNAL_BI_TOOL").timeout_s


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("defaults:\n  timeout_s: -1\n", "defaults.timeout_s"),
        ("roles:\n  X: {max_rowz: 3}\n", "roles.X.max_rowz"),
        ("defaults: [\n", "cannot read limits file"),
    ],
)
def test_a_bad_limits_file_names_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, message: str
) -> None:
    f = tmp_path / "limits.yaml"
    f.write_text(text)
    monkeypatch.setenv("TWIN_LIMITS", str(f))
    with pytest.raises(GovernanceError, match=message.replace(".", r"\.")):
        load_limits()


def test_the_platform_service_runs_each_role_under_its_limits(tmp_path: Path) -> None:
    from twin.sim.platform import Caller, Failed, GovernedDuckDB

    path = tmp_path / "w.duckdb"
    wh = build(path)
    apply_policies(wh.con, load_shipped())
    wh.close()
    limits = Limits(defaults=RoleLimits(), roles={"RETAIL_TELLER": {"max_rows": 2, "timeout_s": 0.3}})
    platform = GovernedDuckDB(path, limits)
    try:
        admin = Caller(user="a", role="WEALTH_ADMIN")
        teller = Caller(user="t", role="RETAIL_TELLER")
        assert platform.query(admin, "SELECT customer_id FROM gold.customer_360", []).rows == 40
        with pytest.raises(Failed, match="more than 2 rows"):
            platform.query(teller, "SELECT customer_id FROM gold.customer_360", [])
        with pytest.raises(Failed, match=r"timed out after 0\.3s"):
            platform.query(teller, FOREVER, [])
    finally:
        platform.close()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_DATA is Linux's")
def test_the_process_memory_cap_is_lowered_then_restored() -> None:
    import resource

    before = resource.getrlimit(resource.RLIMIT_DATA)
    restore = cap_process_memory(64)
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        assert soft != resource.RLIM_INFINITY and hard == before[1]
    finally:
        restore()
    assert resource.getrlimit(resource.RLIMIT_DATA) == before


def test_a_reader_opens_read_only_and_gives_an_ungoverned_warehouse_the_shipped_policies(
    tmp_path: Path,
) -> None:
    path = tmp_path / "w.duckdb"
    build(path).close()
    con = open_reader(path)
    try:
        assert load_state(con)
        with pytest.raises(duckdb.InvalidInputException, match="read-only"):
            con.execute("CREATE TABLE gold.x (i INT)")
        with open_session(con, Claims(user="t", role="WEALTH_ADMIN")) as s:
            assert s.query("SELECT count(*) FROM gold.customer_360").rows == [(40,)]
    finally:
        con.close()


def test_a_session_opened_after_harden_runs_under_the_instance_memory_limit(fresh: Warehouse) -> None:
    harden(fresh, RoleLimits(memory_mb=256))
    setting = fresh.con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
    assert setting.startswith("244") or setting.startswith("256")  # DuckDB prints MiB
    with _open(fresh, "WEALTH_ADMIN", RoleLimits(timeout_s=0.3)) as s:
        assert s.query("SELECT count(*) FROM gold.customer_360").rows == [(40,)]
        with pytest.raises(QueryLimitExceeded, match="timed out"):
            s.query(FOREVER)
