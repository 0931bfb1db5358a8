"""The app's shell: health, readiness, metrics, and problem+json for every failure, never a trace."""

from __future__ import annotations

import pytest
from fastapi import Depends
from fastapi.testclient import TestClient

from twin.api.app import create_app, stale_headers
from twin.api.ratelimit import LocalLimiter, RateLimits
from twin.cache.breaker import BreakerConfig, CircuitBreaker, read_through
from twin.cache.result_cache import Lookup, ResultCache, SourceUnavailable


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def app(resource_server):
    return create_app(resource_server, LocalLimiter(RateLimits()))


def test_healthz_and_readyz(app):
    with TestClient(app) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        assert http.get("/readyz").json()["status"] == "ready"


def test_readyz_is_a_503_problem_naming_the_failing_check(resource_server):
    app = create_app(resource_server, LocalLimiter(RateLimits()), readiness={"redis": lambda: False})
    with TestClient(app) as http:
        r = http.get("/readyz")
    assert r.status_code == 503 and "redis" in r.json()["detail"]
    assert r.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("method", "path", "status", "slug"),
    [("GET", "/v2/nowhere", 404, "not-found"), ("POST", "/healthz", 405, "method-not-allowed")],
)
def test_framework_errors_are_problems(app, method, path, status, slug):
    with TestClient(app) as http:
        r = http.request(method, path)
    assert r.status_code == status and r.json()["type"].endswith("/" + slug)
    assert r.headers["content-type"] == "application/problem+json"


def test_a_bug_is_a_500_problem_without_a_stack_trace(resource_server, issuer):
    app = create_app(resource_server, LocalLimiter(RateLimits()))

    @app.get("/v2/boom")
    def boom() -> None:
        raise KeyError("secret internal detail")

    @app.get("/v2/needs-int")
    def needs_int(n: int) -> int:
        return n

    with TestClient(app, raise_server_exceptions=False) as http:
        r = http.get("/v2/boom")
        bad = http.get("/v2/needs-int", params={"n": "x"})
    assert r.status_code == 500 and r.headers["content-type"] == "application/problem+json"
    assert "secret internal detail" not in r.text and "Traceback" not in r.text
    assert bad.status_code == 400 and "query.n" in bad.json()["detail"]


def test_metrics_count_requests_per_route_template_and_auth_failures(app, issuer):
    token = issuer.mint(role="QUANT_ANALYST", client_id="acme")
    with TestClient(app) as http:
        for _ in range(3):
            http.get("/v2/whoami", headers={"Authorization": f"Bearer {token}"})
        http.get("/v2/whoami")
        text = http.get("/metrics").text
    assert 'twin_api_requests_total{method="GET",route="/v2/whoami",status="200"} 3.0' in text
    assert 'twin_api_requests_total{method="GET",route="/v2/whoami",status="401"} 1.0' in text
    assert 'twin_api_request_duration_seconds_count{method="GET",route="/v2/whoami"} 4.0' in text
    assert "twin_api_auth_failures_total 1.0" in text


