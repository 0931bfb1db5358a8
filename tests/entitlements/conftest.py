"""The workflow end to end: the AWS endpoint (moto + Data Exchange) and the Salesforce stand-in on
127.0.0.1, the real boto3 and simple-salesforce, and the worker fed by the org's in-process CDC hook."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.stubs.adx.conftest import AS_OF, published_data_set
from tests.stubs.salesforce.conftest import login
from twin.entitlements.crm import SimpleSalesforceCrm
from twin.entitlements.deploy import Deployment, deploy
from twin.entitlements.worker import EntitlementWorker
from twin.stubs.aws.server import AwsEndpoint, AwsEndpointConfig, SubscriberAccount
from twin.stubs.salesforce.seed import records_from_rows
from twin.stubs.salesforce.server import SalesforceServer

ALICE = "111122223333"
CLIENTS = [
    {"client_id": "CLI001", "name": "Okafor Capital Partners", "type": "hedge_fund",
     "salesforce_account_id": "001A0000006Vm9rIAC", "aws_account_id": ALICE, "region": "EMEA"},
    # a client whose AWS account was never recorded: its deals must end on the DLQ
    {"client_id": "CLI009", "name": "Nowhere Asset Management", "type": "asset_manager",
     "salesforce_account_id": "001A0000006Vm9tIAC", "aws_account_id": None, "region": "APAC"},
]  # fmt: skip
WITH_AWS, WITHOUT_AWS = CLIENTS[0]["salesforce_account_id"], CLIENTS[1]["salesforce_account_id"]


@pytest.fixture(scope="module")
def endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsEndpoint]:
    config = AwsEndpointConfig(
        state_dir=tmp_path_factory.mktemp("aws"),
        subscribers=[SubscriberAccount(account_id=ALICE, name="CLI001")],
    )
    with AwsEndpoint(config, business_clock=lambda: AS_OF) as ep:
        yield ep


@pytest.fixture(scope="module")
def client(endpoint: AwsEndpoint) -> Callable[..., Any]:
    import boto3

    def make(service: str, account: str | None = None) -> Any:
        state = endpoint.state()
        cred = state.credential_for(account or state.provider_account)
        return boto3.client(
            service,
            endpoint_url=endpoint.url,
            region_name="us-east-1",
            aws_access_key_id=cred.access_key_id,
            aws_secret_access_key=cred.secret_access_key,
        )

    return make


@pytest.fixture(scope="module")
def deployment(client: Callable[..., Any]) -> Deployment:
    return deploy(client("stepfunctions"), client("sqs"), client("dynamodb"))


@pytest.fixture(scope="module")
def products(client: Callable[..., Any]) -> dict[str, str]:
    return {"DP-ESG": published_data_set(client)["data_set"]}


@dataclass
class Rig:
    server: SalesforceServer
    sf: Any
    worker: EntitlementWorker
    client: Callable[..., Any]
    endpoint: AwsEndpoint

    def settle(self, timeout_s: float = 30.0) -> None:
        """Wait until every change event committed so far has been handled."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.server.org.drain(force=True)
            if not self.server.org.outbox and self.worker.queue.unfinished_tasks == 0:
                return
            time.sleep(0.02)
        raise AssertionError("change events still unhandled")


@pytest.fixture(scope="module")
def rig(
    tmp_path_factory: pytest.TempPathFactory,
    endpoint: AwsEndpoint,
    client: Callable[..., Any],
    deployment: Deployment,
    products: dict[str, str],
) -> Iterator[Rig]:
    # One org for the module: record ids (and so execution names) are unique within an org, as in
    # Salesforce, while the AWS endpoint keeps every execution of the module.
    tmp_path = tmp_path_factory.mktemp("org")
    server = SalesforceServer(tmp_path / "org", seed=records_from_rows(CLIENTS, [])).start()
    sf = login(server)
    worker = EntitlementWorker(
        SimpleSalesforceCrm(sf),
        client("stepfunctions"),
        client("sqs"),
        client("dynamodb"),
        deployment,
        products,
        state_path=tmp_path / "worker.json",
    )
    worker.sync_accounts()
    server.org.subscribers.append(worker.subscriber)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run_queue, args=(stop,), daemon=True)
    thread.start()
    try:
        yield Rig(server, sf, worker, client, endpoint)
    finally:
        stop.set()
        thread.join(timeout=10)
        server.stop()
