"""boto3's real `dataexchange` client against twin's Data Exchange: provider and subscriber flows,
cross-account isolation and the service's error shapes."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.stubs.adx.conftest import ALICE, BOB, published_data_set

pytestmark = pytest.mark.live


def _code(e: pytest.ExceptionInfo[ClientError]) -> str:
    return str(e.value.response["Error"]["Code"])


def test_provider_publishes_a_revision_imported_from_s3_and_grants_it(client):
    dx = client("dataexchange")
    made = published_data_set(client)

    rev = dx.get_revision(DataSetId=made["data_set"], RevisionId=made["revision"])
    assets = dx.list_revision_assets(DataSetId=made["data_set"], RevisionId=made["revision"])["Assets"]
    grant = dx.create_data_grant(
        Name="esg-for-alice",
        GrantDistributionScope="NONE",
        ReceiverPrincipal=ALICE,
        SourceDataSetId=made["data_set"],
    )

    assert rev["Finalized"] is True
    assert [a["Name"] for a in assets] == ["fund_nav.parquet"]
    assert assets[0]["AssetDetails"]["S3SnapshotAsset"]["Size"] > 0
    assert grant["AcceptanceState"] == "PENDING_RECEIVER_ACCEPTANCE"
    assert grant["SenderPrincipal"] != ALICE and grant["ReceiverPrincipal"] == ALICE
    assert dx.get_data_grant(DataGrantId=grant["Id"])["Arn"] == grant["Arn"]
    assert grant["Id"] in {g["Id"] for g in dx.list_data_grants()["DataGrantSummaries"]}
    assert dx.get_data_set(DataSetId=made["data_set"])["Origin"] == "OWNED"


def test_import_job_of_a_missing_object_ends_in_error_with_the_reason(client):
    dx = client("dataexchange")
    made = published_data_set(client, finalize=False)
    job = dx.create_job(
        Type="IMPORT_ASSETS_FROM_S3",
        Details={
            "ImportAssetsFromS3": {
                "AssetSources": [{"Bucket": made["bucket"], "Key": "nope.parquet"}],
                "DataSetId": made["data_set"],
                "RevisionId": made["revision"],
            }
        },
    )
    dx.start_job(JobId=job["Id"])
    got = dx.get_job(JobId=job["Id"])
    assert got["State"] == "ERROR"
    assert got["Errors"][0]["Code"] == "RESOURCE_NOT_FOUND_EXCEPTION"
    assert "nope.parquet" in got["Errors"][0]["Message"]


def test_subscriber_lists_accepts_and_then_sees_the_entitled_data_set(client):
    made = published_data_set(client)
    grant = client("dataexchange").create_data_grant(
        Name="g", GrantDistributionScope="NONE", ReceiverPrincipal=ALICE, SourceDataSetId=made["data_set"]
    )
    alice = client("dataexchange", ALICE)

    pending = alice.list_received_data_grants(AcceptanceState=["PENDING_RECEIVER_ACCEPTANCE"])[
        "DataGrantSummaries"
    ]
    before = {d["Id"] for d in alice.list_data_sets(Origin="ENTITLED")["DataSets"]}
    accepted = alice.accept_data_grant(DataGrantArn=grant["Arn"])
    entitled = alice.list_data_sets(Origin="ENTITLED")["DataSets"]

    assert grant["Id"] in {g["Id"] for g in pending}
    assert made["data_set"] not in before
    assert accepted["AcceptanceState"] == "ACCEPTED" and accepted["AcceptedAt"] is not None
    assert made["data_set"] in {d["Id"] for d in entitled}
    assert {d["Origin"] for d in entitled} == {"ENTITLED"}
    assert alice.get_received_data_grant(DataGrantArn=grant["Arn"])["AcceptanceState"] == "ACCEPTED"
    assert alice.get_data_set(DataSetId=made["data_set"])["Origin"] == "ENTITLED"
    assert alice.list_data_sets(Origin="OWNED")["DataSets"] == []
    with pytest.raises(ClientError) as again:
        alice.accept_data_grant(DataGrantArn=grant["Arn"])
    assert _code(again) == "ConflictException"


def test_an_entitled_subscriber_sees_finalized_revisions_only_and_cannot_write(client):
    dx = client("dataexchange")
    made = published_data_set(client)
    draft = dx.create_revision(DataSetId=made["data_set"], Comment="not yet")
    grant = dx.create_data_grant(
        Name="g", GrantDistributionScope="NONE", ReceiverPrincipal=ALICE, SourceDataSetId=made["data_set"]
    )
    alice = client("dataexchange", ALICE)
    alice.accept_data_grant(DataGrantArn=grant["Arn"])

    revisions = alice.list_data_set_revisions(DataSetId=made["data_set"])["Revisions"]
    assert [r["Id"] for r in revisions] == [made["revision"]]
    with pytest.raises(ClientError) as hidden:
        alice.get_revision(DataSetId=made["data_set"], RevisionId=draft["Id"])
    assert _code(hidden) == "ResourceNotFoundException"
    with pytest.raises(ClientError) as write:
        alice.create_revision(DataSetId=made["data_set"])
    assert _code(write) == "AccessDeniedException"


def test_each_account_sees_only_its_own_and_received_grants(client):
    provider = client("dataexchange")
    made = published_data_set(client)
    grant = provider.create_data_grant(
        Name="alice-only",
        GrantDistributionScope="NONE",
        ReceiverPrincipal=ALICE,
        SourceDataSetId=made["data_set"],
    )
    bob = client("dataexchange", BOB)

    assert grant["Id"] not in {g["Id"] for g in bob.list_received_data_grants()["DataGrantSummaries"]}
    assert bob.list_data_grants()["DataGrantSummaries"] == []
    assert made["data_set"] not in {d["Id"] for d in bob.list_data_sets()["DataSets"]}
    for call in (
        lambda: bob.get_received_data_grant(DataGrantArn=grant["Arn"]),
        lambda: bob.accept_data_grant(DataGrantArn=grant["Arn"]),
        lambda: bob.get_data_grant(DataGrantId=grant["Id"]),
        lambda: bob.delete_data_grant(DataGrantId=grant["Id"]),
        lambda: bob.get_data_set(DataSetId=made["data_set"]),
        lambda: bob.get_job(JobId=made["job"]),
        lambda: client("dataexchange", ALICE).get_data_grant(
            DataGrantId=grant["Id"]
        ),  # the receiver is not the sender
    ):
        with pytest.raises(ClientError) as e:
            call()
        assert _code(e) == "ResourceNotFoundException"
    # The provider received nothing, and the grant is still pending for Alice.
    assert provider.list_received_data_grants()["DataGrantSummaries"] == []
    assert client("dataexchange", ALICE).get_received_data_grant(DataGrantArn=grant["Arn"])[
        "AcceptanceState"
    ] == ("PENDING_RECEIVER_ACCEPTANCE")


def test_deleting_a_grant_revokes_the_entitlement(client):
    provider = client("dataexchange")
    made = published_data_set(client)
    grant = provider.create_data_grant(
        Name="g", GrantDistributionScope="NONE", ReceiverPrincipal=BOB, SourceDataSetId=made["data_set"]
    )
    bob = client("dataexchange", BOB)
    bob.accept_data_grant(DataGrantArn=grant["Arn"])
    assert made["data_set"] in {d["Id"] for d in bob.list_data_sets(Origin="ENTITLED")["DataSets"]}

    provider.delete_data_grant(DataGrantId=grant["Id"])

    assert made["data_set"] not in {d["Id"] for d in bob.list_data_sets(Origin="ENTITLED")["DataSets"]}
    with pytest.raises(ClientError) as e:
        bob.get_data_set(DataSetId=made["data_set"])
    assert _code(e) == "ResourceNotFoundException"


def test_errors_carry_the_model_status_error_type_and_request_id(client):
    dx = client("dataexchange")
    with pytest.raises(ClientError) as missing:
        dx.get_data_set(DataSetId="0" * 32)
    meta = missing.value.response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 404
    assert meta["HTTPHeaders"]["x-amzn-errortype"] == "ResourceNotFoundException"
    assert meta["RequestId"]
    assert missing.value.response["ResourceId"] == "0" * 32
    assert missing.value.response["ResourceType"] == "DATA_SET"

    with pytest.raises(ClientError) as invalid:
        dx.create_data_set(AssetType="API_GATEWAY_API", Name="x", Description="y")
    assert _code(invalid) == "ValidationException"
    assert invalid.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400

    made = published_data_set(client)
    with pytest.raises(ClientError) as self_grant:
        dx.create_data_grant(
            Name="g",
            GrantDistributionScope="NONE",
            ReceiverPrincipal=dx.get_data_set(DataSetId=made["data_set"])["Arn"].split(":")[4],
            SourceDataSetId=made["data_set"],
        )
    assert _code(self_grant) == "ValidationException"
    with pytest.raises(ClientError) as finalized:
        dx.create_job(
            Type="IMPORT_ASSETS_FROM_S3",
            Details={
                "ImportAssetsFromS3": {
                    "AssetSources": [{"Bucket": made["bucket"], "Key": "esg/fund_nav.parquet"}],
                    "DataSetId": made["data_set"],
                    "RevisionId": made["revision"],
                }
            },
        )
    assert _code(finalized) == "ConflictException"


def test_list_operations_page_with_next_token(client):
    dx = client("dataexchange")
    for _ in range(3):
        published_data_set(client, finalize=False)
    seen, token = [], None
    while True:
        page = dx.list_data_sets(Origin="OWNED", MaxResults=2, **({"NextToken": token} if token else {}))
        assert len(page["DataSets"]) <= 2
        seen += [d["Id"] for d in page["DataSets"]]
        token = page.get("NextToken")
        if not token:
            break
    assert len(seen) == len(set(seen)) >= 3
    paginated = [
        d["Id"] for p in dx.get_paginator("list_data_sets").paginate(Origin="OWNED") for d in p["DataSets"]
    ]
    assert paginated == seen


def _raw(endpoint, method: str, path: str, body: object) -> tuple[int, dict[str, str], dict]:
    """A correctly signed request with any JSON body (botocore would refuse to serialize these)."""
    import json
    import urllib.error
    import urllib.request

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    cred = endpoint.state().credential_for(endpoint.state().provider_account)
    req = AWSRequest(
        method=method,
        url=f"{endpoint.url}{path}",
        data=b"" if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials(cred.access_key_id, cred.secret_access_key), "dataexchange", "us-east-1").add_auth(
        req
    )
    http = urllib.request.Request(req.url, method=method, data=req.body, headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(http, timeout=10) as r:
            return r.status, dict(r.headers), json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), json.loads(e.read() or b"{}")


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/v1/data-sets", {"AssetType": "S3_SNAPSHOT", "Name": 7, "Description": "d"}),
        (
            "POST",
            "/v1/data-sets",
            {"AssetType": "S3_SNAPSHOT", "Name": "n", "Description": "d", "Tags": {"a": 1}},
        ),
        ("POST", "/v1/data-sets", ["not", "an", "object"]),
        ("POST", "/v1/jobs", {"Type": "IMPORT_ASSETS_FROM_S3", "Details": "not-a-structure"}),
        (
            "POST",
            "/v1/jobs",
            {
                "Type": "IMPORT_ASSETS_FROM_S3",
                "Details": {
                    "ImportAssetsFromS3": {"AssetSources": ["x"], "DataSetId": "d", "RevisionId": "r"}
                },
            },
        ),
        (
            "POST",
            "/v1/jobs",
            {
                "Type": "EXPORT_ASSETS_TO_S3",
                "Details": {
                    "ExportAssetsToS3": {
                        "AssetDestinations": [{"AssetId": 1, "Bucket": "b"}],
                        "DataSetId": "d",
                        "RevisionId": "r",
                    }
                },
            },
        ),
        ("PATCH", "/v1/data-sets/d/revisions/r", {"Finalized": "yes"}),
        ("GET", "/v1/data-sets?maxResults=abc", None),
        ("GET", "/v1/data-sets?maxResults=0", None),
        ("GET", "/v1/data-sets?nextToken=-5", None),
        (
            "POST",
            "/v1/data-grants",
            {
                "Name": "g",
                "GrantDistributionScope": "EVERYONE",
                "ReceiverPrincipal": "1" * 12,
                "SourceDataSetId": "d",
            },
        ),
    ],
)
def test_malformed_input_is_a_validation_error_not_a_server_error(endpoint, method, path, body):
    status, headers, doc = _raw(endpoint, method, path, body)
    assert (status, headers["x-amzn-ErrorType"]) == (400, "ValidationException"), doc
    assert (doc["Message"] and "JSON object" not in doc["Message"]) or isinstance(body, list)
