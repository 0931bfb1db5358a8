"""Resource monitors: the Snowflake DDL parsed, thresholds firing at exactly their share of the quota in
virtual time, and a suspension enforced on the simulated warehouse."""

from __future__ import annotations

import pytest

from tests.cost.conftest import shipped, simulate
from twin.cost.monitor import MonitorError, MonitorMeter, parse_resource_monitor
from twin.sim.scenario import ScenarioError, find_scenario, parse_scenario

DDL = (
    "CREATE RESOURCE MONITOR dashboards WITH CREDIT_QUOTA = 50 "
    "TRIGGERS ON 75 PERCENT DO NOTIFY ON 100 PERCENT DO SUSPEND"
)


def test_parses_the_snowflake_example() -> None:
    m = parse_resource_monitor(DDL + ";")
    assert m.name == "dashboards" and m.credit_quota == 50 and m.frequency == "MONTHLY"
    assert [(t.percent, t.action) for t in m.triggers] == [(75, "NOTIFY"), (100, "SUSPEND")]


def test_parses_optional_clauses_in_any_case() -> None:
    m = parse_resource_monitor(
        'create or replace resource monitor if not exists "Daily Cap" with frequency = daily '
        "credit_quota = 12.5 triggers on 110 percent do suspend_immediate on 50 percent do notify"
    )
    assert m.name == "Daily Cap" and m.frequency == "DAILY" and m.credit_quota == 12.5
    assert [t.percent for t in m.triggers] == [50, 110]  # in threshold order


@pytest.mark.parametrize(
    ("ddl", "says"),
    [
        ("CREATE RESOURCE MONITOR m WITH TRIGGERS ON 100 PERCENT DO SUSPEND", "CREDIT_QUOTA"),
        ("CREATE RESOURCE MONITOR m WITH CREDIT_QUOTA = lots", "needs a number"),
        (
            "CREATE RESOURCE MONITOR m WITH CREDIT_QUOTA = 5 TRIGGERS ON 90 PERCENT DO DROP",
            "NOTIFY or SUSPEND",
        ),
        ("CREATE RESOURCE MONITOR m WITH CREDIT_QUOTA = 5; DROP TABLE x", "got ';'"),
        ("CREATE WAREHOUSE w WITH CREDIT_QUOTA = 5", "RESOURCE"),
        ("CREATE RESOURCE MONITOR m WITH CREDIT_QUOTA = 5 NOTIFY_USERS = (a)", "unexpected '\\(a\\)'"),
    ],
)
def test_anything_outside_the_grammar_is_refused_with_where_and_why(ddl: str, says: str) -> None:
    with pytest.raises(MonitorError, match=says):
        parse_resource_monitor(ddl)


def _meter(ddl: str, **kw: float) -> MonitorMeter:
    # 36 credits/hour = 0.01 credit per billed second: a 1-credit quota is 100 warehouse seconds
    args = {"credits_per_hour": 36.0, "min_billing_s": 60.0, "auto_suspend_s": 60.0, **kw}
    return MonitorMeter(parse_resource_monitor(ddl), **args)


def test_thresholds_fire_at_exactly_75_and_100_percent_of_the_quota() -> None:
    m = _meter("CREATE RESOURCE MONITOR m WITH CREDIT_QUOTA = 1 TRIGGERS ON 75 PERCENT DO NOTIFY "
               "ON 100 PERCENT DO SUSPEND")  # fmt: skip
    m.call(10.0, 30.0)  # up from 10 s to 30 + 60 s after: 90 s = 0.9 credit, under the quota
    assert not m.suspended(200.0)
    assert [(n.percent, n.t_s) for n in m.notifications] == [(75, 85.0)]
    m.call(300.0, 30.0)  # 0.1 credit more reaches the quota 10 s after the resume
    assert m.suspended(310.0)
    assert [(n.percent, n.t_s, n.action) for n in m.notifications] == [(75, 85.0, "NOTIFY"),
                                                                         (100, 310.0, "SUSPEND")]  # fmt: skip
    assert [n.credits for n in m.notifications] == [0.75, 1.0]


def test_suspend_lets_running_queries_finish_and_suspend_immediate_does_not() -> None:
    ddl = "CREATE RESOURCE MONITOR m WITH CREDIT_QUOTA = 1 TRIGGERS ON 100 PERCENT DO {}"
    graceful, hard = _meter(ddl.format("SUSPEND")), _meter(ddl.format("SUSPEND_IMMEDIATE"))
    for m in (graceful, hard):
        m.call(0.0, 500.0)
        m.advance(2_000.0)
    assert graceful.notifications[0].t_s == hard.notifications[0].t_s == 100.0
    assert hard.credits_total == pytest.approx(1.0)  # cut at the quota
    assert graceful.credits_total == pytest.approx(5.0)  # the running query's 500 s, then down


def test_a_short_resume_is_charged_the_minimum() -> None:
    m = _meter("CREATE RESOURCE MONITOR m WITH CREDIT_QUOTA = 100", auto_suspend_s=0.0)
    m.call(0.0, 1.0)
    m.advance(500.0)
    assert m.credits_total == pytest.approx(0.6)  # 60 s minimum, not 1 s


def test_a_daily_monitor_resets_at_midnight() -> None:
    m = _meter("CREATE RESOURCE MONITOR m WITH CREDIT_QUOTA = 1 FREQUENCY = DAILY TRIGGERS ON 100 PERCENT "
               "DO SUSPEND", start_clock_s=86_000.0)  # fmt: skip
    m.call(0.0, 200.0)
    assert m.suspended(150.0)
    assert not m.suspended(500.0)  # 400 s in is past midnight: a new interval
    assert m.used == 0.0


def test_a_bad_monitor_in_a_scenario_names_the_line() -> None:
    shipped_text = find_scenario("dashboard_storm").read_text()
    text = shipped_text.replace("CREDIT_QUOTA = ", "CREDIT_QUOTA = x")
    assert shipped_text != text
    with pytest.raises(
        ScenarioError, match=r"dashboard_storm.yaml:\d+: cost.resource_monitor: .*needs a number"
    ):
        parse_scenario(text, "dashboard_storm.yaml")


def test_the_dashboard_storm_trips_the_monitor_and_the_sla_report_shows_it() -> None:
    report, result = simulate(shipped("dashboard_storm"))
    mon = report["cost"]["resource_monitor"]
    percents = [n["percent"] for n in mon["notifications"]]
    assert percents[:2] == [75, 100] and mon["suspended_at_s"] is not None
    quota = mon["credit_quota"]
    assert mon["notifications"][1]["credits"] == quota
    # after the suspension, misses fail or fall back to stale entries: availability drops
    assert report["operations"]["client_accounts"]["stale"] > 0
    failed = {r["metric"] for r in report["slas"] if not r["passed"]}
    assert "staleness_max_s" in failed  # answered from stale entries while gold stopped refreshing
    # nothing reaches the warehouse after the suspension
    assert max(t for t, _ in result.recorder.misses_at) <= mon["suspended_at_s"]
