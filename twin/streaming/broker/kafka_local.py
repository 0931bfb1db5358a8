"""The `kafka-local` provider: a real Apache Kafka (KRaft) cluster of 1–5 nodes started from the cached
jars with plain `java`, no Docker.

Node index `i` (0-based) is node id `i + 1`. Every `start()` makes a fresh cluster (new ports, newly
formatted storage); `kill(i)` / `restart(i)` keep a node's data so it rejoins and catches up."""

from __future__ import annotations

import base64
import logging
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

from twin.config import paths
from twin.errors import TwinError
from twin.streaming.broker import processes, properties
from twin.streaming.broker.config import KafkaLocalConfig
from twin.streaming.broker.installer import require_installed
from twin.streaming.broker.models import ClusterInfo, ClusterStatus, NodeInfo, NodeStatus

MAIN_CLASS = "kafka.Kafka"
STORAGE_TOOL = "kafka.tools.StorageTool"
PORT_ATTEMPTS = 3


class BrokerStartError(TwinError):
    """A node did not come up; the message carries the tail of its log."""


def kafka_uuid() -> str:
    """A Kafka `Uuid` string (URL-safe base64 of 16 random bytes, unpadded), as `random-uuid` prints."""
    while True:
        text = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        # Kafka re-draws ids starting with '-' so they are never mistaken for command-line flags.
        if not text.startswith("-"):
            return text


def log_tail(path: Path | None, lines: int = 25) -> str:
    if path is None or not path.is_file():
        return "(no log)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def _die_with_parent() -> None:
    """Runs in the child between fork and exec: ask for SIGKILL when the parent goes away."""
    import ctypes
    import signal

    pr_set_pdeathsig = 1
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)


def _quiet_logger() -> logging.Logger:
    # librdkafka logs every refused connection; the readiness probe expects those.
    logger = logging.getLogger("twin.streaming.broker.probe")
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    logger.propagate = False
    return logger


def metadata_brokers(
    bootstrap: str, timeout_s: float = 3.0, client_config: dict[str, str] | None = None
) -> int:
    """How many brokers the cluster reports in its metadata (0 when it does not answer)."""
    from confluent_kafka import KafkaException
    from confluent_kafka.admin import AdminClient

    # confluent-kafka takes a logging.Logger under "logger"; its stubs type config values as scalars
    conf = {"bootstrap.servers": bootstrap, "logger": _quiet_logger(), **(client_config or {})}
    admin = AdminClient(conf)  # type: ignore[arg-type]
    try:
        return len(admin.list_topics(timeout=timeout_s).brokers)
    except KafkaException:
        return 0


