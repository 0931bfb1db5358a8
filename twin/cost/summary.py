"""The cost section of a run's report: worked example, the run's own figures, and sensitivities."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twin.cost.billing import warehouse_clock
from twin.cost.hit_rate import replay, zipf_replay
from twin.cost.model import per_query_cost, worked_example
from twin.sim.scenario import CostParams, Sweep

HIT_RATE_GRID = (0.0, 0.5, 0.8, 0.9, 0.94, 0.98)


def cost_summary(
    params: CostParams,
    *,
    users: int,
    queries_per_user_per_day: float,
    queries: int,
    hit_rate: float,
    duration_s: float,
    warehouse_calls: Sequence[tuple[float, float]],
    keys: Sequence[tuple[float, str]],
    sweep: Sweep | None = None,
    n_keys: int = 5_000,
    seed: int = 0,
    day_scale: float | None = None,
) -> dict[str, Any]:
    """`day_scale` turns the run's volume into a day's (a peak hour is more than 1/24 of a day)."""
    dps = params.dollars_per_second
    scale = day_scale if day_scale is not None else 86400.0 / duration_s
    q_day = queries * scale
    days = params.days_per_year
    example = worked_example(
        users, queries_per_user_per_day, params.seconds_per_query, dps, 0.94, days_per_year=days
    )
    at_run_rate = per_query_cost(
        q_day,
        seconds_per_query=params.seconds_per_query,
        price_per_second=dps,
        hit_rate=hit_rate,
        days_per_year=days,
    )
    bill = warehouse_clock(
        [(t, params.seconds_per_query) for t, _ in warehouse_calls],
        min_billing_s=params.min_billing_s,
        auto_suspend_s=params.auto_suspend_s,
    )
    realistic_day = bill.billed_s * dps * scale
    ttls = sweep.ttls if sweep else [0.0, 60.0, 300.0, 900.0, 3600.0]
    by_ttl = []
    for ttl in ttls:
        h = replay(keys, ttl)
        c = per_query_cost(q_day, seconds_per_query=params.seconds_per_query, price_per_second=dps,
                           hit_rate=h, days_per_year=days)  # fmt: skip
        by_ttl.append({"ttl_s": ttl, "hit_rate": round(h, 4), "per_day": round(c.per_day, 2)})
    by_hit = [
        {
            "hit_rate": h,
            "per_day": round(
                per_query_cost(
                    q_day, seconds_per_query=params.seconds_per_query, price_per_second=dps, hit_rate=h
                ).per_day,
                2,
            ),
        }
        for h in HIT_RATE_GRID
    ]
    zipf = []
    if sweep:
        times = [t for t, _ in keys]
        for s in sweep.zipf_s:
            for ttl in sweep.ttls:
                zipf.append(
                    {
                        "zipf_s": s,
                        "ttl_s": ttl,
                        "hit_rate": round(zipf_replay(times, n_keys, s, ttl, seed), 4),
                    }
                )
    egress = params.push_gb_per_day * params.egress_per_gb
    storage_day = params.storage_tb * params.storage_per_tb_month * 12 / days
    return {
        "dollars_per_second": dps,
        "worked_example": {
            "users": users,
            "queries_per_user_per_day": queries_per_user_per_day,
            "seconds_per_query": params.seconds_per_query,
            "no_cache_per_day": round(example.no_cache.per_day, 2),
            "no_cache_per_year": round(example.no_cache.per_year, 2),
            "cache_94_per_day": round(example.with_cache.per_day, 2),
            "cache_94_per_year": round(example.with_cache.per_year, 2),
            "saving": round(example.saving, 4),
        },
        "run": {
            "queries_per_day": round(q_day, 1),
            "hit_rate": round(hit_rate, 4),
            "per_query_per_day": round(at_run_rate.per_day, 2),
            "per_query_per_year": round(at_run_rate.per_year, 2),
            "warehouse_clock_per_day": round(realistic_day, 2),
            "warehouse_clock_per_year": round(realistic_day * days, 2),
            "billed_s": round(bill.billed_s, 1),
            "busy_s": round(bill.busy_s, 1),
            "idle_s": round(bill.idle_s, 1),
            "resumes": bill.resumes,
            "measured_compute_s": round(sum(d for _, d in warehouse_calls), 3),
            "scaled_to_day_by": round(scale, 4),
        },
        "delivery": {
            "push_egress_per_day": round(egress, 2),
            "adx_zero_copy_egress_per_day": 0.0,
            "storage_per_day": round(storage_day, 2),
        },
        "sensitivity": {"by_ttl": by_ttl, "by_hit_rate": by_hit, "zipf": zipf},
    }


def parametric_summary(scenario: Any) -> dict[str, Any]:
    """Cost from a scenario's parameters alone (no run): the worked example and a hit-rate grid."""
    params: CostParams = scenario.cost
    users = sum(p.count for p in scenario.personas)
    per_user = sum(p.count * p.requests_per_day for p in scenario.personas) / users
    dps = params.dollars_per_second
    ex = worked_example(users, per_user, params.seconds_per_query, dps, 0.94, params.days_per_year)
    q_day = users * per_user
    return {
        "dollars_per_second": dps,
        "worked_example": {
            "users": users,
            "queries_per_user_per_day": per_user,
            "seconds_per_query": params.seconds_per_query,
            "no_cache_per_day": round(ex.no_cache.per_day, 2),
            "no_cache_per_year": round(ex.no_cache.per_year, 2),
            "cache_94_per_day": round(ex.with_cache.per_day, 2),
            "cache_94_per_year": round(ex.with_cache.per_year, 2),
            "saving": round(ex.saving, 4),
        },
        "run": None,
        "sensitivity": {
            "by_ttl": [],
            "by_hit_rate": [
                {
                    "hit_rate": h,
                    "per_day": round(
                        per_query_cost(
                            q_day,
                            seconds_per_query=params.seconds_per_query,
                            price_per_second=dps,
                            hit_rate=h,
                        ).per_day,
                        2,
                    ),
                }
                for h in HIT_RATE_GRID
            ],
            "zipf": [],
        },
    }
