"""The `redpanda` provider: Redpanda in Docker through testcontainers' Redpanda module.

Used where a Docker engine is reachable; elsewhere `start()` says so plainly instead of hanging."""

from __future__ import annotations

import os
import warnings
from typing import Any

from twin.errors import TwinError
from twin.streaming.broker.config import RedpandaConfig
from twin.streaming.broker.models import ClusterInfo, ClusterStatus, NodeInfo, NodeStatus
from twin.streaming.broker.processes import port_open

KAFKA_PORT = 9092
SCHEMA_REGISTRY_PORT = 8081
BIND_HOST = "127.0.0.1"


class DockerUnavailable(TwinError):
    """No Docker engine answers, so the Redpanda provider cannot run here."""


def _container_class() -> Any:
    try:
        from testcontainers.community.kafka import RedpandaContainer
    except ImportError:  # older testcontainers keep it at the top level
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            from testcontainers.kafka import RedpandaContainer
    return RedpandaContainer


def docker_unavailable_reason() -> str | None:
    """None when a Docker engine answers a ping, else why not (in words a user can act on)."""
    import docker
    from docker.errors import DockerException

    where = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    try:
        client = docker.from_env(timeout=5)
        try:
            client.ping()
        finally:
            client.close()
    except DockerException as exc:
        return f"no Docker engine is reachable at {where} ({type(exc).__name__})"
    except OSError as exc:
        return f"no Docker engine is reachable at {where} ({exc.strerror or exc})"
    return None


class RedpandaProvider:
    name = "redpanda"

    def __init__(self, config: RedpandaConfig | None = None) -> None:
        self.config = config or RedpandaConfig()
        self._container: Any = None
        self._info: ClusterInfo | None = None

    def container(self, docker_api_version: str | None = None) -> Any:
        """The configured (not yet started) container: image pinned, ports published on 127.0.0.1 only.

        With an explicit `docker_api_version` the Docker client does not contact the engine until the
        container starts, so the configuration can be built and checked without Docker."""
        kwargs: dict[str, Any] = {}
        if docker_api_version is not None:
            kwargs["docker_client_kw"] = {"version": docker_api_version}
        container = _container_class()(image=self.config.image, **kwargs)
        # docker-py reads (ip, None) as "a random host port on this ip"; with_bind_ports only takes a port.
        for port in (KAFKA_PORT, SCHEMA_REGISTRY_PORT):
            container.ports[str(port)] = (BIND_HOST, None)
        return container

    def start(self, keep_running: bool = False) -> ClusterInfo:
        """Start the container; with `keep_running` it outlives this process (testcontainers' reaper
        is switched off) and `stop_container(info.container_id)` ends it."""
        reason = docker_unavailable_reason()
        if reason is not None:
            raise DockerUnavailable(
                f"the redpanda provider needs Docker, but {reason}; use the kafka-local provider "
                "(`twin broker up`) or point the external provider at a running cluster"
            )
        if keep_running:
            from testcontainers.core.config import testcontainers_config

            testcontainers_config.ryuk_disabled = True
        container = self.container()
        container.start(timeout=int(self.config.startup_timeout_s))
        self._container = container
        host, port = container.get_bootstrap_server().rsplit(":", 1)
        node = NodeInfo(node_id=1, host=host, port=int(port))
        container_id = container.get_wrapped_container().id if keep_running else None
        self._info = ClusterInfo(
            provider="redpanda", bootstrap=node.address, nodes=[node], container_id=container_id
        )
        return self._info

    @property
    def info(self) -> ClusterInfo:
        if self._info is None:
            raise TwinError("the Redpanda container has not been started")
        return self._info

    @property
    def bootstrap(self) -> str:
        return self.info.bootstrap

    def status(self) -> ClusterStatus:
        return ClusterStatus(
            provider="redpanda",
            bootstrap=self.info.bootstrap,
            nodes=[
                NodeStatus(
                    node_id=n.node_id,
                    address=n.address,
                    pid=None,
                    pid_alive=False,
                    port_open=port_open(n.port, n.host),
                )
                for n in self.info.nodes
            ],
        )

    def stop(self) -> None:
        if self._container is not None:
            self._container.stop()
            self._container = None


def stop_container(container_id: str) -> None:
    """Stop and remove a container `start(keep_running=True)` left behind."""
    import docker
    from docker.errors import NotFound

    client = docker.from_env(timeout=30)
    try:
        client.containers.get(container_id).remove(force=True)
    except NotFound:
        pass
    finally:
        client.close()
