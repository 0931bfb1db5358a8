"""One port, three providers: whatever runs the broker, callers get a bootstrap address and a way to
stop it."""

from __future__ import annotations

from typing import Protocol

from twin.streaming.broker.config import BrokerConfig, ExternalConfig, KafkaLocalConfig, RedpandaConfig
from twin.streaming.broker.models import ClusterInfo, ClusterStatus


class BrokerProvider(Protocol):
    @property
    def bootstrap(self) -> str: ...

    @property
    def info(self) -> ClusterInfo: ...

    def start(self) -> ClusterInfo: ...

    def stop(self) -> None: ...

    def status(self) -> ClusterStatus: ...


def provider_for(config: BrokerConfig) -> BrokerProvider:
    # Imports stay local: each provider pulls in its own client library.
    if isinstance(config, KafkaLocalConfig):
        from twin.streaming.broker.kafka_local import LocalKafkaCluster

        return LocalKafkaCluster(config=config)
    if isinstance(config, RedpandaConfig):
        from twin.streaming.broker.redpanda import RedpandaProvider

        return RedpandaProvider(config)
    if isinstance(config, ExternalConfig):
        from twin.streaming.broker.external import ExternalProvider

        return ExternalProvider(config)
    raise TypeError(f"unknown broker config {type(config).__name__}")
