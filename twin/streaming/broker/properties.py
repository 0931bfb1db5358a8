"""server.properties for one combined broker+controller node of a local KRaft cluster.

Everything listens on 127.0.0.1 only. Internal topics are replicated as far as the cluster allows, and
with three nodes `min.insync.replicas=2`, so `acks=all` survives the loss of any one node."""

from __future__ import annotations

from pathlib import Path

from twin.streaming.broker.config import KafkaLocalConfig

HOST = "127.0.0.1"

LOG4J2_YAML = """\
Configuration:
  Status: warn
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka.request.logger
        level: WARN
      - name: org.apache.kafka.raft
        level: WARN
      - name: kafka.log.LogCleaner
        level: WARN
"""


def server_properties(
    config: KafkaLocalConfig,
    node_id: int,
    ports: dict[int, tuple[int, int]],
    log_dir: Path,
) -> dict[str, str]:
    """`ports` maps node id -> (client port, controller port) for every node of the cluster."""
    client_port, controller_port = ports[node_id]
    rf = str(config.internal_replication_factor)
    min_isr = str(config.min_insync_replicas)
    props = {
        "process.roles": "broker,controller",
        "node.id": str(node_id),
        "controller.quorum.bootstrap.servers": ",".join(f"{HOST}:{c}" for _, c in sorted(ports.values())),
        "listeners": f"PLAINTEXT://{HOST}:{client_port},CONTROLLER://{HOST}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{client_port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(log_dir),
        "num.partitions": "1",
        "default.replication.factor": rf,
        "min.insync.replicas": min_isr,
        "offsets.topic.replication.factor": rf,
        "transaction.state.log.replication.factor": rf,
        "transaction.state.log.min.isr": min_isr,
        "share.coordinator.state.topic.replication.factor": rf,
        "share.coordinator.state.topic.min.isr": min_isr,
        "group.initial.rebalance.delay.ms": "0",
        "unclean.leader.election.enable": "false",
        "broker.session.timeout.ms": str(config.broker_session_timeout_ms),
        "broker.heartbeat.interval.ms": str(config.broker_heartbeat_interval_ms),
        # Few threads: the machine has two cores and up to three JVMs share them.
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "background.threads": "4",
        "log.cleaner.threads": "1",
    }
    props.update(config.extra_properties)
    return props


def render(props: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in props.items())


def parse(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out
