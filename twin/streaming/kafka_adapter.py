"""The broker port over confluent-kafka (librdkafka), for a real Kafka-API broker: the local Apache Kafka,
Redpanda, or MSK. Producers are idempotent with acks=all and use Kafka's murmur2 partitioner, so a key
lands on the same partition as with the Java clients and the in-memory adapter."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, cast

from confluent_kafka import Consumer as _Consumer
from confluent_kafka import KafkaError, KafkaException, Message
from confluent_kafka import Producer as _Producer
from confluent_kafka import TopicPartition as _TP
from confluent_kafka.admin import (
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewPartitions,
)
from confluent_kafka.admin import NewTopic as _NewTopic

from twin.streaming.polled import Polled
from twin.streaming.port import (
    BrokerError,
    DeliveryCallback,
    NewTopic,
    Record,
    TopicExists,
    TopicInfo,
    TopicPartition,
)

ADMIN_TIMEOUT_S = 30.0
_TOPIC_CONFIG_KEYS = ("cleanup.policy", "retention.ms", "min.insync.replicas")

PRODUCER_DEFAULTS: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
    "partitioner": "murmur2_random",
    # 20 ms rather than librdkafka's 5: four times fewer, fuller produce requests. On one 2-core machine the
    # broker's CPU per request is what delays everyone's reads; 15 ms more of batching is nothing
    # against a 2 s freshness target.
    "linger.ms": 20,
    "compression.type": "lz4",
}
CONSUMER_DEFAULTS: dict[str, Any] = {
    "enable.auto.commit": False,
    "auto.offset.reset": "earliest",
    "partition.assignment.strategy": "range",
    # A crashed ingester's partitions move to its replacement after this long (Kafka's default is 45 s).
    "session.timeout.ms": 10_000,
    # Bigger fetches amortise per-request overhead at 100k+ events/s.
    "fetch.max.bytes": 64 * 1024 * 1024,
    "queued.max.messages.kbytes": 64 * 1024,
    # Snowpipe-like latency: a caught-up consumer's fetch comes back after at most 50 ms (default 500).
    # Measured at 12,600 events/s: produce → bronze p50 0.46 s vs 0.90 s. A busy consumer's fetches
    # return full long before either wait.
    "fetch.wait.max.ms": 50,
    # ... or as soon as 64 KiB is there, not at the first byte: a caught-up consumer otherwise sends a
    # fetch per produce request. Together with the producer's linger this took produce → silver p99
    # from 2.6 s and 1.8 s to 1.2 s and 1.0 s in side-by-side runs at 12,600 events/s.
    "fetch.min.bytes": 64 * 1024,
}


# Unbound methods of the C message type: `map` over them runs the per-message loop in C.
_ERROR = Message.error
_VALUE = Message.value
_PARTITION = Message.partition
_OFFSET = Message.offset


def _record(m: Any) -> Record:
    return Record(m.topic(), m.partition(), m.offset(), m.key(), m.value(), m.timestamp()[1])


def _wait(futures: dict[Any, Any], what: str) -> None:
    for name, fut in futures.items():
        try:
            fut.result(timeout=ADMIN_TIMEOUT_S)
        except KafkaException as e:
            err = e.args[0] if e.args else None
            message = f"{what} {name}: {err.str() if err is not None else e}"
            if err is not None and err.code() == KafkaError.TOPIC_ALREADY_EXISTS:
                raise TopicExists(message) from e
            raise BrokerError(message) from e


class KafkaBroker:
    def __init__(self, bootstrap: str, **common: Any) -> None:
        self.bootstrap = bootstrap
        self._common = {"bootstrap.servers": bootstrap, **common}

    def admin(self) -> KafkaAdmin:
        return KafkaAdmin(AdminClient(dict(self._common)))

    def producer(self, **config: Any) -> KafkaProducer:
        return KafkaProducer(_Producer({**self._common, **PRODUCER_DEFAULTS, **config}))

    def consumer(self, group_id: str, **config: Any) -> KafkaConsumer:
        return KafkaConsumer(_Consumer({**self._common, **CONSUMER_DEFAULTS, "group.id": group_id, **config}))


class KafkaAdmin:
    def __init__(self, client: AdminClient) -> None:
        self._c = client

    def broker_count(self) -> int:
        return len(self._c.list_topics(timeout=ADMIN_TIMEOUT_S).brokers)

    def list_topics(self) -> dict[str, TopicInfo]:
        md = self._c.list_topics(timeout=ADMIN_TIMEOUT_S)
        names = [n for n in md.topics if not n.startswith("__")]
        configs: dict[str, dict[str, str]] = {n: {} for n in names}
        if names:
            resources = [ConfigResource(ConfigResource.Type.TOPIC, n) for n in names]
            for res, fut in self._c.describe_configs(resources).items():
                entries = fut.result(timeout=ADMIN_TIMEOUT_S)
                configs[res.name] = {k: v.value for k, v in entries.items() if k in _TOPIC_CONFIG_KEYS}
        out = {}
        for n in names:
            parts = md.topics[n].partitions
            rf = len(next(iter(parts.values())).replicas) if parts else 0
            out[n] = TopicInfo(n, len(parts), rf, configs[n])
        return out

    def create_topic(self, topic: NewTopic) -> None:
        nt = _NewTopic(
            topic.name,
            num_partitions=topic.partitions,
            replication_factor=topic.replication_factor,
            config=dict(topic.config),
        )
        _wait(self._c.create_topics([nt], operation_timeout=ADMIN_TIMEOUT_S), "create topic")

    def alter_config(self, name: str, config: dict[str, str]) -> None:
        entries = [ConfigEntry(k, v, incremental_operation=AlterConfigOpType.SET) for k, v in config.items()]
        res = ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=entries)
        _wait(self._c.incremental_alter_configs([res]), "alter config of")

    def add_partitions(self, name: str, total: int) -> None:
        _wait(self._c.create_partitions([NewPartitions(name, total)]), "add partitions to")

    def delete_topic(self, name: str) -> None:
        _wait(self._c.delete_topics([name], operation_timeout=ADMIN_TIMEOUT_S), "delete topic")

    def end_offsets(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        probe = _Consumer({"bootstrap.servers": self._bootstrap(), "group.id": "twin-offsets-probe"})
        try:
            out = {}
            for tp in partitions:
                _, high = probe.get_watermark_offsets(_TP(tp.topic, tp.partition), timeout=ADMIN_TIMEOUT_S)
                out[tp] = high
            return out
        finally:
            probe.close()

    def _bootstrap(self) -> str:
        md = self._c.list_topics(timeout=ADMIN_TIMEOUT_S)
        return ",".join(f"{b.host}:{b.port}" for b in md.brokers.values())


class KafkaProducer:
    def __init__(self, producer: _Producer) -> None:
        self._p = producer

    def produce(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        partition: int | None = None,
        on_delivery: DeliveryCallback | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {"key": key}
        if partition is not None:
            kwargs["partition"] = partition
        if on_delivery is not None:

            def report(err: KafkaError | None, msg: Any) -> None:
                if err is not None:
                    on_delivery(BrokerError(err.str()), None)
                else:
                    on_delivery(
                        None,
                        Record(
                            msg.topic(),
                            msg.partition(),
                            msg.offset(),
                            msg.key(),
                            msg.value(),
                            msg.timestamp()[1],
                        ),
                    )

            kwargs["on_delivery"] = report
        while True:
            try:
                self._p.produce(topic, value, **kwargs)
                return
            except BufferError:
                # The local queue is full: serve delivery reports until there is room (backpressure).
                self._p.poll(0.05)
            except KafkaException as e:
                # e.g. MSG_SIZE_TOO_LARGE: refused before it is queued. One error type for every adapter.
                err = e.args[0] if e.args else None
                raise BrokerError(f"{topic}: {err.str() if err is not None else e}") from e

    def poll(self, timeout_s: float = 0.0) -> int:
        return int(self._p.poll(timeout_s))

    def flush(self, timeout_s: float = 30.0) -> int:
        return int(self._p.flush(timeout_s))


class KafkaConsumer:
    def __init__(self, consumer: _Consumer) -> None:
        self._c = consumer

    def subscribe(self, topics: list[str]) -> None:
        self._c.subscribe(list(topics))

    def consume(self, max_records: int = 500, timeout_s: float = 1.0) -> list[Record]:
        return self.consume_columns(max_records, timeout_s).records()

    def consume_columns(self, max_records: int = 500, timeout_s: float = 1.0) -> Polled:
        """`consume` as columns: no Python object per message beyond the client's own."""
        msgs = self._c.consume(num_messages=max_records, timeout=timeout_s)
        if any(map(_ERROR, msgs)):
            msgs = self._drop_errors(msgs)
        return Polled(
            list(map(_VALUE, msgs)),
            cast(list[int], list(map(_PARTITION, msgs))),  # consumed messages always have both
            cast(list[int], list(map(_OFFSET, msgs))),
            msgs,
            _record,
        )

    @staticmethod
    def _drop_errors(msgs: list[Any]) -> list[Any]:
        out = []
        for m in msgs:
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF or not err.fatal():
                    continue
                raise BrokerError(f"consumer failed: {err.str()}")
            out.append(m)
        return out

    def commit(self, offsets: dict[TopicPartition, int], *, asynchronous: bool = False) -> None:
        if not offsets:
            return
        tps = [_TP(tp.topic, tp.partition, off) for tp, off in offsets.items()]
        try:
            # the client's stubs type `asynchronous` per overload (a literal); the runtime takes a bool
            self._c.commit(offsets=tps, asynchronous=asynchronous)  # type: ignore[call-overload]
        except KafkaException as e:
            raise BrokerError(f"commit failed: {e.args[0].str() if e.args else e}") from e

    def committed(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int | None]:
        res = self._c.committed([_TP(tp.topic, tp.partition) for tp in partitions], timeout=ADMIN_TIMEOUT_S)
        return {TopicPartition(t.topic, t.partition): (t.offset if t.offset >= 0 else None) for t in res}

    def assignment(self) -> list[TopicPartition]:
        return sorted(TopicPartition(t.topic, t.partition) for t in self._c.assignment())

    def pause(self, partitions: Iterable[TopicPartition]) -> None:
        tps = [_TP(tp.topic, tp.partition) for tp in partitions]
        if tps:
            self._c.pause(tps)

    def resume(self, partitions: Iterable[TopicPartition]) -> None:
        tps = [_TP(tp.topic, tp.partition) for tp in partitions]
        if tps:
            self._c.resume(tps)

    def close(self) -> None:
        self._c.close()
