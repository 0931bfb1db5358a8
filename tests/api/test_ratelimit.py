"""Token buckets per client: burst, refill, headers, 429 problems, and one bucket shared by workers."""

from __future__ import annotations

import multiprocessing as mp

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import FakeClock
from twin.api.app import create_app
from twin.api.ratelimit import LocalLimiter, Plan, RateLimitError, RateLimits, RedisLimiter

LIMITS = RateLimits(
    default=Plan(quota=60, period_s=60, burst=5),  # 1 token a second, 5 at once
    clients={"big": Plan(quota=600, period_s=60, burst=20)},
)


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.live)])
def limiter_kind(request):
    return request.param


def _limiter(kind: str, clock: FakeClock, request: pytest.FixtureRequest):
    if kind == "local":
        return LocalLimiter(LIMITS, clock=clock)
    return RedisLimiter(LIMITS, request.getfixturevalue("redis_client"), clock=clock)


def test_burst_then_refusal_then_refill(limiter_kind, request):
    clock = FakeClock()
    limiter = _limiter(limiter_kind, clock, request)
    decisions = [limiter.acquire("acme") for _ in range(6)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False]
    assert [d.remaining for d in decisions] == [4, 3, 2, 1, 0, 0]
    refused = decisions[-1]
    assert refused.headers()["Retry-After"] == "1"
    assert refused.headers()["RateLimit-Limit"] == "5" and refused.headers()["RateLimit-Reset"] == "5"
    clock.advance(2.0)  # two tokens back
    assert [limiter.acquire("acme").allowed for _ in range(3)] == [True, True, False]


def test_each_client_has_its_own_bucket_and_plan(limiter_kind, request):
    clock = FakeClock()
    limiter = _limiter(limiter_kind, clock, request)
    assert sum(limiter.acquire("acme").allowed for _ in range(30)) == 5
    assert sum(limiter.acquire("other").allowed for _ in range(30)) == 5
    assert sum(limiter.acquire("big").allowed for _ in range(30)) == 20


def test_an_idle_bucket_never_holds_more_than_its_burst(limiter_kind, request):
    clock = FakeClock()
    limiter = _limiter(limiter_kind, clock, request)
    limiter.acquire("acme")
    clock.advance(3600)
    assert sum(limiter.acquire("acme").allowed for _ in range(30)) == 5


def test_429_problem_with_rate_limit_headers_over_http(issuer, resource_server):
    clock = FakeClock()
    app = create_app(resource_server, LocalLimiter(LIMITS, clock=clock))
    token = issuer.mint(role="QUANT_ANALYST", client_id="acme")
    with TestClient(app) as http:
        responses = [http.get("/v2/whoami", headers={"Authorization": f"Bearer {token}"}) for _ in range(6)]
        metrics = http.get("/metrics").text
    assert [r.status_code for r in responses] == [200] * 5 + [429]
    assert responses[0].headers["RateLimit-Remaining"] == "4"
    last = responses[-1]
    assert last.headers["content-type"] == "application/problem+json"
    assert last.json()["type"].endswith("/rate-limited")
    assert last.headers["Retry-After"] == "1" and last.headers["RateLimit-Remaining"] == "0"
    assert 'twin_api_rate_limited_total{client="acme"} 1.0' in metrics


def test_a_limiter_that_is_down_lets_requests_through_and_counts_it(issuer, resource_server):
    class Down:
        def acquire(self, client_id):
            raise ConnectionError("redis is down")

    app = create_app(resource_server, Down())
    token = issuer.mint(role="QUANT_ANALYST", client_id="acme")
    with TestClient(app) as http:
        assert http.get("/v2/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 200
        assert "twin_api_rate_limiter_errors_total 1.0" in http.get("/metrics").text


def test_rate_limit_file_errors_name_the_field(tmp_path):
    path = tmp_path / "limits.yaml"
    path.write_text("clients:\n  acme: {quota: 0, burst: 5}\n")
    with pytest.raises(RateLimitError, match=r"clients\.acme\.quota"):
        RateLimits.load(path)
    path.write_text("clients:\n  'bad id!': {quota: 1, burst: 5}\n")
    with pytest.raises(RateLimitError, match="not a valid client id"):
        RateLimits.load(path)
    path.write_text("default: {quota: 100, period_s: 10, burst: 7}\n")
    assert RateLimits.load(path).plan("anyone").burst == 7


def _worker(url: str, start, attempts: int, out) -> None:
    import redis

    limits = RateLimits(default=Plan(quota=1, period_s=3600, burst=25))
    limiter = RedisLimiter(limits, redis.Redis.from_url(url))
    start.wait(timeout=30)
    out.put(sum(limiter.acquire("shared-client").allowed for _ in range(attempts)))


@pytest.mark.live
def test_two_processes_share_one_bucket_through_redis(redis_url, redis_client):
    # each process alone would take all 25 tokens; together they must still get 25, not 50
    ctx = mp.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(redis_url, start, 25, out)) for _ in range(2)]
    for p in procs:
        p.start()
    try:
        start.set()
        granted = [out.get(timeout=60) for _ in procs]
    finally:
        for p in procs:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()
    assert sum(granted) == 25, granted
    assert all(p.exitcode == 0 for p in procs)
