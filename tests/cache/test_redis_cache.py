"""The Redis result cache: same contract as the in-process one, keyed by scope, stale while down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import redis_server
from twin.cache.breaker import BreakerConfig, BreakerState, CircuitBreaker, read_through
from twin.cache.keys import CacheScope
from twin.cache.redis_cache import RedisResultCache, operation_key
from twin.cache.result_cache import SourceUnavailable


class Clock:
    def __init__(self) -> None:
        self.t = 1_000_000.0

    def __call__(self) -> float:
        return self.t


ADVISOR = CacheScope.of("financial_advisor", department="wealth")
TELLER = CacheScope.of("retail_teller", department="retail")


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture
def client(redis_url):
    import redis

    c = redis.Redis.from_url(redis_url)
    c.flushdb()
    yield c
    c.close()


pytestmark = pytest.mark.live


def test_read_through_within_the_five_minute_ttl_then_reload(client):
    clock = Clock()
    cache = RedisResultCache(client, clock=clock)
    loads = []

    def load():
        loads.append(1)
        return {"rows": [[len(loads), "F001"]]}

    key = operation_key("fund_nav", {"fund": "F001"}, ADVISOR)
    assert cache.get_or_load(key, load).value == {"rows": [[1, "F001"]]}
    clock.t += 299
    hit = cache.get_or_load(key, load)
    assert hit.hit and hit.age_s == pytest.approx(299) and len(loads) == 1
    clock.t += 1
    assert cache.get_or_load(key, load).value == {"rows": [[2, "F001"]]}
    assert (cache.stats.hits, cache.stats.misses) == (1, 2)
    assert 0 < client.pttl("twin:cache:" + key) <= (300 + 24 * 3600) * 1000


def test_shared_between_two_cache_objects_like_two_workers(client):
    clock = Clock()
    a, b = RedisResultCache(client, clock=clock), RedisResultCache(client, clock=clock)
    key = operation_key("fund_nav", {"fund": "F001"}, ADVISOR)
    a.get_or_load(key, lambda: [1, 2, 3])
    assert b.get_or_load(key, lambda: pytest.fail("the second worker must hit")).value == [1, 2, 3]


def test_stale_while_the_warehouse_is_down_then_recovery(client):
    clock = Clock()
    cache = RedisResultCache(client, clock=clock)
    breaker = CircuitBreaker("warehouse", BreakerConfig(failure_threshold=2, reset_timeout_s=10), clock=clock)
    state = {"up": True, "nav": 101.5}

    def warehouse():
        if not state["up"]:
            raise TimeoutError("warehouse did not answer")
        return {"nav": state["nav"]}

    key = operation_key("fund_nav", {"fund": "F001"}, ADVISOR)
    read_through(cache, breaker, key, warehouse)
    state.update(up=False, nav=102.0)
    clock.t += 600
    stale = [read_through(cache, breaker, key, warehouse) for _ in range(5)]
    assert all(s.stale and s.value == {"nav": 101.5} for s in stale)
    assert stale[0].age_s == pytest.approx(600)
    assert breaker.state is BreakerState.open
    with pytest.raises(SourceUnavailable):
        read_through(cache, breaker, operation_key("fund_nav", {"fund": "F404"}, ADVISOR), warehouse)
    state["up"] = True
    clock.t += 11
    fresh = read_through(cache, breaker, key, warehouse)
    assert (fresh.value, fresh.stale) == ({"nav": 102.0}, False)
    assert breaker.state is BreakerState.closed


def test_entries_that_are_not_the_caches_own_are_ignored(client):
    cache = RedisResultCache(client, clock=Clock())
    client.set("twin:cache:k", b"\x80\x04not json")  # e.g. a pickle someone planted
    assert cache.get_or_load("k", lambda: "loaded").value == "loaded"


def test_a_redis_that_is_down_answers_as_a_miss(tmp_path: Path):
    import redis

    with redis_server(tmp_path / "r") as url:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=0.5)
    # the server has stopped: every call fails, and the cache keeps answering from the loader
    cache = RedisResultCache(client, clock=Clock())
    assert cache.get_or_load("k", lambda: 42).value == 42
    assert cache.errors >= 2
