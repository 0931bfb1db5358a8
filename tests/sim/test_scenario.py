from __future__ import annotations

from pathlib import Path

import pytest

from twin.sim.scenario import ScenarioError, load_scenario, parse_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "twin" / "scenarios"


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


# -- input limits: refused before any work, naming the field, its line and the limit ------------------


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


def test_a_billion_personas_is_refused_naming_field_line_and_limit(small_text: str) -> None:
    text = small_text.replace("count: 40", "count: 1000000000")
    (p,) = _problems(text)
    assert p.startswith(f"s.yaml:{_line(text, 'count: 1000000000')}: personas[0].count:")
    assert "1,000,000,000 simulated users" in p and "limit of 100,000" in p


def test_many_persona_entries_are_refused_by_their_total(small_text: str) -> None:
    entry = small_text[small_text.index("  - name: advisor") : small_text.index("event_sources:")]
    many = entry.replace("count: 40", "count: 60000")
    text = small_text.replace(entry, many + many)
    (p,) = _problems(text)
    assert p.startswith(f"s.yaml:{_line(text, 'personas:')}: personas:")
    assert "120,000 simulated users in all" in p and "limit of 100,000" in p


def test_a_duration_past_the_limit_is_refused(small_text: str) -> None:
    text = small_text.replace("duration: 30m", "duration: 3650d")
    (p,) = _problems(text)
    assert p.startswith(f"s.yaml:{_line(text, 'duration: 3650d')}: duration:")
    assert "limit of 604,800 s (7 days)" in p


def test_a_duration_override_cannot_escape_the_limit(small_text: str) -> None:
    s = parse_scenario(small_text)
    with pytest.raises(ScenarioError) as e:
        s.model_copy(update={"duration": 1e9})
    assert e.value.problems[0].startswith("duration: 1,000,000,000 s is over the limit")
    assert s.model_copy(update={"duration": 3600.0}).duration == 3600.0


@pytest.mark.parametrize(
    ("old", "new", "field", "words"),
    [
        ("rate: 10000}", "rate: 1e12}", "event_sources[0].rate", "limit of 1,000,000"),
        ("requests_per_day: 400", "requests_per_day: 1e9", "personas[0].requests_per_day", "1,000,000"),
        ("calibration_samples: 5", "calibration_samples: 1000000", "platform.calibration_samples", "1,000"),
        ("limit: 500}", "limit: 1000000000}", "operations.client_360.key.limit", "1,000,000"),
    ],
)
def test_rates_and_counts_past_their_limits_are_refused(
    small_text: str, old: str, new: str, field: str, words: str
) -> None:
    text = small_text.replace(old, new)
    problems = _problems(text)
    assert any(p.startswith(f"s.yaml:{_line(text, new)}: {field}:") and words in p for p in problems), (
        problems
    )


def test_too_many_requests_over_the_run_are_refused(small_text: str) -> None:
    text = small_text.replace("count: 40", "count: 50000").replace("duration: 30m", "duration: 7d")
    (p,) = _problems(text)
    assert "requests over the run is over the limit of 20,000,000" in p


def test_a_yaml_alias_bomb_is_refused_quickly_naming_the_limit() -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, cur in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 9)}]")
    (p,) = _problems("\n".join(levels) + "\n")
    assert p.startswith("s.yaml: line ") and "more than 50 YAML aliases" in p


def test_a_few_aliases_still_work_but_a_huge_expansion_is_refused() -> None:
    from twin.sim.yaml_lines import YamlLimitError, load_with_lines

    data, _ = load_with_lines("x: &x [1, 2]\ny: [*x, *x]\n")
    assert data == {"x": [1, 2], "y": [[1, 2], [1, 2]]}
    # 40 aliases (under the alias limit) that still expand to 10^8 values: the walk stops.
    levels = ["a: &a [" + ", ".join(["1"] * 10) + "]"]
    for prev, cur in zip("abcd", "bcde", strict=True):
        levels.append(f"{cur}: &{cur} [{', '.join([f'*{prev}'] * 10)}]")
    with pytest.raises(YamlLimitError, match="more than 100,000 values"):
        load_with_lines("\n".join(levels) + "\n")


def test_deep_nesting_is_refused_not_a_crash() -> None:
    (p,) = _problems("x: " + "[" * 5000 + "]" * 5000 + "\n")
    assert "nested too deeply" in p


def test_a_scenario_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as f:
        f.truncate(2 << 20)  # 2 MiB, sparse
    with pytest.raises(ScenarioError) as e:
        load_scenario(big)
    assert e.value.problems == [
        "big.yaml: 2,097,152 bytes is over the 1,048,576-byte limit for a scenario file"
    ]


CATALOGUED = """
name: c
duration: 1h
operations:
  client_360: {key: {zipf_s: 0.9}}
  nav: {use: fund_nav, key: {popularity: uniform}}
  aum_overview: {}
  own:
    sql: "SELECT count(*) FROM gold.accounts"
personas:
  - {name: a, count: 1, role: WEALTH_ADVISOR, requests_per_day: 10,
     mix: {client_360: 1, nav: 1, aum_overview: 1, own: 1}}
"""


def test_operations_named_from_the_platform_catalogue_take_its_sql_and_key_column() -> None:
    from twin.platform.operations import CATALOGUE

    ops = parse_scenario(CATALOGUED).operations
    assert ops["client_360"].sql == CATALOGUE["client_360"].sql
    assert ops["client_360"].key is not None
    assert (ops["client_360"].key.table, ops["client_360"].key.zipf_s) == ("gold.customer_360", 0.9)
    assert ops["nav"].use == "fund_nav" and ops["nav"].key is not None
    assert (ops["nav"].key.column, ops["nav"].key.popularity) == ("fund_id", "uniform")
    assert ops["aum_overview"].sql == CATALOGUE["aum_overview"].sql and ops["aum_overview"].key is None
    assert ops["own"].use is None and ops["own"].sql == "SELECT count(*) FROM gold.accounts"


def test_an_operation_the_catalogue_lacks_or_contradicts_is_refused_with_its_line() -> None:
    text = CATALOGUED.replace("  aum_overview: {}", "  aum_overveiw: {}").replace(
        "aum_overview: 1", "aum_overveiw: 1"
    )
    (p,) = _problems(text)
    assert p.startswith("s.yaml:7: operations.aum_overveiw: no operation 'aum_overveiw'") and "`sql`" in p
    text = CATALOGUED.replace("{use: fund_nav,", "{use: fund_nav, sql: 'SELECT 1',")
    (p,) = _problems(text)
    assert p.startswith("s.yaml:6: operations.nav: use: fund_nav and sql disagree")


def test_shipped_scenarios_name_catalogue_operations() -> None:
    for path in SCENARIOS.glob("*.yaml"):
        s = load_scenario(path)
        assert all(op.use is not None for op in s.operations.values()), path.name
