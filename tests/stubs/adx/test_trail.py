"""Every call through the router lands in a hash-chained, verifiable trail: who, what, when, outcome."""

from __future__ import annotations

import json

import pytest

from tests.stubs.adx.conftest import ALICE, published_data_set
from twin.governance.audit import verify_log
from twin.stubs.aws.trail import query_trail

pytestmark = pytest.mark.live


def test_calls_to_moto_and_to_data_exchange_are_recorded_with_who_and_outcome(client, endpoint):
    published_data_set(client, finalize=False)
    client("dataexchange", ALICE).list_received_data_grants()

    dx = query_trail(endpoint.audit_path, service="dataexchange")
    ops = {r["operation"] for r in dx}
    assert {"CreateDataSet", "CreateRevision", "CreateJob", "StartJob", "GetJob"} <= ops
    alice = query_trail(endpoint.audit_path, account=ALICE, operation="ListReceivedDataGrants")
    assert alice and alice[-1]["principal"] == "subscriber:CLI001" and alice[-1]["outcome"] == "success"
    s3 = query_trail(endpoint.audit_path, service="s3")
    assert s3 and all(r["request_id"] and r["ts"] for r in s3)


def test_the_trail_verifies_and_an_edit_breaks_it(client, endpoint, tmp_path):
    client("dataexchange").list_data_sets()
    endpoint.audit.seal()
    assert verify_log(endpoint.audit.paths).ok

    copy = tmp_path / "cloudtrail.jsonl"
    lines = endpoint.audit_path.read_bytes().splitlines()
    rec = json.loads(lines[0])
    rec["account"] = "999999999999"
    lines[0] = json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()
    copy.write_bytes(b"\n".join(lines) + b"\n")
    from twin.governance.audit_digest import AuditPaths

    paths = AuditPaths.for_log(
        copy, key_dir=endpoint.audit.paths.key_dir, digest_dir=endpoint.audit.paths.digest_dir
    )
    assert not verify_log(paths).ok
