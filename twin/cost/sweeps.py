"""One-parameter sweeps of the profile model: a day's cost as TTL, warehouse size, auto-suspend or the
number of users changes, with the scenario's own choice marked.

Each point is the hour-by-hour model of `twin.cost.projection` for a whole day, so a sweep costs
milliseconds and needs no further simulation. Warehouse sizes follow Snowflake's doubling of credits
per size; a query is assumed to run in proportionally less time on a bigger warehouse, so per-query
cost stays flat and only the idle tails (auto-suspend, minimum billing) grow with size.
"""

from __future__ import annotations

from typing import Any

from twin.cost.params import CostParams
from twin.cost.projection import DAY_S, Traffic, WarehouseTerms, model_window

TTLS_S = (0.0, 60.0, 300.0, 900.0, 1800.0, 3600.0)
AUTO_SUSPEND_S = (0.0, 60.0, 120.0, 300.0, 600.0)
SIZES = {"XS": 1.0, "S": 2.0, "M": 4.0, "L": 8.0, "XL": 16.0}  # credits per hour
USER_SCALES = (0.25, 0.5, 1.0, 2.0, 4.0)


def _day(traffic: Traffic, terms: WarehouseTerms, dps: float) -> dict[str, float]:
    f = model_window(traffic, terms, 0.0, DAY_S)
    return {
        "hit_rate": round(f.hit_rate, 4),
        "warehouse_clock_per_day": round(f.billed_s * dps, 2),
        "per_query_per_day": round(f.misses * terms.seconds_per_query * dps, 2),
    }


def sweeps(traffic: Traffic, params: CostParams, terms: WarehouseTerms) -> dict[str, Any]:
    """{parameter: {"chosen": x, "points": [{"x": x, ...day figures}]}} for each swept parameter."""
    dps = params.dollars_per_second
    out: dict[str, Any] = {}
    ttls = sorted({*TTLS_S, traffic.ttl_s})
    out["ttl_s"] = {
        "chosen": traffic.ttl_s,
        "points": [{"x": t, **_day(traffic.model_copy(update={"ttl_s": t}), terms, dps)} for t in ttls],
    }
    suspends = sorted({*AUTO_SUSPEND_S, terms.auto_suspend_s})
    out["auto_suspend_s"] = {
        "chosen": terms.auto_suspend_s,
        "points": [
            {"x": a, **_day(traffic, terms.model_copy(update={"auto_suspend_s": a}), dps)} for a in suspends
        ],
    }
    c0 = params.credits_per_hour
    points = []
    for name, credits in SIZES.items():
        sized = terms.model_copy(update={"seconds_per_query": terms.seconds_per_query * c0 / credits})
        points.append({"x": name, "credits_per_hour": credits, **_day(traffic, sized, dps * credits / c0)})
    chosen = next((n for n, c in SIZES.items() if c == c0), f"{c0:g} credits/h")
    out["warehouse_size"] = {"chosen": chosen, "points": points}
    out["users_scale"] = {
        "chosen": 1.0,
        "points": [
            {
                "x": k,
                **_day(
                    traffic.model_copy(
                        update={
                            "streams": [
                                s.model_copy(update={"hourly_rps": [r * k for r in s.hourly_rps]})
                                for s in traffic.streams
                            ]
                        }
                    ),
                    terms,
                    dps,
                ),
            }
            for k in USER_SCALES
        ],
    }
    return out


# The trajectory's levers on a scenario's own traffic: the result cache's TTL, warehouse size and
# auto-suspend (Snowflake's default auto-suspend is 600 s).
PROFILE_STAGES = (
    ("today: no result cache, M, auto-suspend 600 s", 0.0, "M", 600.0),
    ("5-minute result cache, M, auto-suspend 600 s", 300.0, "M", 600.0),
    ("15-minute result cache, S, auto-suspend 60 s", 900.0, "S", 60.0),
)


def profile_trajectory(traffic: Traffic, params: CostParams, terms: WarehouseTerms) -> list[dict[str, Any]]:
    """The cost-reduction stages priced by the warehouse clock on this scenario's traffic profile."""
    dps, c0 = params.dollars_per_second, params.credits_per_hour
    out: list[dict[str, Any]] = []
    for label, ttl, size, suspend in PROFILE_STAGES:
        credits = SIZES[size]
        staged = terms.model_copy(
            update={"seconds_per_query": terms.seconds_per_query * c0 / credits, "auto_suspend_s": suspend}
        )
        day = _day(traffic.model_copy(update={"ttl_s": ttl}), staged, dps * credits / c0)
        first = out[0]["warehouse_clock_per_day"] if out else day["warehouse_clock_per_day"]
        out.append({
            "label": label, "ttl_s": ttl, "size": size, "auto_suspend_s": suspend, **day,
            "per_year": round(day["warehouse_clock_per_day"] * params.days_per_year, 2),
            "saving_vs_first": round(1 - day["warehouse_clock_per_day"] / first, 4) if first else 0.0,
        })  # fmt: skip
    return out
