"""The 1-node fixture is a real broker: a message produced with acks=all comes back from a consumer."""

from __future__ import annotations

import uuid

import pytest

from twin.streaming.broker import LocalKafkaCluster


@pytest.mark.live
def test_kafka_cluster_fixture_round_trips_a_message(kafka_cluster: LocalKafkaCluster) -> None:
    from confluent_kafka import Consumer, Producer

    topic = f"smoke-{uuid.uuid4().hex[:8]}"
    payload = uuid.uuid4().bytes
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap, "acks": "all"})
    producer.produce(topic, key=b"k", value=payload)
    assert producer.flush(30) == 0

    consumer = Consumer(
        {
            "bootstrap.servers": kafka_cluster.bootstrap,
            "group.id": f"g-{topic}",
            "auto.offset.reset": "earliest",
        }
    )
    consumer.subscribe([topic])
    try:
        got = None
        for _ in range(60):
            msg = consumer.poll(0.5)
            if msg is not None and msg.error() is None:
                got = msg.value()
                break
    finally:
        consumer.close()
    assert got == payload
