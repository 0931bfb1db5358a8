"""server.properties: loopback only, and replication sized to the cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin.streaming.broker import properties
from twin.streaming.broker.config import KafkaLocalConfig


def _ports(n: int) -> dict[int, tuple[int, int]]:
    return {i + 1: (20000 + 2 * i, 20001 + 2 * i) for i in range(n)}


@pytest.mark.parametrize("nodes", [1, 3])
def test_every_listener_and_quorum_address_is_loopback(nodes: int, tmp_path: Path) -> None:
    cfg = KafkaLocalConfig(nodes=nodes)
    for node_id in range(1, nodes + 1):
        props = properties.server_properties(cfg, node_id, _ports(nodes), tmp_path)
        addresses = [
            *props["listeners"].split(","),
            *props["advertised.listeners"].split(","),
            *props["controller.quorum.bootstrap.servers"].split(","),
        ]
        hosts = {a.split("//")[-1].rsplit(":", 1)[0] for a in addresses}
        assert hosts == {"127.0.0.1"}
        assert len(props["controller.quorum.bootstrap.servers"].split(",")) == nodes
        assert props["process.roles"] == "broker,controller"
        assert props["node.id"] == str(node_id)


def test_single_node_replicates_internal_topics_once() -> None:
    props = properties.server_properties(KafkaLocalConfig(nodes=1), 1, _ports(1), Path("d"))
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "default.replication.factor",
        "min.insync.replicas",
    ):
        assert props[key] == "1", key


def test_three_nodes_replicate_three_times_and_need_two_in_sync() -> None:
    props = properties.server_properties(KafkaLocalConfig(nodes=3), 2, _ports(3), Path("d"))
    assert props["offsets.topic.replication.factor"] == "3"
    assert props["transaction.state.log.replication.factor"] == "3"
    assert props["default.replication.factor"] == "3"
    assert props["transaction.state.log.min.isr"] == "2"
    assert props["min.insync.replicas"] == "2"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:20002,CONTROLLER://127.0.0.1:20003"


def test_extra_properties_override_and_render_round_trips() -> None:
    cfg = KafkaLocalConfig(nodes=1, extra_properties={"num.partitions": "6", "log.retention.ms": "1000"})
    props = properties.server_properties(cfg, 1, _ports(1), Path("d"))
    assert properties.parse(properties.render(props)) == props
    assert props["num.partitions"] == "6"
