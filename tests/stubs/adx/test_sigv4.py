"""The router refuses a request it cannot tie to a known key before any service (moto or twin's) sees it."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.stubs.adx.conftest import ALICE, unique
from twin.stubs.aws.sigv4 import AwsCredential, CredentialStore, SignatureError, verify_request

KNOWN = AwsCredential(
    access_key_id="AKIAEXAMPLE0000001", secret_access_key="s3cret", account_id=ALICE, name="t"
)


def _signed(secret: str = "s3cret", key: str = KNOWN.access_key_id, body: bytes = b"{}") -> AWSRequest:
    req = AWSRequest(
        method="POST",
        url="http://127.0.0.1:9/v1/data-sets?b=2&a=1",
        data=body,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(Credentials(key, secret), "dataexchange", "us-east-1").add_auth(req)
    return req


def _verify(req: AWSRequest, body: bytes | None = None, **kw):
    headers = {k.lower(): v for k, v in req.headers.items()}
    headers.setdefault("host", "127.0.0.1:9")
    return verify_request(
        CredentialStore([KNOWN]),
        method=req.method,
        raw_path="/v1/data-sets",
        raw_query="b=2&a=1",
        headers=headers,
        body=req.body if body is None else body,
        **kw,
    )


def test_a_botocore_signature_verifies_and_names_the_account_and_service():
    signed = _verify(_signed())
    assert (signed.credential.account_id, signed.service, signed.region) == (
        ALICE,
        "dataexchange",
        "us-east-1",
    )


@pytest.mark.parametrize(
    ("request_kwargs", "body", "code"),
    [
        ({"secret": "wrong"}, None, "SignatureDoesNotMatch"),
        ({"key": "AKIAUNKNOWN000000001"}, None, "UnrecognizedClientException"),
        ({}, b'{"Name": "tampered"}', "SignatureDoesNotMatch"),
    ],
)
def test_wrong_secret_unknown_key_or_a_changed_body_is_refused(request_kwargs, body, code):
    with pytest.raises(SignatureError) as e:
        _verify(_signed(**request_kwargs), body=body)
    assert e.value.code == code


def test_a_declared_payload_hash_must_be_the_bodys():
    req = _signed()
    req.headers["X-Amz-Content-SHA256"] = "0" * 64
    SigV4Auth(Credentials(KNOWN.access_key_id, "s3cret"), "dataexchange", "us-east-1").add_auth(req)
    with pytest.raises(SignatureError) as e:
        _verify(req)
    assert e.value.code == "XAmzContentSHA256Mismatch"


def test_a_signature_older_than_fifteen_minutes_is_refused():
    with pytest.raises(SignatureError) as e:
        _verify(_signed(), now=datetime.now(UTC) + timedelta(minutes=16))
    assert e.value.code == "InvalidSignatureException"


@pytest.mark.live
def test_boto3_with_a_wrong_secret_or_an_unknown_key_gets_403_and_reaches_no_service(client, endpoint):
    from twin.stubs.aws.trail import query_trail

    queue = unique("never-created")
    for kwargs, code in (
        ({"secret": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"key": "AKIAUNKNOWNKEY000001"}, "UnrecognizedClientException"),
    ):
        with pytest.raises(ClientError) as dx_err:
            client("dataexchange", ALICE, **kwargs).list_data_sets()
        assert dx_err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
        assert dx_err.value.response["Error"]["Code"] == code
        with pytest.raises(ClientError) as sqs_err:
            client("sqs", **kwargs).create_queue(QueueName=queue)
        assert sqs_err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    # Nothing reached moto: the queue does not exist for the real provider key either.
    assert not any(u.endswith(queue) for u in client("sqs").list_queues().get("QueueUrls", []))
    denied = query_trail(endpoint.audit_path, outcome="denied")
    assert {"SignatureDoesNotMatch", "UnrecognizedClientException"} <= {r["error_code"] for r in denied}


@pytest.mark.live
def test_an_unsigned_request_is_refused(endpoint):
    req = urllib.request.Request(f"{endpoint.url}/v1/data-sets", method="GET")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 403
    assert e.value.headers["x-amzn-ErrorType"] == "MissingAuthenticationToken"
    assert e.value.headers["x-amzn-RequestId"]
    assert hashlib.sha256(e.value.read()).hexdigest()  # a body, not an empty reply


@pytest.mark.live
def test_motos_control_plane_needs_the_providers_signature(endpoint):
    req = urllib.request.Request(f"{endpoint.url}/moto-api/reset", method="POST", data=b"")
    with pytest.raises(urllib.error.HTTPError) as unsigned:
        urllib.request.urlopen(req, timeout=10)
    assert unsigned.value.code == 403

    alice = endpoint.state().credential_for(ALICE)
    signed = AWSRequest(method="POST", url=f"{endpoint.url}/moto-api/reset", data=b"")
    SigV4Auth(Credentials(alice.access_key_id, alice.secret_access_key), "moto-api", "us-east-1").add_auth(
        signed
    )
    as_alice = urllib.request.Request(
        signed.url, method="POST", data=b"", headers=dict(signed.headers.items())
    )
    with pytest.raises(urllib.error.HTTPError) as subscriber:
        urllib.request.urlopen(as_alice, timeout=10)
    assert subscriber.value.code == 403
    assert subscriber.value.headers["x-amzn-ErrorType"] == "AccessDeniedException"

    assert endpoint.moto_api("config", {"stepfunctions": {"execute_state_machine": True}}) is not None
