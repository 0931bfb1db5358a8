"""One call from a scenario to a report directory, used by `twin run`, `twin demo` and the benchmark."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from twin.platform.governed import open_platform
from twin.platform.port import PlatformPort
from twin.platform.principal import Principal
from twin.sim.calibration import Calibration
from twin.sim.report import build_report, write_outputs
from twin.sim.runner import RunOptions, RunResult, run_scenario
from twin.sim.scenario import FailoverStrategy, Scenario, ScenarioMismatch
from twin.sim.transport import EventTransport


def run_to_dir(
    scenario: Scenario,
    *,
    out: Path,
    db: Path | None = None,
    platform: PlatformPort | None = None,
    measured: bool = False,
    calibration: Calibration | None = None,
    speed: float | None = None,
    transport: EventTransport | None = None,
    progress: Callable[[float, float], None] | None = None,
    reuse_results: bool = False,
) -> tuple[dict[str, Any], RunResult]:
    """Run the scenario and write report.json, junit.xml, report.html, calibration.json, run.json.

    With several failover strategies, each is run on the same seed and calibration and the report
    gains a `failover_comparison` list; the main report is the first strategy's.
    """
    own = platform is None
    if platform is None:
        if db is None:
            raise ValueError("give a warehouse path or a platform")
        platform = open_platform(db)  # audited to the twin home's log, like `twin sql`
    try:
        opts = RunOptions(
            measured=measured, calibration=calibration, realtime_speed=speed, transport=transport,
            progress=progress, reuse_results=reuse_results,
        )  # fmt: skip
        check_callers(scenario, platform)
        strategies: list[FailoverStrategy | None] = [*scenario.failover] or [None]
        result = run_scenario(scenario, platform, _with(opts, strategy=strategies[0]))
        others = []
        for strategy in strategies[1:]:
            again = run_scenario(
                scenario, platform, _with(opts, strategy=strategy, calibration=result.calibration)
            )
            others.append(build_report(again))
    finally:
        if own:
            platform.close()
    report = write_outputs(result, out)
    if scenario.failover and result.failover is not None:
        comparison = [_failover_row(report)] + [_failover_row(r) for r in others]
        report["failover_comparison"] = comparison
        import json

        (out / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    return report, result


def check_callers(scenario: Scenario, platform: PlatformPort) -> None:
    """Refuse a run whose personas the platform would refuse outright (a role no policy defines):
    reported against the persona's field before anything runs, not as a failure mid-run."""
    check = getattr(platform, "check", None)  # a test double may have no governance to consult
    if check is None:
        return
    located: list[tuple[tuple[str | int, ...], str]] = []
    for i, p in enumerate(scenario.personas):
        why = check(Principal.of(f"{p.name}-0000", p.role, p.department, p.secondary_roles))
        if why:
            named = why.split(":")[0].replace(",", " ").split()
            field = "role" if p.role.upper() in named else "secondary_roles"
            located.append((("personas", i, field), why))
    if located:
        raise ScenarioMismatch(located)


def _with(opts: RunOptions, **changes: Any) -> RunOptions:
    from dataclasses import replace

    return replace(opts, **changes)


def _failover_row(report: dict[str, Any]) -> dict[str, Any]:
    f = report["failover"] or {}
    return {
        "strategy": f.get("strategy"),
        "rto_s": f.get("rto_s"),
        "rpo_s": f.get("rpo_s"),
        "availability": report["availability"],
        "errors": report["overall"]["errors"],
        "data_loss_window_s": f.get("data_loss_window_s"),
        "events_lost": f.get("events_lost"),
        "freshness_max_s": report["freshness"]["max_s"],
    }
