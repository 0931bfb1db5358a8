"""Publish the four data products from gold as Data Exchange revisions, through the real boto3 client.

For each product (the fixtures' `DATA_PRODUCTS`: ESG Insights, Private Credit Performance, Hedge Fund
Benchmarks, Macro Signals): write each of its gold tables as Parquet (with the key columns and the
governed PII columns in the file's metadata, which is what the gates read), run the data-quality gates
on those files, upload them to the provider's S3 bucket, create a revision, import the files with an
IMPORT_ASSETS_FROM_S3 job, and finalize the revision only when every gate passed. A failed gate leaves
the revision unfinalized (subscribers never see it) and its report in the result. The service runs
the same gates again at finalize, against the last finalized revision it holds, so a publisher that
skips this module cannot publish a failing revision either.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from twin.stubs.adx.gates import KEY_COLUMNS_META, PII_COLUMNS_META, GateReport, run_gates

__all__ = ["KEY_COLUMNS", "ROW_FILTERS", "ProductSpec", "PublishResult", "products", "publish_products"]

# Key columns of the gold tables the products carry (the gates refuse nulls in them).
KEY_COLUMNS: dict[str, list[str]] = {
    "fund_nav": ["fund_id", "nav_date"],
    "fund_performance": ["fund_id", "nav_date"],
    "risk_metrics": ["risk_id", "entity_id"],
    "aum_by_department_asset_class": ["department", "asset_class"],
}
# Rows of a gold table a product carries. The products are about funds: gold.risk_metrics also holds
# each customer's VaR (entity_type 'customer', keyed by customer id), which is internal and which the
# PII gate rightly refuses (customer ids read as account numbers).
ROW_FILTERS: dict[str, str] = {"risk_metrics": "entity_type = 'fund'"}
DEFAULT_BUCKET = "twin-data-products"


class ProductSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str
    name: str
    description: str
    gold_tables: list[str]


class PublishResult(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    product_id: str
    name: str
    data_set_id: str
    revision_id: str
    finalized: bool
    report: GateReport
    refused_by_service: str | None = None


def products() -> list[ProductSpec]:
    from twin.fixtures.institutions import DATA_PRODUCTS

    return [
        ProductSpec(
            product_id=str(p["product_id"]),
            name=str(p["name"]),
            description=str(p["description"]),
            gold_tables=[str(t) for t in p["gold_tables"]],  # type: ignore[attr-defined]
        )
        for p in DATA_PRODUCTS
    ]


def governed_columns(con: Any, table: str) -> list[str]:
    """Columns of `table` the warehouse tags as PII or carries a declared `pii_decision` for."""
    from twin.governance.models import SetTag
    from twin.governance.pii import DECISION_TAG
    from twin.governance.store import load_state

    return sorted(
        {
            s.column
            for s in load_state(con)
            if isinstance(s, SetTag) and s.table == table and s.tag in ("pii", DECISION_TAG)
        }
    )


def export_table(con: Any, schema: str, table: str, path: Path) -> Path:
    """Write `schema.table` (the product's rows of it) as Parquet, with the gates' metadata (key columns,
    governed PII columns)."""
    import pyarrow.parquet as pq

    where = f" WHERE {ROW_FILTERS[table]}" if table in ROW_FILTERS else ""
    arrow = con.sql(f'SELECT * FROM "{schema}"."{table}"{where}').to_arrow_table()
    meta = dict(arrow.schema.metadata or {})
    meta[KEY_COLUMNS_META] = json.dumps(KEY_COLUMNS.get(table, [])).encode()
    meta[PII_COLUMNS_META] = json.dumps(governed_columns(con, f"{schema}.{table}")).encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(arrow.replace_schema_metadata(meta), path)
    return path


def _data_set_id(dx: Any, spec: ProductSpec) -> str:
    token: str | None = None
    while True:
        page = dx.list_data_sets(Origin="OWNED", **({"NextToken": token} if token else {}))
        for ds in page["DataSets"]:
            if ds["Name"] == spec.name:
                return str(ds["Id"])
        token = page.get("NextToken")
        if not token:
            break
    created = dx.create_data_set(
        AssetType="S3_SNAPSHOT",
        Name=spec.name,
        Description=spec.description,
        Tags={"product_id": spec.product_id},
    )
    return str(created["Id"])


def _wait(dx: Any, job_id: str, timeout_s: float = 60.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while True:
        job: dict[str, Any] = dx.get_job(JobId=job_id)
        if job["State"] not in ("WAITING", "IN_PROGRESS") or time.monotonic() > deadline:
            return job
        time.sleep(0.1)


def publish_products(
    con: Any,
    *,
    dataexchange: Any,
    s3: Any,
    work_dir: Path,
    as_of: datetime,
    specs: Sequence[ProductSpec] | None = None,
    schema: str = "gold",
    bucket: str = DEFAULT_BUCKET,
) -> list[PublishResult]:
    """Publish each product's gold tables as a new revision (boto3 `dataexchange` and `s3` clients of the
    provider account). `work_dir` keeps each product's last finalized files, the local gates' baseline."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
    except ClientError:
        s3.create_bucket(Bucket=bucket)
    stamp = as_of.strftime("%Y%m%dT%H%M%S")
    results = []
    for spec in specs or products():
        out = Path(work_dir) / spec.product_id
        files = [export_table(con, schema, t, out / "staged" / f"{t}.parquet") for t in spec.gold_tables]
        last = sorted((out / "last").glob("*.parquet")) if (out / "last").is_dir() else []
        report = run_gates(files, last, as_of=as_of)
        ds_id = _data_set_id(dataexchange, spec)
        rev = dataexchange.create_revision(
            DataSetId=ds_id, Comment=f"{spec.name} from gold as of {as_of:%Y-%m-%d %H:%M}"
        )
        sources = []
        for f in files:
            key = f"{spec.product_id}/{stamp}/{f.name}"
            s3.put_object(Bucket=bucket, Key=key, Body=f.read_bytes())
            sources.append({"Bucket": bucket, "Key": key})
        job = dataexchange.create_job(
            Type="IMPORT_ASSETS_FROM_S3",
            Details={
                "ImportAssetsFromS3": {"AssetSources": sources, "DataSetId": ds_id, "RevisionId": rev["Id"]}
            },
        )
        dataexchange.start_job(JobId=job["Id"])
        done = _wait(dataexchange, job["Id"])
        refused: str | None = None
        finalized = False
        if done["State"] != "COMPLETED":
            refused = "; ".join(e.get("Message", "") for e in done.get("Errors", [])) or done["State"]
        elif report.passed:
            try:
                dataexchange.update_revision(DataSetId=ds_id, RevisionId=rev["Id"], Finalized=True)
                finalized = True
            except ClientError as e:
                refused = str(e.response.get("Error", {}).get("Message", e))
        if finalized:
            (out / "last").mkdir(parents=True, exist_ok=True)
            for old in (out / "last").glob("*.parquet"):
                old.unlink()
            for f in files:
                f.replace(out / "last" / f.name)
        results.append(
            PublishResult(
                product_id=spec.product_id,
                name=spec.name,
                data_set_id=ds_id,
                revision_id=rev["Id"],
                finalized=finalized,
                report=report,
                refused_by_service=refused,
            )
        )
    return results
