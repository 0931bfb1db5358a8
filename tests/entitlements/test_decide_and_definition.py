"""What the worker decides from a change event, and the shape of the deployed ASL definition (every
remote step retries with Step Functions semantics and ends on the DLQ when it keeps failing)."""

from __future__ import annotations

from typing import Any

import pytest

from twin.entitlements.deploy import definition
from twin.entitlements.worker import Decision, decide, execution_name
from twin.stubs.salesforce.cdc import ChangeEvent, ChangeEventHeader


def _event(entity: str, change: str, fields: dict[str, Any], commit: int = 7) -> ChangeEvent:
    header = ChangeEventHeader(
        entityName=entity, recordIds=["0065g0000000001AAA"], changeType=change, changeOrigin="",
        transactionKey="t", sequenceNumber=1, commitTimestamp=0, commitNumber=commit,
        commitUser="005", changedFields=list(fields) if change == "UPDATE" else [], nulledFields=[],
        diffFields=[],
    )  # fmt: skip
    return ChangeEvent(header=header, fields=fields, replay_id=commit)


@pytest.mark.parametrize(
    ("entity", "change", "fields", "action"),
    [
        ("Opportunity", "UPDATE", {"StageName": "Closed Won"}, "GRANT"),
        ("Opportunity", "CREATE", {"StageName": "Closed Won", "Name": "x"}, "GRANT"),
        ("Contract", "UPDATE", {"Status": "Activated"}, "GRANT"),
        ("Contract", "UPDATE", {"Status": "Terminated"}, "REVOKE"),
        ("Contract", "UPDATE", {"Status": "Expired"}, "REVOKE"),
    ],
)
def test_closing_or_activating_grants_and_terminating_or_expiring_revokes(entity, change, fields, action):
    assert decide(_event(entity, change, fields)) == [
        Decision(action=action, sobject=entity, record_id="0065g0000000001AAA", commit_number=7)
    ]


@pytest.mark.parametrize(
    ("entity", "change", "fields"),
    [
        ("Opportunity", "UPDATE", {"StageName": "Negotiation/Review"}),
        ("Opportunity", "UPDATE", {"Amount": 10.0}),  # closed long ago: no stage in the change
        ("Opportunity", "UPDATE", {"Entitlement_Status__c": "Granted"}),  # the worker's own write-back
        ("Opportunity", "UPDATE", {"StageName": "Closed Lost"}),
        ("Opportunity", "DELETE", {}),
        ("Contract", "UPDATE", {"Status": "Draft"}),
        ("Account", "UPDATE", {"AWS_Account_Id__c": "111122223333"}),
    ],
)
def test_other_changes_ask_for_nothing(entity, change, fields):
    assert decide(_event(entity, change, fields)) == []


def test_the_execution_name_is_the_same_for_a_redelivered_event_and_differs_per_commit():
    first = decide(_event("Opportunity", "UPDATE", {"StageName": "Closed Won"}, commit=7))[0]
    again = decide(_event("Opportunity", "UPDATE", {"StageName": "Closed Won"}, commit=7))[0]
    later = decide(_event("Opportunity", "UPDATE", {"StageName": "Closed Won"}, commit=9))[0]
    assert execution_name(first) == execution_name(again) != execution_name(later)
    assert len(execution_name(first)) <= 80


def _reachable(states: dict[str, Any], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        s = states[name]
        nexts = [s.get("Next"), s.get("Default")]
        nexts += [c["Next"] for c in s.get("Choices", [])] + [c["Next"] for c in s.get("Catch", [])]
        todo.extend(n for n in nexts if n)
    return seen


def test_every_state_is_reachable_and_every_transition_names_a_state():
    doc = definition()
    states = doc["States"]
    assert _reachable(states, doc["StartAt"]) == set(states)


def test_every_remote_step_retries_with_backoff_and_dead_letters_after_the_last_attempt():
    states = definition()["States"]
    tasks = {n: s for n, s in states.items() if s["Type"] == "Task"}
    assert {"LookupAwsAccount", "CreateDataGrant", "DeleteDataGrant", "SendToDlq"} <= set(tasks)
    for name, s in tasks.items():
        catch_all = [r for r in s["Retry"] if r["ErrorEquals"] == ["States.ALL"]]
        assert catch_all, name
        assert catch_all[0]["IntervalSeconds"] >= 1 and catch_all[0]["BackoffRate"] > 1
        assert catch_all[0]["MaxAttempts"] >= 2
        if name == "SendToDlq":
            continue
        fallback = [c for c in s["Catch"] if c["ErrorEquals"] == ["States.ALL"]]
        assert fallback, name
        # the catch path records the failed step and ends on the DLQ
        failed = states[fallback[0]["Next"]]
        assert failed["Result"] == name and failed["Next"] == "SendToDlq"
    assert states["SendToDlq"]["Next"] == "DeadLettered"
    assert states["DeadLettered"]["Type"] == "Fail"


def test_an_event_for_a_record_that_is_gone_is_recorded_as_failed_and_the_worker_goes_on(tmp_path):
    from twin.entitlements.crm import OrgCrm
    from twin.entitlements.deploy import Deployment
    from twin.entitlements.worker import EntitlementWorker
    from twin.stubs.salesforce.models import Org

    deployment = Deployment(state_machine_arn="arn:aws:states:us-east-1:1:stateMachine:x", dlq_url="q",
                            accounts_table="t")  # fmt: skip
    worker = EntitlementWorker(
        OrgCrm(Org()), None, None, None, deployment, {}, state_path=tmp_path / "w.json"
    )
    event = _event("Opportunity", "UPDATE", {"StageName": "Closed Won"})

    [outcome] = worker.handle(event)

    assert outcome.status == "FAILED"
    assert "SalesforceError" in outcome.error
    assert worker.state.last_commit == {}  # not applied: a redelivery tries again
    assert "FAILED" in (tmp_path / "w.json").read_text()
