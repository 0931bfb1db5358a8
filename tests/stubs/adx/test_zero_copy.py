"""Zero-copy reads: an entitled subscriber's own DuckDB reads the product's files; others cannot."""

from __future__ import annotations

import duckdb
import pytest

from tests.stubs.adx.conftest import ALICE, BOB, published_data_set, storage
from twin.stubs.adx.subscriber import entitled_tables, subscriber_connection, subscriber_query

pytestmark = pytest.mark.live


def test_an_accepted_grant_makes_the_product_readable_and_only_for_its_receiver(client, endpoint):
    made = published_data_set(client)
    name = client("dataexchange").get_data_set(DataSetId=made["data_set"])["Name"]
    grant = client("dataexchange").create_data_grant(
        Name="g", GrantDistributionScope="NONE", ReceiverPrincipal=ALICE, SourceDataSetId=made["data_set"]
    )
    alice, bob = client("dataexchange", ALICE), client("dataexchange", BOB)
    schema = name.lower().replace(" ", "_").replace("-", "_")
    sql = f"SELECT count(*), max(nav) FROM {schema}.fund_nav"

    # Pending: not yet readable.
    with pytest.raises(duckdb.Error):
        subscriber_query(alice, storage(endpoint), sql)
    alice.accept_data_grant(DataGrantArn=grant["Arn"])

    assert subscriber_query(alice, storage(endpoint), sql)[1] == [(3, 102.0)]
    with pytest.raises(duckdb.CatalogException):
        subscriber_query(bob, storage(endpoint), sql)


def test_a_subscriber_cannot_read_a_product_file_by_path_nor_reopen_file_access(client, endpoint):
    made = published_data_set(client)
    grant = client("dataexchange").create_data_grant(
        Name="g", GrantDistributionScope="NONE", ReceiverPrincipal=ALICE, SourceDataSetId=made["data_set"]
    )
    client("dataexchange", ALICE).accept_data_grant(DataGrantArn=grant["Arn"])
    files = entitled_tables(client("dataexchange", ALICE), storage(endpoint))
    target = next(t.path for t in files if t.data_set_id == made["data_set"])

    bob = subscriber_connection(entitled_tables(client("dataexchange", BOB), storage(endpoint)))
    with pytest.raises(duckdb.PermissionException):
        bob.sql(f"SELECT * FROM read_parquet('{target}')").fetchall()
    with pytest.raises(duckdb.Error):
        bob.execute("SET enable_external_access = true")
    with pytest.raises(duckdb.Error):
        bob.execute(f"SET allowed_paths = ['{target}']")

    alice = subscriber_connection(files)
    assert alice.sql(f"SELECT count(*) FROM read_parquet('{target}')").fetchall() == [(3,)]
    # The file is the service's own asset file: read in place, not copied for the subscriber.
    assert target.is_relative_to(storage(endpoint).resolve())
