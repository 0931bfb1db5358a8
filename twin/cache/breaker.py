"""A circuit breaker around the warehouse: stop calling a source that keeps failing, try it again later.

closed → (`failure_threshold` consecutive failures, or calls slower than `slow_call_s`) → open: calls
fail fast with `SourceUnavailable`, so the cache serves its last value marked stale instead of every
request waiting on a dead warehouse → after `reset_timeout_s` one trial call is let through
(half-open): success closes the breaker, failure opens it again for another `reset_timeout_s`.

The clock is injected: the same breaker runs in wall time under the API and in SimPy virtual time, and
the tests drive it without sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from twin.cache.result_cache import Lookup, SourceUnavailable

T = TypeVar("T")


class BreakerState(StrEnum):
    closed = "closed"
    open = "open"
    half_open = "half_open"


STATE_VALUE = {BreakerState.closed: 0, BreakerState.half_open: 1, BreakerState.open: 2}


class BreakerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    failure_threshold: int = Field(default=3, ge=1)
    reset_timeout_s: float = Field(default=30.0, gt=0)
    slow_call_s: float | None = Field(default=None, gt=0, description="a call slower than this is a failure")


class BreakerOpen(SourceUnavailable):
    """The breaker is open: the source was not called."""


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        config: BreakerConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        failure_types: tuple[type[BaseException], ...] = (Exception,),
    ) -> None:
        self.name = name
        self.config = config or BreakerConfig()
        self.clock = clock
        self.failure_types = failure_types
        self._state = BreakerState.closed
        self._failures = 0
        self._opened_at = 0.0
        self._trial_running = False
        self._lock = threading.Lock()
        self.transitions: list[tuple[float, BreakerState]] = []

    @property
    def state(self) -> BreakerState:
        with self._lock:
            return self._current()

    def _current(self) -> BreakerState:
        if self._state is BreakerState.open and self.clock() - self._opened_at >= self.config.reset_timeout_s:
            self._move(BreakerState.half_open)
        return self._state

    def _move(self, state: BreakerState) -> None:
        if state is not self._state:
            self._state = state
            self.transitions.append((self.clock(), state))

    def _admit(self) -> None:
        with self._lock:
            state = self._current()
            if state is BreakerState.open or (state is BreakerState.half_open and self._trial_running):
                raise BreakerOpen(f"{self.name} is unavailable (circuit open)")
            if state is BreakerState.half_open:
                self._trial_running = True

    def _record(self, ok: bool) -> None:
        with self._lock:
            self._trial_running = False
            if ok:
                self._failures = 0
                self._move(BreakerState.closed)
                return
            self._failures += 1
            if self._state is BreakerState.half_open or self._failures >= self.config.failure_threshold:
                self._opened_at = self.clock()
                self._move(BreakerState.open)

    def call(self, fn: Callable[[], T]) -> T:
        """`fn()` through the breaker; a failure (or a slow call) is re-raised as SourceUnavailable."""
        self._admit()
        started = self.clock()
        try:
            result = fn()
        except self.failure_types as exc:
            self._record(ok=False)
            if isinstance(exc, SourceUnavailable):
                raise
            raise SourceUnavailable(f"{self.name} failed: {type(exc).__name__}") from exc
        slow = self.config.slow_call_s
        if slow is not None and self.clock() - started > slow:
            # the answer is good, keep it; but a source this slow counts towards opening
            self._record(ok=False)
        else:
            self._record(ok=True)
        return result


def read_through(cache: Any, breaker: CircuitBreaker, key: str, loader: Callable[[], Any]) -> Lookup:
    """A fresh cached value, else the source through the breaker, else the last value marked stale.

    Raises SourceUnavailable only when the source is down and nothing was ever cached for `key`
    (the API answers 503 then).
    """
    return cache.get_or_load(key, lambda: breaker.call(loader))
