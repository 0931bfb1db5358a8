"""The cost section of a run's report: worked example, the run's own figures projected to a day, and
sensitivities. Plain data in (prices, the traffic profile, what the run saw): the cost model knows no
simulator.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from twin.cost.billing import warehouse_clock
from twin.cost.delivery import DeliveryInputs, delivery_cost, trajectory
from twin.cost.hit_rate import replay, zipf_replay
from twin.cost.model import per_query_cost, worked_example
from twin.cost.monitor import parse_resource_monitor
from twin.cost.params import CostParams
from twin.cost.projection import Figures, Observed, Projection, Traffic, WarehouseTerms, project_day
from twin.cost.sweeps import profile_trajectory, sweeps

HIT_RATE_GRID = (0.0, 0.5, 0.8, 0.9, 0.94, 0.98)


# What the cost model reads of a scenario's `cost:` block.
Prices = CostParams


def billed_cap_s(params: Prices) -> tuple[float, str] | None:
    """The most a DAILY resource monitor that suspends lets the warehouse bill in a day, and its name."""
    if not params.resource_monitor:
        return None
    m = parse_resource_monitor(params.resource_monitor)
    stops = [t.percent for t in m.triggers if t.action != "NOTIFY"]
    if m.frequency != "DAILY" or not stops:
        return None
    return m.credit_quota * min(stops) / 100 / params.credits_per_hour * 3600, m.name


def _capped(p: Projection, params: Prices) -> Projection:
    cap = billed_cap_s(params)
    if cap is None or p.day is None or p.day.billed_s <= cap[0]:
        return p
    limit, name = cap

    def clip(f: Figures | None) -> Figures | None:
        return None if f is None else f.model_copy(update={"billed_s": min(f.billed_s, limit)})

    note = f"{p.note}; capped by resource monitor {name} at {limit / 3600:.2f} warehouse hours a day"
    return p.model_copy(update={"day": clip(p.day), "low": clip(p.low), "high": clip(p.high),
                                "note": note})  # fmt: skip


def terms_of(params: Prices) -> WarehouseTerms:
    return WarehouseTerms(
        seconds_per_query=params.seconds_per_query,
        min_billing_s=params.min_billing_s,
        auto_suspend_s=params.auto_suspend_s,
    )


def _r(x: float | None, nd: int = 2) -> float | None:
    return None if x is None else round(x, nd)


def _money(params: Prices, f: Figures | None) -> dict[str, float | None]:
    """A day's figures in dollars: per-query arithmetic and the warehouse clock."""
    dps, days = params.dollars_per_second, params.days_per_year
    if f is None:
        return {"per_query_per_day": None, "warehouse_clock_per_day": None}
    per_query = f.misses * params.seconds_per_query * dps
    return {
        "billed_s_per_day": round(f.billed_s, 1),
        "busy_s_per_day": round(f.busy_s, 1),
        "per_query_per_day": round(per_query, 2),
        "warehouse_clock_per_day": round(f.billed_s * dps, 2),
        "per_query_per_year": round(per_query * days, 2),
        "warehouse_clock_per_year": round(f.billed_s * dps * days, 2),
    }


