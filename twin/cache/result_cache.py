"""A read-through TTL cache with stale fallback and hit/miss counters.

The clock is injected so the same cache runs in wall time (API tier) and in SimPy virtual time (sim).
When the loader reports that its source is unavailable, an expired entry is served as stale rather
than failing the caller; the lookup says so and how old the data is.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel

from twin.errors import TwinError


class SourceUnavailable(TwinError, RuntimeError):
    """The loader's source (the warehouse) is down; the cache may fall back to a stale entry."""


class CacheStats(BaseModel):
    hits: int = 0
    misses: int = 0
    stale_served: int = 0
    failures: int = 0
    evictions: int = 0

    @property
    def lookups(self) -> int:
        return self.hits + self.misses + self.stale_served + self.failures

    @property
    def hit_rate(self) -> float:
        """Share of lookups answered without a successful warehouse call (stale counts as a hit)."""
        n = self.lookups
        return (self.hits + self.stale_served) / n if n else 0.0


@dataclass(slots=True)
class _Entry:
    value: Any
    stored_at: float


@dataclass(frozen=True, slots=True)
class Lookup:
    value: Any
    hit: bool
    stale: bool
    age_s: float  # how old the served data is, by the cache's clock


class CacheLike(Protocol):
    def lookup(self, key: str) -> Lookup | None: ...
    def store(self, key: str, value: Any) -> Lookup: ...
    def fallback(self, key: str) -> Lookup | None: ...


def get_or_load(cache: CacheLike, key: str, loader: Callable[[], Any]) -> Lookup:
    """A fresh entry, else the loader's value (stored); when the source is unavailable, the last value
    marked stale, else the SourceUnavailable error. Shared by the in-process and the Redis cache."""
    found = cache.lookup(key)
    if found is not None:
        return found
    try:
        value = loader()
    except SourceUnavailable:
        stale = cache.fallback(key)
        if stale is None:
            raise
        return stale
    return cache.store(key, value)


class ResultCache:
    def __init__(
        self,
        *,
        ttl_s: float = 300.0,
        max_entries: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
        stale_fallback: bool = True,
    ) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.clock = clock
        self.stale_fallback = stale_fallback
        self.stats = CacheStats()
        self._entries: OrderedDict[str, _Entry] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: str) -> Lookup | None:
        """A fresh entry if there is one, without counting or loading."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        age = self.clock() - entry.stored_at
        if age >= self.ttl_s:
            return None
        return Lookup(entry.value, hit=True, stale=False, age_s=age)

    # The three steps below let a caller that must wait between them (a SimPy process waiting for a
    # warehouse slot) use the cache exactly as get_or_load does, with the same counters.

    def lookup(self, key: str) -> Lookup | None:
        """A fresh entry (counted as a hit), or None: the caller loads and then stores or falls back."""
        now = self.clock()
        entry = self._entries.get(key)
        if entry is not None and now - entry.stored_at < self.ttl_s:
            self._entries.move_to_end(key)
            self.stats.hits += 1
            return Lookup(entry.value, hit=True, stale=False, age_s=now - entry.stored_at)
        return None

    def store(self, key: str, value: Any) -> Lookup:
        """Keep a freshly loaded value (counted as a miss: the source was asked)."""
        self.stats.misses += 1
        self.put(key, value)
        return Lookup(value, hit=False, stale=False, age_s=0.0)

    def fallback(self, key: str) -> Lookup | None:
        """The source failed: an expired entry served as stale, or None (counted as a failure)."""
        entry = self._entries.get(key)
        if entry is not None and self.stale_fallback:
            self.stats.stale_served += 1
            return Lookup(entry.value, hit=True, stale=True, age_s=self.clock() - entry.stored_at)
        self.stats.failures += 1
        return None

    def get_or_load(self, key: str, loader: Callable[[], Any]) -> Lookup:
        return get_or_load(self, key, loader)

    def put(self, key: str, value: Any, *, stored_at: float | None = None) -> None:
        self._entries[key] = _Entry(value, self.clock() if stored_at is None else stored_at)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self.stats.evictions += 1

    def invalidate(self, key: str | None = None) -> None:
        if key is None:
            self._entries.clear()
        else:
            self._entries.pop(key, None)
