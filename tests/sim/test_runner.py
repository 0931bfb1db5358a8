from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from twin.sim.calibration import Calibration
from twin.sim.execute import run_to_dir
from twin.sim.report import build_report
from twin.sim.runner import RunOptions, run_scenario
from twin.sim.scenario import Scenario, ScenarioError, parse_scenario

NODE_LOST = "faults:\n  - {{kind: broker_node_lost, at: '09:05', until: '{until}', nodes: {nodes}}}\n"


def _run(scenario: Scenario, platform: Any, **kw: Any) -> dict[str, Any]:
    return build_report(run_scenario(scenario, platform, RunOptions(**kw)))


def test_same_seed_and_calibration_give_identical_report_files(
    small_scenario: Scenario, toy_platform: Any, tmp_path: Path
) -> None:
    first, _ = run_to_dir(small_scenario, out=tmp_path / "a", platform=toy_platform)
    cal = Calibration.load(tmp_path / "a" / "calibration.json")
    run_to_dir(small_scenario, out=tmp_path / "b", platform=toy_platform, calibration=cal)
    a = (tmp_path / "a" / "report.json").read_bytes()
    assert a == (tmp_path / "b" / "report.json").read_bytes()
    assert first["overall"]["count"] > 100
    # and a different seed gives a different day
    other = _run(small_scenario.model_copy(update={"seed": 8}), toy_platform, calibration=cal)
    assert other["overall"]["count"] != first["overall"]["count"] or other["timeline"] != first["timeline"]


def test_outputs_are_written(small_scenario: Scenario, toy_platform: Any, tmp_path: Path) -> None:
    run_to_dir(small_scenario, out=tmp_path, platform=toy_platform)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"report.json", "junit.xml", "report.html", "calibration.json", "run.json"} <= names
    junit = (tmp_path / "junit.xml").read_text()
    assert junit.count("<testcase") == len(small_scenario.slas)
    html = (tmp_path / "report.html").read_text()
    # plotly.js is inline (no <script src=...>), so the page works offline
    assert (
        "<script src" not in html.replace(" ", "").replace("<scriptsrc", "<script src") and "Plotly" in html
    )


def test_warehouse_outage_serves_stale_and_fails_cold_keys(small_text: str, toy_platform: Any) -> None:
    base = parse_scenario(small_text)
    cal = Calibration(samples={"client_360": [0.004], "fund_nav": [0.006], "gold_refresh": [0.5],
                               "cache_lookup": [0.00002]})  # fmt: skip
    calm = _run(base, toy_platform, calibration=cal)
    faulty = parse_scenario(small_text + "faults:\n  - {kind: warehouse_down, at: '09:10', until: '09:20'}\n")
    hit = _run(faulty, toy_platform, calibration=cal)
    assert calm["staleness"]["count"] == 0 and calm["overall"]["errors"] == 0
    assert hit["staleness"]["count"] > 0 and hit["staleness"]["max_s"] > 300  # older than the TTL
    assert hit["overall"]["errors"] > 0 and hit["availability"] < calm["availability"]
    assert hit["refreshes"]["failed"] >= 1
    assert hit["freshness"]["max_s"] > calm["freshness"]["max_s"]
    # errors land inside the fault window on the timeline
    tl = hit["timeline"]
    errs = [t for t, e in zip(tl["t_s"], tl["errors"], strict=True) if e]
    assert errs and min(errs) >= 600 - 60 and max(errs) < 1200


def test_crm_latency_slows_only_crm_dependent_operations(small_text: str, toy_platform: Any) -> None:
    cal = Calibration(samples={"client_360": [0.004], "fund_nav": [0.004], "gold_refresh": [0.5],
                               "cache_lookup": [0.00002]})  # fmt: skip
    calm = _run(parse_scenario(small_text), toy_platform, calibration=cal)
    slow = parse_scenario(small_text + "faults:\n  - {kind: crm_latency, at: '09:00', latency_ms: 900}\n")
    hit = _run(slow, toy_platform, calibration=cal)
    assert hit["operations"]["fund_nav"]["p50_ms"] > calm["operations"]["fund_nav"]["p50_ms"] + 800
    # client_360 does not call the CRM: at most the shifted think times change its tail a little
    assert hit["operations"]["client_360"]["p95_ms"] < calm["operations"]["client_360"]["p95_ms"] + 50


