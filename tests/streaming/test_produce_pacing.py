"""`produce` paces by schedule in ticks: the long-run rate is exact, it never runs ahead of the schedule,
and it wakes once per tick rather than once per event (a per-event wake-up cost the producer 3.6x the
CPU at 10,000 events/s)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.streaming.memory_setup import memory_broker
from twin.streaming.producer import ContractProducer
from twin.streaming.sources import SOURCES, produce


class _SimClock:
    """A clock that only moves when the producer sleeps (sending costs no simulated time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class _Counting:
    def __init__(self, sim: _SimClock) -> None:
        self.sim = sim
        self.inner = ContractProducer(memory_broker().producer(), source="test")
        self.sent_at: list[float] = []

    def send(self, target: Any, value: Any, **kw: Any) -> Any:
        self.sent_at.append(self.sim.now)
        return self.inner.send(target, value, **kw)

    def poll(self) -> None:
        self.inner.poll()

    def flush(self) -> None:
        self.inner.flush()


@pytest.mark.parametrize(("source", "rate"), [("aladdin", 10_000.0), ("crm", 100.0)])
def test_produce_keeps_the_schedule_and_wakes_once_per_tick(source: str, rate: float) -> None:
    sim = _SimClock()
    out = _Counting(sim)
    tick = 0.005
    report = produce(
        out,  # type: ignore[arg-type]
        SOURCES[source],
        rate=rate,
        duration_s=1.0,
        seed=3,
        tick_s=tick,
        clock=sim.clock,
        sleep=sim.sleep,
    )
    assert report.sent == len(out.sent_at) == int(rate)
    # Never ahead of the schedule: by time t at most rate * t (+1, the event due at t) were sent.
    assert all(n + 1 <= rate * t + 1 + 1e-6 for n, t in enumerate(out.sent_at))
    assert max(sim.sleeps) <= tick + 1e-9
    # At most one wake-up per tick, however high the rate (per event that would be 10,000 here).
    assert len(sim.sleeps) <= 1.0 / tick * 1.05 + 2
    assert sim.now == pytest.approx(1.0, abs=tick + 1 / rate)
