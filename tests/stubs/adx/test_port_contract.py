"""One contract, two adapters: the grant port in process (sim) and over HTTP with boto3 (live)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.stubs.adx.conftest import ALICE, BOB, nav_table, parquet_bytes, published_data_set, unique
from twin.stubs.adx.models import AdxError, DataExchangeBackend
from twin.stubs.adx.port import Boto3Grants, DataExchangeGrants, InProcessGrants

PROVIDER = "123456789012"


class _Objects:
    def __init__(self) -> None:
        self.data = {("b", "fund_nav.parquet"): parquet_bytes(nav_table())}

    def get(self, bucket: str, key: str) -> bytes:
        return self.data[(bucket, key)]

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.data[(bucket, key)] = data


def _in_process(tmp_path) -> tuple[Callable[[str], DataExchangeGrants], str]:
    b = DataExchangeBackend(tmp_path, _Objects(), business_clock=lambda: datetime(2026, 10, 30, 18))
    ds = b.create_data_set(PROVIDER, name=unique("ESG"), description="d", asset_type="S3_SNAPSHOT")
    rev = b.create_revision(PROVIDER, ds.id, comment=None)
    job = b.create_job(
        PROVIDER,
        job_type="IMPORT_ASSETS_FROM_S3",
        details={
            "ImportAssetsFromS3": {
                "AssetSources": [{"Bucket": "b", "Key": "fund_nav.parquet"}],
                "DataSetId": ds.id,
                "RevisionId": rev.id,
            }
        },
    )
    b.start_job(PROVIDER, job.id)
    b.update_revision(PROVIDER, ds.id, rev.id, finalized=True)
    return (lambda account: InProcessGrants(b, account)), ds.id


@pytest.fixture(params=["in-process", pytest.param("boto3", marks=pytest.mark.live)])
def grants(request, tmp_path) -> tuple[Callable[[str], DataExchangeGrants], str]:
    if request.param == "in-process":
        return _in_process(tmp_path)
    client: Callable[..., Any] = request.getfixturevalue("client")
    made = published_data_set(client)
    return (lambda account: Boto3Grants(client("dataexchange", account))), made["data_set"]


def test_grant_accept_and_revoke(grants):
    port, data_set = grants
    provider, alice = port(PROVIDER), port(ALICE)

    g = provider.create_grant(name="esg", receiver=ALICE, data_set_id=data_set)
    assert (g.sender, g.receiver, g.data_set_id, g.acceptance_state) == (
        PROVIDER,
        ALICE,
        data_set,
        "PENDING_RECEIVER_ACCEPTANCE",
    )
    assert g.id in {x.id for x in provider.sent_grants()}
    assert g.id in {x.id for x in alice.received_grants()}
    assert data_set not in alice.entitled_data_sets()

    assert alice.accept_grant(g.arn).acceptance_state == "ACCEPTED"
    assert data_set in alice.entitled_data_sets()

    provider.delete_grant(g.id)
    assert data_set not in alice.entitled_data_sets()
    assert g.id not in {x.id for x in provider.sent_grants()}


def test_errors_carry_the_service_code(grants):
    port, data_set = grants
    g = port(PROVIDER).create_grant(
        name="esg", receiver=ALICE, data_set_id=data_set, ends_at=datetime(2030, 1, 1, tzinfo=UTC)
    )
    cases = [
        (lambda: port(BOB).accept_grant(g.arn), "ResourceNotFoundException"),
        (lambda: port(BOB).delete_grant(g.id), "ResourceNotFoundException"),
        (
            lambda: port(PROVIDER).create_grant(name="x", receiver=PROVIDER, data_set_id=data_set),
            "ValidationException",
        ),
        (
            lambda: port(ALICE).create_grant(name="x", receiver=BOB, data_set_id=data_set),
            "ResourceNotFoundException",
        ),
    ]
    for call, code in cases:
        with pytest.raises(AdxError) as e:
            call()
        assert e.value.code == code
    port(ALICE).accept_grant(g.arn)
    with pytest.raises(AdxError) as again:
        port(ALICE).accept_grant(g.arn)
    assert again.value.code == "ConflictException"
