"""Producing to a topic under its contract: the payload must validate against the topic's value model
(the schema registered in the store), it is wrapped in a CloudEvents envelope, keyed by the topic's
entity id, and sent idempotently (the adapter sets enable.idempotence and acks=all)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError

from twin.errors import TwinError
from twin.streaming.contracts.registry import SchemaStore, json_schema
from twin.streaming.contracts.topics import TopicSpec, topic
from twin.streaming.envelope import CloudEvent, encode, wrap
from twin.streaming.port import BrokerError, Producer, Record


class SchemaViolation(TwinError, ValueError):
    """A payload does not satisfy its topic's value schema; nothing was sent."""


def describe_errors(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in e.errors()[:5]
    )


class ContractProducer:
    """Sends events to contract topics. Delivery failures are counted and kept, never silently dropped."""

    def __init__(
        self,
        producer: Producer,
        *,
        source: str,
        store: SchemaStore | None = None,
    ) -> None:
        self._p = producer
        self.source = source
        self.store = store or SchemaStore()
        self._schema_ref: dict[str, str] = {}
        self.sent = 0
        self.delivered = 0
        self.failed: list[str] = []

    def _dataschema(self, spec: TopicSpec) -> str:
        ref = self._schema_ref.get(spec.name)
        if ref is None:
            # Like Confluent's auto.register.schemas: refuses to start on an incompatible model.
            version = self.store.register(spec.subject, json_schema(spec.value))
            ref = self._schema_ref[spec.name] = f"{spec.subject}/versions/{version}"
        return ref

    def validate(self, spec: TopicSpec, payload: BaseModel | Mapping[str, Any]) -> BaseModel:
        if isinstance(payload, spec.value):
            return payload
        raw = payload.model_dump() if isinstance(payload, BaseModel) else payload
        try:
            return spec.value.model_validate(raw)
        except ValidationError as e:
            what = f"{spec.name}: payload fails {spec.value.__name__}"
            raise SchemaViolation(f"{what}: {describe_errors(e)}") from e

    def envelope(
        self,
        topic_name: str | TopicSpec,
        payload: BaseModel | Mapping[str, Any],
        *,
        event_id: str | None = None,
        time: datetime | None = None,
        dupof: str | None = None,
        late: bool = False,
    ) -> tuple[TopicSpec, CloudEvent]:
        spec = topic(topic_name)
        value = self.validate(spec, payload)
        event = wrap(
            value,
            source=self.source,
            type=spec.event_type,
            subject=spec.key_of(value).decode(),
            event_id=event_id,
            time=time,
            dataschema=self._dataschema(spec),
            dupof=dupof,
            late=late,
        )
        return spec, event

    def send(
        self,
        topic_name: str | TopicSpec,
        payload: BaseModel | Mapping[str, Any],
        **envelope_kw: Any,
    ) -> CloudEvent:
        spec, event = self.envelope(topic_name, payload, **envelope_kw)
        self.send_raw(spec.name, encode(event), key=(event.subject or "").encode())
        return event

    def send_raw(self, topic_name: str, value: bytes, key: bytes | None) -> None:
        """Send pre-encoded bytes (replays, fault injection); no validation."""
        self._p.produce(topic_name, value, key=key, on_delivery=self._on_delivery)
        self.sent += 1

    def _on_delivery(self, err: Exception | None, rec: Record | None) -> None:
        if err is None:
            self.delivered += 1
        else:
            self.failed.append(str(err))

    def poll(self) -> None:
        self._p.poll(0)

    def flush(self, timeout_s: float = 30.0) -> None:
        remaining = self._p.flush(timeout_s)
        if remaining:
            raise BrokerError(f"{remaining} message(s) still undelivered after {timeout_s:.0f} s")
        if self.failed:
            raise BrokerError(f"{len(self.failed)} message(s) failed delivery: {self.failed[0]}")
