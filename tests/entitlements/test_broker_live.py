"""The worker fed from the CDC topic (what `twin entitlements run` does), here on the memory broker that
passes the same contract suite as Kafka: a closed deal arrives as a broker record and is granted."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.entitlements.conftest import ALICE, CLIENTS, WITH_AWS
from tests.stubs.salesforce.conftest import login
from twin.entitlements.crm import SimpleSalesforceCrm
from twin.entitlements.deploy import Deployment
from twin.entitlements.worker import EntitlementWorker
from twin.streaming.memory import MemoryBroker
from twin.stubs.salesforce.cdc import CDC_TOPIC
from twin.stubs.salesforce.seed import records_from_rows
from twin.stubs.salesforce.server import SalesforceServer

pytestmark = pytest.mark.live


def test_a_deal_closed_in_salesforce_is_granted_from_the_cdc_topic(
    tmp_path: Path, client: Callable[..., Any], deployment: Deployment, products: dict[str, str]
) -> None:
    broker = MemoryBroker()
    server = SalesforceServer(tmp_path / "org", broker=broker, seed=records_from_rows(CLIENTS, [])).start()
    stop = threading.Event()
    try:
        sf = login(server)
        worker = EntitlementWorker(
            SimpleSalesforceCrm(sf), client("stepfunctions"), client("sqs"), client("dynamodb"),
            deployment, products,
        )  # fmt: skip
        worker.sync_accounts()
        thread = threading.Thread(target=worker.run_broker, args=(broker, CDC_TOPIC, stop), daemon=True)
        thread.start()
        deal = sf.Opportunity.create(
            {"AccountId": WITH_AWS, "Name": "via the topic", "StageName": "Closed Won",
             "CloseDate": "2026-12-01", "Data_Product__c": "DP-ESG"}
        )["id"]  # fmt: skip

        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not sf.Opportunity.get(deal)["Entitlement_Status__c"]:
            time.sleep(0.05)

        rec = sf.Opportunity.get(deal)
        assert rec["Entitlement_Status__c"] == "Granted"
        received = client("dataexchange", ALICE).list_received_data_grants()["DataGrantSummaries"]
        assert rec["Entitlement_Grant_Id__c"] in {g["Id"] for g in received}
    finally:
        stop.set()
        server.stop()
