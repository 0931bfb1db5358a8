"""The entitlement workflow on moto's real ASL interpreter, driven by Salesforce change events through
the real simple-salesforce and boto3 (the issue's live acceptance cases)."""

from __future__ import annotations

import json

import pytest

from tests.entitlements.conftest import ALICE, WITH_AWS, WITHOUT_AWS, Rig
from tests.stubs.adx.test_faults import _faults
from twin.stubs.salesforce.cdc import ChangeEvent

pytestmark = pytest.mark.live


def _deal(rig: Rig, account: str, name: str) -> str:
    return rig.sf.Opportunity.create(
        {"AccountId": account, "Name": name, "StageName": "Negotiation/Review",
         "CloseDate": "2026-12-01", "Data_Product__c": "DP-ESG"}
    )["id"]  # fmt: skip


def _received(rig: Rig) -> dict[str, dict]:
    grants = rig.client("dataexchange", ALICE).list_received_data_grants()["DataGrantSummaries"]
    return {g["Id"]: g for g in grants}


def test_closing_a_deal_grants_the_data_set_and_confirms_in_salesforce(rig: Rig) -> None:
    deal = _deal(rig, WITH_AWS, "ESG for Okafor")
    rig.settle()
    assert rig.sf.Opportunity.get(deal)["Entitlement_Status__c"] is None  # not closed: nothing yet

    rig.sf.Opportunity.update(deal, {"StageName": "Closed Won"})
    rig.settle()

    rec = rig.sf.Opportunity.get(deal)
    assert rec["Entitlement_Status__c"] == "Granted"
    assert rec["Entitlement_Granted_At__c"]
    grant = _received(rig)[rec["Entitlement_Grant_Id__c"]]
    # the subscriber accepts it and then sees the product's data set
    dx = rig.client("dataexchange", ALICE)
    dx.accept_data_grant(DataGrantArn=grant["Arn"])
    assert grant["DataSetId"] in {d["Id"] for d in dx.list_data_sets(Origin="ENTITLED")["DataSets"]}


def test_terminating_the_contract_revokes_the_grant(rig: Rig) -> None:
    contract = rig.sf.Contract.create(
        {"AccountId": WITH_AWS, "Status": "Draft", "StartDate": "2026-12-01", "Data_Product__c": "DP-ESG"}
    )["id"]
    rig.sf.Contract.update(contract, {"Status": "Activated"})
    rig.settle()
    grant_id = rig.sf.Contract.get(contract)["Entitlement_Grant_Id__c"]
    assert grant_id in _received(rig)

    rig.sf.Contract.update(contract, {"Status": "Terminated"})
    rig.settle()

    rec = rig.sf.Contract.get(contract)
    assert rec["Entitlement_Status__c"] == "Revoked"
    assert rec["Entitlement_Revoked_At__c"]
    assert grant_id not in _received(rig)


def test_the_same_change_event_twice_gives_one_grant(rig: Rig) -> None:
    seen: list[ChangeEvent] = []
    rig.server.org.subscribers.append(seen.append)
    deal = _deal(rig, WITH_AWS, "twice")
    rig.sf.Opportunity.update(deal, {"StageName": "Closed Won"})
    rig.settle()
    before = set(_received(rig))
    closing = next(e for e in seen if "StageName" in e.fields and e.header.recordIds == [deal]
                   and e.fields["StageName"] == "Closed Won")  # fmt: skip

    # redelivered to the same worker, and to a worker that lost its state (same execution name)
    rig.worker.handle(closing)
    rig.worker.state.last_commit.clear()
    rig.sf.Opportunity.update(deal, {"Entitlement_Status__c": "Pending"})  # defeat the status shortcut
    rig.settle()
    again = rig.worker.handle(closing)

    assert set(_received(rig)) == before
    assert [o.status for o in again] == ["GRANTED"]
    assert again[0].execution == f"{deal}-{closing.header.commitNumber}-grant"
    grants = [g for g in _received(rig).values() if g["Name"] == f"DP-ESG-{deal}"]
    assert len(grants) == 1


def test_a_client_without_an_aws_account_goes_to_the_dlq_with_the_reason_and_nothing_is_granted(
    rig: Rig,
) -> None:
    before = set(_received(rig))
    deal = _deal(rig, WITHOUT_AWS, "no account")
    rig.sf.Opportunity.update(deal, {"StageName": "Closed Won"})
    rig.settle()

    rec = rig.sf.Opportunity.get(deal)
    assert rec["Entitlement_Status__c"] == "Failed"
    assert "NoAwsAccount" in rec["Entitlement_Error__c"]
    messages = [m for m in rig.worker.dlq_messages() if m["recordId"] == deal]
    assert len(messages) == 1
    assert messages[0]["step"] == "LookupAwsAccount"
    assert messages[0]["error"] == "NoAwsAccount"
    assert messages[0]["input"]["accountId"] == WITHOUT_AWS
    assert set(_received(rig)) == before
    assert rig.worker.resolve(deal, "Opportunity", "Manual Review", "account id requested") == 1
    assert rig.sf.Opportunity.get(deal)["Entitlement_Status__c"] == "Manual Review"


def test_data_exchange_500s_are_retried_and_the_deal_is_granted(rig: Rig) -> None:
    deal = _deal(rig, WITH_AWS, "flaky ADX")
    _faults(
        rig.endpoint,
        "POST",
        {"error": "InternalServerException", "count": 2, "operations": ["CreateDataGrant"]},
    )
    rig.sf.Opportunity.update(deal, {"StageName": "Closed Won"})
    rig.settle()

    rec = rig.sf.Opportunity.get(deal)
    assert rec["Entitlement_Status__c"] == "Granted"
    assert rec["Entitlement_Grant_Id__c"] in _received(rig)
    assert _faults(rig.endpoint, "GET")[1] == {"pending": 0}
    history = rig.worker.sfn.get_execution_history(
        executionArn=rig.worker.deployment.state_machine_arn.replace(":stateMachine:", ":execution:")
        + f":{rig.worker.state.outcomes[-1].execution}"
    )["events"]
    assert sum(e["type"] == "TaskFailed" for e in history) >= 2, json.dumps(history, default=str)[:2000]


def test_after_the_account_id_is_recorded_a_dlq_replay_grants_the_deal(rig: Rig) -> None:
    deal = _deal(rig, WITHOUT_AWS, "late account id")
    rig.sf.Opportunity.update(deal, {"StageName": "Closed Won"})
    rig.settle()
    assert rig.sf.Opportunity.get(deal)["Entitlement_Status__c"] == "Failed"

    rig.sf.Account.update(WITHOUT_AWS, {"AWS_Account_Id__c": ALICE})  # mirrored by the Account event
    rig.settle()
    replayed = rig.worker.replay_dlq(record_id=deal)

    assert [o.status for o in replayed] == ["GRANTED"]
    assert rig.sf.Opportunity.get(deal)["Entitlement_Grant_Id__c"] in _received(rig)
    assert not [m for m in rig.worker.dlq_messages() if m["recordId"] == deal]
    rig.sf.Account.update(WITHOUT_AWS, {"AWS_Account_Id__c": None})
    rig.settle()
