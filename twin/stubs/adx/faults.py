"""Injected Data Exchange faults: the next N matching calls answer 429 ThrottlingException or 500
InternalServerException, before any state changes, so a client's retries (the entitlement workflow's
Step Functions Retry, boto3's own) can be exercised against the real HTTP path.

Set in process with `AwsEndpoint.adx_faults.add(...)`, or over HTTP with a provider-signed
`POST /_twin/adx-faults {"error": "ThrottlingException", "count": 3, "operations": ["CreateDataGrant"]}`
(`DELETE` clears them), which is how a chaos experiment reaches an endpoint in another process.
"""

from __future__ import annotations

import threading
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["FaultPlan", "FaultRule"]

FaultError = Literal["ThrottlingException", "InternalServerException"]


class FaultRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    error: FaultError
    count: int = Field(ge=1, le=1_000_000)
    # Operation names as in the service model (CreateDataGrant, …); empty: every operation.
    operations: list[str] = Field(default_factory=list)


class FaultPlan:
    """Pending faults, consumed first-added first."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rules: list[list[object]] = []  # [rule, remaining]

    def add(self, rule: FaultRule) -> None:
        from twin.stubs.adx.urls import service_model

        unknown = sorted(set(rule.operations) - set(service_model().operation_names))
        if unknown:
            raise ValueError(f"unknown Data Exchange operation(s) {', '.join(unknown)}")
        with self._lock:
            self._rules.append([rule, rule.count])

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()

    def take(self, operation: str | None) -> FaultError | None:
        """The fault this call must answer with (consuming one), or None."""
        with self._lock:
            for entry in self._rules:
                rule, left = entry
                assert isinstance(rule, FaultRule) and isinstance(left, int)
                if left > 0 and (not rule.operations or operation in rule.operations):
                    entry[1] = left - 1
                    self._rules = [e for e in self._rules if int(e[1]) > 0]  # type: ignore[call-overload]
                    return rule.error
        return None

    def pending(self) -> int:
        with self._lock:
            return sum(int(e[1]) for e in self._rules)  # type: ignore[call-overload]
