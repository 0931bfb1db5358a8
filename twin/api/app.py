"""The FastAPI app: auth, rate limits, metrics and problem+json around the platform's routes.

`create_app` takes its parts ready-made (tests inject a resource server, a limiter, breakers);
`build_app` makes them from `ApiSettings`; `app_from_env` is the factory uvicorn workers import, so
`--workers N` starts N processes that share buckets and cache through Redis.

Every failure, the framework's own included (unknown route, wrong method, bad parameters, a bug),
leaves as RFC 9457 problem+json with a stable `type`; a stack trace never reaches a client.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from twin.api.auth import HttpKeySource, ResourceServer, ResourceServerConfig, StaticKeySource
from twin.api.identity import Principal
from twin.api.issuer import ClientsFile, IssuerConfig, KeyStore, LocalIssuer, issuer_router
from twin.api.metrics import ApiMetrics
from twin.api.problems import (
    PROBLEM_MEDIA_TYPE,
    ApiProblem,
    Gone,
    InternalError,
    InvalidRequest,
    RateLimited,
    ServiceUnavailable,
    Unauthorized,
    problem_for_status,
)
from twin.api.ratelimit import Limiter, LocalLimiter, RateLimits, RedisLimiter
from twin.cache.breaker import CircuitBreaker
from twin.cache.result_cache import Lookup

log = logging.getLogger(__name__)

SETTINGS_ENV = "TWIN_API_SETTINGS"


class ApiSettings(BaseModel):
    """How the API tier is wired; `twin api serve` builds it from its options."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    issuer: str = "http://127.0.0.1:8000"
    audience: str = "twin-api"
    local_issuer: bool = Field(default=True, description="serve twin's issuer from this app and trust it")
    discovery_url: str | None = None  # an external issuer (Cognito): where its discovery document is
    jwks_uri: str | None = None
    key_file: Path | None = None  # the local issuer's keys (default: $TWIN_HOME/issuer/keys.json)
    clients_file: Path | None = None  # machine clients of the local issuer
    rate_limits_file: Path | None = None
    redis_url: str | None = None  # shared buckets across workers
    leeway_s: float = Field(default=30.0, ge=0, le=300)


def problem_response(exc: ApiProblem, request: Request | None = None) -> JSONResponse:
    instance = request.url.path if request is not None else None
    headers = dict(exc.headers)
    if exc.status == 401:
        headers.setdefault("WWW-Authenticate", 'Bearer error="invalid_token"')
    return JSONResponse(
        exc.problem(instance).model_dump(exclude_none=True),
        status_code=exc.status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=headers,
    )


def stale_headers(lookup: Lookup) -> dict[str, str]:
    """Headers for a cached answer: `Age` always, and the stale markers when the source was down."""
    headers = {"Age": str(int(lookup.age_s))}
    if lookup.stale:
        headers["X-Twin-Stale"] = "true"
        headers["Warning"] = '110 - "Response is Stale"'
    return headers


def _bearer(request: Request) -> str:
    auth = request.headers.get("authorization")
    if not auth:
        raise Unauthorized("send an access token: Authorization: Bearer <token>")
    scheme, _, token = auth.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("the Authorization header must be `Bearer <token>`")
    return token.strip()


