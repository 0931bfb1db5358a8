"""Change Data Capture: the change event Salesforce publishes for every committed create, update and
delete, and a subscriber that puts each event onto the broker (through the broker port, so the memory
broker serves unit tests and a real Kafka broker serves live mode).

The event is the shape a CometD/Pub-Sub subscriber receives on `/data/<Object>ChangeEvent`: a
`ChangeEventHeader` (entityName, recordIds, changeType, changeOrigin, transactionKey, sequenceNumber,
commitTimestamp, commitNumber, commitUser, changedFields, nulledFields, diffFields) beside the changed
field values. As in Salesforce, CREATE carries every non-null field and an empty `changedFields`,
UPDATE carries only what changed (plus LastModifiedDate), DELETE carries no fields.

Other consumers (the EventBridge side of the AWS stand-ins, tests) append a callable to
`Org.subscribers` (or pass `subscribers=` to `SalesforceServer`); each is called in commit order, under
the org's lock. Events go through a durable outbox committed with the record (`Org.drain`): a
subscriber that raises delays delivery, never loses an event or fails the API call (at-least-once;
dedupe by `commitNumber`/`replayId`).
"""

from __future__ import annotations

import contextlib
import json

from twin.streaming.contracts.salesforce_cdc import CDC_TOPIC, ChangeEvent, ChangeEventHeader, ChangeType
from twin.streaming.port import Broker, BrokerError, NewTopic, Producer, TopicExists

__all__ = ["CDC_TOPIC", "BrokerPublisher", "ChangeEvent", "ChangeEventHeader", "ChangeType"]


class BrokerPublisher:
    """A subscriber that produces each event onto `topic`, keyed by record id (one record's events stay
    in order on one partition), and waits for the broker's acknowledgement before the API call answers."""

    def __init__(self, broker: Broker, topic: str = CDC_TOPIC, *, partitions: int = 3, flush_s: float = 10.0):
        self.broker, self.topic, self.partitions, self.flush_s = broker, topic, partitions, flush_s
        self.producer: Producer | None = None

    def _connect(self) -> Producer:
        # Lazily, on the first event: the stand-in starts even while the broker is down, and the outbox
        # retries this until it is back.
        if self.producer is None:
            admin = self.broker.admin()
            if self.topic not in admin.list_topics():
                # created meanwhile by another publisher: fine
                with contextlib.suppress(TopicExists):
                    admin.create_topic(
                        NewTopic(name=self.topic, partitions=self.partitions, replication_factor=1)
                    )
            self.producer = self.broker.producer()
        return self.producer

    def __call__(self, event: ChangeEvent) -> None:
        producer = self._connect()
        value = json.dumps(event.message(), separators=(",", ":")).encode()
        failures: list[Exception] = []

        def on_delivery(err: Exception | None, record: object) -> None:
            if err is not None:
                failures.append(err)

        record_id = event.header.recordIds[0]
        producer.produce(self.topic, value, key=record_id.encode(), on_delivery=on_delivery)
        # flush() also returns 0 when a delivery *failed*: the callback is what says it was written
        if producer.flush(self.flush_s):
            raise BrokerError(f"change event for {record_id} not acknowledged within {self.flush_s:g} s")
        if failures:
            raise BrokerError(f"change event for {record_id} refused by the broker: {failures[0]}")
