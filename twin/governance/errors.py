"""Errors the governance layer raises; each message says what was refused and why."""

from __future__ import annotations

from twin.errors import TwinError


class GovernanceError(TwinError):
    """A governance operation was refused or failed in a way a user can act on."""


class PolicyParseError(GovernanceError):
    """A policy file holds a statement this compiler does not understand (never ignored silently)."""


class QueryDenied(GovernanceError):
    """The firewall or a policy refused a user query; `reason` says which rule."""

    def __init__(self, reason: str, *, unknown_table: bool = False) -> None:
        super().__init__(f"query denied: {reason}")
        self.reason = reason
        # The table may have been created after the session's catalog was read.
        self.unknown_table = unknown_table


class QueryFailed(GovernanceError):
    """A permitted query failed while running; the message is scrubbed of data values."""


class QueryLimitExceeded(QueryFailed):
    """A permitted query passed one of its role's limits (time, result rows or bytes)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WarehouseLocked(GovernanceError):
    """Another process holds the warehouse file for writing; readers cannot open it meanwhile."""
