"""The faults timeline turned into windows of simulated time (seconds since the scenario start)."""

from __future__ import annotations

from dataclasses import dataclass

from twin.sim.scenario import Fault, Scenario


@dataclass(frozen=True, slots=True)
class Window:
    kind: str
    start: float
    end: float
    latency_ms: float = 0.0
    nodes: int = 1

    def active(self, t: float) -> bool:
        return self.start <= t < self.end


def windows(scenario: Scenario) -> list[Window]:
    out = []
    for f in scenario.faults:
        start = _since_start(f.at, scenario.start)
        end = scenario.duration if f.until is None else _since_start(f.until, scenario.start)
        if end < start:  # a window that crosses midnight
            end += 86400.0
        out.append(Window(f.kind, start, min(end, scenario.duration), f.latency_ms, f.nodes))
    return out


def _since_start(clock: float, start: float) -> float:
    t = clock - start
    return t if t >= 0 else t + 86400.0


class FaultState:
    """Answers 'is this fault on at time t' quickly; windows are few, so a scan is fine."""

    def __init__(self, ws: list[Window]) -> None:
        self.ws = ws
        self._by_kind: dict[str, list[Window]] = {}
        for w in ws:
            self._by_kind.setdefault(w.kind, []).append(w)

    def on(self, kind: str, t: float) -> bool:
        return any(w.active(t) for w in self._by_kind.get(kind, ()))

    def extra_latency_ms(self, kind: str, t: float) -> float:
        return sum(w.latency_ms for w in self._by_kind.get(kind, ()) if w.active(t))

    def nodes_lost(self, t: float) -> int:
        return sum(w.nodes for w in self._by_kind.get("broker_node_lost", ()) if w.active(t))

    def first(self, kind: str) -> Window | None:
        found = self._by_kind.get(kind)
        return found[0] if found else None


__all__ = ["Fault", "FaultState", "Window", "windows"]
