"""A live run that cannot keep the requested speed says so, and its figures carry the label."""

from __future__ import annotations

from tests.cost.conftest import StubPlatform, fixed_calibration, shipped
from twin.sim.html import render_html
from twin.sim.report import build_report, speed_label
from twin.sim.runner import RunOptions, run_scenario


def test_label_says_requested_and_achieved() -> None:
    behind = speed_label(60.0, 4.0)
    assert not behind["kept_up"] and "achieved 4x of the requested 60x" in behind["label"]
    assert speed_label(60.0, 59.0)["kept_up"]


def test_a_live_run_far_behind_its_speed_is_labelled_in_the_report() -> None:
    # a million simulated seconds per wall second: two simulated minutes would need 0.12 ms of wall
    s = shipped("dashboard_storm", duration=120.0)
    result = run_scenario(s, StubPlatform(), RunOptions(calibration=fixed_calibration(s), realtime_speed=1e6))
    report = build_report(result)
    assert report["speed"]["requested"] == 1e6 and not report["speed"]["kept_up"]
    assert report["cost"]["run"]["label"] == report["speed"]["label"]
    assert "fell behind" in render_html(report)


def test_a_simulated_run_has_no_speed_label() -> None:
    s = shipped("dashboard_storm", duration=120.0)
    report = build_report(run_scenario(s, StubPlatform(), RunOptions(calibration=fixed_calibration(s))))
    assert "speed" not in report and "label" not in report["cost"]["run"]
