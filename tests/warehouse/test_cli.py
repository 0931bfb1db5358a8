"""`twin warehouse …` and `twin catalog lineage`: clear errors on bad input, and the happy paths."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from typer.testing import CliRunner

from twin.cli.main import app

runner = CliRunner()


def _flat(text: str) -> str:
    """Rich wraps long messages; compare without whitespace."""
    return "".join(text.split())


def test_build_refuses_a_missing_fixtures_folder(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["warehouse", "build", "--db", str(tmp_path / "w.duckdb"), "--fixtures", str(tmp_path / "nope")]
    )
    assert result.exit_code == 2
    assert "fixturesfoldernotfound" in _flat(result.output)
    assert "Traceback" not in result.output


def test_build_names_a_corrupt_parquet_file_and_leaves_bronze_untouched(tiny, tmp_path: Path) -> None:
    fixtures = tmp_path / "fixtures"
    shutil.copytree(tiny.fixtures_dir, fixtures)
    (fixtures / "trades.parquet").write_bytes(b"PAR1 this is not parquet")
    db = tmp_path / "w.duckdb"
    result = runner.invoke(app, ["warehouse", "build", "--db", str(db), "--fixtures", str(fixtures)])
    assert result.exit_code == 2
    assert "trades.parquet" in _flat(result.output)
    assert "corrupt" in result.output
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'bronze'"
        ).fetchall() == [(0,)]


def test_load_puts_a_csv_into_a_published_schema(tmp_path: Path) -> None:
    csv = tmp_path / "rates.csv"
    csv.write_text("currency,rate\nEUR,1.08\nGBP,1.27\nJPY,0.0067\n")
    db = tmp_path / "w.duckdb"
    result = runner.invoke(app, ["warehouse", "load", "published.fx_rates", str(csv), "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "3 rows" in result.output
    again = runner.invoke(app, ["warehouse", "load", "published.fx_rates", str(csv), "--db", str(db)])
    assert again.exit_code == 2 and "--replace" in again.output
    replaced = runner.invoke(
        app, ["warehouse", "load", "published.fx_rates", str(csv), "--db", str(db), "--replace"]
    )
    assert replaced.exit_code == 0


def test_load_refuses_bad_targets_and_files(tmp_path: Path) -> None:
    csv = tmp_path / "x.csv"
    csv.write_text("a\n1\n")
    db = str(tmp_path / "w.duckdb")
    cases = [
        (["gold.customer_360", str(csv)], "isreserved"),
        (["bronze.trades_raw", str(csv)], "isreserved"),
        (["no_schema", str(csv)], "SCHEMA.TABLE"),
        (["published.x; drop", str(csv)], "SCHEMA.TABLE"),
        (["published.x", str(tmp_path / "missing.parquet")], "filenotfound"),
        (["published.x", str(tmp_path)], "filenotfound"),
    ]
    (tmp_path / "x.json").write_text("{}")
    cases.append((["published.x", str(tmp_path / "x.json")], "unsupportedfiletype"))
    for args, message in cases:
        result = runner.invoke(app, ["warehouse", "load", *args, "--db", db])
        assert result.exit_code == 2, args
        assert message in _flat(result.output), (args, result.output)


def test_refresh_without_a_warehouse_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["warehouse", "refresh", "--db", str(tmp_path / "none.duckdb")])
    assert result.exit_code == 2
    assert "twinwarehousebuild" in _flat(result.output)


def test_lineage_of_customer_360_reaches_bronze_with_pii_tags() -> None:
    result = runner.invoke(app, ["catalog", "lineage", "gold.customer_360", "--format", "json"])
    assert result.exit_code == 0, result.output
    tree = json.loads(result.output)

    def walk(node: dict) -> list[dict]:
        return [node] + [n for up in node["upstream"] for n in walk(up)]

    nodes = {n["relation"]: n for n in walk(tree)}
    assert tree["relation"] == "gold.customer_360"
    assert {"silver.customers", "silver.accounts", "silver.trades", "gold.risk_metrics"} <= nodes.keys()
    assert {"bronze.customers_raw", "bronze.trades_raw", "bronze.nav_raw"} <= nodes.keys()
    assert nodes["bronze.customers_raw"]["kind"] == "source"
    assert set(nodes["gold.customer_360"]["pii_columns"]) == {"ssn", "email", "phone"}
    assert "account_number" in nodes["silver.accounts"]["pii_columns"]
    bad = runner.invoke(app, ["catalog", "lineage", "gold.nope"])
    assert bad.exit_code == 2 and "unknownrelation" in _flat(bad.output)


def test_pii_tags_cover_the_sensitive_columns() -> None:
    from twin.warehouse.catalog import pii_columns, project_manifest

    pii = pii_columns(project_manifest())
    assert pii["gold.customer_360"] == ["email", "phone", "ssn"]
    assert pii["gold.accounts"] == ["account_number"]
    assert pii["silver.customers"] == ["date_of_birth", "email", "phone", "ssn"]
    assert "gold.fund_nav" not in pii
