"""Deploying the workflow onto an AWS endpoint: the state machine from `definition.asl.json`, the DLQ
(SQS) and the client-account table (DynamoDB) the lookup step reads. Idempotent: a second deploy finds
what the first made and updates the state machine's definition in place.

Why DynamoDB for the lookup and not a Salesforce call from the state machine: moto's interpreter can run
`dynamodb:getItem` but neither Lambda nor `http:invoke`, so the worker mirrors Account.AWS_Account_Id__c
into the table (from Account change events and a sync at start) and the state machine reads it there.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = ["Deployment", "definition", "deploy", "product_data_sets", "put_account"]

STATE_MACHINE = "twin-entitlements"
DLQ = "twin-entitlements-dlq"
ACCOUNTS_TABLE = "twin-entitlement-accounts"
ROLE_ARN = "arn:aws:iam::123456789012:role/twin-entitlements"


class Deployment(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    state_machine_arn: str
    dlq_url: str
    accounts_table: str


@cache
def definition() -> dict[str, Any]:
    text = resources.files("twin.entitlements").joinpath("definition.asl.json").read_text()
    return dict(json.loads(text))


def deploy(sfn: Any, sqs: Any, dynamodb: Any) -> Deployment:
    """Create (or update) the state machine, the DLQ and the accounts table with boto3 clients."""
    body = json.dumps(definition())
    arn = next(
        (
            m["stateMachineArn"]
            for page in sfn.get_paginator("list_state_machines").paginate()
            for m in page["stateMachines"]
            if m["name"] == STATE_MACHINE
        ),
        None,
    )
    if arn is None:
        arn = sfn.create_state_machine(name=STATE_MACHINE, definition=body, roleArn=ROLE_ARN)[
            "stateMachineArn"
        ]
    else:
        sfn.update_state_machine(stateMachineArn=arn, definition=body)
    dlq_url = sqs.create_queue(QueueName=DLQ)["QueueUrl"]  # returns the existing queue's URL
    tables = dynamodb.list_tables()["TableNames"]
    if ACCOUNTS_TABLE not in tables:
        dynamodb.create_table(
            TableName=ACCOUNTS_TABLE,
            KeySchema=[{"AttributeName": "AccountId", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "AccountId", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    return Deployment(state_machine_arn=arn, dlq_url=dlq_url, accounts_table=ACCOUNTS_TABLE)


def put_account(dynamodb: Any, table: str, account_id: str, aws_account_id: str | None) -> None:
    """Mirror one Salesforce Account's AWS account id; an Account without one has no item (the lookup
    step then sends the deal to the DLQ with `NoAwsAccount`)."""
    if aws_account_id:
        dynamodb.put_item(
            TableName=table,
            Item={"AccountId": {"S": account_id}, "AwsAccountId": {"S": aws_account_id}},
        )
    else:
        dynamodb.delete_item(TableName=table, Key={"AccountId": {"S": account_id}})


def product_data_sets(dataexchange: Any) -> dict[str, str]:
    """Data_Product__c -> the provider's data set of that product (published by `twin adx publish`),
    matched by the product's name; products not published yet are absent (their deals fail validation
    and wait on the DLQ for a replay)."""
    from twin.fixtures.institutions import DATA_PRODUCTS

    by_name = {str(p["name"]): str(p["product_id"]) for p in DATA_PRODUCTS}
    out: dict[str, str] = {}
    token: str | None = None
    while True:
        page = dataexchange.list_data_sets(Origin="OWNED", **({"NextToken": token} if token else {}))
        for ds in page["DataSets"]:
            if ds["Name"] in by_name:
                out.setdefault(by_name[ds["Name"]], ds["Id"])
        token = page.get("NextToken")
        if not token:
            return out
