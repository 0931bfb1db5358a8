"""The real simple-salesforce SDK against the stand-in over HTTPS: both OAuth grants, CRUD, upsert,
describe, SOQL with paging and relationship fields, Salesforce-shaped errors, the limit header and the
403 storm, a restart that keeps records and sessions, and change events for what the SDK did."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from tests.stubs.salesforce.conftest import StartServer, login, trusting_session
from twin.streaming.memory import MemoryBroker
from twin.stubs.salesforce.cdc import CDC_TOPIC, ChangeEvent
from twin.stubs.salesforce.models import OrgConfig
from twin.stubs.salesforce.server import SalesforceServer

pytestmark = pytest.mark.live


def test_password_and_client_credentials_grants_log_in(server: SalesforceServer) -> None:
    ep = server.endpoint
    by_password = login(server)
    by_client = Salesforce(consumer_key=ep.consumer_key, consumer_secret=ep.consumer_secret,
                           domain=ep.login_domain, session=trusting_session(ep.ca_cert))  # fmt: skip
    for sf in (by_password, by_client):
        assert sf.sf_instance == f"127.0.0.1:{server.port}"
        assert sf.query("SELECT COUNT() FROM Account")["totalSize"] == 2


def test_the_default_soap_login_with_a_security_token(server: SalesforceServer) -> None:
    ep = server.endpoint
    sf = Salesforce(username=ep.username, password=ep.password, security_token=ep.security_token,
                    domain=ep.login_domain, session=trusting_session(ep.ca_cert))  # fmt: skip
    assert sf.query("SELECT COUNT() FROM Contract")["totalSize"] == 3
    with pytest.raises(SalesforceAuthenticationFailed, match="INVALID_LOGIN"):
        Salesforce(username=ep.username, password=ep.password, security_token="wrong",
                   domain=ep.login_domain, session=trusting_session(ep.ca_cert))  # fmt: skip


def test_soap_login_refuses_entity_declarations(server: SalesforceServer) -> None:
    ep = server.endpoint
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;">]>'
        b"<Envelope><username>&b;</username><password>x</password></Envelope>"
    )
    response = trusting_session(ep.ca_cert).post(
        f"{ep.instance_url}/services/Soap/u/59.0", data=bomb, headers={"SOAPAction": "login"}
    )
    assert response.status_code == 500 and b"INVALID_LOGIN" in response.content
    assert b"DTDs and entity declarations are not accepted" in response.content
    assert response.headers["Sforce-Limit-Info"].startswith("api-usage=")


def test_wrong_credentials_are_refused_like_salesforce(server: SalesforceServer) -> None:
    ep = server.endpoint
    with pytest.raises(SalesforceAuthenticationFailed, match="invalid_grant"):
        Salesforce(username=ep.username, password="wrong", consumer_key=ep.consumer_key,
                   consumer_secret=ep.consumer_secret, domain=ep.login_domain,
                   session=trusting_session(ep.ca_cert))  # fmt: skip
    with pytest.raises(SalesforceAuthenticationFailed, match="invalid_client"):
        Salesforce(consumer_key=ep.consumer_key, consumer_secret="wrong", domain=ep.login_domain,
                   session=trusting_session(ep.ca_cert))  # fmt: skip
    forged = Salesforce(instance_url=ep.instance_url, session_id=ep.instance_url and "00D5g000004TWIN!x.y",
                        session=trusting_session(ep.ca_cert))  # fmt: skip
    with pytest.raises(SalesforceExpiredSession) as err:
        forged.query("SELECT Id FROM Account")
    assert err.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_the_certificate_is_checked_not_skipped(server: SalesforceServer) -> None:
    plain = requests.Session()
    plain.trust_env = False  # the system CA store only: the local CA is not in it
    with pytest.raises(requests.exceptions.SSLError):
        plain.get(f"{server.endpoint.instance_url}/services/data")


def test_crud_round_trip(sf: Any) -> None:
    created = sf.Account.create({"Name": "Acme Capital", "AWS_Account_Id__c": "123456789012"})
    assert created["success"] and created["id"].startswith("001")
    account_id = created["id"]
    assert sf.Account.get(account_id)["Name"] == "Acme Capital"
    assert sf.Account.update(account_id, {"Name": "Acme Capital LLP"}) == 204
    assert sf.Account.get(account_id)["Name"] == "Acme Capital LLP"
    contact = sf.Contact.create({"AccountId": account_id, "LastName": "Nakamura", "Email": "k@acme.example"})
    assert sf.Contact.delete(contact["id"]) == 204
    with pytest.raises(SalesforceResourceNotFound):
        sf.Contact.get(contact["id"])
    assert sf.Account.delete(account_id) == 204


def test_upsert_and_get_by_external_id(sf: Any) -> None:
    account = sf.query("SELECT Id FROM Account WHERE Client_Id__c = 'CLI002'")["records"][0]["Id"]
    assert sf.Contract.upsert("Contract_Id__c/CTR777", {"AccountId": account, "Status": "Draft"}) == 201
    assert sf.Contract.upsert("Contract_Id__c/CTR777", {"Status": "Activated"}) == 200
    record = sf.Contract.get_by_custom_id("Contract_Id__c", "CTR777")
    assert (record["Status"], record["AccountId"]) == ("Activated", account)


def test_describe_lists_the_entitlement_fields(sf: Any) -> None:
    fields = {f["name"]: f for f in sf.Contract.describe()["fields"]}
    assert fields["Entitlement_Status__c"]["type"] == "picklist"
    assert {v["value"] for v in fields["Entitlement_Status__c"]["picklistValues"]} >= {"Granted", "Revoked"}
    assert fields["AccountId"]["referenceTo"] == ["Account"] and fields["Contract_Id__c"]["externalId"]
    assert {o["name"] for o in sf.describe()["sobjects"]} == {"Account", "Contact", "Opportunity", "Contract"}


def test_soql_pages_through_next_records_url_with_relationship_fields(start_server: StartServer) -> None:
    server = start_server(config=OrgConfig(batch_size=3))
    sf = login(server)
    account = sf.query("SELECT Id FROM Account WHERE Name LIKE 'Okafor%'")["records"][0]["Id"]
    for i in range(8):
        sf.Opportunity.create({"AccountId": account, "Name": f"Deal {i}", "StageName": "Prospecting",
                               "CloseDate": f"2026-12-{10 + i}", "Amount": 1000.0 * i})  # fmt: skip
    text = "SELECT Name, Amount, Account.Name FROM Opportunity WHERE Amount >= 1000 ORDER BY CloseDate DESC"
    first = sf.query(text)
    assert (first["totalSize"], first["done"], len(first["records"])) == (7, False, 3)
    assert first["nextRecordsUrl"].startswith("/services/data/v59.0/query/")
    everything = sf.query_all(text)
    assert [r["Name"] for r in everything["records"]] == [f"Deal {i}" for i in range(7, 0, -1)]
    assert {r["Account"]["Name"] for r in everything["records"]} == {"Okafor Capital Partners"}
    with pytest.raises(SalesforceMalformedRequest) as err:
        sf.query_more("/services/data/v59.0/query/01gNOPE-3", identifier_is_url=True)
    assert err.value.content[0]["errorCode"] == "INVALID_QUERY_LOCATOR"


@pytest.mark.parametrize(
    ("call", "exc", "code"),
    [
        (lambda sf: sf.query("SELEC Id FROM Account"), SalesforceMalformedRequest, "MALFORMED_QUERY"),
        (lambda sf: sf.query("SELECT Nope FROM Account"), SalesforceMalformedRequest, "INVALID_FIELD"),
        (lambda sf: sf.query("SELECT Id FROM Lead"), SalesforceMalformedRequest, "INVALID_TYPE"),
        (lambda sf: sf.Account.create({"Type": "hedge_fund"}), SalesforceMalformedRequest,
         "REQUIRED_FIELD_MISSING"),
        (lambda sf: sf.Account.update("001000000000000AAA", {"Name": "x"}), SalesforceResourceNotFound,
         "NOT_FOUND"),
        (lambda sf: sf.Account.create({"Name": "x", "Bogus__c": 1}), SalesforceMalformedRequest,
         "INVALID_FIELD"),
    ],
)  # fmt: skip
def test_errors_come_back_in_salesforce_shape(sf: Any, call: Any, exc: type[Exception], code: str) -> None:
    with pytest.raises(exc) as err:
        call(sf)
    body = err.value.content  # type: ignore[attr-defined]
    assert isinstance(body, list) and body[0]["errorCode"] == code
    assert set(body[0]) == {"message", "errorCode", "fields"} and body[0]["message"]


def test_limit_header_counts_calls_and_the_storm_gets_403(start_server: StartServer) -> None:
    server = start_server(config=OrgConfig(api_limit=5))
    sf = login(server)
    sf.query("SELECT Id FROM Account")
    assert (sf.api_usage["api-usage"].used, sf.api_usage["api-usage"].total) == (1, 5)
    for _ in range(4):
        sf.query("SELECT Id FROM Account")
    assert sf.api_usage["api-usage"].used == 5
    refused = 0
    for _ in range(10):
        with pytest.raises(SalesforceRefusedRequest) as err:
            sf.query("SELECT Id FROM Account")
        assert err.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
        refused += 1
    assert refused == 10
    raw = trusting_session(server.endpoint.ca_cert).get(
        f"{server.endpoint.instance_url}/services/data/v59.0/query",
        params={"q": "SELECT Id FROM Account"},
        headers={"Authorization": f"Bearer {sf.session_id}"},
    )
    assert raw.status_code == 403 and raw.headers["Sforce-Limit-Info"] == "api-usage=5/5"


def test_restart_keeps_records_and_sessions(start_server: StartServer) -> None:
    server = start_server()
    sf = login(server)
    new = sf.Account.create({"Name": "Survivor", "AWS_Account_Id__c": "999988887777"})["id"]
    server.stop()
    again = start_server()
    # the same session token still works on the restarted server (its port may differ)
    sf2 = Salesforce(instance_url=again.endpoint.instance_url, session_id=sf.session_id,
                     session=trusting_session(again.endpoint.ca_cert))  # fmt: skip
    assert sf2.Account.get(new)["Name"] == "Survivor"
    assert sf2.query("SELECT COUNT() FROM Contract")["totalSize"] == 3  # seeded once, not twice


def test_sdk_calls_publish_change_events(sf: Any, memory_broker: MemoryBroker) -> None:
    account = sf.query("SELECT Id FROM Account WHERE Client_Id__c = 'CLI001'")["records"][0]["Id"]
    data = {"AccountId": account, "Status": "Draft", "Data_Product__c": "DP-PCP"}
    contract = sf.Contract.create(data, headers={"Sforce-Call-Options": "client=entitlement-sync"})["id"]
    sf.Contract.update(contract, {"Status": "Activated", "StartDate": "2026-12-02"})
    sf.Contract.delete(contract)
    consumer = memory_broker.consumer("t", **{"auto.offset.reset": "earliest"})
    consumer.subscribe([CDC_TOPIC])
    records = []
    for _ in range(100):  # delivery runs on the server's CDC thread: wait for it, boundedly
        records += consumer.consume(100, timeout_s=0.05)
        if len(records) >= 3:
            break
    events = [ChangeEvent.from_message(json.loads(r.value or b"{}")) for r in records]
    assert [e.header.changeType for e in events] == ["CREATE", "UPDATE", "DELETE"]
    assert all(e.header.recordIds == [contract] for e in events)
    assert events[0].fields["Data_Product__c"] == "DP-PCP"
    assert events[1].header.changedFields == ["LastModifiedDate", "StartDate", "Status"]
    assert events[0].header.changeOrigin == "com/salesforce/api/rest/59.0;client=entitlement-sync"
    assert events[1].header.changeOrigin == "com/salesforce/api/rest/59.0"


def test_a_dead_broker_neither_blocks_nor_fails_api_calls_and_events_follow_later(
    start_server: StartServer,
) -> None:
    class DownThenUp:
        """A broker subscriber that hangs (as a broker timing out does) until released."""

        def __init__(self) -> None:
            self.release, self.got = threading.Event(), []

        def __call__(self, event: ChangeEvent) -> None:
            if not self.release.wait(timeout=5):
                raise ConnectionError("broker unreachable")
            self.got.append(event.header.recordIds[0])

    hook = DownThenUp()
    server = start_server()
    server.org.subscribers.append(hook)
    sf = login(server)
    ids = [sf.Account.create({"Name": f"During outage {i}"})["id"] for i in range(3)]
    assert hook.got == [] and len(server.org.outbox) >= 1  # the calls answered while delivery hangs
    hook.release.set()
    for _ in range(200):
        if hook.got == ids:
            break
        time.sleep(0.05)
    assert hook.got == ids


def test_oversized_and_malformed_bodies_are_refused_in_salesforce_shape(
    server: SalesforceServer, sf: Any
) -> None:
    session = trusting_session(server.endpoint.ca_cert)
    url = f"{server.endpoint.instance_url}/services/data/v59.0/sobjects/Account"
    auth = {"Authorization": f"Bearer {sf.session_id}", "Content-Type": "application/json"}
    big = session.post(url, data=b'{"Name": "' + b"x" * 2_000_000 + b'"}', headers=auth)
    assert big.status_code == 413 and big.json()[0]["errorCode"] == "REQUEST_TOO_LARGE"
    bad = session.post(url, data=b"{nope", headers=auth)
    assert bad.status_code == 400 and bad.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    not_object = session.post(url, data=b"[1, 2]", headers=auth)
    assert not_object.status_code == 400 and not_object.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
    unknown = session.get(f"{server.endpoint.instance_url}/services/nothing", headers=auth)
    assert unknown.status_code == 404 and unknown.json()[0]["errorCode"] == "NOT_FOUND"


def test_nan_is_not_json(server: SalesforceServer, sf: Any) -> None:
    session = trusting_session(server.endpoint.ca_cert)
    url = f"{server.endpoint.instance_url}/services/data/v59.0/sobjects/Opportunity"
    body = b'{"Name": "n", "StageName": "Prospecting", "CloseDate": "2026-12-01", "Amount": NaN}'
    response = session.post(url, data=body, headers={"Authorization": f"Bearer {sf.session_id}"})
    assert response.status_code == 400 and response.json()[0]["errorCode"] == "JSON_PARSER_ERROR"
