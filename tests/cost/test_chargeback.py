"""Chargeback: a day's warehouse cost split by the warehouse calls each persona and client caused."""

from __future__ import annotations

import pytest

from tests.cost.conftest import shipped, simulate
from twin.cost.chargeback import chargeback


def test_split_by_warehouse_calls_not_requests() -> None:
    usage = {"advisor-0001": (100, 10), "advisor-0002": (10, 30), "dashboard-0001": (5, 60)}
    groups = {u: u.rsplit("-", 1)[0] for u in usage}
    cb = chargeback(usage, per_day=1_000.0, group_of=groups, top=2)
    by = {p["persona"]: p for p in cb["personas"]}
    assert by["advisor"]["per_day"] == 400.0 and by["dashboard"]["per_day"] == 600.0
    assert by["advisor"]["clients"] == 2 and by["advisor"]["requests"] == 110
    assert [c["client"] for c in cb["top_clients"]] == ["dashboard-0001", "advisor-0002"]


def test_a_run_answers_what_each_persona_and_client_costs() -> None:
    report, _ = simulate(shipped("dashboard_storm", duration=3 * 3600))
    cost = report["cost"]
    cb = cost["chargeback"]
    total = cost["run"]["warehouse_clock_per_day"]
    assert {p["persona"] for p in cb["personas"]} == {"analyst", "dashboard"}
    assert sum(p["per_day"] for p in cb["personas"]) == pytest.approx(total, abs=0.05)
    assert sum(p["requests"] for p in cb["personas"]) == report["overall"]["count"]
    assert cb["top_clients"][0]["persona"] == "dashboard"  # the storm's dashboards cost the most
