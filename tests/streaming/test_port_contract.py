"""ONE contract suite for the broker port, run against the in-memory adapter and the real Kafka, so the
sim-mode broker cannot drift from the real one."""

from __future__ import annotations

import time

import pytest
from pydantic import BaseModel

from tests.streaming.helpers import drain, unique, wait_assigned
from twin.streaming.contracts.apply import apply_topics
from twin.streaming.contracts.topics import TopicSpec
from twin.streaming.memory import MemoryBroker
from twin.streaming.port import Broker, BrokerError, NewTopic, TopicPartition, partition_for


@pytest.fixture(params=["memory", pytest.param("kafka", marks=pytest.mark.live)])
def broker(request: pytest.FixtureRequest) -> Broker:
    """The in-memory adapter always; the real local Kafka (session cluster) for the live half."""
    if request.param == "memory":
        return MemoryBroker()
    from twin.streaming.kafka_adapter import KafkaBroker

    return KafkaBroker(request.getfixturevalue("kafka_cluster").bootstrap)


class Ping(BaseModel):
    id: str


def _topic(b: Broker, partitions: int = 3) -> str:
    name = unique("contract")
    b.admin().create_topic(NewTopic(name, partitions, 1, {"retention.ms": "3600000"}))
    return name


def _produce(b: Broker, topic: str, n: int, key_of=lambda i: f"k{i % 7}") -> None:  # type: ignore[no-untyped-def]
    p = b.producer()
    for i in range(n):
        p.produce(topic, f"v{i}".encode(), key=key_of(i).encode())
    assert p.flush(30) == 0


def test_created_topic_is_listed_with_its_partitions_and_config(broker: Broker) -> None:
    name = _topic(broker, partitions=4)
    info = broker.admin().list_topics()[name]
    assert info.partitions == 4
    assert info.replication_factor == 1
    assert info.config["retention.ms"] == "3600000"
    with pytest.raises(BrokerError):
        broker.admin().create_topic(NewTopic(name, 4, 1))


def test_keys_land_on_murmur2_partitions_with_dense_offsets(broker: Broker) -> None:
    name = _topic(broker, partitions=3)
    delivered = []
    p = broker.producer()
    for i in range(60):
        p.produce(
            name,
            f"v{i}".encode(),
            key=f"acct-{i % 11}".encode(),
            on_delivery=lambda e, r: delivered.append((e, r)),
        )
    assert p.flush(30) == 0
    assert len(delivered) == 60 and all(e is None for e, _ in delivered)
    for _, rec in delivered:
        assert rec.partition == partition_for(rec.key, 3)
    by_partition: dict[int, list[int]] = {}
    for _, rec in delivered:
        by_partition.setdefault(rec.partition, []).append(rec.offset)
    for offsets in by_partition.values():
        assert sorted(offsets) == list(range(len(offsets)))
    assert broker.admin().end_offsets([TopicPartition(name, q) for q in by_partition]) == {
        TopicPartition(name, q): len(o) for q, o in by_partition.items()
    }


def test_per_key_order_is_kept(broker: Broker) -> None:
    name = _topic(broker, partitions=3)
    _produce(broker, name, 90, key_of=lambda i: f"k{i % 3}")
    c = broker.consumer(unique("g"))
    c.subscribe([name])
    recs = drain(c, 90)
    c.close()
    for k in ("k0", "k1", "k2"):
        values = [int(r.value.decode()[1:]) for r in recs if r.key == k.encode()]
        assert values == sorted(values) and len(values) == 30


def test_group_resumes_after_its_commit_and_other_groups_start_over(broker: Broker) -> None:
    name = _topic(broker, partitions=2)
    _produce(broker, name, 40)
    group = unique("g")
    c1 = broker.consumer(group)
    c1.subscribe([name])
    first = drain(c1, 40)
    assert len(first) == 40
    # Commit only the first half of each partition: the rest must be read again by the group.
    commit: dict[TopicPartition, int] = {}
    for tp in {TopicPartition(r.topic, r.partition) for r in first}:
        offsets = sorted(r.offset for r in first if r.partition == tp.partition)
        commit[tp] = offsets[len(offsets) // 2]
    c1.commit(commit)
    assert c1.committed(list(commit)) == commit
    c1.close()
    c2 = broker.consumer(group)
    c2.subscribe([name])
    again = drain(c2, 40 - sum(commit.values()))
    c2.close()
    expected = {
        (r.partition, r.offset) for r in first if r.offset >= commit[TopicPartition(name, r.partition)]
    }
    assert sorted((r.partition, r.offset) for r in again) == sorted(expected)
    other = broker.consumer(unique("g"))
    other.subscribe([name])
    assert len(drain(other, 40)) == 40
    other.close()


def test_paused_partitions_deliver_nothing_until_resumed(broker: Broker) -> None:
    name = _topic(broker, partitions=2)
    c = broker.consumer(unique("g"))
    c.subscribe([name])
    wait_assigned(c)
    assigned = c.assignment()
    assert sorted(tp.partition for tp in assigned) == [0, 1]
    c.pause(assigned)
    _produce(broker, name, 20)
    assert drain(c, 1, timeout_s=1.5) == []
    c.resume(assigned)
    assert len(drain(c, 20)) == 20
    c.close()


def test_two_members_of_a_group_split_the_partitions(broker: Broker) -> None:
    name = _topic(broker, partitions=4)
    group = unique("g")
    a, b = broker.consumer(group), broker.consumer(group)
    a.subscribe([name])
    wait_assigned(a)
    b.subscribe([name])
    deadline = time.monotonic() + 30
    while not (a.assignment() and b.assignment()) and time.monotonic() < deadline:
        a.consume(10, 0.1)
        b.consume(10, 0.1)
    _produce(broker, name, 80)
    seen: list = []
    while len(seen) < 80 and time.monotonic() < deadline:
        seen += a.consume(500, 0.1) + b.consume(500, 0.1)
    # Together they read every record (no commits were made, so a rebalance may re-deliver: use a set).
    assert len({(r.partition, r.offset) for r in seen}) == 80
    pa, pb = {tp.partition for tp in a.assignment()}, {tp.partition for tp in b.assignment()}
    assert pa and pb and not pa & pb and pa | pb == {0, 1, 2, 3}
    a.close()
    b.close()


def test_apply_topics_creates_then_is_idempotent_then_repairs_config(broker: Broker) -> None:
    spec = TopicSpec(name=unique("applied"), partitions=3, key=("id",), value=Ping, event_type="twin.ping")
    admin = broker.admin()
    assert [c.action for c in apply_topics(admin, [spec])] == ["created"]
    assert [c.action for c in apply_topics(admin, [spec])] == ["unchanged"]
    admin.alter_config(spec.name, {"retention.ms": "1000"})
    deadline = time.monotonic() + 10  # KRaft applies config changes through its metadata log
    while admin.list_topics()[spec.name].config["retention.ms"] != "1000" and time.monotonic() < deadline:
        time.sleep(0.2)
    changes = apply_topics(admin, [spec])
    assert changes[0].action == "updated" and any("retention.ms" in d for d in changes[0].details)
    deadline = time.monotonic() + 10
    while admin.list_topics()[spec.name].config["retention.ms"] == "1000" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert admin.list_topics()[spec.name].config["retention.ms"] == str(spec.retention_ms)
    grown = spec.model_copy(update={"partitions": 5})
    assert apply_topics(admin, [grown])[0].action == "updated"
    deadline = time.monotonic() + 10
    while admin.list_topics()[spec.name].partitions != 5 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert admin.list_topics()[spec.name].partitions == 5
