"""The endpoint as its own process (what `twin stubs up` starts) and the `twin adx` commands against it."""

from __future__ import annotations

import json
from datetime import date

import boto3
import pytest
from typer.testing import CliRunner

from tests.stubs.adx.conftest import ALICE, BOB, published_data_set
from twin.cli.main import app
from twin.stubs.aws.server import (
    AwsEndpointConfig,
    SubscriberAccount,
    endpoint_status,
    start_aws_endpoint,
    stop_aws_endpoint,
)

pytestmark = pytest.mark.live


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    config = AwsEndpointConfig(
        state_dir=tmp_path_factory.mktemp("aws-proc"),
        subscribers=[
            SubscriberAccount(account_id=ALICE, name="CLI001"),
            SubscriberAccount(account_id=BOB, name="CLI002"),
        ],
        business_date=date(2026, 10, 30),
    )
    state = start_aws_endpoint(config)
    try:
        yield state
    finally:
        stop_aws_endpoint(config.state_dir)


def _client(state, service, account=None):
    cred = state.credential_for(account or state.provider_account)
    return boto3.client(
        service,
        endpoint_url=state.url,
        region_name=state.region,
        aws_access_key_id=cred.access_key_id,
        aws_secret_access_key=cred.secret_access_key,
    )


def test_the_state_file_says_how_to_reach_the_endpoint_and_is_private(running):
    state_file = running.state_dir / "state.json"
    assert running.url.startswith("http://127.0.0.1:")
    assert oct(state_file.stat().st_mode & 0o777) == "0o600"
    assert {c.account_id for c in running.credentials} == {running.provider_account, ALICE, BOB}
    assert endpoint_status(running.state_dir) == running
    # A second start finds the running one instead of starting another.
    assert start_aws_endpoint(AwsEndpointConfig(state_dir=running.state_dir)).pid == running.pid


def test_subscriber_query_reads_an_accepted_product_and_refuses_the_others(running):
    made = published_data_set(lambda service, account=None: _client(running, service, account))
    dx = _client(running, "dataexchange")
    name = dx.get_data_set(DataSetId=made["data_set"])["Name"]
    grant = dx.create_data_grant(
        Name="g", GrantDistributionScope="NONE", ReceiverPrincipal=ALICE, SourceDataSetId=made["data_set"]
    )
    _client(running, "dataexchange", ALICE).accept_data_grant(DataGrantArn=grant["Arn"])
    schema = name.lower().replace(" ", "_").replace("-", "_")
    sql = f"SELECT fund_id, count(*) AS n FROM {schema}.fund_nav GROUP BY ALL ORDER BY fund_id"
    runner = CliRunner()
    base = ["adx", "subscriber-query", "--state-dir", str(running.state_dir), "--format", "json"]

    allowed = runner.invoke(app, [*base, "--account", ALICE, sql])
    denied = runner.invoke(app, [*base, "--account", BOB, sql])
    unknown = runner.invoke(app, [*base, "--account", "999999999999", sql])

    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.stdout) == {"columns": ["fund_id", "n"], "rows": [["F001", 2], ["F002", 1]]}
    assert denied.exit_code == 1
    assert "cannot run this query" in denied.output and "no accepted grant" in denied.output
    assert unknown.exit_code == 2 and "not an account of this endpoint" in unknown.output


def test_trail_lists_the_calls_as_json(running):
    _client(running, "dataexchange", BOB).list_received_data_grants()
    out = CliRunner().invoke(
        app, ["adx", "trail", "--state-dir", str(running.state_dir), "--account", BOB, "--format", "json"]
    )
    assert out.exit_code == 0, out.output
    rows = json.loads(out.stdout)
    assert rows and rows[-1]["operation"] == "ListReceivedDataGrants" and rows[-1]["account"] == BOB


def test_commands_without_a_running_endpoint_fail_clearly(tmp_path):
    out = CliRunner().invoke(
        app, ["adx", "subscriber-query", "--state-dir", str(tmp_path), "--account", ALICE, "SELECT 1"]
    )
    assert out.exit_code == 2 and "twin stubs up" in out.output
    assert stop_aws_endpoint(tmp_path) is False


def test_the_trail_verifies_with_twin_audit_verify(running):
    _client(running, "sqs").list_queues()
    log = running.state_dir / "cloudtrail.jsonl"
    out = CliRunner().invoke(
        app,
        [
            "audit",
            "verify",
            "--log",
            str(log),
            "--digests",
            f"{log}.digests",
            "--keys",
            str(running.state_dir / "keys"),
            "--format",
            "json",
        ],
    )
    assert out.exit_code == 0, out.output
    assert json.loads(out.stdout)["ok"] is True


def test_publish_finalizes_the_products_of_a_warehouse_and_exits_1_when_a_gate_fails(running, tmp_path):
    from tests.stubs.adx.test_publish import _gold

    db = tmp_path / "warehouse.duckdb"
    _gold(path=str(db)).close()
    base = ["adx", "publish", "--db", str(db), "--state-dir", str(running.state_dir), "--format", "json"]

    ok = CliRunner().invoke(app, [*base, "--as-of", "2026-10-30T18:00"])
    stale = CliRunner().invoke(app, [*base, "--as-of", "2026-11-03T18:00"])

    assert ok.exit_code == 0, ok.output
    assert [r["finalized"] for r in json.loads(ok.stdout)] == [True] * 4
    assert stale.exit_code == 1
    refused = [r for r in json.loads(stale.stdout) if not r["finalized"]]
    assert {r["product_id"] for r in refused} == {"DP-ESG", "DP-PCP", "DP-HFB"}  # Macro Signals has no NAV
    assert all(
        "nav_freshness" in {c["gate"] for c in r["report"]["checks"] if not c["passed"]} for r in refused
    )
