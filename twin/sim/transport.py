"""How the runner's event sources reach the platform.

In sim, events are aggregated per simulated second: a source emits a count, not 10,000 objects. Live,
the same call produces real events to the real broker through the streaming issue's contract producer.
HTTP personas will get their own transport when the API tier exists.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime
from typing import Any, Protocol


class EventTransport(Protocol):
    def emit(self, source: str, topic: str | None, count: int, sim_time: float) -> int:
        """Deliver `count` events from `source`; returns how many were accepted."""
        ...

    def close(self) -> None: ...


class CountingTransport:
    """Sim mode: events are counted per source; the ingest model decides what happens to them."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()

    def emit(self, source: str, topic: str | None, count: int, sim_time: float) -> int:
        self.sent[source] += count
        return count

    def close(self) -> None:
        pass


class BrokerTransport:
    """Live mode: produce real, contract-checked events to a Kafka-API broker.

    `max_per_emit` caps what one tick sends so a laptop broker keeps pace; the report says how many
    were really produced.
    """

    def __init__(self, producer: Any, *, seed: int = 0, max_per_emit: int = 2_000) -> None:
        from twin.streaming.producer import ContractProducer
        from twin.streaming.sources import SOURCES

        self._sources = SOURCES
        self._producer = ContractProducer(producer, source="twin-sim")
        self._rng = random.Random(seed)
        self._n: Counter[str] = Counter()
        self.max_per_emit = max_per_emit
        self.sent: Counter[str] = Counter()

    def emit(self, source: str, topic: str | None, count: int, sim_time: float) -> int:
        spec = self._sources.get(source)
        if spec is None:
            return 0
        n = min(count, self.max_per_emit)
        now = datetime.now(UTC)
        for _ in range(n):
            self._producer.send(topic or spec.topic, spec.make(self._rng, self._n[source], now))
            self._n[source] += 1
        self._producer.poll()
        self.sent[source] += n
        return n

    def close(self) -> None:
        self._producer.flush()


def connect_live(bootstrap: str | None) -> BrokerTransport:
    """A transport producing to the broker `twin broker up` started (or the one given)."""
    from twin.streaming.connect import connect

    return BrokerTransport(connect(bootstrap).producer())
