"""Making a broker match the topic definitions: create what is missing, add partitions, set configs.
Idempotent: a second run changes nothing and says so."""

from __future__ import annotations

import time
from collections.abc import Iterable

from pydantic import BaseModel

from twin.streaming.contracts.topics import TOPICS, TopicSpec
from twin.streaming.port import Admin, NewTopic, TopicExists, TopicInfo


class TopicChange(BaseModel):
    topic: str
    action: str  # created | updated | unchanged | drift
    partitions: int
    replication_factor: int
    details: list[str] = []


def _wait_listed(admin: Admin, name: str, timeout_s: float = 10.0) -> TopicInfo:
    deadline = time.monotonic() + timeout_s
    while True:
        info = admin.list_topics().get(name)
        if info is not None or time.monotonic() > deadline:
            if info is None:
                raise TopicExists(f"{name} exists but does not show in metadata after {timeout_s:.0f} s")
            return info
        time.sleep(0.2)


def apply_topics(admin: Admin, specs: Iterable[TopicSpec] | None = None) -> list[TopicChange]:
    """Create or update each topic. Replication is capped at the broker count (a 1-node dev cluster
    gets RF 1); partitions only grow (Kafka cannot shrink them: reported as drift)."""
    brokers = admin.broker_count()
    existing = admin.list_topics()
    changes = []
    for spec in specs if specs is not None else TOPICS.values():
        rf = min(spec.replication_factor, brokers)
        config = spec.broker_config(rf)
        info = existing.get(spec.name)
        if info is None:
            try:
                admin.create_topic(NewTopic(spec.name, spec.partitions, rf, config))
            except TopicExists:
                # Metadata lagged behind a creation a moment ago: it exists, so check it instead.
                info = _wait_listed(admin, spec.name)
        if info is None:
            changes.append(
                TopicChange(
                    topic=spec.name, action="created", partitions=spec.partitions, replication_factor=rf
                )
            )
            continue
        details: list[str] = []
        drift = False
        if info.partitions < spec.partitions:
            admin.add_partitions(spec.name, spec.partitions)
            details.append(f"partitions {info.partitions} → {spec.partitions}")
        elif info.partitions > spec.partitions:
            drift = True
            details.append(
                f"has {info.partitions} partitions, contract says {spec.partitions} (cannot shrink)"
            )
        if info.replication_factor != rf:
            drift = True
            details.append(f"replication factor is {info.replication_factor}, contract gives {rf}")
        diff = {k: v for k, v in config.items() if info.config.get(k) != v}
        if diff:
            admin.alter_config(spec.name, diff)
            details.extend(f"{k} {info.config.get(k)} → {v}" for k, v in diff.items())
        action = "drift" if drift else ("updated" if details else "unchanged")
        changes.append(
            TopicChange(
                topic=spec.name,
                action=action,
                partitions=max(info.partitions, spec.partitions),
                replication_factor=info.replication_factor,
                details=details,
            )
        )
    return changes