class LocalKafkaCluster:
    def __init__(
        self,
        nodes: int = 1,
        data_dir: Path | str | None = None,
        *,
        config: KafkaLocalConfig | None = None,
    ) -> None:
        if config is None:
            config = KafkaLocalConfig(nodes=nodes, data_dir=Path(data_dir) if data_dir else None)
        self.config = config
        self._owns_data_dir = config.data_dir is None
        self.data_dir = Path(config.data_dir) if config.data_dir else None
        self._procs: dict[int, subprocess.Popen[bytes]] = {}
        self._info: ClusterInfo | None = None

    # -- public API -----------------------------------------------------------------------------------

    @property
    def info(self) -> ClusterInfo:
        if self._info is None:
            raise TwinError("the cluster has not been started")
        return self._info

    @property
    def bootstrap(self) -> str:
        return self.info.bootstrap

    @property
    def nodes(self) -> list[NodeInfo]:
        return self.info.nodes

    @classmethod
    def attach(cls, info: ClusterInfo) -> LocalKafkaCluster:
        """Re-attach to a cluster another process started (from its state file) to query or stop it."""
        cluster = cls(config=KafkaLocalConfig(nodes=len(info.nodes), data_dir=info.data_dir))
        cluster._owns_data_dir = False
        cluster._info = info
        return cluster

    def start(self) -> ClusterInfo:
        libs = require_installed(self.config.cache or paths().cache, self.config.version)
        if self.data_dir is None:
            self.data_dir = Path(tempfile.mkdtemp(prefix="twin-kafka-"))
        self.data_dir.mkdir(parents=True, exist_ok=True)
        try:
            for attempt in range(PORT_ATTEMPTS):
                try:
                    return self._start_once(libs, self.data_dir)
                except BrokerStartError:
                    # Free ports are only free until someone else binds them; pick new ones and retry.
                    if attempt + 1 < PORT_ATTEMPTS and self._lost_a_port_race():
                        self._stop_processes()
                        continue
                    raise
        except BaseException:
            self.stop()
            raise
        raise AssertionError("unreachable")

    def _lost_a_port_race(self) -> bool:
        return any(
            n.log is not None
            and n.log.is_file()
            and "Address already in use" in n.log.read_text(errors="replace")
            for n in self.info.nodes
        )

    def _start_once(self, libs: Path, data_dir: Path) -> ClusterInfo:
        self._info = None
        count = self.config.nodes
        flat = processes.free_ports(2 * count)
        ports = {i + 1: (flat[2 * i], flat[2 * i + 1]) for i in range(count)}
        cluster_id = kafka_uuid()
        nodes: list[NodeInfo] = []
        for node_id, (port, cport) in ports.items():
            node_dir = data_dir / f"node-{node_id}"
            shutil.rmtree(node_dir, ignore_errors=True)
            node_dir.mkdir(parents=True)
            props_path = node_dir / "server.properties"
            props = properties.server_properties(self.config, node_id, ports, node_dir / "data")
            props_path.write_text(properties.render(props))
            (node_dir / "log4j2.yaml").write_text(properties.LOG4J2_YAML)
            nodes.append(
                NodeInfo(
                    node_id=node_id,
                    port=port,
                    controller_port=cport,
                    data_dir=node_dir,
                    properties=props_path,
                    log=node_dir / "server.log",
                )
            )
        self._format(libs, cluster_id, nodes)
        self._info = ClusterInfo(
            provider="kafka-local",
            bootstrap=",".join(n.address for n in nodes),
            nodes=nodes,
            version=self.config.version,
            cluster_id=cluster_id,
            data_dir=data_dir,
        )
        for index in range(count):
            self._spawn(index, libs)
        self._wait_ready(self.config.startup_timeout_s)
        return self.info

    def stop(self) -> None:
        """SIGTERM every node this cluster started (SIGKILL after a grace period); idempotent."""
        self._stop_processes()
        if self._owns_data_dir and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)
            self.data_dir = None

    def _stop_processes(self) -> None:
        if self._info is not None:
            processes.stop_pids(
                [(n.pid, str(n.properties)) for n in self._info.nodes if n.pid is not None and n.properties],
                grace_s=self.config.stop_grace_s,
            )
        for proc in self._procs.values():
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self._procs.clear()

    def kill(self, index: int) -> None:
        """SIGKILL one node (a crash, not a shutdown); its data stays for `restart`."""
        node = self.info.nodes[index]
        if (
            node.pid is not None
            and node.properties is not None
            and processes.is_our_process(node.pid, str(node.properties))
        ):
            processes.kill_pid(node.pid)
        proc = self._procs.pop(index, None)
        if proc is not None:
            proc.wait()
        self._set_pid(index, None)

    def restart(self, index: int, timeout_s: float | None = None) -> NodeInfo:
        """Start a killed (or running) node on its old ports; wait until it is back in the cluster."""
        node = self.info.nodes[index]
        if processes.is_our_process(node.pid, str(node.properties)):
            self.kill(index)
        libs = require_installed(self.config.cache or paths().cache, self.config.version)
        self._spawn(index, libs)
        self._wait_ready(timeout_s or self.config.startup_timeout_s)
        return self.info.nodes[index]

    def status(self) -> ClusterStatus:
        return ClusterStatus(
            provider="kafka-local",
            bootstrap=self.info.bootstrap,
            nodes=[
                NodeStatus(
                    node_id=n.node_id,
                    address=n.address,
                    pid=n.pid,
                    pid_alive=processes.is_our_process(n.pid, str(n.properties)),
                    port_open=processes.port_open(n.port, n.host),
                )
                for n in self.info.nodes
            ],
        )

    def __enter__(self) -> LocalKafkaCluster:
        if self._info is None:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- internals ------------------------------------------------------------------------------------

    def _java(self) -> str:
        java = shutil.which("java")
        if java is None:
            raise TwinError("Java is not on PATH: Apache Kafka 4 needs Java 17 or newer")
        return java

    def _format(self, libs: Path, cluster_id: str, nodes: list[NodeInfo]) -> None:
        if len(nodes) == 1:
            quorum = ["--standalone"]
        else:
            voters = ",".join(f"{n.node_id}@{n.host}:{n.controller_port}:{kafka_uuid()}" for n in nodes)
            quorum = ["--initial-controllers", voters]
        # One JVM per node, all at once: formatting is mostly JVM start-up time.
        running = []
        for node in nodes:
            assert node.data_dir is not None and node.properties is not None
            cmd = [
                self._java(),
                "-Xmx256m",
                "-XX:+UseSerialGC",
                f"-Dlog4j2.configurationFile={node.data_dir / 'log4j2.yaml'}",
                "-cp",
                f"{libs}/*",
                STORAGE_TOOL,
                "format",
                "--cluster-id",
                cluster_id,
                "--config",
                str(node.properties),
                *quorum,
            ]
            out = (node.data_dir / "format.log").open("wb")
            running.append(
                (node, out, subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=out))
            )
        failures = []
        for node, out, proc in running:
            code = proc.wait()
            out.close()
            if code != 0:
                failures.append(f"node {node.node_id}: {log_tail(node.data_dir / 'format.log')}")  # type: ignore[operator]
        if failures:
            raise BrokerStartError("formatting KRaft storage failed:\n" + "\n".join(failures))

    def _spawn(self, index: int, libs: Path) -> None:
        node = self.info.nodes[index]
        assert node.data_dir is not None and node.properties is not None and node.log is not None
        cfg = self.config
        cmd = [
            self._java(),
            f"-Xms{cfg.heap_min_mb}m",
            f"-Xmx{cfg.heap_max_mb}m",
            *cfg.gc_options,
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={node.data_dir / 'log4j2.yaml'}",
            f"-Dkafka.logs.dir={node.data_dir / 'logs'}",
            "-cp",
            f"{libs}/*",
            MAIN_CLASS,
            str(node.properties),
        ]
        with node.log.open("ab") as log:
            # A session of its own: a Ctrl-C in the terminal that ran `twin broker up` does not reach it.
            proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if cfg.die_with_parent else None,
            )
        self._procs[index] = proc
        self._set_pid(index, proc.pid)

    def _set_pid(self, index: int, pid: int | None) -> None:
        nodes = list(self.info.nodes)
        nodes[index] = nodes[index].model_copy(update={"pid": pid})
        self._info = self.info.model_copy(update={"nodes": nodes})

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        expected = sum(1 for n in self.info.nodes if n.pid is not None)
        while True:
            for index, proc in self._procs.items():
                if proc.poll() is not None:
                    node = self.info.nodes[index]
                    raise BrokerStartError(
                        f"Kafka node {node.node_id} exited with code {proc.returncode} while starting; "
                        f"log {node.log}:\n{log_tail(node.log)}"
                    )
            live = [n for n in self.info.nodes if n.pid is not None]
            if all(processes.port_open(n.port) for n in live) and (
                metadata_brokers(self.info.bootstrap, timeout_s=2.0) >= expected
            ):
                return
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- node {n.node_id} ({n.log}):\n{log_tail(n.log, 15)}" for n in live)
                raise BrokerStartError(
                    f"Kafka cluster did not report {expected} broker(s) within {timeout_s:.0f} s\n" + tails
                )
            time.sleep(0.25)
