"""The org's state without HTTP: validation as the REST API applies it, upsert by external id, SOQL
evaluation (relationships, typed comparisons, ordering), the rolling API limit, change events, and
durability across a restart or a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.stubs.salesforce.conftest import seed
from twin.streaming.memory import MemoryBroker
from twin.stubs.salesforce.cdc import CDC_TOPIC, BrokerPublisher, ChangeEvent
from twin.stubs.salesforce.models import ApiLimiter, Org, SalesforceError, id_checksum
from twin.stubs.salesforce.query import run
from twin.stubs.salesforce.soql import parse

NOW = 1_795_000_000.0  # 2026-11-18, a fixed clock


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def make_org(state_dir: Path | None = None, clock: Clock | None = None) -> Org:
    org = Org(state_dir, clock=clock or Clock())
    if org.is_empty():
        org.seed(*seed())
    return org


def soql(org: Org, text: str) -> list[dict[str, Any]]:
    from datetime import UTC, datetime

    return run(org, parse(text, today=datetime.fromtimestamp(org.clock(), UTC).date()), "59.0")[1]


def test_ids_carry_salesforce_checksum_suffix() -> None:
    assert id_checksum("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    org = make_org()
    new = org.create("Account", {"Name": "Acme"})
    assert len(new) == 18 and new.startswith("001") and id_checksum(new[:15]) == new
    # a 15-character id finds the same record
    assert org.get("Account", new[:15])["Id"] == new


@pytest.mark.parametrize(
    ("sobject", "data", "code", "fields"),
    [
        ("Account", {}, "REQUIRED_FIELD_MISSING", ["Name"]),
        ("Account", {"Name": "x", "Nope__c": 1}, "INVALID_FIELD", ["Nope__c"]),
        ("Account", {"Name": "x", "Id": "001000000000000AAA"}, "INVALID_FIELD_FOR_INSERT_UPDATE", ["Id"]),
        ("Account", {"Name": "x" * 256}, "STRING_TOO_LONG", ["Name"]),
        ("Account", {"Name": "x", "Type": "bank"}, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", ["Type"]),
        ("Contract", {"AccountId": "001000000000000AAA", "Status": "Draft"}, "INVALID_CROSS_REFERENCE_KEY",
         ["AccountId"]),
        ("Contract", {"AccountId": "001A0000006Vm9rIAC", "Status": "Draft", "StartDate": "01/02/2026"},
         "INVALID_FIELD_VALUE", ["StartDate"]),
        ("Account", {"Name": "x", "Client_Id__c": "CLI001"}, "DUPLICATE_VALUE", ["Client_Id__c"]),
    ],
)  # fmt: skip
def test_create_is_validated_like_the_rest_api(
    sobject: str, data: dict[str, Any], code: str, fields: list[str]
) -> None:
    org = make_org()
    with pytest.raises(SalesforceError) as err:
        org.create(sobject, data)
    assert (err.value.status, err.value.code, err.value.fields) == (400, code, fields)


def test_unknown_object_and_record_are_not_found() -> None:
    org = make_org()
    with pytest.raises(SalesforceError) as err:
        org.create("Lead", {"Name": "x"})
    assert (err.value.status, err.value.code) == (404, "NOT_FOUND")
    with pytest.raises(SalesforceError) as err:
        org.get("Account", "001000000000000AAA")
    assert (err.value.status, err.value.code) == (404, "NOT_FOUND")


def test_upsert_by_external_id_creates_then_updates_the_same_record() -> None:
    org = make_org()
    first, created = org.upsert("Contract", "Contract_Id__c", "CTR900",
                                {"AccountId": "001A0000006Vm9rIAC", "Status": "Draft"})  # fmt: skip
    second, created_again = org.upsert("Contract", "Contract_Id__c", "CTR900", {"Status": "Activated"})
    assert (created, created_again, first == second) == (True, False, True)
    assert org.get("Contract", first)["Status"] == "Activated"
    with pytest.raises(SalesforceError) as err:
        org.upsert("Contract", "Status", "Draft", {})
    assert err.value.code == "NOT_FOUND"


def test_account_with_children_cannot_be_deleted() -> None:
    org = make_org()
    with pytest.raises(SalesforceError) as err:
        org.delete("Account", "001A0000006Vm9rIAC")
    assert err.value.code == "DELETE_FAILED"


def test_query_filters_through_parent_relationship_and_shapes_nested_records() -> None:
    org = make_org()
    rows = soql(org, "SELECT Contract_Id__c, Account.Name, Account.AWS_Account_Id__c FROM Contract "
                     "WHERE Account.Name LIKE 'okafor%' ORDER BY Contract_Id__c")  # fmt: skip
    assert [r["Contract_Id__c"] for r in rows] == ["CTR001", "CTR002"]
    assert rows[0]["Account"]["Name"] == "Okafor Capital Partners"
    assert rows[0]["Account"]["AWS_Account_Id__c"] == "111122223333"
    assert rows[0]["Account"]["attributes"]["type"] == "Account"
    assert rows[0]["attributes"]["url"].startswith("/services/data/v59.0/sobjects/Contract/800")


def test_query_compares_dates_as_dates_and_places_nulls_as_salesforce_does() -> None:
    org = make_org()
    rows = soql(org, "SELECT Contract_Id__c FROM Contract WHERE StartDate >= 2025-01-01 ORDER BY StartDate")
    assert [r["Contract_Id__c"] for r in rows] == ["CTR001", "CTR003"]
    asc = soql(org, "SELECT Contract_Id__c FROM Contract ORDER BY EndDate, Contract_Id__c")
    desc = soql(org, "SELECT Contract_Id__c FROM Contract ORDER BY EndDate DESC, Contract_Id__c")
    # nulls first ascending, last descending (Salesforce's defaults)
    assert [r["Contract_Id__c"] for r in asc] == ["CTR001", "CTR003", "CTR002"]
    assert [r["Contract_Id__c"] for r in desc] == ["CTR002", "CTR001", "CTR003"]
    nulls_last = soql(
        org, "SELECT Contract_Id__c FROM Contract ORDER BY EndDate ASC NULLS LAST, Contract_Id__c"
    )
    assert [r["Contract_Id__c"] for r in nulls_last] == ["CTR002", "CTR001", "CTR003"]


def test_query_in_not_in_null_and_or_not_limit_offset() -> None:
    org = make_org()
    ids = lambda text: [r["Contract_Id__c"] for r in soql(org, text)]  # noqa: E731
    base = "SELECT Contract_Id__c FROM Contract WHERE "
    assert ids(base + "Status IN ('Activated', 'Draft') ORDER BY Contract_Id__c") == ["CTR001", "CTR003"]
    assert ids(base + "Status NOT IN ('Activated', 'Draft')") == ["CTR002"]
    assert ids(base + "EndDate != null") == ["CTR002"]
    assert ids(base + "NOT (Status = 'Draft' OR Status = 'terminated') ") == ["CTR001"]
    assert ids("SELECT Contract_Id__c FROM Contract ORDER BY Contract_Id__c LIMIT 1 OFFSET 1") == ["CTR002"]


def test_relative_date_keywords_follow_the_injected_clock() -> None:
    clock = Clock()
    org = make_org(clock=clock)
    new = org.create("Opportunity", {"Name": "Deal", "StageName": "Prospecting", "CloseDate": "2026-11-10"})
    text = "SELECT Id FROM Opportunity WHERE CloseDate = LAST_N_DAYS:10"
    assert [r["Id"] for r in soql(org, text)] == [new]
    clock.t += 5 * 86_400
    assert soql(org, text) == []


def test_query_errors_name_the_field() -> None:
    org = make_org()
    with pytest.raises(SalesforceError) as err:
        soql(org, "SELECT Account.Nme FROM Contract")
    assert err.value.code == "INVALID_FIELD" and "Account.Nme" in err.value.message
    with pytest.raises(SalesforceError) as err:
        soql(org, "SELECT Id FROM Contract WHERE StartDate > '2025-01-01'")
    assert err.value.code == "INVALID_FIELD" and "StartDate" in err.value.message


def test_api_limit_is_a_rolling_window_and_refused_calls_do_not_count() -> None:
    clock = Clock()
    limiter = ApiLimiter(3, 60.0, clock)
    assert [limiter.take() for _ in range(3)] == [1, 2, 3]
    with pytest.raises(SalesforceError) as err:
        limiter.take()
    assert (err.value.status, err.value.code) == (403, "REQUEST_LIMIT_EXCEEDED")
    assert limiter.usage() == 3
    clock.t += 60.0
    assert limiter.take() == 1


def _events(broker: MemoryBroker) -> list[tuple[bytes | None, ChangeEvent]]:
    consumer = broker.consumer("test", **{"auto.offset.reset": "earliest"})
    consumer.subscribe([CDC_TOPIC])
    records = consumer.consume(max_records=100, timeout_s=0)
    records.sort(key=lambda r: json.loads(r.value or b"{}")["data"]["event"]["replayId"])
    return [(r.key, ChangeEvent.from_message(json.loads(r.value or b"{}"))) for r in records]


def test_change_events_for_create_update_delete_reach_the_broker_and_hooks() -> None:
    broker = MemoryBroker()
    org = make_org(clock=Clock())
    seen: list[ChangeEvent] = []
    org.subscribers += [BrokerPublisher(broker), seen.append]
    opp = org.create("Opportunity", {"AccountId": "001A0000006Vm9rIAC", "Name": "ESG deal",
                                     "StageName": "Negotiation/Review", "CloseDate": "2026-12-01"},
                     origin="com/salesforce/api/rest/59.0")  # fmt: skip
    org.update("Opportunity", opp, {"StageName": "Closed Won", "Amount": None, "Data_Product__c": "DP-ESG"})
    org.update("Opportunity", opp, {"StageName": "Closed Won"})  # no change: no event
    org.delete("Opportunity", opp)
    events = _events(broker)
    assert [e.header.changeType for _, e in events] == ["CREATE", "UPDATE", "DELETE"]
    assert [e.model_dump() for _, e in events] == [e.model_dump() for e in seen]
    assert all(key == opp.encode() for key, _ in events)
    create, update, delete = (e for _, e in events)
    h = create.header
    assert (h.entityName, h.recordIds, h.changedFields, h.sequenceNumber) == ("Opportunity", [opp], [], 1)
    assert h.changeOrigin == "com/salesforce/api/rest/59.0" and h.commitUser.startswith("005")
    assert h.commitTimestamp == int(NOW * 1000)
    assert create.fields["StageName"] == "Negotiation/Review" and "Amount" not in create.fields
    # UPDATE: only what changed; a field set to null is listed, not sent (Amount was already null)
    assert update.header.changedFields == ["Data_Product__c", "LastModifiedDate", "StageName"]
    assert update.fields == {"StageName": "Closed Won", "Data_Product__c": "DP-ESG",
                             "LastModifiedDate": update.fields["LastModifiedDate"]}  # fmt: skip
    assert delete.fields == {} and delete.header.recordIds == [opp]
    commits = [e.header.commitNumber for _, e in events]
    assert commits == sorted(commits) and len(set(commits)) == 3
    assert len({e.header.transactionKey for _, e in events}) == 3
    assert events[0][1].channel == "/data/OpportunityChangeEvent"


def test_nulling_a_field_is_reported_in_nulled_fields() -> None:
    org = make_org()
    seen: list[ChangeEvent] = []
    org.subscribers.append(seen.append)
    contract = soql(org, "SELECT Id FROM Contract WHERE Contract_Id__c = 'CTR002'")[0]["Id"]
    org.update("Contract", contract, {"EndDate": None})
    assert seen[0].header.nulledFields == ["EndDate"] and "EndDate" in seen[0].header.changedFields


def test_state_survives_a_restart_and_a_torn_journal_line(tmp_path: Path) -> None:
    org = make_org(tmp_path)
    new = org.create("Account", {"Name": "Acme", "AWS_Account_Id__c": "123456789012"})
    org.update("Account", new, {"Name": "Acme Ltd"})
    gone = org.create("Account", {"Name": "Gone"})
    org.delete("Account", gone)
    # a crash: no close(), and half a line written after the last answered call
    with org.journal_path.open("a") as fh:
        fh.write('{"op": "upsert", "sobject": "Acc')
    again = make_org(tmp_path)
    assert again.get("Account", new)["Name"] == "Acme Ltd"
    with pytest.raises(SalesforceError):
        again.get("Account", gone)
    assert len(again.records["Contract"]) == 3
    # ids keep counting after a restart: no reuse
    assert again.create("Account", {"Name": "Next"}) not in (new, gone)


def test_a_15_character_id_in_a_filter_finds_the_record() -> None:
    org = make_org()
    rows = soql(org, "SELECT Contract_Id__c FROM Contract WHERE AccountId = '001A0000006Vm9s' ")
    assert [r["Contract_Id__c"] for r in rows] == ["CTR003"]


class FlakyBroker:
    """A subscriber standing in for a broker that is down for the first `down` deliveries."""

    def __init__(self, down: int) -> None:
        self.down, self.got = down, []

    def __call__(self, event: ChangeEvent) -> None:
        if self.down > 0:
            self.down -= 1
            raise ConnectionError("broker unreachable")
        self.got.append(event)


def test_a_broker_outage_delays_events_but_loses_none_and_keeps_their_order() -> None:
    clock = Clock()
    org = make_org(clock=clock)
    flaky = FlakyBroker(down=2)
    org.subscribers.append(flaky)
    first = org.create("Account", {"Name": "A"})  # the write succeeds although delivery failed
    assert org.get("Account", first)["Name"] == "A"
    assert len(org.outbox) == 1 and org.delivery_error == "ConnectionError: broker unreachable"
    second = org.create("Account", {"Name": "B"})  # inside the backoff: queued, not attempted
    assert (len(org.outbox), flaky.down, flaky.got) == (2, 1, [])
    clock.t += 0.5
    assert org.drain() == 2 and flaky.down == 0  # attempted after the backoff, failed again
    assert org.drain() == 2  # the backoff doubled: not yet
    clock.t += 1.0
    assert org.drain() == 0
    assert [e.header.recordIds[0] for e in flaky.got] == [first, second]
    assert org.delivery_error is None


def test_undelivered_events_survive_a_crash_and_are_delivered_after_restart(tmp_path: Path) -> None:
    org = make_org(tmp_path)
    org.subscribers.append(FlakyBroker(down=99))
    new = org.create("Account", {"Name": "Pending"})
    # crash: no close(); a new process recovers the org and attaches a working subscriber
    again = make_org(tmp_path)
    seen: list[ChangeEvent] = []
    again.subscribers.append(seen.append)
    assert again.drain() == 0
    assert [(e.header.changeType, e.header.recordIds) for e in seen] == [("CREATE", [new])]
    # a clean close keeps only what is still undelivered: nothing is delivered twice after it
    again.close()
    third = make_org(tmp_path)
    assert not third.outbox


def test_the_same_calls_on_the_same_clock_give_the_same_events() -> None:
    def run_once() -> list[dict[str, Any]]:
        org = make_org(clock=Clock())
        seen: list[ChangeEvent] = []
        org.subscribers.append(seen.append)
        new = org.create("Account", {"Name": "Repeatable"})
        org.update("Account", new, {"Region__c": "APAC"})
        return [e.model_dump() for e in seen]

    first = run_once()
    assert first == run_once()
    assert first[0]["header"]["transactionKey"] != first[1]["header"]["transactionKey"]
