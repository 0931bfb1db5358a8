"""One AWS endpoint (moto + twin's Data Exchange behind the router) per test module, on 127.0.0.1."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from twin.stubs.aws.server import AwsEndpoint, AwsEndpointConfig, SubscriberAccount

# The business "now" of the publish gates: after the 17:00 NAV strike on Friday 2026-10-30.
AS_OF = datetime(2026, 10, 30, 18, 0)
ALICE = "111122223333"
BOB = "444455556666"
_names = itertools.count()


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEndpoint]:
    config = AwsEndpointConfig(
        state_dir=tmp_path_factory.mktemp("aws"),
        subscribers=[
            SubscriberAccount(account_id=ALICE, name="CLI001"),
            SubscriberAccount(account_id=BOB, name="CLI002"),
        ],
    )
    with AwsEndpoint(config, business_clock=lambda: AS_OF) as ep:
        yield ep


@pytest.fixture(scope="module")
def client(endpoint: AwsEndpoint) -> Callable[..., Any]:
    import boto3

    def make(
        service: str, account: str | None = None, *, secret: str | None = None, key: str | None = None
    ) -> Any:
        state = endpoint.state()
        cred = state.credential_for(account or state.provider_account)
        return boto3.client(
            service,
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            aws_access_key_id=key or cred.access_key_id,
            aws_secret_access_key=secret or cred.secret_access_key,
        )

    return make


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def parquet_bytes(table: pa.Table, metadata: dict[bytes, bytes] | None = None) -> bytes:
    if metadata:
        table = table.replace_schema_metadata(metadata)
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def nav_table(latest: date = date(2026, 10, 30)) -> pa.Table:
    return pa.table(
        {
            "fund_id": ["F001", "F002", "F001"],
            "nav_date": [date(2026, 10, 29), date(2026, 10, 29), latest],
            "nav": [101.5, 99.25, 102.0],
        }
    )


def published_data_set(
    client: Callable[..., Any], files: dict[str, bytes] | None = None, *, finalize: bool = True
) -> dict[str, str]:
    """A provider data set with one revision holding `files` (default: a fresh NAV table)."""
    s3 = client("s3")
    dx = client("dataexchange")
    bucket = unique("products")
    s3.create_bucket(Bucket=bucket)
    files = files or {"fund_nav.parquet": parquet_bytes(nav_table())}
    for key, data in files.items():
        s3.put_object(Bucket=bucket, Key=f"esg/{key}", Body=data)
    ds = dx.create_data_set(AssetType="S3_SNAPSHOT", Name=unique("ESG Insights"), Description="ESG scores")
    rev = dx.create_revision(DataSetId=ds["Id"], Comment="first")
    job = dx.create_job(
        Type="IMPORT_ASSETS_FROM_S3",
        Details={
            "ImportAssetsFromS3": {
                "AssetSources": [{"Bucket": bucket, "Key": f"esg/{k}"} for k in files],
                "DataSetId": ds["Id"],
                "RevisionId": rev["Id"],
            }
        },
    )
    dx.start_job(JobId=job["Id"])
    assert dx.get_job(JobId=job["Id"])["State"] == "COMPLETED"
    if finalize:
        dx.update_revision(DataSetId=ds["Id"], RevisionId=rev["Id"], Finalized=True)
    return {"data_set": ds["Id"], "revision": rev["Id"], "bucket": bucket, "job": job["Id"]}


def storage(endpoint: AwsEndpoint) -> Path:
    return endpoint.adx.storage_dir
