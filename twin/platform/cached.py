"""The platform's result cache with stale fallback, shared by every client of the service.

`CachedQueries` sits in front of any `QueryPort`: a result is keyed by the principal's cache scope, the
normalised SQL and the parameters, kept for the TTL, and served stale when the warehouse is
`Unavailable` (the production ElastiCache fallback). The clock is injected: the API tier runs it on
wall time, the simulator on SimPy's virtual time. A caller that must wait between looking up, loading
and storing (a SimPy process queueing for a warehouse slot) uses the `lookup` / `store` / `fallback`
steps, which count exactly as `query` does.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from twin.cache.keys import CacheScope, cache_key
from twin.cache.result_cache import CacheStats, Lookup, ResultCache
from twin.platform.operations import is_operation_name, operation
from twin.platform.port import QueryPort
from twin.platform.principal import Principal


class CachedQueries:
    def __init__(
        self,
        port: QueryPort,
        *,
        ttl_s: float = 300.0,
        max_entries: int = 100_000,
        stale_fallback: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.port = port
        self.cache = ResultCache(
            ttl_s=ttl_s, max_entries=max_entries, clock=clock, stale_fallback=stale_fallback
        )

    @property
    def stats(self) -> CacheStats:
        return self.cache.stats

    def scope(self, principal: Principal) -> CacheScope:
        return self.port.cache_scope(principal)

    @staticmethod
    def key(scope: CacheScope, request: str, params: list[Any]) -> str:
        """Named operations are keyed by their SQL, so a name and its SQL share one entry."""
        sql = operation(request).sql if is_operation_name(request) else request
        return cache_key(scope, sql, params)

    def query(self, principal: Principal, request: str, params: list[Any]) -> Lookup:
        """Read through: a fresh entry, else the port's answer, else (warehouse unavailable) a stale one.

        Denials and failures are never cached: the next call asks the warehouse again."""
        key = self.key(self.scope(principal), request, params)
        return self.cache.get_or_load(key, lambda: self.port.query(principal, request, params))

    # The three steps of `query`, for a caller that waits between them.

    def lookup(self, key: str) -> Lookup | None:
        return self.cache.lookup(key)

    def store(self, key: str, value: Any) -> Lookup:
        return self.cache.store(key, value)

    def fallback(self, key: str) -> Lookup | None:
        return self.cache.fallback(key)

    def invalidate(self, key: str | None = None) -> None:
        self.cache.invalidate(key)
