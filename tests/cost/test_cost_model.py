from __future__ import annotations

import random

import pytest

from twin.cost.billing import warehouse_clock
from twin.cost.hit_rate import replay, zipf_replay
from twin.cost.model import per_query_cost, worked_example


def test_worked_example_exactly() -> None:
    ex = worked_example(users=1_000, queries_per_user_per_day=100, seconds_per_query=3, price_per_second=0.04,
                        hit_rate=0.94)  # fmt: skip
    assert ex.no_cache.per_day == pytest.approx(12_000.0)
    assert ex.no_cache.per_year == pytest.approx(4_380_000.0)
    assert ex.with_cache.per_day == pytest.approx(720.0)
    assert ex.with_cache.per_year == pytest.approx(262_800.0)
    assert ex.saving == pytest.approx(0.94)


def test_hit_rate_outside_unit_interval_is_refused() -> None:
    with pytest.raises(ValueError, match="hit rate"):
        per_query_cost(10, seconds_per_query=1, price_per_second=1, hit_rate=1.2)


def test_billing_minimum_per_resume() -> None:
    # two 1-second queries an hour apart: two resumes, each billed 60 s (not 1 s + suspend)
    b = warehouse_clock([(0, 1), (3600, 1)], min_billing_s=60, auto_suspend_s=0)
    assert b.resumes == 2 and b.billed_s == 120 and b.busy_s == 2 and b.idle_s == 118


def test_billing_auto_suspend_keeps_the_warehouse_up_between_close_queries() -> None:
    b = warehouse_clock([(0, 3), (30, 3), (50, 3)], min_billing_s=60, auto_suspend_s=60)
    assert b.resumes == 1
    assert b.billed_s == pytest.approx(53 + 60)  # first start to last end plus the suspend timer


def test_concurrent_queries_share_the_clock() -> None:
    b = warehouse_clock([(0, 10)] * 8, min_billing_s=0, auto_suspend_s=0)
    assert b.billed_s == 10 and b.busy_s == 10


def test_replay_counts_hits_within_ttl() -> None:
    stream = [(0.0, "a"), (10.0, "a"), (400.0, "a"), (401.0, "b")]
    assert replay(stream, 300) == pytest.approx(1 / 4)
    assert replay(stream, 1000) == pytest.approx(2 / 4)
    assert replay(stream, 0) == 0.0


def test_zipf_hit_rate_grows_with_skew_and_ttl() -> None:
    rng = random.Random(3)
    times = sorted(rng.uniform(0, 3600) for _ in range(3000))
    flat = zipf_replay(times, 5000, 0.6, 300, seed=1)
    skewed = zipf_replay(times, 5000, 1.3, 300, seed=1)
    longer = zipf_replay(times, 5000, 1.3, 3600, seed=1)
    assert flat < skewed < longer