def create_app(
    resource_server: ResourceServer,
    limiter: Limiter,
    *,
    issuer: LocalIssuer | None = None,
    breakers: Iterable[CircuitBreaker] = (),
    caches: dict[str, Any] | None = None,
    readiness: dict[str, Callable[[], bool]] | None = None,
    retired: dict[str, Retirement] | None = None,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    breakers = list(breakers)
    metrics = ApiMetrics(breakers=breakers, caches=caches)
    checks = dict(readiness or {})
    retirements = dict(retired or {})
    app = FastAPI(
        title="twin API",
        version="2",
        description="The client data-distribution API (twin's stand-in for API Gateway + Lambda).",
    )
    app.state.metrics = metrics
    app.state.resource_server = resource_server
    app.state.limiter = limiter

    @app.exception_handler(ApiProblem)
    async def _problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(exc, request)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem_response(problem_for_status(exc.status_code, str(exc.detail)), request)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem_response(InvalidRequest(f"{where}: {first.get('msg', 'invalid')}"), request)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s", request.url.path)
        return problem_response(InternalError("an unexpected error occurred; it has been logged"), request)

    @app.middleware("http")
    async def _sunset(request: Request, call_next: Callable[[Request], Any]) -> Response:
        # added before `_observe`, so inside it: a 410 is counted like any other answer.
        # after its sunset a retired route answers 410 before any work (auth, limits, data) is done
        for template, retirement in retirements.items():
            if clock() >= retirement.sunset.timestamp() and _matches(app, request, template):
                gone = Gone(f"{template} was retired on {retirement.sunset.date()}; see {retirement.link}")
                response = problem_response(gone, request)
                response.headers.update(retirement.headers())
                return response
        return await call_next(request)

    @app.middleware("http")
    async def _observe(request: Request, call_next: Callable[[Request], Any]) -> Response:
        started = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # the Exception handler above answers; count it as what it is
            route = _route(request)
            metrics.requests.labels(route, request.method, "500").inc()
            raise
        route = _route(request)
        metrics.latency.labels(route, request.method).observe(time.perf_counter() - started)
        metrics.requests.labels(route, request.method, str(response.status_code)).inc()
        retirement = retirements.get(route)
        if retirement is not None:
            response.headers.update(retirement.headers())
        decision = getattr(request.state, "rate_limit", None)
        if decision is not None:
            response.headers.update(decision.headers())
        return response

    def authenticated(request: Request) -> Principal:
        """The caller's principal, after its token and its client's bucket both said yes."""
        try:
            principal = resource_server.authenticate(_bearer(request))
        except Unauthorized:
            metrics.auth_failures.inc()
            raise
        try:
            decision = limiter.acquire(principal.client_id)
        except Exception:  # a shared store that is down must not take the API down: let it through
            metrics.limiter_errors.inc()
            log.warning("rate limiter unavailable; request let through", exc_info=True)
            return principal
        request.state.rate_limit = decision
        if not decision.allowed:
            metrics.rate_limited.labels(principal.client_id).inc()
            raise RateLimited(
                f"client {principal.client_id} is over its rate limit; retry after "
                f"{decision.headers()['Retry-After']} s",
                headers=decision.headers(),
            )
        return principal

    app.state.authenticated = authenticated

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    def readyz() -> dict[str, Any]:
        results = {}
        for name, check in checks.items():
            try:
                results[name] = bool(check())
            except Exception:
                results[name] = False
        failing = sorted(n for n, ok in results.items() if not ok)
        if failing:
            raise ServiceUnavailable(f"not ready: {', '.join(failing)}")
        return {"status": "ready", "checks": results}

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v2/whoami", tags=["identity"], response_model=Principal)
    def whoami(principal: Principal = Depends(authenticated)) -> Principal:
        return principal

    if issuer is not None:
        app.include_router(issuer_router(issuer))
    return app


class Retirement(BaseModel):
    """A route on its way out: `Deprecation` (RFC 9745) and `Sunset` (RFC 8594) headers, then 410."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    deprecated: datetime
    sunset: datetime
    link: str = Field(description="where the replacement is documented")

    def headers(self) -> dict[str, str]:
        return {
            "Deprecation": f"@{int(self.deprecated.timestamp())}",
            "Sunset": format_datetime(self.sunset.astimezone(UTC), usegmt=True),
            "Link": f'<{self.link}>; rel="deprecation"',
        }


def _matches(app: FastAPI, request: Request, template: str) -> bool:
    from starlette.routing import Match

    for route in app.router.routes:
        if getattr(route, "path", None) == template and route.matches(request.scope)[0] is Match.FULL:
            request.scope["route"] = route  # so the metrics label the 410 with its route template
            return True
    return False


def _route(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or "unmatched"


def build_app(settings: ApiSettings) -> FastAPI:
    """The app as `twin api serve` runs it."""
    from twin.config import paths

    issuer: LocalIssuer | None = None
    rs_config = ResourceServerConfig(
        issuer=settings.issuer, audiences=(settings.audience,), discovery_url=settings.discovery_url,
        jwks_uri=settings.jwks_uri, leeway_s=settings.leeway_s,
    )  # fmt: skip
    if settings.local_issuer:
        keys = KeyStore(settings.key_file or paths().home / "issuer" / "keys.json")
        clients = ClientsFile.load(settings.clients_file) if settings.clients_file else None
        issuer = LocalIssuer(IssuerConfig(issuer=settings.issuer, audience=settings.audience), keys, clients)
        # the keys are on this machine: read them directly instead of calling ourselves over HTTP
        source: Any = StaticKeySource(keys.jwks)
    else:
        source = HttpKeySource(rs_config)
    limits = RateLimits.load(settings.rate_limits_file) if settings.rate_limits_file else RateLimits()
    readiness: dict[str, Callable[[], bool]] = {}
    limiter: Limiter
    if settings.redis_url:
        import redis

        client = redis.Redis.from_url(settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
        limiter = RedisLimiter(limits, client)
        readiness["redis"] = lambda: bool(client.ping())
    else:
        limiter = LocalLimiter(limits)
    resource_server = ResourceServer(rs_config, source)
    readiness["identity"] = resource_server.ready
    return create_app(resource_server, limiter, issuer=issuer, readiness=readiness)


def app_from_env() -> FastAPI:
    """The factory uvicorn imports in each worker: settings travel as JSON in TWIN_API_SETTINGS."""
    raw = os.environ.get(SETTINGS_ENV)
    return build_app(ApiSettings.model_validate_json(raw) if raw else ApiSettings())
