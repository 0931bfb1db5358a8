"""`twin run --start` (to run a window in business hours) and `twin cost` on a scenario."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from twin.cli.main import app

runner = CliRunner()


def test_run_start_that_is_not_a_time_of_day_is_refused(twin_home: Path) -> None:
    res = runner.invoke(app, ["run", "advisor_peak_day", "--start", "25:00", "--duration", "2h"])
    assert res.exit_code == 2 and "--start" in res.output and "25:00" in res.output


def test_cost_of_a_scenario_is_the_profile_model_with_sweeps_delivery_and_monitor_cap() -> None:
    res = runner.invoke(app, ["cost", "dashboard_storm", "--format", "json"])
    assert res.exit_code == 0, res.output
    cost = json.loads(res.output)
    assert cost["run"]["projection"]["method"] == "model"
    # the daily monitor (6 credits at 4 credits/hour) caps the bill at 1.5 warehouse hours: $18
    assert cost["run"]["warehouse_clock_per_day"] == 18.0
    assert set(cost["sweeps"]) == {"ttl_s", "auto_suspend_s", "warehouse_size", "users_scale"}
    assert cost["delivery"]["pull_vs_push"]["pull_per_year"] > 500_000