def test_stale_answers_carry_the_stale_headers_and_metrics_show_breaker_and_cache(resource_server, issuer):
    """A route shaped like the platform's: cache + breaker; while the source is down it serves stale."""
    clock = Clock()
    cache = ResultCache(ttl_s=300, clock=clock)
    breaker = CircuitBreaker("warehouse", BreakerConfig(failure_threshold=1, reset_timeout_s=30), clock=clock)
    app = create_app(
        resource_server, LocalLimiter(RateLimits()), breakers=[breaker], caches={"results": cache}
    )
    source = {"up": True}

    def load() -> dict[str, float]:
        if not source["up"]:
            raise ConnectionError("down")
        return {"nav": 101.5}

    from fastapi.responses import JSONResponse

    from twin.api.problems import ServiceUnavailable

    @app.get("/v2/funds/{fund_id}/nav")
    def nav(fund_id: str, principal=Depends(app.state.authenticated)) -> JSONResponse:
        try:
            found: Lookup = read_through(cache, breaker, f"nav:{fund_id}", load)
        except SourceUnavailable as exc:
            raise ServiceUnavailable("the warehouse is unavailable and nothing is cached") from exc
        return JSONResponse(found.value, headers=stale_headers(found))

    auth = {"Authorization": f"Bearer {issuer.mint(role='QUANT_ANALYST', client_id='acme')}"}
    with TestClient(app) as http:
        fresh = http.get("/v2/funds/F001/nav", headers=auth)
        source["up"] = False
        clock.t += 400
        stale = http.get("/v2/funds/F001/nav", headers=auth)
        nothing = http.get("/v2/funds/F002/nav", headers=auth)
        text = http.get("/metrics").text
        source["up"] = True
        clock.t += 31
        back = http.get("/v2/funds/F001/nav", headers=auth)
        after = http.get("/metrics").text
    assert fresh.status_code == 200 and "X-Twin-Stale" not in fresh.headers
    assert stale.status_code == 200 and stale.headers["X-Twin-Stale"] == "true"
    assert stale.headers["Age"] == "400" and stale.headers["Warning"].startswith("110")
    assert nothing.status_code == 503 and nothing.json()["type"].endswith("/unavailable")
    assert 'twin_breaker_state{breaker="warehouse"} 2.0' in text
    assert 'twin_cache_lookups_total{cache="results",result="stale"} 1.0' in text
    assert back.status_code == 200 and "X-Twin-Stale" not in back.headers
    assert 'twin_breaker_state{breaker="warehouse"} 0.0' in after
    assert 'route="/v2/funds/{fund_id}/nav"' in after  # the template, not the fund id


def test_openapi_lists_whoami_and_its_principal_schema(app):
    with TestClient(app) as http:
        spec = http.get("/openapi.json").json()
    assert "/v2/whoami" in spec["paths"] and "Principal" in spec["components"]["schemas"]


def test_built_app_is_ready_when_its_issuer_keys_are_known(tmp_path):
    from twin.api.app import ApiSettings, build_app

    app = build_app(ApiSettings(key_file=tmp_path / "keys.json"))
    with TestClient(app) as http:
        r = http.get("/readyz")
    assert r.status_code == 200 and r.json()["checks"] == {"identity": True}


def test_built_app_is_not_ready_while_an_external_issuer_is_unreachable(tmp_path):
    from tests.redis_server import free_port
    from twin.api.app import ApiSettings, build_app

    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    app = build_app(ApiSettings(issuer=url, local_issuer=False, discovery_url=url + "/.well-known/x"))
    with TestClient(app) as http:
        r = http.get("/readyz")
        discovery = http.get("/.well-known/openid-configuration")
    assert r.status_code == 503 and "identity" in r.json()["detail"]
    assert discovery.status_code == 404  # no local issuer served when another one is trusted


def test_a_retired_route_warns_until_its_sunset_then_answers_410(resource_server, issuer):
    from datetime import UTC, datetime

    from twin.api.app import Retirement

    clock = Clock()
    clock.t = datetime(2026, 6, 1, tzinfo=UTC).timestamp()
    retirement = Retirement(
        deprecated=datetime(2026, 1, 1, tzinfo=UTC), sunset=datetime(2026, 12, 31, tzinfo=UTC),
        link="https://docs.twin.test/v3/whoami",
    )  # fmt: skip
    app = create_app(
        resource_server, LocalLimiter(RateLimits()), retired={"/v2/whoami": retirement}, clock=clock
    )
    auth = {"Authorization": f"Bearer {issuer.mint(role='QUANT_ANALYST', client_id='acme')}"}
    with TestClient(app) as http:
        before = http.get("/v2/whoami", headers=auth)
        other = http.get("/healthz")
        clock.t = datetime(2027, 1, 1, tzinfo=UTC).timestamp()
        after = http.get("/v2/whoami", headers=auth)
        text = http.get("/metrics").text
    assert 'twin_api_requests_total{method="GET",route="/v2/whoami",status="410"} 1.0' in text
    assert before.status_code == 200
    assert before.headers["Deprecation"] == f"@{int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())}"
    assert before.headers["Sunset"] == "Thu, 31 Dec 2026 00:00:00 GMT"
    assert before.headers["Link"] == '<https://docs.twin.test/v3/whoami>; rel="deprecation"'
    assert "Deprecation" not in other.headers
    assert after.status_code == 410 and after.json()["type"].endswith("/gone")
    assert after.headers["content-type"] == "application/problem+json" and "Sunset" in after.headers
