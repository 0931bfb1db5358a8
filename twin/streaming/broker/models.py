"""What a running cluster looks like from outside: its nodes, their ports and processes, and the state
file `twin broker up` leaves behind so `status` and `down` can find exactly those processes again."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

ProviderName = Literal["kafka-local", "redpanda", "external"]


class NodeInfo(BaseModel):
    model_config = ConfigDict(frozen=True)

    node_id: int
    host: str = "127.0.0.1"
    port: int
    controller_port: int | None = None
    pid: int | None = None
    data_dir: Path | None = None
    properties: Path | None = None
    log: Path | None = None

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class ClusterInfo(BaseModel):
    """A reachable cluster: what clients need (`bootstrap`) plus each node's details."""

    model_config = ConfigDict(frozen=True)

    provider: ProviderName
    bootstrap: str
    nodes: list[NodeInfo] = Field(default_factory=list)
    version: str | None = None
    cluster_id: str | None = None
    data_dir: Path | None = None
    # Set by the redpanda provider when the container must outlive the process that started it.
    container_id: str | None = None


class NodeStatus(BaseModel):
    node_id: int
    address: str
    pid: int | None
    pid_alive: bool
    port_open: bool


class ClusterStatus(BaseModel):
    provider: ProviderName
    bootstrap: str
    nodes: list[NodeStatus]

    @property
    def healthy(self) -> bool:
        return all(n.port_open and (n.pid is None or n.pid_alive) for n in self.nodes)


def save_state(info: ClusterInfo, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(info.model_dump_json(indent=2))
    tmp.replace(path)


def load_state(path: Path) -> ClusterInfo | None:
    if not path.is_file():
        return None
    return ClusterInfo.model_validate_json(path.read_text())


def recorded_bootstrap() -> str | None:
    """The bootstrap of the broker `twin broker up` recorded in the twin home, if any (an unreadable
    state file counts as none: the commands that use it fall back to running without a broker)."""
    from twin.config import paths

    try:
        info = load_state(paths().broker_state)
    except ValueError:
        return None
    return info.bootstrap if info is not None else None
