"""A platform stub for cost tests: the simulator's traffic, cache and billing without DuckDB, so a
whole simulated day costs a few CPU seconds. Service times come from a fixed calibration, so every
run on a seed is the same."""

from __future__ import annotations

from typing import Any

from twin.cache.keys import CacheScope
from twin.sim.calibration import Calibration
from twin.sim.platform import Caller, Outcome
from twin.sim.report import build_report
from twin.sim.runner import CACHE_OP, REFRESH_OP, RunOptions, RunResult, run_scenario
from twin.sim.scenario import Scenario, find_scenario, load_scenario


class StubPlatform:
    name = "stub"

    def __init__(self, n_keys: int = 1_000) -> None:
        self.n_keys = n_keys

    def query(self, caller: Caller, sql: str, params: list[Any]) -> Outcome:
        return Outcome(rows=1, duration_s=0.0)

    def sample_keys(self, table: str, column: str, limit: int) -> list[Any]:
        return [f"{table}:{i}" for i in range(min(limit, self.n_keys))]

    def refresh_gold(self) -> float:
        return 0.5

    def cache_scope(self, caller: Caller) -> CacheScope:
        return CacheScope.of(caller.role, caller.department, caller.secondary_roles)

    def close(self) -> None:
        pass


def fixed_calibration(s: Scenario) -> Calibration:
    samples = {op: [0.004, 0.005, 0.006] for op in s.operations}
    samples[REFRESH_OP] = [0.5]
    samples[CACHE_OP] = [0.00001]
    return Calibration(machine="stub", samples=samples)


def shipped(name: str, **changes: Any) -> Scenario:
    return load_scenario(find_scenario(name)).model_copy(update=changes)


def simulate(s: Scenario) -> tuple[dict[str, Any], RunResult]:
    result = run_scenario(s, StubPlatform(), RunOptions(calibration=fixed_calibration(s)))
    return build_report(result), result
