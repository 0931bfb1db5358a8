"""Three nodes, RF=3, min.insync.replicas=2, acks=all: a broker SIGKILLed mid-stream loses nothing that
was acknowledged."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from twin.streaming.broker import LocalKafkaCluster, metadata_brokers

MESSAGES = 3000
KILL_AT = 1000
PARTITIONS = 3


def _create_topic(bootstrap: str, topic: str) -> None:
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics(
        [NewTopic(topic, PARTITIONS, replication_factor=3, config={"min.insync.replicas": "2"})]
    )
    futures[topic].result(30)


def _topic_metadata(bootstrap: str, topic: str, timeout_s: float = 30.0) -> Any:
    """The topic's metadata once every partition has a leader: a broker that has not caught up with the
    controller yet answers for a topic just created with no partitions (or no leader) for a moment."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap})
    deadline = time.monotonic() + timeout_s
    while True:
        meta = admin.list_topics(topic, timeout=10).topics[topic]
        ready = len(meta.partitions) == PARTITIONS and all(p.leader >= 0 for p in meta.partitions.values())
        if ready or time.monotonic() > deadline:
            return meta
        time.sleep(0.2)


def _read_all(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0) -> list[int]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer(
        {"bootstrap.servers": bootstrap, "group.id": f"verify-{topic}", "enable.auto.commit": False}
    )
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(PARTITIONS)])
    seen: list[int] = []
    deadline = time.monotonic() + timeout_s
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            for msg in consumer.consume(500, 0.5):
                if msg.error() is None:
                    seen.append(int(msg.value()))
    finally:
        consumer.close()
    return seen


@pytest.mark.live
@pytest.mark.slow
def test_acknowledged_messages_survive_killing_a_broker(kafka_cluster3: LocalKafkaCluster) -> None:
    from confluent_kafka import Producer

    bootstrap = kafka_cluster3.bootstrap
    topic = f"replicated-{uuid.uuid4().hex[:8]}"
    _create_topic(bootstrap, topic)

    meta = _topic_metadata(bootstrap, topic)
    assert len(meta.partitions) == PARTITIONS
    assert all(len(p.replicas) == 3 for p in meta.partitions.values())
    victim = meta.partitions[0].leader - 1  # node index of partition 0's leader

    acked: set[int] = set()
    failed: list[str] = []
    acked_while_down = 0
    killed = False

    def on_delivery(err: object, msg: object) -> None:
        nonlocal acked_while_down
        if err is not None:
            failed.append(str(err))
            return
        acked.add(int(msg.value()))  # type: ignore[attr-defined]
        if killed:
            acked_while_down += 1

    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 5,
            "message.timeout.ms": 60000,
        }
    )
    for i in range(MESSAGES):
        producer.produce(topic, key=str(i % 97).encode(), value=str(i).encode(), on_delivery=on_delivery)
        if i % 100 == 99:
            producer.poll(0)
            time.sleep(0.05)
        if i == KILL_AT:
            producer.flush(30)
            kafka_cluster3.kill(victim)
            killed = True
            status = kafka_cluster3.status()
            assert not status.healthy and not status.nodes[victim].port_open
    assert producer.flush(90) == 0

    assert len(acked) > KILL_AT
    assert acked_while_down > 0, "nothing was acknowledged while a broker was down"
    # Read back with the broker still down: every acknowledged id is there, exactly once.
    seen = _read_all(bootstrap, topic, expected=len(acked))
    assert acked <= set(seen), f"lost {len(acked - set(seen))} acknowledged messages"
    assert len(seen) == len(set(seen)), "idempotent producer wrote duplicates"

    kafka_cluster3.restart(victim)
    assert kafka_cluster3.status().healthy
    assert metadata_brokers(bootstrap) == 3
