"""moto's services through the same router: EventBridge → SQS with an input transformer, DynamoDB and
Secrets Manager for the client-account lookup, and Data Exchange exporting a revision to S3."""

from __future__ import annotations

import json

import pytest

from tests.stubs.adx.conftest import ALICE, published_data_set, unique

pytestmark = pytest.mark.live


def test_an_eventbridge_rule_routes_a_matching_event_to_sqs_through_its_transformer(client):
    events, sqs = client("events"), client("sqs")
    bus = unique("crm")
    queue_url = sqs.create_queue(QueueName=unique("entitlements"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.create_event_bus(Name=bus)
    events.put_rule(
        Name="closed-won",
        EventBusName=bus,
        EventPattern=json.dumps({"source": ["salesforce"], "detail": {"StageName": ["Closed Won"]}}),
    )
    events.put_targets(
        Rule="closed-won",
        EventBusName=bus,
        Targets=[
            {
                "Id": "q",
                "Arn": queue_arn,
                "InputTransformer": {
                    "InputPathsMap": {"acct": "$.detail.AccountId"},
                    "InputTemplate": '{"account": "<acct>"}',
                },
            }
        ],
    )

    for stage in ("Prospecting", "Closed Won"):
        events.put_events(
            Entries=[
                {
                    "Source": "salesforce",
                    "DetailType": "Opportunity",
                    "EventBusName": bus,
                    "Detail": json.dumps({"StageName": stage, "AccountId": "001A"}),
                }
            ]
        )

    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
        "Messages", []
    )
    assert [json.loads(m["Body"]) for m in got] == [{"account": "001A"}]


def test_dynamodb_and_secrets_manager_answer_through_the_router(client):
    ddb, secrets = client("dynamodb"), client("secretsmanager")
    table = unique("client-accounts")
    ddb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "client_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "client_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.put_item(TableName=table, Item={"client_id": {"S": "CLI001"}, "aws_account_id": {"S": ALICE}})
    name = unique("salesforce/credentials")
    secrets.create_secret(Name=name, SecretString=json.dumps({"username": "integration@twin"}))

    item = ddb.get_item(TableName=table, Key={"client_id": {"S": "CLI001"}})["Item"]
    assert item["aws_account_id"]["S"] == ALICE
    assert json.loads(secrets.get_secret_value(SecretId=name)["SecretString"]) == {
        "username": "integration@twin"
    }


def test_an_entitled_subscriber_exports_a_revision_to_s3(client):
    made = published_data_set(client)
    grant = client("dataexchange").create_data_grant(
        Name="g", GrantDistributionScope="NONE", ReceiverPrincipal=ALICE, SourceDataSetId=made["data_set"]
    )
    alice = client("dataexchange", ALICE)
    alice.accept_data_grant(DataGrantArn=grant["Arn"])
    asset = alice.list_revision_assets(DataSetId=made["data_set"], RevisionId=made["revision"])["Assets"][0]
    bucket = unique("alice-landing")
    client("s3").create_bucket(Bucket=bucket)

    job = alice.create_job(
        Type="EXPORT_ASSETS_TO_S3",
        Details={
            "ExportAssetsToS3": {
                "AssetDestinations": [
                    {"AssetId": asset["Id"], "Bucket": bucket, "Key": "esg/fund_nav.parquet"}
                ],
                "DataSetId": made["data_set"],
                "RevisionId": made["revision"],
            }
        },
    )
    alice.start_job(JobId=job["Id"])

    assert alice.get_job(JobId=job["Id"])["State"] == "COMPLETED"
    body = client("s3").get_object(Bucket=bucket, Key="esg/fund_nav.parquet")["Body"].read()
    assert body.startswith(b"PAR1") and len(body) == asset["AssetDetails"]["S3SnapshotAsset"]["Size"]
