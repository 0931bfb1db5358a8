"""A state machine on moto's real ASL interpreter creating a Data Exchange grant through the router."""

from __future__ import annotations

import json
import time

import pytest

from tests.stubs.adx.conftest import BOB, published_data_set, unique
from twin.stubs.aws.trail import query_trail

pytestmark = pytest.mark.live

DEFINITION = {
    "StartAt": "Grant",
    "States": {
        "Grant": {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dataexchange:createDataGrant",
            "Parameters": {
                "Name.$": "$.name",
                "GrantDistributionScope": "NONE",
                "ReceiverPrincipal.$": "$.account",
                "SourceDataSetId.$": "$.data_set",
            },
            # No timestamps in the output: moto's DescribeExecution fails on them.
            "ResultSelector": {"GrantId.$": "$.Id", "State.$": "$.AcceptanceState"},
            "End": True,
        }
    },
}


def _run(sf, arn: str, payload: dict) -> dict:
    ex = sf.start_execution(stateMachineArn=arn, name=unique("exec"), input=json.dumps(payload))
    for _ in range(200):
        d = sf.describe_execution(executionArn=ex["executionArn"])
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.05)
    raise AssertionError("execution still running after 10 s")


def test_an_aws_sdk_dataexchange_task_creates_the_grant_the_subscriber_then_receives(client, endpoint):
    made = published_data_set(client)
    sf = client("stepfunctions")
    sm = sf.create_state_machine(
        name=unique("grant"),
        definition=json.dumps(DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/entitlements",
    )
    name = unique("sfn-grant")

    done = _run(sf, sm["stateMachineArn"], {"name": name, "account": BOB, "data_set": made["data_set"]})

    assert done["status"] == "SUCCEEDED", done
    out = json.loads(done["output"])
    assert out["State"] == "PENDING_RECEIVER_ACCEPTANCE"
    received = client("dataexchange", BOB).list_received_data_grants()["DataGrantSummaries"]
    assert out["GrantId"] in {g["Id"] for g in received}
    calls = query_trail(endpoint.audit_path, operation="CreateDataGrant")
    assert any(c["principal"] == "stepfunctions-interpreter" and c["status"] == 201 for c in calls)


def test_a_failing_dataexchange_task_fails_the_execution_with_the_service_error(client):
    sf = client("stepfunctions")
    sm = sf.create_state_machine(
        name=unique("grant"),
        definition=json.dumps(DEFINITION),
        roleArn="arn:aws:iam::123456789012:role/entitlements",
    )

    done = _run(sf, sm["stateMachineArn"], {"name": "x", "account": BOB, "data_set": "f" * 32})

    assert done["status"] == "FAILED"
    assert "ResourceNotFound" in (done.get("error", "") + done.get("cause", ""))
