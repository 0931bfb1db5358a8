"""Shared set-up for the Salesforce stand-in tests: a small org, an in-process HTTPS server with the
memory broker, and a client made by the real simple-salesforce SDK that trusts the local CA."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.streaming.conftest import kafka_cluster  # noqa: F401  (the one live-broker test uses it)
from twin.streaming.memory import MemoryBroker
from twin.stubs.salesforce.models import OrgConfig
from twin.stubs.salesforce.seed import records_from_rows
from twin.stubs.salesforce.server import SalesforceServer

CLIENTS = [
    {"client_id": "CLI001", "name": "Okafor Capital Partners", "type": "hedge_fund",
     "salesforce_account_id": "001A0000006Vm9rIAC", "aws_account_id": "111122223333", "region": "EMEA"},
    {"client_id": "CLI002", "name": "Lindqvist Pension Fund", "type": "pension_fund",
     "salesforce_account_id": "001A0000006Vm9sIAC", "aws_account_id": "444455556666", "region": "Americas"},
]  # fmt: skip


def seed() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    from datetime import date

    contracts = [
        {"contract_id": "CTR001", "client_id": "CLI001", "product_id": "DP-ESG", "status": "active",
         "start_date": date(2025, 1, 1), "end_date": None},
        {"contract_id": "CTR002", "client_id": "CLI001", "product_id": "DP-MAC", "status": "terminated",
         "start_date": date(2024, 6, 1), "end_date": date(2025, 3, 31)},
        {"contract_id": "CTR003", "client_id": "CLI002", "product_id": "DP-HFB", "status": "draft",
         "start_date": date(2026, 12, 20), "end_date": None},
    ]  # fmt: skip
    return records_from_rows(CLIENTS, contracts)


def trusting_session(ca_cert: Path) -> Any:
    """A requests session trusting only the stand-in's CA. `trust_env=False` because requests lets a
    REQUESTS_CA_BUNDLE from the environment override `session.verify`."""
    import requests

    session = requests.Session()
    session.trust_env = False
    session.verify = str(ca_cert)
    return session


def login(server: SalesforceServer, **kwargs: Any) -> Any:
    from simple_salesforce import Salesforce

    ep = server.endpoint
    return Salesforce(
        username=ep.username, password=ep.password, consumer_key=ep.consumer_key,
        consumer_secret=ep.consumer_secret, domain=ep.login_domain, session=trusting_session(ep.ca_cert),
        **kwargs,
    )  # fmt: skip


StartServer = Callable[..., SalesforceServer]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[StartServer]:
    """Start servers on `tmp_path/org` (same folder each call, so a second one is a restart)."""
    running: list[SalesforceServer] = []

    def start(config: OrgConfig | None = None, broker: MemoryBroker | None = None) -> SalesforceServer:
        server = SalesforceServer(tmp_path / "org", config=config, broker=broker, seed=seed()).start()
        running.append(server)
        return server

    yield start
    for server in running:
        if server._thread is not None and server._thread.is_alive():
            server.stop()


@pytest.fixture
def memory_broker() -> MemoryBroker:
    return MemoryBroker()


@pytest.fixture
def server(start_server: StartServer, memory_broker: MemoryBroker) -> SalesforceServer:
    return start_server(broker=memory_broker)


@pytest.fixture
def sf(server: SalesforceServer) -> Any:
    return login(server)
