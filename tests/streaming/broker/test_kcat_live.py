"""A real third-party client, kcat (librdkafka's CLI from Debian), lists topics and consumes from the
twin's broker."""

from __future__ import annotations

import json
import shutil
import subprocess
import uuid

import pytest

from twin.streaming.broker import LocalKafkaCluster

KCAT = shutil.which("kcat") or shutil.which("kafkacat")


@pytest.mark.live
@pytest.mark.skipif(KCAT is None, reason="kcat is not installed (`make system-deps` installs it)")
def test_kcat_lists_topics_and_consumes(kafka_cluster: LocalKafkaCluster) -> None:
    from confluent_kafka import Producer

    assert KCAT is not None
    topic = f"kcat-{uuid.uuid4().hex[:8]}"
    values = [f"event-{i}-{uuid.uuid4().hex[:6]}" for i in range(25)]
    producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap, "acks": "all"})
    for v in values:
        producer.produce(topic, value=v.encode())
    assert producer.flush(30) == 0

    listing = subprocess.run(
        [KCAT, "-b", kafka_cluster.bootstrap, "-L", "-J"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    metadata = json.loads(listing.stdout)
    assert topic in {t["topic"] for t in metadata["topics"]}
    assert [b["name"] for b in metadata["brokers"]] == [kafka_cluster.nodes[0].address]

    consumed = subprocess.run(
        [KCAT, "-b", kafka_cluster.bootstrap, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%s\n"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert consumed.stdout.splitlines() == values
