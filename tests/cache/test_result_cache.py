from __future__ import annotations

import pytest

from twin.cache import CacheScope, ResultCache, SourceUnavailable, cache_key


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_read_through_within_ttl_then_reload_after() -> None:
    clock = Clock()
    cache = ResultCache(ttl_s=300, clock=clock)
    loads: list[int] = []

    def load() -> str:
        loads.append(1)
        return f"v{len(loads)}"

    assert cache.get_or_load("k", load).value == "v1"
    clock.t = 299
    hit = cache.get_or_load("k", load)
    assert hit.hit and hit.value == "v1" and hit.age_s == 299
    clock.t = 300
    assert cache.get_or_load("k", load).value == "v2"
    assert (cache.stats.hits, cache.stats.misses) == (1, 2)
    assert cache.stats.hit_rate == pytest.approx(1 / 3)


def test_stale_fallback_when_source_is_down() -> None:
    clock = Clock()
    cache = ResultCache(ttl_s=60, clock=clock)
    cache.get_or_load("k", lambda: "old")
    clock.t = 500

    def down() -> str:
        raise SourceUnavailable("warehouse down")

    got = cache.get_or_load("k", down)
    assert got.stale and got.value == "old" and got.age_s == 500
    with pytest.raises(SourceUnavailable):
        cache.get_or_load("never-seen", down)
    assert cache.stats.stale_served == 1 and cache.stats.failures == 1


def test_no_stale_fallback_when_disabled() -> None:
    clock = Clock()
    cache = ResultCache(ttl_s=1, clock=clock, stale_fallback=False)
    cache.get_or_load("k", lambda: 1)
    clock.t = 5
    with pytest.raises(SourceUnavailable):
        cache.get_or_load("k", lambda: (_ for _ in ()).throw(SourceUnavailable("x")))


def test_roles_and_departments_never_share_entries() -> None:
    sql = "select * from gold.customer_360 where customer_id = ?"
    advisor = cache_key(CacheScope.of("WEALTH_ADVISOR", "Wealth"), sql, ["C1"])
    teller = cache_key(CacheScope.of("RETAIL_TELLER", "Retail"), sql, ["C1"])
    other_dept = cache_key(CacheScope.of("WEALTH_ADVISOR", "Retail"), sql, ["C1"])
    with_secondary = cache_key(CacheScope.of("WEALTH_ADVISOR", "Wealth", ["COMPLIANCE_AUDITOR"]), sql, ["C1"])
    assert len({advisor, teller, other_dept, with_secondary}) == 4
    # same scope, same query modulo whitespace and role-name case: one entry
    again = cache_key(CacheScope.of("wealth_advisor", "Wealth"), "select *  from gold.customer_360\n"
                      " where customer_id = ?", ["C1"])  # fmt: skip
    assert again == advisor
    assert cache_key(CacheScope.of("WEALTH_ADVISOR", "Wealth"), sql, ["C2"]) != advisor


def test_secondary_role_order_does_not_matter() -> None:
    a = CacheScope.of("R", None, ["B", "A"])
    b = CacheScope.of("R", None, ["A", "B"])
    assert cache_key(a, "q") == cache_key(b, "q")


def test_eviction_keeps_the_most_recently_used() -> None:
    cache = ResultCache(max_entries=2, clock=Clock())
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.lookup("a") is not None  # touch a
    cache.put("c", 3)
    assert cache.peek("b") is None and cache.peek("a") is not None
    assert cache.stats.evictions == 1
