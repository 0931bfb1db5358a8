"""Forgetting a customer lasts: rebuilds, refreshes, fixture reloads, replays and published loads keep the
customer's identifiers out of every layer, and the audit keeps a proof without them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from tests.warehouse.tiny_fixtures import SCHEMAS, write_tiny_fixtures
from twin.cli.main import app
from twin.governance.audit import AuditLog
from twin.governance.errors import GovernanceError
from twin.governance.forget import forget
from twin.warehouse.bronze import load_fixtures
from twin.warehouse.build import build_warehouse
from twin.warehouse.engine import Warehouse
from twin.warehouse.erasure import IDENTIFIERS, erasures, replacement
from twin.warehouse.published import load_published
from twin.warehouse.refresh import refresh_gold

runner = CliRunner()
CID = "C2"
# What tiny_fixtures gives customer C2 (and its two accounts A2 and A6).
PII = {"Customer 2", "122-45-6782", "c2@example.com", "+1-555-0102", "990002", "990006"}
DOB = date(1972, 1, 3)
DBT_MODELS = Path(__file__).resolve().parents[2] / "twin" / "warehouse" / "dbt" / "models"


@dataclass(frozen=True)
class Built:
    db: Path
    fixtures: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    root = tmp_path_factory.mktemp("forget")
    write_tiny_fixtures(root / "fixtures")
    build_warehouse(root / "tiny.duckdb", root / "fixtures")
    return Built(db=root / "tiny.duckdb", fixtures=root / "fixtures")


@pytest.fixture
def db(built: Built, tmp_path: Path) -> Path:
    """A copy of the built warehouse of the test's own (one dbt build per module, not per test)."""
    path = tmp_path / "warehouse.duckdb"
    shutil.copy(built.db, path)
    return path


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    log = AuditLog(tmp_path / "audit.jsonl")
    yield log
    log.close()


def pii_hits(con: object) -> dict[str, int]:
    """Rows in any table of any schema holding one of C2's identifiers (text, or its date of birth)."""
    cols = con.execute(  # type: ignore[attr-defined]
        """SELECT schema_name, table_name, column_name, data_type FROM duckdb_columns()
           WHERE database_name = current_database() AND NOT internal
             AND schema_name NOT IN ('information_schema', 'pg_catalog')
             AND data_type IN ('VARCHAR', 'DATE')"""
    ).fetchall()
    hits: dict[str, int] = {}
    for schema, table, column, dtype in cols:
        values = sorted(PII) if dtype == "VARCHAR" else [DOB]
        ph = ", ".join("?" for _ in values)
        extra = ""
        if dtype == "DATE":
            # A date alone is not an identifier: only C2's own date of birth counts.
            names = [c for s, t, c, _ in cols if (s, t) == (schema, table)]
            if "customer_id" not in names:
                continue
            extra = f" AND customer_id = '{CID}'"
        n = con.execute(  # type: ignore[attr-defined]
            f'SELECT count(*) FROM "{schema}"."{table}" WHERE "{column}" IN ({ph}){extra}', values
        ).fetchall()[0][0]
        if n:
            key = f"{schema}.{table}.{column}"
            hits[key] = hits.get(key, 0) + int(n)
    return hits


def modelled(wh: Warehouse) -> dict[str, int]:
    """Row counts of every silver and gold table (the platform's bookkeeping left out)."""
    return {
        f"{s}.{t}": wh.count(f"{s}.{t}")
        for s in ("silver", "gold")
        for t in wh.tables(s)
        if not t.startswith("_twin_")
    }


def others(wh: Warehouse) -> list[tuple]:
    return wh.con.execute(
        "SELECT * EXCLUDE (profile_refreshed_at) FROM gold.customer_360 WHERE customer_id <> ? ORDER BY 1",
        [CID],
    ).fetchall()


def customer_rows(data: dict[str, object]) -> pa.Table:
    return pa.Table.from_pylist([data], schema=SCHEMAS["customers"])


def test_forget_then_full_rebuild_keeps_pii_out_of_every_layer(
    db: Path, built: Built, audit: AuditLog
) -> None:
    with Warehouse(db) as wh:
        assert pii_hits(wh.con)  # the fixture does hold C2's identifiers, in bronze, silver and gold
        counts, rest = modelled(wh), others(wh)
        report = forget(wh.con, CID, audit=audit)
        assert pii_hits(wh.con) == {}
        assert {
            "bronze.customers_raw",
            "bronze.accounts_raw",
            "silver.customers",
            "gold.customer_360",
        } <= set(report.rows)
    build_warehouse(db, built.fixtures)  # fixtures appended to bronze again, dbt rebuilds silver and gold
    with Warehouse(db) as wh:
        assert pii_hits(wh.con) == {}
        assert modelled(wh) == counts and others(wh) == rest
        c360 = wh.con.execute(
            "SELECT name, ssn, account_count FROM gold.customer_360 WHERE customer_id = ?", [CID]
        ).fetchall()
        assert c360 == [(replacement(report.subject, "name"), replacement(report.subject, "ssn"), 2)]
        dob = wh.con.execute("SELECT date_of_birth FROM silver.customers WHERE customer_id = ?", [CID])
        assert dob.fetchall() == [(None,)]


