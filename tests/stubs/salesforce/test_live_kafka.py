"""Change events on the real broker: what the SDK changes arrives on Kafka, keyed by record id, with the
ChangeEventHeader intact (the same publisher the memory-broker tests use, through the broker port)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.stubs.salesforce.conftest import login, seed
from twin.streaming.broker import LocalKafkaCluster
from twin.streaming.kafka_adapter import KafkaBroker
from twin.stubs.salesforce.cdc import CDC_TOPIC, ChangeEvent
from twin.stubs.salesforce.server import SalesforceServer

pytestmark = pytest.mark.live


def test_change_events_reach_kafka_in_commit_order(kafka_cluster: LocalKafkaCluster, tmp_path: Path) -> None:
    broker = KafkaBroker(kafka_cluster.bootstrap)
    with SalesforceServer(tmp_path / "org", broker=broker, seed=seed()) as server:
        sf = login(server)
        account = sf.query("SELECT Id FROM Account WHERE Client_Id__c = 'CLI002'")["records"][0]["Id"]
        opp = sf.Opportunity.create(
            {
                "AccountId": account,
                "Name": "HFB deal",
                "StageName": "Qualification",
                "CloseDate": "2026-12-15",
                "Data_Product__c": "DP-HFB",
            }
        )["id"]
        sf.Opportunity.update(opp, {"StageName": "Closed Won"})
        sf.Opportunity.delete(opp)
    consumer = broker.consumer("cdc-test", **{"auto.offset.reset": "earliest"})
    consumer.subscribe([CDC_TOPIC])
    records = []
    deadline = time.monotonic() + 30
    while len(records) < 3 and time.monotonic() < deadline:
        records += consumer.consume(max_records=10, timeout_s=1.0)
    consumer.close()
    assert {r.key for r in records} == {opp.encode()}
    events = [ChangeEvent.from_message(json.loads(r.value or b"{}")) for r in records]
    assert [e.header.changeType for e in events] == ["CREATE", "UPDATE", "DELETE"]
    assert [e.header.entityName for e in events] == ["Opportunity"] * 3
    assert events[1].header.changedFields == ["LastModifiedDate", "StageName"]
    assert events[0].header.commitNumber < events[1].header.commitNumber < events[2].header.commitNumber
