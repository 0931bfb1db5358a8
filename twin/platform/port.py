"""The platform service's ports: the query side every client uses, the harness side only scenarios use.

Query side (`QueryPort`), for the sim's personas, the API tier, load-test users and chaos probes:

    outcome = port.query(principal, "client_360", ["CUST00042"])      # a named catalogue operation
    outcome = port.query(principal, "SELECT count(*) FROM gold.accounts", [])   # or governed SQL

`query(principal, operation_or_sql, params)` takes a `Principal`, either an operation name from
`twin.platform.operations.CATALOGUE` or SQL text, and positional parameters. It returns an `Outcome`
(row count, columns, wall time, a digest of the rows) or raises `Denied` (governance refused it),
`Failed` (it ran and failed) or `Unavailable` (the warehouse cannot be reached). `cache_scope` says which
principals share cached results; `check` says why every call of a principal would be refused.

Harness side (`HarnessPort`), for scenarios and benchmarks only: `sample_keys` (realistic parameter
values) and `refresh_gold` (rebuild gold as the pipeline's cadence would).

Every adapter (in-process now, HTTP later) passes `tests/platform/test_port_contract.py` unchanged.
"""

from __future__ import annotations

from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict

from twin.cache.keys import CacheScope
from twin.platform.principal import Principal


class Outcome(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rows: int
    duration_s: float  # wall time of the real call
    digest: int = 0  # a fingerprint of the rows, so tests can tell who saw what
    columns: tuple[str, ...] = ()


class QueryPort(Protocol):
    name: str

    def query(self, principal: Principal, request: str, params: list[Any]) -> Outcome: ...
    def cache_scope(self, principal: Principal) -> CacheScope: ...
    def check(self, principal: Principal) -> str | None: ...
    def close(self) -> None: ...


class HarnessPort(Protocol):
    def sample_keys(self, table: str, column: str, limit: int) -> list[Any]: ...
    def refresh_gold(self) -> float: ...


class PlatformPort(QueryPort, HarnessPort, Protocol):
    """Both sides: what a scenario run needs from the platform."""
