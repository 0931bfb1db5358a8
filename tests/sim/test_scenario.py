from __future__ import annotations

from pathlib import Path

import pytest

from twin.sim.scenario import ScenarioError, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text, "s.yaml")
    return e.value.problems


def test_shipped_scenarios_are_valid() -> None:
    names = {load_scenario(p).name for p in SCENARIOS.glob("*.yaml")}
    assert {"advisor_peak_day", "warehouse_outage", "cost_cache_sweep", "region_failover"} <= names


def test_advisor_peak_day_has_the_architecture_volumes() -> None:
    s = load_scenario(SCENARIOS / "advisor_peak_day.yaml")
    advisors = s.personas[0]
    assert advisors.count * advisors.requests_per_day == 100_000
    assert sum(src.rate for src in s.event_sources) == 12_600


def test_bad_duration_names_field_and_line(small_text: str) -> None:
    text = small_text.replace("duration: 30m", "duration: soon")
    (p,) = _problems(text)
    line = text.splitlines().index("duration: soon") + 1
    assert p.startswith(f"s.yaml:{line}: duration:") and "duration like" in p


def test_unknown_field_is_refused_with_its_line(small_text: str) -> None:
    text = small_text.replace("  api_workers: 8", "  api_workers: 8\n  api_wrokers: 9")
    (p,) = _problems(text)
    line = text.splitlines().index("  api_wrokers: 9") + 1
    assert p.startswith(f"s.yaml:{line}: platform.api_wrokers:") and "Extra inputs" in p


def test_unknown_operation_in_a_mix_points_at_the_mix_entry(small_text: str) -> None:
    text = small_text.replace("mix: {client_360: 3, fund_nav: 1}", "mix: {client_360: 3, fund_navv: 1}")
    (p,) = _problems(text)
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if "fund_navv" in ln)
    assert p == f"s.yaml:{line}: personas[0].mix.fund_navv: unknown operation 'fund_navv'"


def test_unquoted_time_of_day_is_explained(small_text: str) -> None:
    text = small_text + "faults:\n  - {kind: warehouse_down, at: 10:00, until: '10:05'}\n"
    (p,) = _problems(text)
    assert "faults[0].at" in p and "in quotes" in p
    assert p.startswith(f"s.yaml:{len(text.splitlines())}:")


def test_several_problems_are_all_reported(small_text: str) -> None:
    text = small_text.replace("count: 40", "count: -1").replace("seed: 7", "seed: seven")
    problems = _problems(text)
    assert any("seed" in p for p in problems) and any("personas[0].count" in p for p in problems)


def test_sla_needs_exactly_one_bound(small_text: str) -> None:
    text = small_text.replace("metric: availability, min: 0.99", "metric: availability")
    (p,) = _problems(text)
    assert "slas[1]" in p and "exactly one of 'max' or 'min'" in p


def test_keyed_sql_needs_one_placeholder(small_text: str) -> None:
    text = small_text.replace("where customer_id = ?", "where customer_id = 'x'")
    (p,) = _problems(text)
    assert "operations.client_360" in p and "exactly one '?'" in p


def test_yaml_syntax_error_has_a_line() -> None:
    (p,) = _problems("name: x\nduration: [1h\n")
    assert p.startswith("s.yaml: line ")
