"""Publishing the four products from gold: all finalized when the gates pass; a drifted or PII-carrying
revision stays unfinalized with its report, and the service refuses it too."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest

from tests.stubs.adx.conftest import AS_OF
from twin.stubs.adx.publish import products, publish_products

pytestmark = pytest.mark.live


def _gold(latest: date = date(2026, 10, 30), path: str = ":memory:") -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(path)
    con.execute("CREATE SCHEMA gold")
    con.execute(f"""CREATE TABLE gold.fund_nav AS SELECT * FROM (VALUES
        ('F001', 'TWNA', 'Twin Alpha', 'equity', 'USD', DATE '2026-10-29', 101.5, 1e6),
        ('F001', 'TWNA', 'Twin Alpha', 'equity', 'USD', DATE '{latest}', 102.0, 1.1e6))
        t(fund_id, ticker, fund_name, asset_class, currency, nav_date, nav, aum)""")
    con.execute(f"""CREATE TABLE gold.fund_performance AS SELECT * FROM (VALUES
        ('F001', DATE '{latest}', 0.004, 0.02)) t(fund_id, nav_date, daily_return, ytd_return)""")
    # As in gold: fund rows and customer rows (internal; customer ids read as account numbers).
    con.execute("""CREATE TABLE gold.risk_metrics AS SELECT * FROM (VALUES
        ('fund:F001', 'fund', 'F001', 0.031), ('customer:CUS00000001', 'customer', 'CUS00000001', 0.02))
        t(risk_id, entity_type, entity_id, var_95)""")
    con.execute("""CREATE TABLE gold.aum_by_department_asset_class AS SELECT * FROM (VALUES
        ('Wealth', 'equity', 5e6, 10), ('Retail', 'fixed_income', 2e6, 4))
        t(department, asset_class, aum, customers)""")
    return con


def test_the_four_products_publish_as_finalized_revisions(client, tmp_path):
    results = publish_products(
        _gold(),
        dataexchange=client("dataexchange"),
        s3=client("s3"),
        work_dir=tmp_path,
        as_of=AS_OF,
        bucket="gold-products-a",
    )

    assert [r.name for r in results] == [
        "ESG Insights",
        "Private Credit Performance",
        "Hedge Fund Benchmarks",
        "Macro Signals",
    ]
    assert all(r.finalized and r.report.passed and r.refused_by_service is None for r in results)
    dx = client("dataexchange")
    hfb = next(r for r in results if r.product_id == "DP-HFB")
    assets = dx.list_revision_assets(DataSetId=hfb.data_set_id, RevisionId=hfb.revision_id)["Assets"]
    risk = tmp_path / "DP-HFB" / "last" / "risk_metrics.parquet"
    assert duckdb.sql(f"SELECT entity_type, count(*) FROM '{risk}' GROUP BY ALL").fetchall() == [("fund", 1)]
    assert sorted(a["Name"] for a in assets) == [
        "fund_nav.parquet",
        "fund_performance.parquet",
        "risk_metrics.parquet",
    ]

    # Publishing again reuses each product's data set and adds a revision.
    again = publish_products(
        _gold(),
        dataexchange=dx,
        s3=client("s3"),
        work_dir=tmp_path,
        as_of=AS_OF,
        bucket="gold-products-a",
        specs=products()[:1],
    )
    assert again[0].data_set_id == results[0].data_set_id and again[0].revision_id != results[0].revision_id
    assert again[0].finalized


def test_stale_nav_untagged_pii_and_drift_keep_the_revision_unfinalized(client, tmp_path):
    dx, s3 = client("dataexchange"), client("s3")
    esg = [p for p in products() if p.product_id == "DP-ESG"]
    first = publish_products(
        _gold(), dataexchange=dx, s3=s3, work_dir=tmp_path, as_of=AS_OF, specs=esg, bucket="gold-products-b"
    )
    assert first[0].finalized

    bad = _gold(latest=date(2026, 10, 29))  # NAV not struck for today by 17:00
    bad.execute("ALTER TABLE gold.fund_nav ADD COLUMN manager_email VARCHAR DEFAULT 'jane.doe@example.com'")
    bad.execute("ALTER TABLE gold.fund_performance DROP COLUMN ytd_return")
    refused = publish_products(
        bad, dataexchange=dx, s3=s3, work_dir=tmp_path, as_of=AS_OF, specs=esg, bucket="gold-products-b"
    )[0]

    assert not refused.finalized
    assert {c.gate for c in refused.report.failures()} == {"nav_freshness", "untagged_pii", "schema_drift"}
    assert "manager_email" in refused.report.summary() and "ytd_return dropped" in refused.report.summary()
    rev = dx.get_revision(DataSetId=refused.data_set_id, RevisionId=refused.revision_id)
    assert rev["Finalized"] is False
    # The service applies the same gates: a publisher that skips them cannot finalize either.
    from botocore.exceptions import ClientError

    with pytest.raises(ClientError) as e:
        dx.update_revision(DataSetId=refused.data_set_id, RevisionId=refused.revision_id, Finalized=True)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert "untagged_pii" in e.value.response["Error"]["Message"]


def test_pii_in_a_column_the_warehouse_tags_is_governed_not_refused(client, tmp_path):
    from twin.governance.ddl import parse_policies
    from twin.governance.store import apply_policies

    con = _gold()
    con.execute("ALTER TABLE gold.risk_metrics ADD COLUMN analyst_email VARCHAR DEFAULT 'ana@example.com'")
    pcp = [p for p in products() if p.product_id == "DP-PCP"]
    kwargs = {"dataexchange": client("dataexchange"), "s3": client("s3"), "as_of": AS_OF, "specs": pcp}

    untagged = publish_products(con, work_dir=tmp_path / "a", bucket="gold-products-c", **kwargs)[0]
    apply_policies(
        con,
        parse_policies(
            "CREATE TAG pii; ALTER TABLE gold.risk_metrics MODIFY COLUMN analyst_email SET TAG pii = 'email';"
        ),
    )
    tagged = publish_products(con, work_dir=tmp_path / "b", bucket="gold-products-d", **kwargs)[0]

    assert not untagged.finalized and {c.gate for c in untagged.report.failures()} == {"untagged_pii"}
    assert tagged.finalized, tagged.report.summary()
