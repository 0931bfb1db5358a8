"""Injected Data Exchange faults (429/500) over the real HTTP path: what the workflow's retries ride out."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.stubs.adx.conftest import ALICE, BOB, published_data_set, unique

pytestmark = pytest.mark.live


def _faults(endpoint, method: str, body: dict | None = None, account: str | None = None) -> tuple[int, dict]:
    state = endpoint.state()
    cred = state.credential_for(account or state.provider_account)
    data = json.dumps(body or {}).encode()
    req = AWSRequest(
        method=method,
        url=f"{endpoint.url}/_twin/adx-faults",
        data=data,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials(cred.access_key_id, cred.secret_access_key), "dataexchange", "us-east-1").add_auth(
        req
    )
    http = urllib.request.Request(req.url, method=method, data=req.body, headers=dict(req.headers.items()))
    try:
        with urllib.request.urlopen(http, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def test_injected_throttling_answers_429_then_the_call_goes_through(client, endpoint):
    import boto3

    cred = endpoint.state().credential_for(endpoint.state().provider_account)
    bare = boto3.client(
        "dataexchange",
        endpoint_url=endpoint.url,
        region_name="us-east-1",
        aws_access_key_id=cred.access_key_id,
        aws_secret_access_key=cred.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}),
    )
    assert _faults(
        endpoint, "POST", {"error": "ThrottlingException", "count": 2, "operations": ["ListDataSets"]}
    ) == (200, {"pending": 2})

    codes = []
    for _ in range(3):
        try:
            bare.list_data_sets()
            codes.append(200)
        except ClientError as e:
            codes.append(e.response["ResponseMetadata"]["HTTPStatusCode"])
            assert e.response["Error"]["Code"] == "ThrottlingException"
    assert codes == [429, 429, 200]
    assert bare.list_received_data_grants()["DataGrantSummaries"] == []  # other operations untouched


def test_only_the_provider_may_inject_and_bad_rules_are_refused(endpoint):
    assert _faults(endpoint, "POST", {"error": "ThrottlingException", "count": 1}, account=ALICE)[0] == 403
    assert _faults(endpoint, "POST", {"error": "Teapot", "count": 1})[0] == 400
    assert (
        _faults(endpoint, "POST", {"error": "ThrottlingException", "count": 1, "operations": ["Nope"]})[0]
        == 400
    )
    assert _faults(endpoint, "POST", {"error": "InternalServerException", "count": 5})[1] == {"pending": 5}
    assert _faults(endpoint, "DELETE") == (200, {"pending": 0})


def test_a_step_functions_retry_rides_out_a_500_from_data_exchange(client, endpoint):
    made = published_data_set(client)
    definition = {
        "StartAt": "Grant",
        "States": {
            "Grant": {
                "Type": "Task",
                "Resource": "arn:aws:states:::aws-sdk:dataexchange:createDataGrant",
                "Parameters": {
                    "Name": "retried",
                    "GrantDistributionScope": "NONE",
                    "ReceiverPrincipal": BOB,
                    "SourceDataSetId": made["data_set"],
                },
                "ResultSelector": {"GrantId.$": "$.Id"},
                "Retry": [
                    {
                        "ErrorEquals": ["States.ALL"],
                        "IntervalSeconds": 1,
                        "MaxAttempts": 3,
                        "BackoffRate": 1.0,
                    }
                ],
                "End": True,
            }
        },
    }
    sf = client("stepfunctions")
    sm = sf.create_state_machine(
        name=unique("retry"),
        definition=json.dumps(definition),
        roleArn="arn:aws:iam::123456789012:role/entitlements",
    )
    _faults(
        endpoint, "POST", {"error": "InternalServerException", "count": 2, "operations": ["CreateDataGrant"]}
    )

    ex = sf.start_execution(stateMachineArn=sm["stateMachineArn"], name=unique("exec"))
    for _ in range(300):
        done = sf.describe_execution(executionArn=ex["executionArn"])
        if done["status"] != "RUNNING":
            break
        time.sleep(0.05)

    assert done["status"] == "SUCCEEDED", done
    grant_id = json.loads(done["output"])["GrantId"]
    assert grant_id in {
        g["Id"] for g in client("dataexchange", BOB).list_received_data_grants()["DataGrantSummaries"]
    }
    assert _faults(endpoint, "GET")[1] == {"pending": 0}
