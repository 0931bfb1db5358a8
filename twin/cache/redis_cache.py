"""The result cache in Redis (ElastiCache's stand-in), shared by every API worker.

Same contract as the in-process `ResultCache` (lookup / store / fallback / get_or_load, the same
counters), keyed by (operation, parameters, principal scope) so two callers share an entry only when
the policies would show them the same rows.

An entry is fresh for `ttl_s` (5 minutes) by the cache's clock, but Redis keeps it `keep_s` longer so
that when the warehouse is down the last value can still be served, marked stale. Values are JSON, not
pickle: anyone who can write to the Redis would otherwise run code in every worker. A Redis that is
down or slow never fails a request: the cache counts the error and answers as a miss.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Mapping
from typing import Any

from twin.cache.keys import CacheScope
from twin.cache.result_cache import CacheStats, Lookup, get_or_load

try:  # the client library is a dependency of the API tier; the cache degrades to a miss without it
    from redis.exceptions import RedisError
except ImportError:  # pragma: no cover
    RedisError = OSError  # type: ignore[assignment,misc]


def operation_key(operation: str, params: Mapping[str, Any], scope: CacheScope) -> str:
    """A stable key for (operation, parameters, scope); parameter order does not matter."""
    body = json.dumps(
        [operation, dict(sorted(params.items())), scope.model_dump(mode="json")],
        default=str,
        separators=(",", ":"),
        sort_keys=True,
    )
    return hashlib.blake2b(body.encode(), digest_size=16).hexdigest()


class RedisResultCache:
    def __init__(
        self,
        client: Any,  # redis.Redis
        *,
        ttl_s: float = 300.0,
        keep_s: float = 24 * 3600.0,
        prefix: str = "twin:cache:",
        clock: Callable[[], float] = time.time,
        stale_fallback: bool = True,
    ) -> None:
        self.redis = client
        self.ttl_s = ttl_s
        self.keep_s = keep_s
        self.prefix = prefix
        self.clock = clock
        self.stale_fallback = stale_fallback
        self.stats = CacheStats()
        self.errors = 0  # Redis calls that failed (each answered as a miss)

    def _get(self, key: str) -> tuple[Any, float] | None:
        try:
            raw = self.redis.get(self.prefix + key)
        except RedisError:
            self.errors += 1
            return None
        if raw is None:
            return None
        try:
            entry = json.loads(raw)
            return entry["v"], float(entry["t"])
        except (ValueError, KeyError, TypeError):
            return None  # not an entry this cache wrote: treat as absent

    def lookup(self, key: str) -> Lookup | None:
        found = self._get(key)
        if found is None:
            return None
        value, stored_at = found
        age = self.clock() - stored_at
        if age >= self.ttl_s:
            return None
        self.stats.hits += 1
        return Lookup(value, hit=True, stale=False, age_s=max(0.0, age))

    def put(self, key: str, value: Any, *, stored_at: float | None = None) -> None:
        body = json.dumps({"v": value, "t": self.clock() if stored_at is None else stored_at})
        try:
            self.redis.set(self.prefix + key, body, px=int((self.ttl_s + self.keep_s) * 1000))
        except RedisError:
            self.errors += 1

    def store(self, key: str, value: Any) -> Lookup:
        self.stats.misses += 1
        self.put(key, value)
        return Lookup(value, hit=False, stale=False, age_s=0.0)

    def fallback(self, key: str) -> Lookup | None:
        found = self._get(key) if self.stale_fallback else None
        if found is None:
            self.stats.failures += 1
            return None
        value, stored_at = found
        self.stats.stale_served += 1
        return Lookup(value, hit=True, stale=True, age_s=max(0.0, self.clock() - stored_at))

    def get_or_load(self, key: str, loader: Callable[[], Any]) -> Lookup:
        return get_or_load(self, key, loader)

    def invalidate(self, key: str | None = None) -> None:
        try:
            if key is not None:
                self.redis.delete(self.prefix + key)
                return
            for k in self.redis.scan_iter(match=self.prefix + "*", count=500):
                self.redis.delete(k)
        except RedisError:
            self.errors += 1
