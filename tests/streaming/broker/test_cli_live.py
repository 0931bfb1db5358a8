"""`twin broker up/status/down` against a real Apache Kafka node."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from twin.cli.main import app
from twin.config import paths
from twin.streaming.broker import (
    ClusterInfo,
    LocalKafkaCluster,
    NodeInfo,
    install,
    load_state,
    metadata_brokers,
    save_state,
)
from twin.streaming.broker.processes import pid_alive, port_open

runner = CliRunner()


@pytest.mark.live
def test_up_status_down_round_trip(twin_home: Path) -> None:
    install(paths().cache)
    state_file = twin_home / "broker" / "state.json"
    up = runner.invoke(app, ["broker", "up", "--nodes", "1", "--format", "json"])
    try:
        assert up.exit_code == 0, up.output
        info = ClusterInfo.model_validate_json(up.stdout)
        assert load_state(state_file) == info
        (node,) = info.nodes
        assert pid_alive(node.pid)
        assert metadata_brokers(info.bootstrap) == 1

        # The properties it wrote listen on loopback only.
        assert node.properties is not None
        text = node.properties.read_text()
        listeners = [line for line in text.splitlines() if line.startswith(("listeners=", "advertised."))]
        assert listeners and all("0.0.0.0" not in line and "//127.0.0.1:" in line for line in listeners)

        status = runner.invoke(app, ["broker", "status", "--format", "json"])
        assert status.exit_code == 0, status.output
        doc = json.loads(status.stdout)
        assert doc["bootstrap"] == info.bootstrap and doc["healthy"] is True
        assert doc["nodes"][0]["pid_alive"] and doc["nodes"][0]["port_open"]

        again = runner.invoke(app, ["broker", "up"])
        assert again.exit_code == 2
        assert "already running" in again.stderr
    finally:
        down = runner.invoke(app, ["broker", "down"])
    assert down.exit_code == 0, down.output
    assert not pid_alive(node.pid)
    assert not port_open(node.port)
    assert not state_file.exists()
    after = runner.invoke(app, ["broker", "status"])
    assert after.exit_code == 2 and "no broker recorded" in after.stderr


def test_down_leaves_a_process_that_is_not_ours_alone(twin_home: Path) -> None:
    # A recorded pid that now belongs to some other program (pid reuse) must not be signalled.
    stranger = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        info = ClusterInfo(
            provider="kafka-local",
            bootstrap="127.0.0.1:1",
            nodes=[NodeInfo(node_id=1, port=1, pid=stranger.pid, properties=twin_home / "node-1.properties")],
        )
        save_state(info, twin_home / "broker" / "state.json")
        result = runner.invoke(app, ["broker", "down"])
        assert result.exit_code == 0, result.output
        assert stranger.poll() is None
    finally:
        stranger.kill()
        stranger.wait()


def test_status_reports_a_dead_node_as_unhealthy(twin_home: Path) -> None:
    info = ClusterInfo(
        provider="kafka-local",
        bootstrap="127.0.0.1:1",
        nodes=[NodeInfo(node_id=1, port=1, pid=None, properties=twin_home / "p")],
    )
    save_state(info, twin_home / "broker" / "state.json")
    result = runner.invoke(app, ["broker", "status", "--format", "json"])
    assert result.exit_code == 1
    assert json.loads(result.stdout)["healthy"] is False


def test_external_provider_up_needs_a_bootstrap(twin_home: Path) -> None:
    result = runner.invoke(app, ["broker", "up", "--provider", "external"])
    assert result.exit_code == 2
    assert "--bootstrap" in result.stderr


@pytest.mark.live
def test_nodes_started_with_die_with_parent_go_when_their_starter_dies(tmp_path: Path) -> None:
    # The starter exits without stopping anything; the kernel must take its Kafka node down.
    script = (
        "import os\n"
        "from twin.streaming.broker import KafkaLocalConfig, LocalKafkaCluster\n"
        f"cfg = KafkaLocalConfig(nodes=1, data_dir={str(tmp_path)!r}, die_with_parent=True)\n"
        "c = LocalKafkaCluster(config=cfg)\n"
        "c.start()\n"
        "print(c.nodes[0].pid, flush=True)\n"
        "os._exit(0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    pid = int(out.stdout.strip())
    deadline = time.monotonic() + 10
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(pid)


@pytest.mark.live
def test_external_provider_records_a_running_cluster_and_never_stops_it(
    twin_home: Path, kafka_cluster: LocalKafkaCluster
) -> None:
    up = runner.invoke(
        app,
        [
            "broker",
            "up",
            "--provider",
            "external",
            "--bootstrap",
            kafka_cluster.bootstrap,
            "--format",
            "json",
        ],
    )
    assert up.exit_code == 0, up.output
    assert ClusterInfo.model_validate_json(up.stdout).provider == "external"
    status = runner.invoke(app, ["broker", "status", "--format", "json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["bootstrap"] == kafka_cluster.bootstrap
    down = runner.invoke(app, ["broker", "down"])
    assert down.exit_code == 0
    assert metadata_brokers(kafka_cluster.bootstrap) == 1


@pytest.mark.live
def test_start_retries_on_new_ports_when_a_free_port_was_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from twin.streaming.broker import processes

    real_free_ports = processes.free_ports
    squatter = socket.socket()
    squatter.bind(("127.0.0.1", 0))
    squatter.listen()
    taken = squatter.getsockname()[1]
    calls: list[list[int]] = []

    def racy_free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
        # The first pick hands out a port someone else has bound since; later picks are honest.
        ports = real_free_ports(count, host)
        if not calls:
            ports[0] = taken
        calls.append(ports)
        return ports

    monkeypatch.setattr(processes, "free_ports", racy_free_ports)
    cluster = LocalKafkaCluster(nodes=1, data_dir=tmp_path)
    try:
        info = cluster.start()
        assert len(calls) == 2
        assert info.nodes[0].port != taken
        assert metadata_brokers(info.bootstrap) == 1
    finally:
        cluster.stop()
        squatter.close()
