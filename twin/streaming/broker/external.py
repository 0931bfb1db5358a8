"""The `external` provider: a Kafka-API cluster that someone else runs (a real MSK cluster, a colleague's
broker). Nothing is started or stopped; `start()` only checks that it answers."""

from __future__ import annotations

from twin.errors import TwinError
from twin.streaming.broker.config import ExternalConfig
from twin.streaming.broker.kafka_local import metadata_brokers
from twin.streaming.broker.models import ClusterInfo, ClusterStatus, NodeInfo, NodeStatus
from twin.streaming.broker.processes import port_open


class ExternalProvider:
    name = "external"

    def __init__(self, config: ExternalConfig) -> None:
        self.config = config
        nodes = []
        for i, server in enumerate(config.bootstrap_servers.split(",")):
            host, _, port = server.rpartition(":")
            nodes.append(NodeInfo(node_id=i + 1, host=host, port=int(port)))
        self._info = ClusterInfo(provider="external", bootstrap=config.bootstrap_servers, nodes=nodes)

    @property
    def info(self) -> ClusterInfo:
        return self._info

    @property
    def bootstrap(self) -> str:
        return self._info.bootstrap

    def client_config(self) -> dict[str, str]:
        return {"bootstrap.servers": self.bootstrap, **self.config.client_config}

    def start(self, timeout_s: float = 10.0) -> ClusterInfo:
        if metadata_brokers(self.bootstrap, timeout_s, self.config.client_config) == 0:
            raise TwinError(
                f"the external cluster at {self.bootstrap} did not answer metadata in {timeout_s:.0f} s"
            )
        return self._info

    def status(self) -> ClusterStatus:
        return ClusterStatus(
            provider="external",
            bootstrap=self.bootstrap,
            nodes=[
                NodeStatus(
                    node_id=n.node_id,
                    address=n.address,
                    pid=None,
                    pid_alive=False,
                    port_open=port_open(n.port, n.host),
                )
                for n in self._info.nodes
            ],
        )

    def stop(self) -> None:
        """Someone else's cluster: never stopped from here."""
