"""Live: Confluent's own producer and consumer, with its JSON serializers and Schema Registry client,
write and read a twin topic on the real local Kafka broker through `twin serve registry`'s API."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

from tests.streaming.helpers import unique
from twin.domain.entities import NavPoint
from twin.streaming.contracts.apply import apply_topics
from twin.streaming.contracts.registry import SchemaStore, json_schema
from twin.streaming.contracts.registry_api import RegistryServer
from twin.streaming.contracts.topics import TOPICS
from twin.streaming.kafka_adapter import KafkaBroker

pytestmark = pytest.mark.live


def test_confluent_clients_produce_and_consume_through_the_registry_on_real_kafka(
    kafka_cluster, tmp_path: Path
) -> None:
    spec = TOPICS["asset-management.nav.intraday"].model_copy(update={"name": unique("nav")})
    apply_topics(KafkaBroker(kafka_cluster.bootstrap).admin(), [spec])
    points = [
        NavPoint(fund_id=f"F{i:05d}", nav_date=date(2026, 12, 1), nav=Decimal("100.5") + i, aum=Decimal(i))
        for i in range(1, 21)
    ]
    with RegistryServer(SchemaStore(tmp_path / "schemas")) as server:
        client = SchemaRegistryClient({"url": server.url})
        serialize = JSONSerializer(json.dumps(json_schema(NavPoint)), client)
        producer = Producer({"bootstrap.servers": kafka_cluster.bootstrap})
        for p in points:
            ctx = SerializationContext(spec.name, MessageField.VALUE)
            producer.produce(
                spec.name, key=p.fund_id.encode(), value=serialize(p.model_dump(mode="json"), ctx)
            )
        assert producer.flush(30) == 0

        consumer = Consumer(
            {
                "bootstrap.servers": kafka_cluster.bootstrap,
                "group.id": unique("g"),
                "auto.offset.reset": "earliest",
            }
        )
        deserialize = JSONDeserializer(None, schema_registry_client=client)
        consumer.subscribe([spec.name])
        got: list[NavPoint] = []
        try:
            for _ in range(60):
                for msg in consumer.consume(100, 1.0):
                    assert msg.error() is None
                    ctx = SerializationContext(msg.topic(), MessageField.VALUE)
                    got.append(NavPoint.model_validate(deserialize(msg.value(), ctx)))
                if len(got) >= len(points):
                    break
        finally:
            consumer.close()
        assert sorted(got, key=lambda p: p.fund_id) == points
        assert client.get_subjects() == [spec.subject]

        # the contract cannot be broken behind the consumers' backs: the registry refuses with 409
        breaking = dict(json_schema(NavPoint))
        breaking["properties"] = {**breaking["properties"], "nav": {"type": "string"}}
        with pytest.raises(SchemaRegistryError) as err:
            client.register_schema(spec.subject, Schema(json.dumps(breaking), "JSON"))
        assert err.value.error_code == 409
