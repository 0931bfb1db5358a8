"""The audit trail in use: a crash's half-written line does not brick the log, verify never writes,
every attempt (unknown roles and invalid claims too) leaves a record, and the auditor's view of query
text hides literal values."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from twin.cli.main import app
from twin.governance.audit import AuditLog, AuditPaths, verify_log
from twin.governance.audit_redact import redact_sql
from twin.governance.errors import GovernanceError, QueryDenied
from twin.governance.session import Claims, claims_from, open_session
from twin.warehouse.engine import Warehouse

runner = CliRunner()


SSN = "123-45-6789"


def _write(path: Path, n: int) -> AuditPaths:
    with AuditLog(path) as log:
        for i in range(n):
            log.append("query", user=f"u{i}", sql=f"SELECT {i}", allowed=True)
        return log.paths


@pytest.mark.parametrize(
    "damage",
    [b'{"seq":4,"ts":"2026-', b"\x00\x00\x00", b'{"not": "a record"}\n'],
    ids=["half-written", "zeroed-block", "not-a-record"],
)
def test_a_damaged_last_line_is_quarantined_and_the_log_goes_on(tmp_path: Path, damage: bytes) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 3)
    with open(p, "ab") as f:
        f.write(damage)
    with AuditLog(p) as log:  # opening must not fail (it used to: every session bricked)
        log.append("query", user="after", sql="SELECT 'after'", allowed=True)
    recs = [json.loads(x) for x in p.read_text().splitlines()]
    assert [r["seq"] for r in recs] == [1, 2, 3, 4, 5]
    recovery, after = recs[3], recs[4]
    assert recovery["kind"] == "recovery" and recovery["length"] == len(damage)
    assert recovery["offset"] == sum(len(x) for x in p.read_bytes().splitlines(keepends=True)[:3])
    assert after["user"] == "after"
    quarantined = [json.loads(x) for x in paths.quarantine.read_text().splitlines()]
    assert base64.b64decode(quarantined[0]["data_b64"]) == damage
    assert verify_log(paths).ok and verify_log(paths).sealed_records == 5


def test_a_whole_record_that_lost_its_newline_is_kept(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 3)
    p.write_bytes(p.read_bytes().rstrip(b"\n"))
    with AuditLog(p) as log:
        log.append("query", sql="SELECT 4")
    assert [json.loads(x)["seq"] for x in p.read_text().splitlines()] == [1, 2, 3, 4]
    assert not paths.quarantine.exists() and verify_log(paths).ok


def test_verify_reports_a_damaged_last_line_without_touching_it(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    paths = _write(p, 3)
    with open(p, "ab") as f:
        f.write(b'{"seq":4,"ts"')
    before = p.read_bytes()
    r = verify_log(paths)
    assert r.ok and r.records == 3 and any("damaged last line" in w for w in r.warnings)
    assert p.read_bytes() == before and not paths.quarantine.exists()


def _listing(root: Path) -> dict[str, tuple[int, int, int]]:
    out = {}
    for dirpath, dirs, files in os.walk(root):
        for name in dirs + files:
            st = os.stat(Path(dirpath) / name)
            out[str(Path(dirpath, name).relative_to(root))] = (st.st_mtime_ns, st.st_size, st.st_mode)
    st = os.stat(root)
    out["."] = (st.st_mtime_ns, st.st_size, st.st_mode)
    return out


def test_verify_never_writes_a_file_nor_creates_a_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("TWIN_HOME", str(home))
    monkeypatch.delenv("TWIN_AUDIT_KEYS", raising=False)
    monkeypatch.delenv("TWIN_AUDIT_DIGESTS", raising=False)
    log = home / "audit.jsonl"
    _write(log, 3)
    with open(log, "ab") as f:
        f.write(b'{"half')  # a damaged tail verify must report, not repair
    before = _listing(home)
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 0, r.output
    assert _listing(home) == before
    # No key at all (the keys folder is elsewhere or gone): a clear failure, still nothing written.
    import shutil

    shutil.rmtree(home / "keys")
    before = _listing(home)
    r = runner.invoke(app, ["audit", "verify", "--format", "json"])
    assert r.exit_code == 1 and "public key" in json.loads(r.stdout)["reason"]
    assert _listing(home) == before and not (home / "keys").exists()
    # A log that never had digests nor keys: verified as a chain, nothing created.
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "x.jsonl").write_bytes(b"")
    before = _listing(bare)
    r = runner.invoke(app, ["audit", "verify", "--log", str(bare / "x.jsonl")])
    assert r.exit_code == 0 and _listing(bare) == before


def test_verify_strict_fails_on_records_after_the_newest_digest(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    _write(p, 2)
    log = AuditLog(p)
    log.append("query", sql="SELECT 3")
    try:
        assert runner.invoke(app, ["audit", "verify", "--log", str(p)]).exit_code == 0
        r = runner.invoke(app, ["audit", "verify", "--log", str(p), "--strict"])
        assert r.exit_code == 1 and "not sealed" in r.stderr
    finally:
        log.close()


def test_cli_verify_names_truncation(tmp_path: Path) -> None:
    p = tmp_path / "a.jsonl"
    _write(p, 4)
    p.write_bytes(b"".join(p.read_bytes().splitlines(keepends=True)[:-1]))
    r = runner.invoke(app, ["audit", "verify", "--log", str(p)])
    assert r.exit_code == 1 and "truncated" in r.stderr and "digest 1" in r.stderr


def test_an_unknown_role_is_audited_before_the_error(fresh: Warehouse, audit: AuditLog) -> None:
    with pytest.raises(GovernanceError, match="unknown role"):
        open_session(fresh, Claims(user="eve", role="NOBODY"), audit=audit)
    rec = list(audit.records())[-1]
    assert rec["kind"] == "session_denied" and rec["user"] == "eve" and rec["role"] == "NOBODY"
    assert "unknown role" in rec["reason"]


def test_invalid_claims_are_audited_before_the_error(audit: AuditLog) -> None:
    with pytest.raises(GovernanceError, match="invalid claims: role"):
        claims_from({"user": "eve", "role": "x; DROP"}, audit=audit)
    rec = list(audit.records())[-1]
    assert rec["kind"] == "session_denied" and rec["user"] == "eve" and "invalid claims" in rec["reason"]
    assert claims_from({"user": "ann", "role": "retail_teller"}, audit=audit).role == "RETAIL_TELLER"
    assert list(audit.records())[-1] == rec  # a valid claim adds nothing by itself


def test_denials_and_failures_carry_their_outcome(fresh: Warehouse, audit: AuditLog) -> None:
    with open_session(fresh, Claims(user="ann", role="RETAIL_TELLER"), audit=audit) as s:
        s.query("SELECT 1")
        with pytest.raises(QueryDenied):
            s.query("SELECT * FROM silver.customers")
        with pytest.raises(GovernanceError):
            s.query("SELECT 1/0::INTEGER + 'x'::INTEGER")
    outcomes = [r["outcome"] for r in audit.records() if r["kind"] == "query"]
    assert outcomes == ["success", "denied", "failed"]


def test_the_auditors_view_never_shows_a_literal(fresh: Warehouse, audit: AuditLog) -> None:
    with open_session(fresh, Claims(user="ann", role="RETAIL_TELLER"), audit=audit) as s:
        s.query(f"SELECT count(*) FROM gold.customer_360 WHERE ssn = '{SSN}'")
        with pytest.raises(QueryDenied):
            s.query(f"SELECT * FROM silver.customers WHERE ssn = '{SSN}' AND balance > 1000000")
    assert any(SSN in (r.get("sql") or "") for r in audit.records())  # the evidence keeps the text
    with open_session(fresh, Claims(user="carl", role="COMPLIANCE_AUDITOR"), audit=audit) as s:
        rows = s.query("SELECT * FROM account_usage.query_history ORDER BY query_id").rows
    shown = json.dumps(rows, default=str)
    assert SSN not in shown and "1000000" not in shown
    texts = [r[1] for r in rows]
    assert "SELECT COUNT(*) FROM gold.customer_360 WHERE ssn = ?" in texts


def test_cli_audit_query_redacts(db: Path, twin_home: Path) -> None:
    runner.invoke(app, ["sql", "--db", str(db), "--role", "RETAIL_TELLER",
                        f"SELECT count(*) FROM gold.customer_360 WHERE ssn = '{SSN}'"])  # fmt: skip
    r = runner.invoke(
        app, ["audit", "query", "--db", str(db), "--role", "COMPLIANCE_AUDITOR", "--format", "json"]
    )
    assert r.exit_code == 0 and SSN not in r.stdout and "ssn = ?" in r.stdout


def test_cli_sql_with_invalid_claims_is_audited(db: Path, twin_home: Path) -> None:
    r = runner.invoke(app, ["sql", "--db", str(db), "--role", "not a role", "SELECT 1"])
    assert r.exit_code == 2 and "invalid claims" in r.stderr
    last = json.loads((twin_home / "audit.jsonl").read_text().splitlines()[-1])
    assert last["kind"] == "session_denied"


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (f"SELECT * FROM t WHERE ssn = '{SSN}'", "SELECT * FROM t WHERE ssn = ?"),
        (
            "SELECT a FROM t1 WHERE n IN (1, 2.5, -3e4) LIMIT 10",
            "SELECT a FROM t1 WHERE n IN (?, ?, -?) LIMIT ?",
        ),
        (f"SELECT a FROM t -- {SSN}", "SELECT a FROM t"),
        (f"SELEC ssn = '{SSN}", "SELEC ssn = ?"),  # unterminated and unparseable: hides to the end
        (f'SELEC $${SSN}$$ FROM "col 1" WHERE x = 42 /* {SSN} */', 'SELEC ? FROM "col 1" WHERE x = ?  '),
        (None, None),
    ],
)
def test_redaction_replaces_every_literal(sql: str | None, expected: str | None) -> None:
    out = redact_sql(sql)
    assert out == expected
    assert out is None or SSN not in out


@settings(max_examples=60, derandomize=True, deadline=None)
@given(
    payload=st.text(alphabet="0123456789-' xX\\", min_size=1, max_size=20),
    num=st.integers(min_value=0, max_value=10**12),
    parses=st.booleans(),
)
def test_redaction_leaves_no_digit_of_any_literal(payload: str, num: int, parses: bool) -> None:
    quoted = "'" + payload.replace("'", "''") + "'"
    head = "SELECT a FROM t WHERE" if parses else "SELEC a FRM t WHER"
    out = redact_sql(f"{head} c = {quoted} AND n = {num}")
    assert out is not None and not any(ch.isdigit() for ch in out), out


def test_an_unexpected_error_is_audited_too(
    fresh: Warehouse, audit: AuditLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    import twin.governance.session as session_mod

    def broken(sql: str, catalog: object, *_: object) -> None:
        raise RuntimeError("firewall bug")

    monkeypatch.setattr(session_mod, "check", broken)
    with (
        open_session(fresh, Claims(user="ann", role="RETAIL_TELLER"), audit=audit) as s,
        pytest.raises(RuntimeError),
    ):
        s.query("SELECT 1")
    rec = list(audit.records())[-1]
    assert rec["kind"] == "query" and rec["outcome"] == "failed" and "RuntimeError" in rec["reason"]


def test_query_history_skips_a_record_of_another_shape(fresh: Warehouse, audit: AuditLog) -> None:
    audit.append("query", sql="SELECT 1", allowed=True, rows="many")  # not an int: skipped, not fatal
    with open_session(fresh, Claims(user="carl", role="COMPLIANCE_AUDITOR"), audit=audit) as s:
        rows = s.query("SELECT query_text FROM account_usage.query_history").rows
    assert rows == []
