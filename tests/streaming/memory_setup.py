"""A memory broker with every contract topic applied (RF 1), for the unit tests."""

from __future__ import annotations

from twin.streaming.contracts.apply import apply_topics
from twin.streaming.memory import MemoryBroker


def memory_broker() -> MemoryBroker:
    broker = MemoryBroker()
    apply_topics(broker.admin())
    return broker