def cost_summary(
    params: Prices,
    *,
    users: int,
    queries_per_user_per_day: float,
    queries: int,
    hit_rate: float,
    duration_s: float,
    warehouse_calls: Sequence[tuple[float, float]],
    keys: Sequence[tuple[float, str]],
    traffic: Traffic,
    start_s: float = 0.0,
    sweep_ttls: Sequence[float] | None = None,
    sweep_zipf_s: Sequence[float] = (),
    n_keys: int = 5_000,
    seed: int = 0,
    extras: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The run's figures projected to a day by the traffic profile (see `twin.cost.projection`)."""
    dps = params.dollars_per_second
    days = params.days_per_year
    example = worked_example(
        users, queries_per_user_per_day, params.seconds_per_query, dps, 0.94, days_per_year=days
    )
    terms = terms_of(params)
    bill = warehouse_clock(
        [(t, params.seconds_per_query) for t, _ in warehouse_calls],
        min_billing_s=params.min_billing_s,
        auto_suspend_s=params.auto_suspend_s,
    )
    obs = Observed(start_s=start_s, duration_s=duration_s, queries=queries, misses=len(warehouse_calls),
                   billed_s=bill.billed_s, busy_s=bill.busy_s)  # fmt: skip
    proj = _capped(project_day(traffic, terms, obs), params)
    day = proj.day
    q_day = day.queries if day is not None else None
    ttls = list(sweep_ttls) if sweep_ttls else [0.0, 60.0, 300.0, 900.0, 3600.0]
    by_ttl = []
    for ttl in ttls:
        model = project_day(traffic.model_copy(update={"ttl_s": ttl}), terms, obs).model_day
        h_day = model.hit_rate if model is not None else 0.0
        row: dict[str, Any] = {"ttl_s": ttl, "hit_rate_window": round(replay(keys, ttl), 4),
                               "hit_rate": round(h_day, 4), "per_day": None}  # fmt: skip
        if q_day is not None:
            c = per_query_cost(q_day, seconds_per_query=params.seconds_per_query, price_per_second=dps,
                               hit_rate=h_day, days_per_year=days)  # fmt: skip
            row["per_day"] = round(c.per_day, 2)
        by_ttl.append(row)
    q_grid = q_day if q_day is not None else (proj.model_day.queries if proj.model_day else 0.0)
    by_hit = [
        {
            "hit_rate": h,
            "per_day": round(
                per_query_cost(
                    q_grid, seconds_per_query=params.seconds_per_query, price_per_second=dps, hit_rate=h
                ).per_day,
                2,
            ),
        }
        for h in HIT_RATE_GRID
    ]
    zipf = []
    times = [t for t, _ in keys]
    for s in sweep_zipf_s:
        for ttl in ttls:
            zipf.append(
                {"zipf_s": s, "ttl_s": ttl, "hit_rate": round(zipf_replay(times, n_keys, s, ttl, seed), 4)}
            )
    egress = params.push_gb_per_day * params.egress_per_gb
    storage_day = params.storage_tb * params.storage_per_tb_month * 12 / days
    run: dict[str, Any] = {
        "queries_per_day": _r(q_day, 1),
        "hit_rate": round(day.hit_rate, 4) if day is not None else None,
        "hit_rate_window": round(hit_rate, 4),
        **_money(params, day),
        "billed_s": round(bill.billed_s, 1),
        "busy_s": round(bill.busy_s, 1),
        "idle_s": round(bill.idle_s, 1),
        "resumes": bill.resumes,
        "measured_compute_s": round(sum(d for _, d in warehouse_calls), 3),
        # the window's own bill, whatever the projection: what the run really cost
        "window_warehouse_clock": round(bill.billed_s * dps, 2),
        "window_s": duration_s,
        "window_per_query": round(len(warehouse_calls) * params.seconds_per_query * dps, 2),
        "scaled_to_day_by": round(q_day / queries, 4) if q_day is not None and queries else None,
        "projection": _projection_json(params, proj),
    }
    out: dict[str, Any] = {
        "dollars_per_second": dps,
        "worked_example": _example_json(example, users, queries_per_user_per_day, params),
        "run": run,
        "delivery": {
            "push_egress_per_day": round(egress, 2),
            "adx_zero_copy_egress_per_day": 0.0,
            "storage_per_day": round(storage_day, 2),
            **distribution(params),
        },
        "sensitivity": {"by_ttl": by_ttl, "by_hit_rate": by_hit, "zipf": zipf},
        "sweeps": sweeps(traffic, params, terms),
    }
    out["delivery"]["trajectory_on_profile"] = profile_trajectory(traffic, params, terms)
    if extras:
        out.update(extras)
    return out


def distribution(params: Prices) -> dict[str, Any]:
    """Pull vs push delivery and the cost-reduction trajectory, at this scenario's egress price."""
    d = delivery_cost(DeliveryInputs(egress_per_gb=params.egress_per_gb, days_per_year=params.days_per_year))
    return {
        "pull_vs_push": d.model_dump(),
        "trajectory": [s.model_dump() for s in trajectory(days_per_year=params.days_per_year)],
    }


def _projection_json(params: Prices, p: Projection) -> dict[str, Any]:
    low, high = _money(params, p.low), _money(params, p.high)
    return {
        "method": p.method,
        "note": p.note,
        "window_share": round(p.window_share, 4),
        "per_query_per_day_low": low["per_query_per_day"],
        "per_query_per_day_high": high["per_query_per_day"],
        "warehouse_clock_per_day_low": low["warehouse_clock_per_day"],
        "warehouse_clock_per_day_high": high["warehouse_clock_per_day"],
        "model_day": _money(params, p.model_day) if p.model_day else None,
    }


def _example_json(example: Any, users: int, per_user: float, params: Prices) -> dict[str, Any]:
    return {
        "users": users,
        "queries_per_user_per_day": per_user,
        "seconds_per_query": params.seconds_per_query,
        "no_cache_per_day": round(example.no_cache.per_day, 2),
        "no_cache_per_year": round(example.no_cache.per_year, 2),
        "cache_94_per_day": round(example.with_cache.per_day, 2),
        "cache_94_per_year": round(example.with_cache.per_year, 2),
        "saving": round(example.saving, 4),
    }


def parametric_summary(
    params: Prices, *, users: int, queries_per_user_per_day: float, traffic: Traffic | None = None
) -> dict[str, Any]:
    """Cost from a scenario's parameters alone (no run): the worked example, the profile model's day
    and a hit-rate grid."""
    dps = params.dollars_per_second
    ex = worked_example(users, queries_per_user_per_day, params.seconds_per_query, dps, 0.94,
                        params.days_per_year)  # fmt: skip
    q_day = users * queries_per_user_per_day
    run = None
    sweep_out: dict[str, Any] = {}
    on_profile: list[dict[str, Any]] = []
    if traffic is not None:
        from twin.cost.projection import model_window

        terms = terms_of(params)
        day = model_window(traffic, terms, 0.0, 86_400.0)
        cap = billed_cap_s(params)
        if cap is not None and day.billed_s > cap[0]:
            day = day.model_copy(update={"billed_s": cap[0]})
        note = (
            "the profile model alone (no run; a keyed operation is assumed to have its key `limit` of "
            "distinct keys: a run counts the real ones)"
        )
        run = {
            "queries_per_day": round(day.queries, 1),
            "hit_rate": round(day.hit_rate, 4),
            "hit_rate_window": None,
            **_money(params, day),
            "projection": {"method": "model", "note": note},
        }
        sweep_out = sweeps(traffic, params, terms)
        on_profile = profile_trajectory(traffic, params, terms)
    return {
        "dollars_per_second": dps,
        "worked_example": _example_json(ex, users, queries_per_user_per_day, params),
        "run": run,
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
        "sweeps": sweep_out,
        "delivery": {
            "push_egress_per_day": round(params.push_gb_per_day * params.egress_per_gb, 2),
            "adx_zero_copy_egress_per_day": 0.0,
            "storage_per_day": round(
                params.storage_tb * params.storage_per_tb_month * 12 / params.days_per_year, 2
            ),
            **distribution(params),
            "trajectory_on_profile": on_profile,
        },
    }
