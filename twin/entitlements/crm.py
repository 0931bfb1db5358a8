"""The Salesforce side of the workflow as a port with two adapters: `OrgCrm` straight onto the stand-in's
`Org` (sim mode, no HTTP) and `SimpleSalesforceCrm` through the real simple-salesforce SDK (live mode, or
a real org). The SDK adapter rides out 403 REQUEST_LIMIT_EXCEEDED: the org's limit is a rolling minute, so
it waits with capped exponential backoff instead of failing the entitlement."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from twin.errors import TwinError

__all__ = ["Crm", "CrmLimitExceeded", "OrgCrm", "SimpleSalesforceCrm"]

ORIGIN = "twin-entitlements"


class CrmLimitExceeded(TwinError, RuntimeError):
    """The org kept refusing calls (REQUEST_LIMIT_EXCEEDED) for longer than the adapter waits."""


class Crm(Protocol):
    def get(self, sobject: str, record_id: str) -> dict[str, Any]: ...

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None: ...

    def accounts(self) -> list[dict[str, Any]]:
        """Every Account's Id and AWS_Account_Id__c."""
        ...


class OrgCrm:
    def __init__(self, org: Any) -> None:
        self.org = org

    def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        return dict(self.org.get(sobject, record_id))

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        self.org.update(sobject, record_id, fields, origin=ORIGIN)

    def accounts(self) -> list[dict[str, Any]]:
        return [
            {"Id": r["Id"], "AWS_Account_Id__c": r.get("AWS_Account_Id__c")}
            for r in self.org.records["Account"].values()
        ]


class SimpleSalesforceCrm:
    def __init__(
        self,
        sf: Any,
        *,
        max_wait_s: float = 90.0,
        first_backoff_s: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sf = sf
        self.max_wait_s, self.first_backoff_s, self.sleep = max_wait_s, first_backoff_s, sleep
        self.throttled = 0  # refused calls seen, for status and the benchmark

    def _call(self, fn: Callable[[], Any]) -> Any:
        from simple_salesforce.exceptions import SalesforceRefusedRequest

        waited, backoff = 0.0, self.first_backoff_s
        while True:
            try:
                return fn()
            except SalesforceRefusedRequest as e:
                content: Any = e.content  # Salesforce's error list (the SDK types it loosely)
                codes = {c.get("errorCode") for c in (content or []) if isinstance(c, dict)}
                if "REQUEST_LIMIT_EXCEEDED" not in codes:
                    raise
                self.throttled += 1
                if waited >= self.max_wait_s:
                    raise CrmLimitExceeded(
                        f"Salesforce refused calls with REQUEST_LIMIT_EXCEEDED for {waited:.0f} s; "
                        "raise the org's API limit or lower the deal rate"
                    ) from None
                self.sleep(backoff)
                waited += backoff
                backoff = min(backoff * 2, 10.0)

    def get(self, sobject: str, record_id: str) -> dict[str, Any]:
        rec = self._call(lambda: getattr(self.sf, sobject).get(record_id))
        return {k: v for k, v in dict(rec).items() if k != "attributes"}

    def update(self, sobject: str, record_id: str, fields: dict[str, Any]) -> None:
        self._call(lambda: getattr(self.sf, sobject).update(record_id, fields))

    def accounts(self) -> list[dict[str, Any]]:
        res = self._call(lambda: self.sf.query_all("SELECT Id, AWS_Account_Id__c FROM Account"))
        return [{"Id": r["Id"], "AWS_Account_Id__c": r.get("AWS_Account_Id__c")} for r in res["records"]]
