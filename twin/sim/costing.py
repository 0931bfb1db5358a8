"""Plain-data inputs the cost model needs from a scenario and a run: the traffic profile per cache key
space, and who caused each warehouse call (for chargeback). The cost model knows no simulator; this is
where the simulator's terms are translated into its.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twin.cost.projection import KeyStream, Traffic
from twin.sim.scenario import Scenario


def traffic_of(s: Scenario, key_counts: Mapping[str, int]) -> Traffic:
    """Hourly request rates per (cache scope, operation): requests in one scope share cache entries."""
    streams: dict[tuple[Any, ...], KeyStream] = {}
    for p in s.personas:
        weights = p.hourly_weights()
        total = sum(p.mix.values())
        for op, share in p.mix.items():
            if share <= 0:
                continue
            rps = [p.count * p.requests_per_day * w * share / total / 3600.0 for w in weights]
            spec = s.operations[op].key
            scope = (p.role, p.department, tuple(p.secondary_roles), op)
            if scope in streams:
                old = streams[scope]
                rps = [a + b for a, b in zip(old.hourly_rps, rps, strict=True)]
                streams[scope] = old.model_copy(update={"hourly_rps": rps})
                continue
            streams[scope] = KeyStream(
                name=f"{p.role}/{op}",
                hourly_rps=rps,
                n_keys=max(1, key_counts.get(op, spec.limit if spec else 1)) if spec else 1,
                zipf_s=spec.zipf_s if spec is not None and spec.popularity == "zipf" else None,
            )
    return Traffic(streams=list(streams.values()), ttl_s=s.platform.cache.ttl,
                   cache_enabled=s.platform.cache.enabled)  # fmt: skip
