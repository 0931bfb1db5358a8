"""Shared helpers for the streaming tests."""

from __future__ import annotations

import time
import uuid

from twin.streaming.port import Consumer, Record


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def drain(consumer: Consumer, expected: int, timeout_s: float = 20.0) -> list[Record]:
    """Consume until `expected` records arrived or the deadline passed (a real group needs a join first)."""
    out: list[Record] = []
    deadline = time.monotonic() + timeout_s
    while len(out) < expected and time.monotonic() < deadline:
        out.extend(consumer.consume(max_records=1000, timeout_s=0.2))
    return out


def wait_assigned(consumer: Consumer, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not consumer.assignment() and time.monotonic() < deadline:
        consumer.consume(max_records=1, timeout_s=0.2)
