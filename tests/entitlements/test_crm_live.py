"""The worker's Salesforce adapter over the real simple-salesforce rides out REQUEST_LIMIT_EXCEEDED."""

from __future__ import annotations

from pathlib import Path

import pytest
from simple_salesforce.exceptions import SalesforceRefusedRequest

from tests.entitlements.conftest import CLIENTS, WITH_AWS
from tests.stubs.salesforce.conftest import login
from twin.entitlements.crm import CrmLimitExceeded, SimpleSalesforceCrm
from twin.stubs.salesforce.models import OrgConfig
from twin.stubs.salesforce.seed import records_from_rows
from twin.stubs.salesforce.server import SalesforceServer

pytestmark = pytest.mark.live


def test_a_refused_call_is_retried_until_the_rolling_window_frees_up(tmp_path: Path) -> None:
    config = OrgConfig(api_limit=4, limit_window_s=0.5)
    with SalesforceServer(tmp_path / "org", config=config, seed=records_from_rows(CLIENTS, [])) as server:
        sf = login(server)
        waits: list[float] = []
        crm = SimpleSalesforceCrm(sf, first_backoff_s=0.2, sleep=lambda s: (waits.append(s), _sleep(s)))
        while True:  # use the window up
            try:
                sf.Account.get(WITH_AWS)
            except SalesforceRefusedRequest:
                break

        assert crm.get("Account", WITH_AWS)["AWS_Account_Id__c"] == CLIENTS[0]["aws_account_id"]
        assert crm.throttled >= 1 and waits


def test_a_limit_that_never_frees_up_is_a_clear_error(tmp_path: Path) -> None:
    config = OrgConfig(api_limit=2, limit_window_s=3600)
    with SalesforceServer(tmp_path / "org", config=config, seed=records_from_rows(CLIENTS, [])) as server:
        sf = login(server)
        crm = SimpleSalesforceCrm(sf, max_wait_s=1.0, sleep=lambda s: None)
        with pytest.raises(CrmLimitExceeded, match="REQUEST_LIMIT_EXCEEDED"):
            for _ in range(5):
                crm.accounts()


def _sleep(s: float) -> None:
    import time

    time.sleep(s)
