"""The governance commands, through the real `twin` app."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from twin.cli.main import app

runner = CliRunner()


def test_sql_json_and_csv(db: Path) -> None:
    r = runner.invoke(app, ["sql", "--db", str(db), "--role", "RETAIL_TELLER", "--format", "json",
                            "SELECT DISTINCT department FROM gold.customer_360"])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout) == [{"department": "Retail"}]
    r = runner.invoke(app, ["sql", "--db", str(db), "--role", "EXTERNAL_BI_TOOL", "--format", "csv",
                            "SELECT count(*) AS n FROM gold.customer_360"])  # fmt: skip
    assert r.exit_code == 0 and r.stdout.splitlines() == ["n", "0"]


def test_sql_denied_exits_nonzero_with_reason(db: Path) -> None:
    r = runner.invoke(
        app, ["sql", "--db", str(db), "--role", "WEALTH_ADMIN", "SELECT * FROM silver.customers"]
    )
    assert r.exit_code == 3
    assert "not a published table" in r.stderr


def test_policy_compile_references_apply(db: Path, tmp_path: Path) -> None:
    r = runner.invoke(app, ["policy", "compile", "--target", "snowflake"])
    assert r.exit_code == 0 and "CREATE OR REPLACE MASKING POLICY ssn_mask" in r.stdout
    r = runner.invoke(app, ["policy", "compile", "--target", "duckdb", "--db", str(db)])
    assert r.exit_code == 0 and "CREATE OR REPLACE VIEW governance.gold__customer_360" in r.stdout
    r = runner.invoke(app, ["policy", "references", "--db", str(db), "--format", "json"])
    refs = {
        (x["ref_entity_name"], x["ref_column_name"], x["policy_name"], x["how"]) for x in json.loads(r.stdout)
    }
    assert ("gold.customer_360", "email", "pii_mask", "tag:pii") in refs
    assert ("gold.customer_360", "ssn", "ssn_mask", "direct") in refs
    f = tmp_path / "extra.sql"
    f.write_text("CREATE OR REPLACE MASKING POLICY nav_mask AS (v STRING) RETURNS STRING -> 'F';\n"
                 "ALTER TABLE gold.fund_nav MODIFY COLUMN fund_id SET MASKING POLICY nav_mask;")  # fmt: skip
    first = runner.invoke(app, ["policy", "apply", str(f), "--db", str(db), "--format", "json"])
    again = runner.invoke(app, ["policy", "apply", str(f), "--db", str(db), "--format", "json"])
    assert len(json.loads(first.stdout)["changed"]) == 2
    assert json.loads(again.stdout)["changed"] == []
    bad = tmp_path / "bad.sql"
    bad.write_text("DROP TABLE gold.customer_360;")
    r = runner.invoke(app, ["policy", "apply", str(bad), "--db", str(db)])
    assert r.exit_code == 2 and "unsupported statement" in r.stderr


def test_audit_verify_query_and_forget(db: Path, twin_home: Path) -> None:
    runner.invoke(app, ["sql", "--db", str(db), "--role", "RETAIL_TELLER", "SELECT 1"])
    r = runner.invoke(app, ["audit", "query", "--db", str(db), "--role", "RETAIL_TELLER"])
    assert r.exit_code == 3
    r = runner.invoke(
        app, ["audit", "query", "--db", str(db), "--role", "COMPLIANCE_AUDITOR", "--format", "json"]
    )
    assert r.exit_code == 0 and any(x["query_text"] == "SELECT ?" for x in json.loads(r.stdout))
    r = runner.invoke(app, ["governance", "forget", "C00001", "--db", str(db), "--format", "json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["rows"]["gold.customer_360"] == 1
    assert runner.invoke(app, ["audit", "verify"]).exit_code == 0
    log = twin_home / "audit.jsonl"
    lines = log.read_text().splitlines()
    log.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    r = runner.invoke(app, ["audit", "verify"])
    assert r.exit_code == 1 and "line 2" in r.stderr


def test_pii_scan_gate_fails_only_on_undecided_columns(db: Path, tmp_path: Path) -> None:
    # Shipped policies decide every flagged customer_360 column (masked, or declared visible): no failure,
    # and the table says who may read the names in clear.
    r = runner.invoke(app, ["pii", "scan", "gold.customer_360", "--db", str(db), "--fail-on-findings"])
    assert r.exit_code == 0, r.output
    assert "person_name" in r.stdout and "RETAIL_TELLER" in r.stdout
    # A newly published table full of names and emails has no decision yet: the gate fails on it.
    leads = tmp_path / "leads.csv"
    leads.write_text(
        "lead_name,contact_email\n" + "".join(f"Jane Doe{i},jane{i}.doe@example.com\n" for i in range(40))
    )
    loaded = runner.invoke(app, ["warehouse", "load", "crm.leads", str(leads), "--db", str(db)])
    assert loaded.exit_code == 0, loaded.output
    r = runner.invoke(app, ["pii", "scan", "crm.leads", "--db", str(db), "--fail-on-findings"])
    assert r.exit_code == 1 and "UNDECIDED" in r.stdout and "email" in r.stdout
