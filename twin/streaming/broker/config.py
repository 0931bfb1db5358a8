"""Configuration of the three broker providers, one pydantic model each, chosen by `provider`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from twin.streaming.broker.installer import KAFKA_VERSION


class KafkaLocalConfig(BaseModel):
    """Apache Kafka (KRaft) started from its jars: every node is a combined broker + controller."""

    model_config = ConfigDict(frozen=True)

    provider: Literal["kafka-local"] = "kafka-local"
    nodes: int = Field(1, ge=1, le=5)
    data_dir: Path | None = None
    cache: Path | None = None
    version: str = KAFKA_VERSION
    # Small heaps and a single-threaded collector so three nodes fit on two cores.
    heap_min_mb: int = Field(128, ge=64)
    heap_max_mb: int = Field(384, ge=128)
    gc_options: tuple[str, ...] = ("-XX:+UseSerialGC",)
    startup_timeout_s: float = Field(90.0, gt=0)
    stop_grace_s: float = Field(15.0, ge=0)
    # Linux only: the kernel SIGKILLs the nodes if the starting process dies without stopping them
    # (a test run killed outright must not leave JVMs behind). Off for `twin broker up`, whose nodes
    # must outlive the command. The kernel ties this to the *thread* that started the node, so start
    # and restart such nodes from a thread that lives as long as they should.
    die_with_parent: bool = False
    # How fast a dead node is fenced and dropped from ISR: short, so chaos tests see failover in seconds.
    broker_session_timeout_ms: int = 3000
    broker_heartbeat_interval_ms: int = 500
    extra_properties: dict[str, str] = Field(default_factory=dict)

    @property
    def min_insync_replicas(self) -> int:
        return 2 if self.nodes >= 3 else 1

    @property
    def internal_replication_factor(self) -> int:
        return min(self.nodes, 3)


class RedpandaConfig(BaseModel):
    """Redpanda in Docker through testcontainers' Redpanda module."""

    model_config = ConfigDict(frozen=True)

    provider: Literal["redpanda"] = "redpanda"
    image: str = "docker.redpanda.com/redpandadata/redpanda:v24.2.7"
    startup_timeout_s: float = Field(120.0, gt=0)

    @field_validator("image")
    @classmethod
    def _image_has_tag(cls, value: str) -> str:
        # An untagged image would float to whatever `latest` is; runs must be repeatable.
        if ":" not in value.rsplit("/", 1)[-1]:
            raise ValueError(f"pin the Redpanda image with a tag, got {value!r}")
        return value


class ExternalConfig(BaseModel):
    """Any Kafka-API cluster that is already running (the path to a real MSK cluster)."""

    model_config = ConfigDict(frozen=True)

    provider: Literal["external"] = "external"
    bootstrap_servers: str
    # librdkafka settings such as security.protocol / sasl.mechanism, passed through to clients.
    client_config: dict[str, str] = Field(default_factory=dict)

    @field_validator("bootstrap_servers")
    @classmethod
    def _host_port_list(cls, value: str) -> str:
        servers = [s.strip() for s in value.split(",") if s.strip()]
        if not servers:
            raise ValueError("bootstrap_servers is empty")
        for server in servers:
            host, sep, port = server.rpartition(":")
            if not sep or not host or not port.isdigit():
                raise ValueError(f"bootstrap server {server!r} is not host:port")
        return ",".join(servers)


BrokerConfig = Annotated[KafkaLocalConfig | RedpandaConfig | ExternalConfig, Field(discriminator="provider")]


class BrokerSettings(BaseModel):
    """Wrapper so a YAML/JSON document `{broker: {provider: ..., ...}}` validates into one config."""

    broker: BrokerConfig = Field(default_factory=KafkaLocalConfig)