def test_forget_survives_a_fresh_build_from_the_cli(db: Path, built: Built, twin_home: Path) -> None:
    r = runner.invoke(app, ["governance", "forget", CID, "--db", str(db), "--format", "json"])
    assert r.exit_code == 0, r.output
    subject = json.loads(r.stdout)["subject"]
    args = ["warehouse", "build", "--db", str(db), "--fixtures", str(built.fixtures), "--fresh"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    with Warehouse(db) as wh:
        assert pii_hits(wh.con) == {}
        assert [e.subject for e in erasures(wh.con)] == [subject]
        assert wh.count("bronze.customers_raw") == 5  # a new database: one load of the fixtures


def test_forget_then_new_bronze_rows_and_refresh_keep_pii_out(db: Path, audit: AuditLog) -> None:
    with Warehouse(db) as wh:
        counts = modelled(wh)
        subject = forget(wh.con, CID, audit=audit).subject
        # The customer's record arrives again, changed (a CRM re-delivery, a dead-letter replay), next to
        # a new customer's: the Arrow path every stream and replay takes.
        fresh_pii = {"name": "Jane Renamed", "ssn": "999-88-7777", "email": "jane@example.org"}
        rows = pa.concat_tables(
            [
                customer_rows(
                    {
                        "customer_id": CID,
                        **fresh_pii,
                        "phone": "+1-555-9999",
                        "date_of_birth": DOB,
                        "department": "Wealth",
                        "advisor_id": "ADV0",
                        "region": "US",
                    }
                ),
                customer_rows(
                    {
                        "customer_id": "C9",
                        "name": "New Person",
                        "ssn": "111-22-3333",
                        "email": "n@example.org",
                        "phone": "+1-555-1234",
                        "date_of_birth": date(1990, 5, 5),
                        "department": "Retail",
                        "advisor_id": "ADV1",
                        "region": "US",
                    }
                ),
            ]
        )
        streamed = {
            "source": "crm",
            "topic": "crm.customers",
            "partitions": pa.array([0, 0], pa.int32()),
            "offsets": pa.array([40, 41], pa.int64()),
        }
        assert wh.append_bronze("customers_raw", rows, **streamed) == 2
        assert wh.append_bronze("customers_raw", rows, **streamed) == 0  # a replay of the same offsets
        stats = refresh_gold(wh)
        assert stats.new_bronze_rows == {"customers_raw": 2}
        assert pii_hits(wh.con) == {}
        leaked = wh.con.execute(
            "SELECT count(*) FROM bronze.customers_raw WHERE name = ? OR ssn = ? OR email = ?",
            list(fresh_pii.values()),
        ).fetchall()[0][0]
        assert leaked == 0
        got = wh.con.execute(
            "SELECT name, ssn, email FROM gold.customer_360 WHERE customer_id = ?", [CID]
        ).fetchall()
        assert got == [tuple(replacement(subject, c) for c in ("name", "ssn", "email"))]
        # The other new customer arrives untouched.
        assert wh.con.execute("SELECT ssn FROM gold.customer_360 WHERE customer_id = 'C9'").fetchall() == [
            ("111-22-3333",)
        ]
        assert modelled(wh)["gold.customer_360"] == counts["gold.customer_360"] + 1


def test_forget_then_fixture_reload_and_refresh_keep_pii_out(db: Path, built: Built, audit: AuditLog) -> None:
    with Warehouse(db) as wh:
        counts, rest = modelled(wh), others(wh)
        forget(wh.con, CID, audit=audit)
        loaded = load_fixtures(wh, built.fixtures)  # DuckDB reads the Parquet files itself
        assert loaded["customers_raw"] == 5
        refresh_gold(wh)
        assert pii_hits(wh.con) == {}
        assert modelled(wh) == counts and others(wh) == rest


def test_forget_reaches_published_tables_and_later_published_loads(
    db: Path, tmp_path: Path, audit: AuditLog
) -> None:
    export = tmp_path / "client_list.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": ["C1", CID],
                "full_name": ["Customer 1", "Customer 2"],
                "email": ["c1@example.com", "c2@example.com"],
                "score": [1, 2],
            }
        ),
        export,
    )
    with Warehouse(db) as wh:
        load_published(wh, "published.client_list", export)
        forget(wh.con, CID, audit=audit)
        assert pii_hits(wh.con) == {}
        load_published(wh, "published.client_list_again", export)  # the same file, loaded after the forget
        assert pii_hits(wh.con) == {}
        again = wh.con.execute(
            "SELECT customer_id, email, score FROM published.client_list_again ORDER BY 1"
        ).fetchall()
        assert again[0] == ("C1", "c1@example.com", 1) and again[1][2] == 2


