"""Broker providers behind one port: `kafka-local` (Apache Kafka KRaft from its jars), `redpanda`
(testcontainers, needs Docker) and `external` (any bootstrap servers).

    from twin.streaming.broker import LocalKafkaCluster
    with LocalKafkaCluster(nodes=3) as cluster:
        cluster.bootstrap, cluster.kill(0), cluster.restart(0)
"""

from twin.streaming.broker.config import (
    BrokerConfig,
    BrokerSettings,
    ExternalConfig,
    KafkaLocalConfig,
    RedpandaConfig,
)
from twin.streaming.broker.installer import KAFKA_VERSION, install, is_installed
from twin.streaming.broker.kafka_local import BrokerStartError, LocalKafkaCluster, metadata_brokers
from twin.streaming.broker.models import (
    ClusterInfo,
    ClusterStatus,
    NodeInfo,
    NodeStatus,
    load_state,
    save_state,
)
from twin.streaming.broker.provider import BrokerProvider, provider_for

__all__ = [
    "KAFKA_VERSION",
    "BrokerConfig",
    "BrokerProvider",
    "BrokerSettings",
    "BrokerStartError",
    "ClusterInfo",
    "ClusterStatus",
    "ExternalConfig",
    "KafkaLocalConfig",
    "LocalKafkaCluster",
    "NodeInfo",
    "NodeStatus",
    "RedpandaConfig",
    "install",
    "is_installed",
    "load_state",
    "metadata_brokers",
    "provider_for",
    "save_state",
]
