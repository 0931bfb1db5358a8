"""The in-memory broker for sim mode: the same port as the real broker (topics with partitions,
offsets, keyed partitioning with Kafka's murmur2, consumer groups with range assignment and rebalancing,
commits, pause/resume), held in one process. It runs no clock of its own, so a SimPy environment can
drive it with `timeout_s=0` polls.

What it leaves out on purpose: replication (one copy), retention and compaction (logs only grow),
transactions. What it keeps: Kafka's limit on one message (`message.max.bytes`, 1,048,588 by default),
so code that would be refused by a real broker is refused here too.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from twin.streaming.port import (
    BrokerError,
    DeliveryCallback,
    NewTopic,
    Record,
    TopicExists,
    TopicInfo,
    TopicPartition,
    partition_for,
)

# Kafka's default broker `message.max.bytes` (1 MiB plus the record batch overhead).
MESSAGE_MAX_BYTES = 1_048_588


@dataclass
class _Topic:
    name: str
    replication_factor: int
    config: dict[str, str]
    logs: list[list[Record]]


@dataclass
class _Group:
    members: dict[str, list[str]] = field(default_factory=dict)
    committed: dict[TopicPartition, int] = field(default_factory=dict)
    generation: int = 0


class MemoryBroker:
    def __init__(
        self, *, auto_create_partitions: int = 0, message_max_bytes: int = MESSAGE_MAX_BYTES
    ) -> None:
        # auto_create_partitions > 0 mimics auto.create.topics.enable; 0 refuses unknown topics.
        self._topics: dict[str, _Topic] = {}
        self._groups: dict[str, _Group] = {}
        self._cond = threading.Condition()
        self._ids = itertools.count()
        self._auto = auto_create_partitions
        self.message_max_bytes = message_max_bytes

    # -- factory (the Broker protocol) -----------------------------------------------------------
    def admin(self) -> MemoryAdmin:
        return MemoryAdmin(self)

    def producer(self, **config: str | int | float | bool) -> MemoryProducer:
        return MemoryProducer(self)

    def consumer(self, group_id: str, **config: str | int | float | bool) -> MemoryConsumer:
        return MemoryConsumer(self, group_id, str(config.get("auto.offset.reset", "earliest")))

    # -- internals shared by the clients ---------------------------------------------------------
    def _topic(self, name: str) -> _Topic:
        t = self._topics.get(name)
        if t is None:
            if not self._auto:
                raise BrokerError(f"unknown topic {name!r}")
            t = _Topic(name, 1, {}, [[] for _ in range(self._auto)])
            self._topics[name] = t
        return t

    def _append(self, topic: str, value: bytes, key: bytes | None, partition: int | None) -> Record:
        size = len(value or b"") + len(key or b"")
        if size > self.message_max_bytes:
            raise BrokerError(
                f"{topic}: message of {size:,} bytes is larger than message.max.bytes "
                f"({self.message_max_bytes:,}) (MSG_SIZE_TOO_LARGE)"
            )
        with self._cond:
            t = self._topic(topic)
            n = len(t.logs)
            if partition is None:
                partition = partition_for(key, n) if key is not None else next(self._ids) % n
            if not 0 <= partition < n:
                raise BrokerError(f"{topic} has no partition {partition}")
            log = t.logs[partition]
            rec = Record(topic, partition, len(log), key, value, int(time.time() * 1000))
            log.append(rec)
            self._cond.notify_all()
            return rec

    def _join(self, group: str, member: str, topics: list[str]) -> None:
        with self._cond:
            g = self._groups.setdefault(group, _Group())
            g.members[member] = topics
            g.generation += 1

    def _leave(self, group: str, member: str) -> None:
        with self._cond:
            g = self._groups.get(group)
            if g and g.members.pop(member, None) is not None:
                g.generation += 1

    def _assignment(self, group: str, member: str) -> tuple[int, list[TopicPartition]]:
        """Kafka's range assignor: each topic's partitions split in order over the sorted members."""
        g = self._groups[group]
        mine: list[TopicPartition] = []
        for topic in sorted({t for ts in g.members.values() for t in ts}):
            if topic not in self._topics:
                continue
            members = sorted(m for m, ts in g.members.items() if topic in ts)
            n = len(self._topics[topic].logs)
            per, extra = divmod(n, len(members))
            start = 0
            for i, m in enumerate(members):
                count = per + (1 if i < extra else 0)
                if m == member:
                    mine.extend(TopicPartition(topic, p) for p in range(start, start + count))
                start += count
        return g.generation, mine


class MemoryAdmin:
    def __init__(self, broker: MemoryBroker) -> None:
        self._b = broker

    def broker_count(self) -> int:
        return 1

    def list_topics(self) -> dict[str, TopicInfo]:
        with self._b._cond:
            return {
                n: TopicInfo(n, len(t.logs), t.replication_factor, dict(t.config))
                for n, t in self._b._topics.items()
            }

    def create_topic(self, topic: NewTopic) -> None:
        if topic.replication_factor > self.broker_count():
            raise BrokerError(
                f"replication factor {topic.replication_factor} exceeds the {self.broker_count()} broker(s)"
            )
        with self._b._cond:
            if topic.name in self._b._topics:
                raise TopicExists(f"topic {topic.name!r} already exists")
            self._b._topics[topic.name] = _Topic(
                topic.name,
                topic.replication_factor,
                dict(topic.config),
                [[] for _ in range(topic.partitions)],
            )
            for g in self._b._groups.values():
                g.generation += 1

    def alter_config(self, name: str, config: dict[str, str]) -> None:
        with self._b._cond:
            self._b._topic(name).config.update(config)

    def add_partitions(self, name: str, total: int) -> None:
        with self._b._cond:
            t = self._b._topic(name)
            if total < len(t.logs):
                raise BrokerError(f"{name}: partitions can only be added ({len(t.logs)} → {total})")
            t.logs.extend([] for _ in range(total - len(t.logs)))
            for g in self._b._groups.values():
                g.generation += 1

    def delete_topic(self, name: str) -> None:
        with self._b._cond:
            self._b._topics.pop(name, None)

    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        with self._b._cond:
            return {tp: len(self._b._topic(tp.topic).logs[tp.partition]) for tp in partitions}


class MemoryProducer:
    def __init__(self, broker: MemoryBroker) -> None:
        self._b = broker
        self._pending: list[tuple[DeliveryCallback, Record]] = []

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        rec = self._b._append(topic, value, key, partition)
        if on_delivery is not None:
            # Like librdkafka, delivery reports run from poll()/flush(), not inside produce().
            self._pending.append((on_delivery, rec))

    def poll(self, timeout_s: float = 0.0) -> int:
        pending, self._pending = self._pending, []
        for cb, rec in pending:
            cb(None, rec)
        return len(pending)

    def flush(self, timeout_s: float = 30.0) -> int:
        self.poll()
        return 0


class MemoryConsumer:
    def __init__(self, broker: MemoryBroker, group_id: str, reset: str) -> None:
        self._b = broker
        self._group = group_id
        self._member = f"{group_id}-{next(broker._ids)}"
        self._reset = reset
        self._topics: list[str] = []
        self._generation = -1
        self._assigned: list[TopicPartition] = []
        self._positions: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._closed = False

    def subscribe(self, topics: list[str]) -> None:
        self._topics = list(topics)
        self._b._join(self._group, self._member, self._topics)

    def _sync(self) -> None:
        generation, assigned = self._b._assignment(self._group, self._member)
        if generation == self._generation:
            return
        self._generation = generation
        g = self._b._groups[self._group]
        positions: dict[TopicPartition, int] = {}
        for tp in assigned:
            if tp in self._positions:
                positions[tp] = self._positions[tp]
            elif tp in g.committed:
                positions[tp] = g.committed[tp]
            else:
                end = len(self._b._topic(tp.topic).logs[tp.partition])
                positions[tp] = 0 if self._reset == "earliest" else end
        self._positions = positions
        self._assigned = assigned
        self._paused &= set(assigned)

    def _fetch(self, max_records: int) -> list[Record]:
        out: list[Record] = []
        active = [tp for tp in self._assigned if tp not in self._paused]
        # Round-robin a slice per partition so one busy partition cannot starve the others.
        share = max(1, max_records // max(1, len(active)))
        for tp in active:
            log = self._b._topics[tp.topic].logs[tp.partition]
            pos = self._positions[tp]
            chunk = log[pos : pos + min(share, max_records - len(out))]
            if chunk:
                out.extend(chunk)
                self._positions[tp] = pos + len(chunk)
            if len(out) >= max_records:
                break
        return out

    def consume(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        if self._closed:
            raise BrokerError("consumer is closed")
        deadline = time.monotonic() + timeout_s
        with self._b._cond:
            while True:
                self._sync()
                out = self._fetch(max_records)
                remaining = deadline - time.monotonic()
                if out or remaining <= 0:
                    return out
                self._b._cond.wait(remaining)

    def commit(self, offsets: dict[TopicPartition, int], *, asynchronous: bool = False) -> None:
        # In memory a commit is immediate either way.
        with self._b._cond:
            self._sync()
            g = self._b._groups[self._group]
            for tp, off in offsets.items():
                if tp not in self._assigned:
                    raise BrokerError(f"cannot commit {tp}: not assigned to this member (rebalanced)")
                g.committed[tp] = off

    def committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        with self._b._cond:
            g = self._b._groups.get(self._group, _Group())
            return {tp: g.committed.get(tp) for tp in partitions}

    def assignment(self) -> list[TopicPartition]:
        with self._b._cond:
            self._sync()
            return list(self._assigned)

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        self._paused.update(partitions)

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        self._paused.difference_update(partitions)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._b._leave(self._group, self._member)