def test_lost_broker_nodes_build_ingest_lag_then_fail_writes(small_text: str, toy_platform: Any) -> None:
    cal = Calibration(samples={"client_360": [0.004], "fund_nav": [0.004], "gold_refresh": [0.5],
                               "cache_lookup": [0.00002]})  # fmt: skip
    one = parse_scenario(
        small_text.replace(
            "  calibration_samples: 5", "  calibration_samples: 5\n  ingest_capacity_per_node: 5000"
        )
        + "faults:\n  - {kind: broker_node_lost, at: '09:05', until: '09:10', nodes: 1}\n"
    )
    r1 = _run(one, toy_platform, calibration=cal)
    assert r1["events"]["max_lag_s"] > 60 and r1["events"]["failed"] == 0  # 12k/s into 10k/s for 5 min
    two = parse_scenario(
        small_text + "faults:\n  - {kind: broker_node_lost, at: '09:05', until: '09:06', nodes: 2}\n"
    )
    r2 = _run(two, toy_platform, calibration=cal)
    assert r2["events"]["failed"] > 0  # below min.insync.replicas: acks=all produce fails


def test_denied_calls_are_counted_apart_from_errors(small_text: str, toy_platform: Any) -> None:
    text = small_text.replace("role: WEALTH_ADVISOR", "role: RETAIL_TELLER")
    r = _run(parse_scenario(text), toy_platform)
    nav = r["operations"]["fund_nav"]
    assert nav["denied"] == nav["count"] > 0 and nav["errors"] == 0
    # nobody said tellers are meant to be refused: every refused call is one the user could not make
    assert nav["denied_unexpected"] == nav["denied"]
    total = r["overall"]["count"]
    assert r["availability"] == round((total - nav["denied"]) / total, 6) < 0.99
    assert not next(s for s in r["slas"] if s["metric"] == "availability")["passed"]


@pytest.mark.parametrize(
    "declare",
    [
        (
            "    mix: {client_360: 3, fund_nav: 1}",
            "    mix: {client_360: 3, fund_nav: 1}\n    expect_denied: [fund_nav]",
        ),
        (
            "    mix: {client_360: 3, fund_nav: 1}",
            "    mix: {client_360: 3, fund_nav: 1}\n    expect_denied: true",
        ),
        ("    depends_on: [crm]", "    depends_on: [crm]\n    expect_denied: true"),
    ],
    ids=["persona-lists-the-operation", "persona-expects-all", "operation-expects-denials"],
)
def test_declared_denials_do_not_count_against_availability(
    small_text: str, toy_platform: Any, declare: tuple[str, str]
) -> None:
    text = small_text.replace("role: WEALTH_ADVISOR", "role: RETAIL_TELLER").replace(*declare)
    r = _run(parse_scenario(text), toy_platform)
    nav = r["operations"]["fund_nav"]
    assert nav["denied"] == nav["count"] > 0 and nav["denied_unexpected"] == 0
    assert r["availability"] == 1.0


def test_expected_denials_must_name_an_operation_of_the_persona(small_text: str) -> None:
    text = small_text.replace(
        "    mix: {client_360: 3, fund_nav: 1}",
        "    mix: {client_360: 3, fund_nav: 1}\n    expect_denied: [nav]",
    )
    with pytest.raises(ScenarioError) as e:
        parse_scenario(text, "s.yaml")
    assert e.value.problems == ["s.yaml:28: personas[0].expect_denied[0]: 'nav' is not in this persona's mix"]


def test_region_failover_compares_strategies(small_text: str, toy_platform: Any, tmp_path: Path) -> None:
    text = small_text + (
        "faults:\n  - {kind: region_lost, at: '09:10'}\n"
        "failover:\n  - {name: active_passive, rto: 10m, rpo: 6h}\n"
        "  - {name: active_active, rto: 30s, rpo: 5s}\n"
    )
    report, _ = run_to_dir(parse_scenario(text), out=tmp_path, platform=toy_platform)
    ap, aa = report["failover_comparison"]
    assert ap["strategy"] == "active_passive" and aa["strategy"] == "active_active"
    assert ap["availability"] < aa["availability"] <= 1.0
    assert ap["events_lost"] > aa["events_lost"] > 0
    assert json.loads((tmp_path / "report.json").read_text())["failover_comparison"] == [ap, aa]


def test_measured_mode_uses_real_call_times(small_scenario: Scenario, toy_platform: Any) -> None:
    r = _run(small_scenario, toy_platform, measured=True)
    assert r["overall"]["count"] > 100 and toy_platform.calls > 0


def test_slots_serve_first_come_first_served() -> None:
    import simpy

    from twin.sim.runner import Slots

    env = simpy.Environment()
    slots = Slots(env, 2)
    served: list[tuple[str, float]] = []

    def user(name: str, hold: float) -> Any:
        wait = slots.take()
        if wait is not None:
            yield wait
        try:
            served.append((name, env.now))
            yield env.timeout(hold)
        finally:
            slots.give_back()

    for name, hold in (("a", 3.0), ("b", 1.0), ("c", 1.0), ("d", 1.0)):
        env.process(user(name, hold))
    env.run()
    # two at once; c takes b's slot when b is done, d takes c's, a holds its own throughout
    assert served == [("a", 0.0), ("b", 0.0), ("c", 1.0), ("d", 2.0)]
    assert slots.free == 2 and not slots.waiting
