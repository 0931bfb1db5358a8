"""The circuit breaker: opens on failures and slow calls, half-opens and closes on its own, and with
the cache serves the last value marked stale while the warehouse is down."""

from __future__ import annotations

import contextlib

import pytest

from twin.cache.breaker import BreakerConfig, BreakerOpen, BreakerState, CircuitBreaker, read_through
from twin.cache.result_cache import ResultCache, SourceUnavailable


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


class Warehouse:
    """A fake source that can be taken down, made slow, and counts its calls."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.up = True
        self.delay = 0.0
        self.calls = 0
        self.version = 1

    def query(self) -> dict[str, int]:
        self.calls += 1
        self.clock.t += self.delay
        if not self.up:
            raise ConnectionError("warehouse down")
        return {"nav": self.version}


def _breaker(clock: Clock, **config) -> CircuitBreaker:
    cfg = {"failure_threshold": 3, "reset_timeout_s": 30.0, **config}
    return CircuitBreaker("warehouse", BreakerConfig(**cfg), clock=clock)


def test_opens_after_consecutive_failures_and_then_fails_fast():
    clock = Clock()
    wh, breaker = Warehouse(clock), _breaker(clock)
    wh.up = False
    for _ in range(3):
        with pytest.raises(SourceUnavailable):
            breaker.call(wh.query)
    assert breaker.state is BreakerState.open
    with pytest.raises(BreakerOpen):
        breaker.call(wh.query)
    assert wh.calls == 3  # the open breaker did not call the warehouse


def test_a_success_resets_the_failure_count():
    clock = Clock()
    wh, breaker = Warehouse(clock), _breaker(clock)
    for up in (False, False, True, False, False):
        wh.up = up
        with contextlib.suppress(SourceUnavailable):
            breaker.call(wh.query)
    assert breaker.state is BreakerState.closed


def test_half_opens_after_the_timeout_and_closes_on_a_good_trial():
    clock = Clock()
    wh, breaker = Warehouse(clock), _breaker(clock)
    wh.up = False
    for _ in range(3):
        with pytest.raises(SourceUnavailable):
            breaker.call(wh.query)
    clock.t += 29.9
    assert breaker.state is BreakerState.open
    clock.t += 0.2
    assert breaker.state is BreakerState.half_open
    wh.up = True
    assert breaker.call(wh.query) == {"nav": 1}
    assert breaker.state is BreakerState.closed
    assert [s for _, s in breaker.transitions] == [
        BreakerState.open,
        BreakerState.half_open,
        BreakerState.closed,
    ]


def test_a_failed_trial_opens_it_again_for_another_timeout():
    clock = Clock()
    wh, breaker = Warehouse(clock), _breaker(clock)
    wh.up = False
    for _ in range(3):
        with pytest.raises(SourceUnavailable):
            breaker.call(wh.query)
    clock.t += 31
    with pytest.raises(SourceUnavailable):
        breaker.call(wh.query)  # the one trial call
    assert breaker.state is BreakerState.open
    clock.t += 29
    with pytest.raises(BreakerOpen):
        breaker.call(wh.query)
    assert wh.calls == 4


def test_slow_calls_count_as_failures_but_their_answers_are_kept():
    clock = Clock()
    wh, breaker = Warehouse(clock), _breaker(clock, slow_call_s=2.0)
    wh.delay = 5.0
    assert [breaker.call(wh.query) for _ in range(3)] == [{"nav": 1}] * 3
    assert breaker.state is BreakerState.open


def test_stale_served_while_down_then_fresh_again_after_recovery():
    clock = Clock()
    wh, breaker = Warehouse(clock), _breaker(clock)
    cache = ResultCache(ttl_s=300, clock=clock)
    first = read_through(cache, breaker, "nav:F001", wh.query)
    assert (first.value, first.stale) == ({"nav": 1}, False)

    wh.up, wh.version = False, 2
    clock.t += 400  # the entry has expired: the warehouse is asked, fails, the old value is served stale
    served = [read_through(cache, breaker, "nav:F001", wh.query) for _ in range(10)]
    assert all(s.stale and s.value == {"nav": 1} for s in served)
    assert served[-1].age_s == pytest.approx(400)
    assert breaker.state is BreakerState.open and wh.calls == 1 + 3  # fails fast once open

    with pytest.raises(SourceUnavailable):  # nothing cached for this key: the API answers 503
        read_through(cache, breaker, "nav:F999", wh.query)

    wh.up = True
    clock.t += 31  # half-open: the next request is the trial, succeeds, closes the breaker
    again = read_through(cache, breaker, "nav:F001", wh.query)
    assert (again.value, again.stale) == ({"nav": 2}, False)
    assert breaker.state is BreakerState.closed
    assert cache.stats.stale_served == 10 and cache.stats.failures == 1
