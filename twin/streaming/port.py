"""The broker port: what the platform's streaming code needs from a Kafka-API broker.

Two adapters implement it: `kafka_adapter` (confluent-kafka against a real broker, used live and in
production) and `memory` (in-process, for the SimPy twin). One contract test suite runs against both.
Offsets follow Kafka's convention: a committed offset is the NEXT offset to read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol, runtime_checkable

from twin.errors import TwinError


class BrokerError(TwinError, RuntimeError):
    """The broker refused or failed an operation; the message says which and why."""


class TopicExists(BrokerError):
    """create_topic on a topic that already exists."""


# Named tuples, not dataclasses: an ingester builds 100,000+ of these a second, and tuple construction,
# hashing and comparison run in C.
class TopicPartition(NamedTuple):
    topic: str
    partition: int


class Record(NamedTuple):
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    timestamp_ms: int


@dataclass(frozen=True, slots=True)
class NewTopic:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class TopicInfo:
    name: str
    partitions: int
    replication_factor: int
    config: dict[str, str]


DeliveryCallback = Callable[[Exception | None, Record | None], None]


@runtime_checkable
class Admin(Protocol):
    def broker_count(self) -> int: ...
    def list_topics(self) -> dict[str, TopicInfo]: ...
    def create_topic(self, topic: NewTopic) -> None: ...
    def alter_config(self, name: str, config: dict[str, str]) -> None: ...
    def add_partitions(self, name: str, total: int) -> None: ...
    def delete_topic(self, name: str) -> None: ...
    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]: ...


@runtime_checkable
class Producer(Protocol):
    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None: ...

    def poll(self, timeout_s: float = 0.0) -> int: ...

    def flush(self, timeout_s: float = 30.0) -> int:
        """Wait for outstanding deliveries; returns how many are still outstanding."""
        ...


@runtime_checkable
class Consumer(Protocol):
    def subscribe(self, topics: list[str]) -> None: ...
    def consume(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]: ...
    def commit(self, offsets: dict[TopicPartition, int], *, asynchronous: bool = False) -> None:
        """Commit `offsets`; `asynchronous` returns before the broker answers (a lost one is replayed)."""
        ...

    def committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]: ...
    def assignment(self) -> list[TopicPartition]: ...
    def pause(self, partitions: Iterable[TopicPartition]) -> None: ...
    def resume(self, partitions: Iterable[TopicPartition]) -> None: ...
    def close(self) -> None: ...


@runtime_checkable
class Broker(Protocol):
    """A factory for clients of one cluster."""

    def admin(self) -> Admin: ...
    def producer(self, **config: str | int | float | bool) -> Producer: ...
    def consumer(self, group_id: str, **config: str | int | float | bool) -> Consumer: ...


def murmur2(data: bytes) -> int:
    """Kafka's default key hash (the Java client's `Utils.murmur2`), as an unsigned 32-bit int."""
    m, r = 0x5BD1E995, 24
    length = len(data)
    h = (0x9747B28C ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    tail = length & ~3
    extra = length % 4
    if extra == 3:
        h ^= data[tail + 2] << 16
    if extra >= 2:
        h ^= data[tail + 1] << 8
    if extra >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def partition_for(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2) picks for a key."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions
