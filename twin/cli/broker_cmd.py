"""`twin broker install|up|down|status`: the live-mode Kafka broker (Apache Kafka from its jars)."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console

from twin.cli.errors import TwinError, fail

console = Console(soft_wrap=True)


class Format(StrEnum):
    text = "text"
    json = "json"


class Provider(StrEnum):
    kafka_local = "kafka-local"
    redpanda = "redpanda"
    external = "external"


STATE_HELP = "State file recording the running broker (default: $TWIN_HOME/broker/state.json)."


def _state_path(state_file: Path | None) -> Path:
    from twin.config import paths

    return state_file or paths().broker_state


def _print_status(status: object, fmt: Format) -> None:
    from twin.streaming.broker.models import ClusterStatus

    assert isinstance(status, ClusterStatus)
    if fmt is Format.json:
        typer.echo(json.dumps({**status.model_dump(mode="json"), "healthy": status.healthy}, indent=2))
        return
    from rich.table import Table

    console.print(f"[bold]{status.provider}[/] bootstrap [cyan]{status.bootstrap}[/]", highlight=False)
    table = Table("node", "address", "pid", "process", "port")
    for n in status.nodes:
        table.add_row(
            str(n.node_id),
            n.address,
            str(n.pid) if n.pid is not None else "-",
            ("[green]alive[/]" if n.pid_alive else "[red]gone[/]") if n.pid is not None else "-",
            "[green]open[/]" if n.port_open else "[red]closed[/]",
        )
    console.print(table)


def _status_of(info: object) -> object:
    from twin.streaming.broker.external import ExternalProvider
    from twin.streaming.broker.kafka_local import LocalKafkaCluster
    from twin.streaming.broker.models import ClusterInfo, ClusterStatus, NodeStatus
    from twin.streaming.broker.processes import port_open

    assert isinstance(info, ClusterInfo)
    if info.provider == "kafka-local":
        return LocalKafkaCluster.attach(info).status()
    if info.provider == "external":
        from twin.streaming.broker.config import ExternalConfig

        return ExternalProvider(ExternalConfig(bootstrap_servers=info.bootstrap)).status()
    return ClusterStatus(
        provider=info.provider,
        bootstrap=info.bootstrap,
        nodes=[
            NodeStatus(
                node_id=n.node_id, address=n.address, pid=None, pid_alive=False, port_open=port_open(n.port)
            )
            for n in info.nodes
        ],
    )


def register(app: typer.Typer) -> None:
    broker = typer.Typer(
        help="Run a real Kafka-API broker for live mode: install the jars, start, inspect and stop it.",
        no_args_is_help=True,
    )
    app.add_typer(broker, name="broker")

    @broker.command("install")
    def install_cmd(
        force: bool = typer.Option(False, "--force", help="Copy the jars again even when cached."),
        fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
    ) -> None:
        """Copy the pinned Apache Kafka jars into the cache with Maven (instant and offline once cached)."""
        from twin.config import paths
        from twin.streaming.broker.installer import KAFKA_VERSION, install, is_installed

        cache = paths().cache
        try:
            if is_installed(cache) and not force:
                libs, ran = install(cache)
            else:
                with console.status(f"Maven: copying Apache Kafka {KAFKA_VERSION} jars…"):
                    libs, ran = install(cache, force=force)
        except TwinError as exc:
            fail(str(exc))
        if fmt is Format.json:
            typer.echo(json.dumps({"version": KAFKA_VERSION, "libs": str(libs), "downloaded": ran}))
        else:
            what = "installed" if ran else "already cached"
            console.print(f"Apache Kafka {KAFKA_VERSION} {what}: {libs}", highlight=False)

    @broker.command("up")
    def up_cmd(
        nodes: int = typer.Option(1, "--nodes", min=1, max=5, help="Number of nodes (1 or 3 are usual)."),
        data_dir: Path | None = typer.Option(
            None, "--data-dir", help="Where node data and logs go (default: $TWIN_HOME/broker/data); wiped."
        ),
        provider: Provider = typer.Option(Provider.kafka_local, "--provider", help="Which broker to run."),
        bootstrap: str | None = typer.Option(
            None, "--bootstrap", help="host:port[,…] for --provider external."
        ),
        timeout: float = typer.Option(90.0, "--timeout", help="Seconds to wait for the cluster to answer."),
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
        fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
    ) -> None:
        """Start a fresh broker cluster, wait until it answers metadata, and record it in the state file."""
        from twin.config import paths
        from twin.streaming.broker.config import ExternalConfig, KafkaLocalConfig, RedpandaConfig
        from twin.streaming.broker.models import load_state, save_state

        state_path = _state_path(state_file)
        try:
            previous = load_state(state_path)
        except ValueError as exc:
            fail(f"unreadable state file {state_path}: {exc}")
        if previous is not None:
            status = _status_of(previous)
            if any(n.pid_alive or n.port_open for n in status.nodes):  # type: ignore[attr-defined]
                fail(f"a broker is already running at {previous.bootstrap}: run `twin broker down` first")
        try:
            if provider is Provider.kafka_local:
                from twin.streaming.broker.kafka_local import LocalKafkaCluster

                config = KafkaLocalConfig(
                    nodes=nodes,
                    data_dir=data_dir or paths().home / "broker" / "data",
                    startup_timeout_s=timeout,
                )
                with console.status(f"Starting Apache Kafka ({nodes} node{'s' if nodes > 1 else ''})…"):
                    info = LocalKafkaCluster(config=config).start()
            elif provider is Provider.redpanda:
                from twin.streaming.broker.redpanda import RedpandaProvider

                with console.status("Starting Redpanda (Docker)…"):
                    info = RedpandaProvider(RedpandaConfig(startup_timeout_s=timeout)).start(
                        keep_running=True
                    )
            else:
                from twin.streaming.broker.external import ExternalProvider

                if not bootstrap:
                    fail("--provider external needs --bootstrap host:port[,host:port…]")
                try:
                    ext = ExternalConfig(bootstrap_servers=bootstrap)
                except ValueError as exc:
                    fail(f"--bootstrap: {exc}")
                info = ExternalProvider(ext).start(timeout_s=min(timeout, 30.0))
        except TwinError as exc:
            fail(str(exc))
        save_state(info, state_path)
        if fmt is Format.json:
            typer.echo(info.model_dump_json(indent=2))
        else:
            console.print(
                f"[green]up[/]: {info.provider} bootstrap [cyan]{info.bootstrap}[/]", highlight=False
            )
            for n in info.nodes:
                console.print(f"  node {n.node_id}  {n.address}  pid {n.pid}  log {n.log}", highlight=False)
            console.print(f"state: {state_path}", highlight=False)

    @broker.command("status")
    def status_cmd(
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
        fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
    ) -> None:
        """Print the bootstrap address and each node's state (process, port); exit 1 if unhealthy."""
        from twin.streaming.broker.models import load_state

        state_path = _state_path(state_file)
        try:
            info = load_state(state_path)
        except ValueError as exc:
            fail(f"unreadable state file {state_path}: {exc}")
        if info is None:
            fail(f"no broker recorded in {state_path}: start one with `twin broker up`")
        status = _status_of(info)
        _print_status(status, fmt)
        if not status.healthy:  # type: ignore[attr-defined]
            raise typer.Exit(1)

    @broker.command("down")
    def down_cmd(
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
    ) -> None:
        """Stop exactly the processes `twin broker up` recorded (SIGTERM, then SIGKILL) and forget them."""
        from twin.streaming.broker.kafka_local import LocalKafkaCluster
        from twin.streaming.broker.models import load_state

        state_path = _state_path(state_file)
        try:
            info = load_state(state_path)
        except ValueError as exc:
            fail(f"unreadable state file {state_path}: {exc}")
        if info is None:
            console.print(f"nothing to stop: no broker recorded in {state_path}", highlight=False)
            return
        try:
            if info.provider == "kafka-local":
                with console.status("Stopping Apache Kafka…"):
                    LocalKafkaCluster.attach(info).stop()
            elif info.provider == "redpanda" and info.container_id:
                from twin.streaming.broker.redpanda import stop_container

                stop_container(info.container_id)
        except TwinError as exc:
            fail(str(exc))
        state_path.unlink(missing_ok=True)
        console.print(f"[green]down[/]: {info.provider} at {info.bootstrap}", highlight=False)
