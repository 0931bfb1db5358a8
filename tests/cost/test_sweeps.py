"""Sweeps of the profile model: one curve per parameter, the scenario's choice marked on it."""

from __future__ import annotations

from tests.cost.conftest import shipped
from twin.cost.summary import terms_of
from twin.cost.sweeps import sweeps
from twin.sim.costing import traffic_of
from twin.sim.html import sweep_figure


def _sweeps() -> dict:
    s = shipped("advisor_peak_day")
    return sweeps(traffic_of(s, {}), s.cost, terms_of(s.cost))


def test_each_parameter_has_a_curve_with_the_chosen_point_on_it() -> None:
    sw = _sweeps()
    assert set(sw) == {"ttl_s", "auto_suspend_s", "warehouse_size", "users_scale"}
    assert sw["ttl_s"]["chosen"] == 300 and sw["warehouse_size"]["chosen"] == "M"
    for curve in sw.values():
        assert curve["chosen"] in [p["x"] for p in curve["points"]]


def test_curves_move_the_way_the_billing_says() -> None:
    sw = _sweeps()
    hits = [p["hit_rate"] for p in sw["ttl_s"]["points"]]
    assert hits == sorted(hits) and hits[0] == 0.0  # a longer TTL never hits less
    clock = {p["x"]: p["warehouse_clock_per_day"] for p in sw["auto_suspend_s"]["points"]}
    above_minimum = [clock[a] for a in sorted(clock) if a >= 60]
    assert above_minimum == sorted(above_minimum)  # past the minimum, a longer timer bills more
    # suspending at once is dearer: every resume is billed the 60-second minimum again
    assert clock[0.0] > clock[60.0]
    sizes = {p["x"]: p for p in sw["warehouse_size"]["points"]}
    assert sizes["XL"]["warehouse_clock_per_day"] > sizes["XS"]["warehouse_clock_per_day"]
    assert sizes["XL"]["per_query_per_day"] == sizes["XS"]["per_query_per_day"]


def test_the_html_marks_the_chosen_point() -> None:
    fig = sweep_figure(_sweeps())
    marked = [t for t in fig.data if t.name == "chosen"]
    assert len(marked) == 4


def test_trajectory_on_the_profile_shows_what_the_warehouse_clock_rewards() -> None:
    from twin.cost.sweeps import profile_trajectory

    s = shipped("advisor_peak_day")
    stages = profile_trajectory(traffic_of(s, {}), s.cost, terms_of(s.cost))
    today, cached, smaller = stages
    assert today["hit_rate"] == 0.0 and cached["hit_rate"] > 0.4
    # per-query arithmetic rewards the cache; the clock of a warehouse busy all day does not
    assert cached["per_query_per_day"] < today["per_query_per_day"]
    assert cached["warehouse_clock_per_day"] == today["warehouse_clock_per_day"] == 86_400 * 0.04
    assert smaller["saving_vs_first"] > 0.4  # a smaller warehouse with a short suspend timer does
