"""`twin stubs up|status|down`: clear errors without a running stand-in, and (live) the whole cycle with
a process that outlives the command, seeded from fixture files, reached by the real SDK."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from tests.stubs.salesforce.conftest import CLIENTS, trusting_session
from twin.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    "args", [["stubs", "--help"], ["stubs", "up", "--help"], ["stubs", "status", "--help"]]
)
def test_every_command_has_help(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 0 and "Usage" in result.output


def test_status_without_a_stand_in_says_how_to_start_one(twin_home: Path) -> None:
    result = runner.invoke(app, ["stubs", "status"])
    assert result.exit_code == 2 and "twin stubs up" in result.output
    assert runner.invoke(app, ["stubs", "down"]).exit_code == 0


def test_a_corrupt_state_file_is_a_clear_error(twin_home: Path) -> None:
    state = twin_home / "stubs" / "state.json"
    state.parent.mkdir(parents=True)
    state.write_text("{not json")
    result = runner.invoke(app, ["stubs", "status"])
    assert (
        result.exit_code == 2
        and "unreadable state file" in result.output
        and "Traceback" not in result.output
    )


def _write_fixtures(directory: Path) -> None:
    from datetime import date

    from twin.fixtures.store import write_entity

    directory.mkdir(parents=True)
    write_entity(directory, "institutional_clients", pl.DataFrame(CLIENTS))
    contracts = pl.DataFrame(
        {
            "contract_id": ["CTR001"],
            "client_id": ["CLI002"],
            "product_id": ["DP-MAC"],
            "status": ["active"],
            "start_date": [date(2025, 2, 1)],
            "end_date": [None],
        },
        schema_overrides={"end_date": pl.Date},
    )
    write_entity(directory, "contracts", contracts)


@pytest.mark.live
def test_up_status_down_with_an_org_seeded_from_fixtures(twin_home: Path) -> None:
    from simple_salesforce import Salesforce

    _write_fixtures(twin_home / "fixtures")
    up = runner.invoke(app, ["stubs", "up", "--format", "json", "--bootstrap", ""])
    assert up.exit_code == 0, up.output
    sf_info, aws_info = json.loads(up.output)["salesforce"], json.loads(up.output)["aws"]
    try:
        # The AWS endpoint came up beside it: boto3's Data Exchange client answers with the provider's keys.
        import boto3

        provider = next(c for c in aws_info["credentials"] if c["account_id"] == aws_info["provider_account"])
        dx = boto3.client(
            "dataexchange",
            endpoint_url=aws_info["url"],
            region_name=aws_info["region"],
            aws_access_key_id=provider["access_key_id"],
            aws_secret_access_key=provider["secret_access_key"],
        )
        assert dx.list_data_sets()["DataSets"] == []
        assert sf_info["instance_url"].startswith("https://127.0.0.1:") and Path(sf_info["ca_cert"]).is_file()
        again = runner.invoke(app, ["stubs", "up"])
        assert again.exit_code == 2 and "already running" in again.output
        status = runner.invoke(app, ["stubs", "status", "--format", "json"])
        assert status.exit_code == 0 and json.loads(status.output)["salesforce"]["healthy"] is True
        assert json.loads(status.output)["aws"]["url"] == aws_info["url"]
        sf = Salesforce(
            username=sf_info["username"],
            password=sf_info["password"],
            consumer_key=sf_info["consumer_key"],
            consumer_secret=sf_info["consumer_secret"],
            domain=sf_info["login_domain"],
            session=trusting_session(Path(sf_info["ca_cert"])),
        )
        rows = sf.query(
            "SELECT Contract_Id__c, Status, Data_Product__c, Account.AWS_Account_Id__c FROM Contract"
        )
        assert [
            (r["Contract_Id__c"], r["Status"], r["Data_Product__c"], r["Account"]["AWS_Account_Id__c"])
            for r in rows["records"]
        ] == [("CTR001", "Activated", "DP-MAC", "444455556666")]
    finally:
        down = runner.invoke(app, ["stubs", "down"])
    assert down.exit_code == 0 and "stopped" in down.output
    assert "aws endpoint stopped" in down.output
    after = runner.invoke(app, ["stubs", "status"])
    assert after.exit_code == 2
    from twin.stubs.aws.server import endpoint_status

    assert endpoint_status(twin_home / "stubs" / "aws") is None
