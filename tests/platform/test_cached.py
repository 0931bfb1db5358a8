"""The service's result cache: keyed by scope, TTL on an injected clock, stale when the warehouse is out."""

from __future__ import annotations

from typing import Any

import pytest

from twin.cache.keys import CacheScope
from twin.platform.cached import CachedQueries
from twin.platform.errors import Denied, Unavailable
from twin.platform.operations import CATALOGUE
from twin.platform.port import Outcome
from twin.platform.principal import Principal

ADVISOR = Principal(user="a-1", role="WEALTH_ADVISOR", department="Wealth")
ADVISOR_2 = Principal(user="a-2", role="WEALTH_ADVISOR", department="Wealth")
TELLER = Principal(user="t-1", role="RETAIL_TELLER", department="Retail")


class FakePort:
    """Counts calls; answers with a digest of who asked; can be taken down or made to deny."""

    name = "fake"

    def __init__(self) -> None:
        self.calls = 0
        self.down = False
        self.deny = False

    def query(self, principal: Principal, request: str, params: list[Any]) -> Outcome:
        self.calls += 1
        if self.down:
            raise Unavailable("warehouse down")
        if self.deny:
            raise Denied("no")
        return Outcome(rows=1, duration_s=0.0, digest=hash((principal.role, request, *params)))

    def cache_scope(self, principal: Principal) -> CacheScope:
        return principal.cache_scope()

    def check(self, principal: Principal) -> str | None:
        return None

    def close(self) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_hits_within_the_ttl_per_scope_and_a_reload_after_it() -> None:
    port, clock = FakePort(), Clock()
    cached = CachedQueries(port, ttl_s=300.0, clock=clock)
    first = cached.query(ADVISOR, "fund_nav", ["F1"])
    assert not first.hit and port.calls == 1
    again = cached.query(ADVISOR_2, "fund_nav", ["F1"])  # same scope: shared
    assert again.hit and again.value == first.value and port.calls == 1
    assert not cached.query(TELLER, "fund_nav", ["F1"]).hit and port.calls == 2  # another scope
    assert not cached.query(ADVISOR, "fund_nav", ["F2"]).hit  # other parameters
    clock.now = 299.0
    assert cached.query(ADVISOR, "fund_nav", ["F1"]).hit
    clock.now = 300.0
    assert not cached.query(ADVISOR, "fund_nav", ["F1"]).hit and port.calls == 4


def test_a_name_and_its_sql_share_one_entry() -> None:
    cached = CachedQueries(FakePort(), clock=Clock())
    scope = ADVISOR.cache_scope()
    assert cached.key(scope, "client_360", ["C1"]) == cached.key(scope, CATALOGUE["client_360"].sql, ["C1"])
    assert cached.key(scope, "client_360", ["C1"]) != cached.key(TELLER.cache_scope(), "client_360", ["C1"])


def test_stale_data_is_served_when_the_warehouse_is_unavailable_and_says_how_old() -> None:
    port, clock = FakePort(), Clock()
    cached = CachedQueries(port, ttl_s=60.0, clock=clock)
    fresh = cached.query(ADVISOR, "aum_overview", [])
    clock.now = 500.0
    port.down = True
    stale = cached.query(ADVISOR, "aum_overview", [])
    assert stale.stale and stale.value == fresh.value and stale.age_s == 500.0
    with pytest.raises(Unavailable):  # nothing to fall back on for another scope
        cached.query(TELLER, "aum_overview", [])
    assert (cached.stats.stale_served, cached.stats.failures) == (1, 1)


def test_without_stale_fallback_an_outage_is_an_error() -> None:
    port, clock = FakePort(), Clock()
    cached = CachedQueries(port, ttl_s=60.0, clock=clock, stale_fallback=False)
    cached.query(ADVISOR, "aum_overview", [])
    clock.now, port.down = 100.0, True
    with pytest.raises(Unavailable):
        cached.query(ADVISOR, "aum_overview", [])


def test_denials_are_never_cached() -> None:
    port = FakePort()
    cached = CachedQueries(port, clock=Clock())
    port.deny = True
    for _ in range(2):
        with pytest.raises(Denied):
            cached.query(ADVISOR, "aum_overview", [])
    assert port.calls == 2 and len(cached.cache) == 0
    port.deny = False
    assert not cached.query(ADVISOR, "aum_overview", []).hit
