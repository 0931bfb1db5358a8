"""The architecture's worked example, as arithmetic anyone can check.

No cache: users x queries/day x seconds/query x $/second. With a cache, only misses reach the
warehouse: multiply by (1 - hit rate). A year is `days_per_year` such days.
"""

from __future__ import annotations

from pydantic import BaseModel


class DailyCost(BaseModel):
    queries_per_day: float
    warehouse_queries_per_day: float
    hit_rate: float
    per_day: float
    per_year: float


class WorkedExample(BaseModel):
    no_cache: DailyCost
    with_cache: DailyCost
    saving: float  # share of the no-cache cost saved


def per_query_cost(
    queries_per_day: float,
    *,
    seconds_per_query: float,
    price_per_second: float,
    hit_rate: float = 0.0,
    days_per_year: int = 365,
) -> DailyCost:
    if not 0.0 <= hit_rate <= 1.0:
        raise ValueError(f"hit rate must be within 0..1, got {hit_rate}")
    reaching = queries_per_day * (1.0 - hit_rate)
    per_day = reaching * seconds_per_query * price_per_second
    return DailyCost(
        queries_per_day=queries_per_day,
        warehouse_queries_per_day=reaching,
        hit_rate=hit_rate,
        per_day=per_day,
        per_year=per_day * days_per_year,
    )


def worked_example(
    users: int = 1_000,
    queries_per_user_per_day: float = 100,
    seconds_per_query: float = 3.0,
    price_per_second: float = 0.04,
    hit_rate: float = 0.94,
    days_per_year: int = 365,
) -> WorkedExample:
    q = users * queries_per_user_per_day
    kw = {"seconds_per_query": seconds_per_query, "price_per_second": price_per_second}
    none = per_query_cost(q, hit_rate=0.0, days_per_year=days_per_year, **kw)
    cached = per_query_cost(q, hit_rate=hit_rate, days_per_year=days_per_year, **kw)
    return WorkedExample(no_cache=none, with_cache=cached, saving=1.0 - cached.per_day / none.per_day)