def test_a_published_table_with_numeric_customer_ids_does_not_break_forget(
    db: Path, tmp_path: Path, audit: AuditLog
) -> None:
    numeric = tmp_path / "numeric.parquet"
    pq.write_table(
        pa.table({"customer_id": [1, 2], "email": ["one@example.com", "two@example.com"]}), numeric
    )
    with Warehouse(db) as wh:
        load_published(wh, "published.numeric", numeric)
        report = forget(wh.con, CID, audit=audit)
        assert "published.numeric" not in report.rows and report.checkpointed
        load_published(wh, "published.numeric_again", numeric)
        assert wh.count("published.numeric_again") == 2


def test_forget_twice_gives_the_same_token_and_changes_nothing(
    db: Path, built: Built, tmp_path: Path, audit: AuditLog
) -> None:
    with Warehouse(db) as wh:
        first = forget(wh.con, CID, audit=audit)
        snapshot = wh.con.execute("SELECT * FROM gold.customer_360 ORDER BY customer_id").fetchall()
        second = forget(wh.con, CID, audit=audit)
        assert second.subject == first.subject and second.already_forgotten and not first.already_forgotten
        assert wh.con.execute("SELECT * FROM gold.customer_360 ORDER BY customer_id").fetchall() == snapshot
        assert len(erasures(wh.con)) == 1
        # The register keeps the first token even if the audit key was rotated since.
        with AuditLog(tmp_path / "rotated.jsonl") as rotated:
            assert forget(wh.con, CID, audit=rotated).subject == first.subject
    # Another copy of the warehouse, forgotten there for the first time under the same key: same token.
    elsewhere = tmp_path / "elsewhere.duckdb"
    shutil.copy(built.db, elsewhere)
    # The same signing key under another log (keys are per log file: copy it across).
    other_keys = tmp_path / "other-keys"
    other_keys.mkdir(mode=0o700)
    shutil.copy(audit.paths.private_key, other_keys / f"other.jsonl{audit.paths.private_key.suffix}")
    with AuditLog(tmp_path / "other.jsonl", key_dir=other_keys) as other, Warehouse(elsewhere) as wh:
        assert forget(wh.con, CID, audit=other).subject == first.subject


def _leaves(value: object) -> Iterator[str]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield str(value)


def test_audit_proof_names_the_token_and_holds_no_pii(db: Path, audit: AuditLog) -> None:
    with Warehouse(db) as wh:
        report = forget(wh.con, CID, audit=audit, actor="dpo")
        with pytest.raises(GovernanceError, match="not found"):
            forget(wh.con, "C404", audit=audit, actor="dpo")
        assert wh.con.execute(
            "SELECT count(*) FROM gold.customer_360 WHERE customer_id = 'C404'"
        ).fetchall() == [(0,)]
    done, refused = [r for r in audit.records() if r["kind"] == "forget"]
    assert done["subject"] == report.subject and done["outcome"] == "erased" and done["residue"] == 0
    assert done["rows"] == report.rows and done["user"] == "dpo"
    assert refused["outcome"] == "unknown_subject" and refused["subject"].startswith("anon_")
    for leaf in _leaves([done, refused]):
        assert leaf not in (CID, "C404") and not any(p in leaf for p in PII)
    assert audit.verify().ok


def test_forget_of_an_unknown_id_exits_2_and_is_audited(db: Path, twin_home: Path) -> None:
    r = runner.invoke(app, ["governance", "forget", "C404", "--db", str(db)])
    assert r.exit_code == 2 and "not found" in r.stderr and "Traceback" not in r.output
    records = [json.loads(line) for line in (twin_home / "audit.jsonl").read_text().splitlines()]
    assert records[-1]["kind"] == "forget" and records[-1]["outcome"] == "unknown_subject"
    assert "C404" not in (twin_home / "audit.jsonl").read_text()


def test_every_column_dbt_tags_pii_is_erased() -> None:
    tagged = set()
    for path in DBT_MODELS.rglob("*.yml"):
        doc = yaml.safe_load(path.read_text()) or {}
        for model in [
            *doc.get("models", []),
            *(t for s in doc.get("sources", []) for t in s.get("tables", [])),
        ]:
            tagged |= {c["name"] for c in model.get("columns", []) if "pii" in (c.get("tags") or [])}
    assert tagged and tagged <= IDENTIFIERS


def test_a_warehouse_without_forgets_loads_bronze_unchanged(built: Built) -> None:
    with Warehouse(built.db) as wh:
        assert erasures(wh.con) == []
        rows = wh.con.execute("SELECT ssn FROM bronze.customers_raw WHERE customer_id = ?", [CID]).fetchall()
        assert rows == [("122-45-6782",)]
