"""Data Exchange state without HTTP: it survives a restart, and the fixtures seed subscriber accounts."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl

from tests.stubs.adx.conftest import ALICE, nav_table, parquet_bytes
from twin.stubs.adx.models import DataExchangeBackend


class _Objects:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], bytes] = {}

    def get(self, bucket: str, key: str) -> bytes:
        return self.data[(bucket, key)]

    def put(self, bucket: str, key: str, data: bytes) -> None:
        self.data[(bucket, key)] = data


def test_products_and_grants_survive_a_restart(tmp_path):
    objects = _Objects()
    objects.put("b", "fund_nav.parquet", parquet_bytes(nav_table()))
    as_of = lambda: datetime(2026, 10, 30, 18)  # noqa: E731
    first = DataExchangeBackend(tmp_path, objects, business_clock=as_of)
    ds = first.create_data_set("123456789012", name="ESG", description="d", asset_type="S3_SNAPSHOT")
    rev = first.create_revision("123456789012", ds.id, comment=None)
    job = first.create_job(
        "123456789012",
        job_type="IMPORT_ASSETS_FROM_S3",
        details={
            "ImportAssetsFromS3": {
                "AssetSources": [{"Bucket": "b", "Key": "fund_nav.parquet"}],
                "DataSetId": ds.id,
                "RevisionId": rev.id,
            }
        },
    )
    assert first.start_job("123456789012", job.id).state == "COMPLETED"
    first.update_revision("123456789012", ds.id, rev.id, finalized=True)
    grant = first.create_data_grant(
        "123456789012", name="g", receiver=ALICE, source_data_set_id=ds.id, scope="NONE"
    )
    first.accept_data_grant(ALICE, grant.arn)

    again = DataExchangeBackend(tmp_path, objects, business_clock=as_of)

    assert [d.id for d in again.list_data_sets(ALICE, "ENTITLED")] == [ds.id]
    assert again.get_revision(ALICE, ds.id, rev.id).finalized
    assert again.asset_path(again.list_assets(ALICE, ds.id, rev.id)[0]).is_file()


def test_an_expired_grant_no_longer_entitles(tmp_path):
    now = [datetime(2026, 10, 30, 12, tzinfo=UTC)]
    objects = _Objects()
    objects.put("b", "k.parquet", parquet_bytes(nav_table()))
    b = DataExchangeBackend(
        tmp_path, objects, clock=lambda: now[0], business_clock=lambda: datetime(2026, 10, 30, 18)
    )
    ds = b.create_data_set("123456789012", name="ESG", description="d", asset_type="S3_SNAPSHOT")
    rev = b.create_revision("123456789012", ds.id, comment=None)
    job = b.create_job(
        "123456789012",
        job_type="IMPORT_ASSETS_FROM_S3",
        details={
            "ImportAssetsFromS3": {
                "AssetSources": [{"Bucket": "b", "Key": "k.parquet"}],
                "DataSetId": ds.id,
                "RevisionId": rev.id,
            }
        },
    )
    b.start_job("123456789012", job.id)
    b.update_revision("123456789012", ds.id, rev.id, finalized=True)
    g = b.create_data_grant(
        "123456789012",
        name="g",
        receiver=ALICE,
        source_data_set_id=ds.id,
        scope="NONE",
        ends_at=datetime(2026, 10, 31, tzinfo=UTC),
    )
    b.accept_data_grant(ALICE, g.arn)
    assert b.list_data_sets(ALICE, "ENTITLED")

    now[0] = datetime(2026, 11, 1, tzinfo=UTC)
    assert b.list_data_sets(ALICE, "ENTITLED") == []


def test_subscriber_accounts_come_from_the_fixtures_institutional_clients(tmp_path, monkeypatch):
    from twin.fixtures.calendar import WINDOW_END
    from twin.fixtures.store import write_entity
    from twin.stubs.aws.server import default_config, subscribers_from_fixtures

    monkeypatch.setenv("TWIN_HOME", str(tmp_path))
    assert default_config().subscribers == []  # no fixtures yet: provider only

    frame = pl.DataFrame(
        {
            "client_id": ["CLI001", "CLI002", "CLI003", "CLI004"],
            "name": ["A", "B", "C", "D"],
            "type": ["hedge_fund"] * 4,
            "salesforce_account_id": ["001" + "x" * 15] * 4,
            "aws_account_id": ["111111111111", "222222222222", "333333333333", "444444444444"],
            "region": ["EMEA"] * 4,
        }
    )
    (tmp_path / "fixtures").mkdir()
    write_entity(tmp_path / "fixtures", "institutional_clients", frame)

    got = subscribers_from_fixtures(tmp_path / "fixtures", count=3)
    config = default_config()

    assert [(s.account_id, s.name) for s in got] == [
        ("111111111111", "CLI001"),
        ("222222222222", "CLI002"),
        ("333333333333", "CLI003"),
    ]
    assert config.subscribers == got
    assert config.state_dir == tmp_path / "aws" and config.business_date == WINDOW_END
