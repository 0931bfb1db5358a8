"""`twin entitlements`: clear errors without stand-ins, and (live) status, resolve and replay-dlq against
the stand-ins `twin stubs up` starts as their own processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.stubs.salesforce.conftest import trusting_session
from twin.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize("command", ["run", "status", "replay-dlq", "resolve"])
def test_every_command_has_help(command: str) -> None:
    result = runner.invoke(app, ["entitlements", command, "--help"])
    assert result.exit_code == 0 and "Usage" in result.output


@pytest.mark.parametrize("command", [["status"], ["run"], ["replay-dlq"], ["resolve", "006X"]])
def test_without_stand_ins_each_command_says_how_to_start_them(twin_home: Path, command: list[str]) -> None:
    result = runner.invoke(app, ["entitlements", *command])
    assert result.exit_code == 2 and "twin stubs up" in result.output and "Traceback" not in result.output


def test_resolve_refuses_an_unknown_status_before_calling_anything(twin_home: Path) -> None:
    result = runner.invoke(app, ["entitlements", "resolve", "006X", "--status", "Done"])
    assert result.exit_code == 2 and "--status 'Done'" in result.output


@pytest.mark.live
def test_status_resolve_and_replay_against_running_stand_ins(twin_home: Path) -> None:
    from simple_salesforce import Salesforce

    up = runner.invoke(app, ["stubs", "up", "--format", "json", "--bootstrap", ""])
    assert up.exit_code == 0, up.output
    info = json.loads(up.output)["salesforce"]
    try:
        sf = Salesforce(
            username=info["username"], password=info["password"], consumer_key=info["consumer_key"],
            consumer_secret=info["consumer_secret"], domain=info["login_domain"],
            session=trusting_session(Path(info["ca_cert"])),
        )  # fmt: skip
        account = sf.Account.create({"Name": "Nowhere AM"})["id"]
        deal = sf.Opportunity.create(
            {"AccountId": account, "Name": "d", "StageName": "Closed Won", "CloseDate": "2026-12-01"}
        )["id"]

        status = runner.invoke(app, ["entitlements", "status", "--format", "json"])
        assert status.exit_code == 0, status.output
        body = json.loads(status.output)
        assert body["state_machine"].endswith(":stateMachine:twin-entitlements")
        assert body["dlq"] == [] and body["executions"] == {}

        resolved = runner.invoke(
            app, ["entitlements", "resolve", deal, "--status", "Manual Review", "--note", "no AWS account"]
        )
        assert resolved.exit_code == 0, resolved.output
        rec = sf.Opportunity.get(deal)
        assert (rec["Entitlement_Status__c"], rec["Entitlement_Error__c"]) == (
            "Manual Review",
            "no AWS account",
        )
        replay = runner.invoke(app, ["entitlements", "replay-dlq"])
        assert replay.exit_code == 0 and "nothing to replay" in replay.output
        no_broker = runner.invoke(app, ["entitlements", "run", "--duration", "1"])
        assert no_broker.exit_code == 2 and "twin broker up" in no_broker.output
    finally:
        assert runner.invoke(app, ["stubs", "down"]).exit_code == 0
