"""Prometheus metrics of the API tier, in a registry per app (tests build many apps in one process).

Request counts and latency per route template (never the raw path: fund ids would explode the label
set), rate-limit rejections and auth failures as counters; breaker states and cache counters are read
at scrape time from the objects themselves, so they cannot drift from what those objects did.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from twin.cache.breaker import STATE_VALUE, CircuitBreaker

# Buckets around the architecture's SLAs: 20 ms (cache warm), 100 ms (cold), 200 ms (the API SLA).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.5, 5.0)


class _Live(Collector):
    def __init__(self, breakers: Iterable[CircuitBreaker], caches: dict[str, Any]) -> None:
        self.breakers = list(breakers)
        self.caches = caches

    def collect(self) -> Iterable[Metric]:
        state = GaugeMetricFamily(
            "twin_breaker_state", "Circuit breaker state (0 closed, 1 half-open, 2 open)", labels=["breaker"]
        )
        for b in self.breakers:
            state.add_metric([b.name], STATE_VALUE[b.state])
        yield state
        lookups = CounterMetricFamily(
            "twin_cache_lookups", "Result cache lookups by outcome", labels=["cache", "result"]
        )
        for name, cache in self.caches.items():
            s = cache.stats
            for result, n in (("hit", s.hits), ("miss", s.misses), ("stale", s.stale_served),
                              ("failure", s.failures)):  # fmt: skip
                lookups.add_metric([name, result], n)
        yield lookups


class ApiMetrics:
    def __init__(
        self, *, breakers: Iterable[CircuitBreaker] = (), caches: dict[str, Any] | None = None
    ) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "twin_api_requests", "HTTP requests by route template, method and status",
            ["route", "method", "status"], registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "twin_api_request_duration_seconds", "Request latency by route template",
            ["route", "method"], buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.rate_limited = Counter(
            "twin_api_rate_limited",
            "Requests refused by the rate limiter",
            ["client"],
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "twin_api_auth_failures",
            "Requests refused for a missing or invalid token",
            registry=self.registry,
        )
        self.limiter_errors = Counter(
            "twin_api_rate_limiter_errors",
            "Rate-limit checks that could not reach the shared store (the request was let through)",
            registry=self.registry,
        )
        self.live = _Live(breakers, caches or {})
        self.registry.register(self.live)
