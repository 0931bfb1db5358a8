"""Delivery costs (pull vs push) and the cost-reduction trajectory, from their inputs."""

from __future__ import annotations

import pytest

from twin.cost.delivery import DeliveryInputs, Stage, delivery_cost, trajectory


def test_pull_vs_push_reproduces_500k_to_50k_a_year() -> None:
    d = delivery_cost()
    assert d.pull_per_year == pytest.approx(503_700.0)  # "$500K+"
    assert d.push_per_year == pytest.approx(50_176.0, abs=1)  # "~$50K"
    assert d.reduction == pytest.approx(0.90, abs=0.005)


def test_the_stated_85_percent_needs_shared_costs_in_the_base() -> None:
    assert delivery_cost(DeliveryInputs(shared_per_year=29_400)).reduction == pytest.approx(0.85, abs=0.005)


def test_push_egress_grows_with_destinations_not_clients() -> None:
    few, many = delivery_cost(DeliveryInputs(clients=10)), delivery_cost(DeliveryInputs(clients=1_000))
    assert few.push_egress_per_year == many.push_egress_per_year
    assert many.pull_egress_per_year == 100 * few.pull_egress_per_year


def test_trajectory_4_4m_to_2_2m_to_700k() -> None:
    stages = trajectory()
    assert [round(s.per_year, -3) for s in stages] == [4_380_000, 2_190_000, 701_000]
    assert stages[-1].saving_vs_first >= 0.80


def test_a_bigger_warehouse_costs_the_same_per_query_and_idle_time_costs_extra() -> None:
    m, xl = trajectory([Stage(label="M", hit_rate=0.5, credits_per_hour=4), Stage(label="XL", hit_rate=0.5,
                        credits_per_hour=16)])  # fmt: skip
    assert m.per_day == pytest.approx(xl.per_day)
    idle = trajectory([Stage(label="idle", hit_rate=0.5, credits_per_hour=4, idle_share=0.5)])[0]
    assert idle.per_day == pytest.approx(2 * m.per_day)
