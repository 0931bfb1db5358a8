"""`twin stubs up|down|status`: the stand-ins real SDKs talk to in live mode (the Salesforce REST API over
HTTPS, and the AWS endpoint: moto plus twin's Data Exchange behind one router), run as background
processes recorded in state files like `twin broker`'s."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from twin.cli.errors import TwinError, fail
from twin.streaming.broker.models import recorded_bootstrap

if TYPE_CHECKING:
    from twin.stubs.aws.server import AwsEndpointState
    from twin.stubs.process import SalesforceProcess, StubsState

console = Console(soft_wrap=True)


class Format(StrEnum):
    text = "text"
    json = "json"


STATE_HELP = "State file recording the running stand-ins (default: $TWIN_HOME/stubs/state.json)."


def _state_path(state_file: Path | None) -> Path:
    from twin.config import paths

    return state_file or paths().home / "stubs" / "state.json"


def _load(state_path: Path) -> StubsState | None:
    from twin.stubs.process import load_state

    try:
        return load_state(state_path)
    except ValueError as exc:
        fail(f"unreadable state file {state_path}: {exc}; remove it if no stand-in is running")


def _print_salesforce(sf: SalesforceProcess) -> None:
    rows = [
        ("instance URL", sf.instance_url),
        ("login domain", f"{sf.login_domain}  (simple-salesforce: domain=…)"),
        ("username", sf.username),
        ("password", sf.password),
        ("security token", sf.security_token),
        ("consumer key", sf.consumer_key),
        ("consumer secret", sf.consumer_secret),
        ("CA certificate", f"{sf.ca_cert}  (trust it: REQUESTS_CA_BUNDLE or session.verify)"),
        ("CDC topic", sf.cdc_topic or "(no broker: start one with `twin broker up`, or pass --bootstrap)"),
        ("pid / log", f"{sf.pid}  {sf.log}"),
    ]
    console.print("[bold]salesforce[/]", highlight=False)
    for key, value in rows:
        console.print(f"  {key:<16} {value}", highlight=False, markup=False)


def _aws_dir(state_path: Path) -> Path:
    """The AWS endpoint keeps its own state file, trail and Data Exchange files beside the stubs' state."""
    return state_path.parent / "aws"


def _aws_json(aws: AwsEndpointState) -> dict[str, object]:
    return aws.model_dump(mode="json")


def _print_aws(aws: AwsEndpointState) -> None:
    from twin.stubs.aws.server import INTERPRETER_KEY

    console.print("[bold]aws[/] (moto + Data Exchange behind one router)", highlight=False)
    rows = [("endpoint URL", aws.url), ("region", aws.region), ("pid / trail", f"{aws.pid}  {aws.audit_log}")]
    rows += [
        (f"account {c.account_id}", f"{c.access_key_id} / {c.secret_access_key}")
        for c in aws.credentials
        if c.access_key_id != INTERPRETER_KEY[0]  # moto's Step Functions interpreter: not for clients
    ]
    for key, value in rows:
        console.print(f"  {key:<16} {value}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    stubs = typer.Typer(
        help="Run the stand-ins real SDKs talk to (Salesforce over HTTPS): start, inspect and stop them.",
        no_args_is_help=True,
    )
    app.add_typer(stubs, name="stubs")

    @stubs.command("up")
    def up_cmd(
        bootstrap: str | None = typer.Option(
            None,
            "--bootstrap",
            help="Kafka bootstrap for CDC events (default: the broker `twin broker up` ran; '' for none).",
        ),
        fixtures: Path | None = typer.Option(
            None,
            "--fixtures",
            help="Fixture folder seeding the org on first start (default: $TWIN_HOME/fixtures).",
        ),
        api_limit: int = typer.Option(
            5_000, "--api-limit", min=1, help="Salesforce API calls per rolling minute."
        ),
        port: int = typer.Option(0, "--port", min=0, max=65535, help="Port on 127.0.0.1 (0: any free port)."),
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
        aws: bool = typer.Option(
            True, "--aws/--no-aws", help="Also start the AWS endpoint (moto + Data Exchange)."
        ),
        fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
    ) -> None:
        """Start the Salesforce stand-in (HTTPS) and the AWS endpoint on 127.0.0.1; print what a client
        needs."""
        from twin.config import paths
        from twin.stubs.aws.server import default_config, start_aws_endpoint
        from twin.stubs.process import StubsState, health, save_state, start_salesforce, stop_salesforce

        state_path = _state_path(state_file)
        previous = _load(state_path)
        running = previous.salesforce if previous is not None else None
        if running is not None and health(running).pid_alive:
            fail(
                f"the Salesforce stand-in is already running at {running.instance_url}: "
                "run `twin stubs down` first"
            )
        fixture_dir = fixtures or paths().fixtures
        try:
            with console.status("Starting the Salesforce stand-in…"):
                sf = start_salesforce(
                    state_path.parent / "salesforce",
                    fixtures=fixture_dir if fixture_dir.is_dir() else None,
                    bootstrap=bootstrap if bootstrap is not None else recorded_bootstrap(),
                    api_limit=api_limit,
                    port=port,
                )
        except TwinError as exc:
            fail(str(exc))
        save_state(StubsState(salesforce=sf), state_path)
        endpoint = None
        if aws:
            try:
                with console.status("Starting the AWS endpoint (moto + Data Exchange)…"):
                    endpoint = start_aws_endpoint(default_config(_aws_dir(state_path)))
            except RuntimeError as exc:
                stop_salesforce(sf)  # all or nothing: no half-started stand-ins left behind
                state_path.unlink(missing_ok=True)
                fail(str(exc))
        if fmt is Format.json:
            body: dict[str, object] = {"salesforce": sf.model_dump(mode="json")}
            if endpoint is not None:
                body["aws"] = _aws_json(endpoint)
            typer.echo(json.dumps(body, indent=2))
            return
        console.print("[green]up[/]", highlight=False)
        _print_salesforce(sf)
        if endpoint is not None:
            _print_aws(endpoint)
        console.print(f"state: {state_path}", highlight=False, markup=False)

    @stubs.command("status")
    def status_cmd(
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
        fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
    ) -> None:
        """Print each stand-in's endpoint and whether its process and port answer; exit 1 if unhealthy."""
        from twin.stubs.aws.server import endpoint_status
        from twin.stubs.process import health

        state_path = _state_path(state_file)
        state = _load(state_path)
        if state is None or state.salesforce is None:
            fail(f"no stand-in recorded in {state_path}: start them with `twin stubs up`")
        sf = state.salesforce
        h = health(sf)
        endpoint = endpoint_status(_aws_dir(state_path))
        if fmt is Format.json:
            body: dict[str, object] = {
                "salesforce": {**sf.model_dump(mode="json"), **h.model_dump(), "healthy": h.healthy}
            }
            if endpoint is not None:
                body["aws"] = _aws_json(endpoint)
            typer.echo(json.dumps(body, indent=2))
        else:
            if endpoint is not None:
                _print_aws(endpoint)
            _print_salesforce(sf)
            mark = "[green]healthy[/]" if h.healthy else "[red]unhealthy[/]"
            console.print(
                f"  {'state':<16} {mark} (process {'alive' if h.pid_alive else 'gone'}, "
                f"port {'open' if h.port_open else 'closed'})",
                highlight=False,
            )
        if not h.healthy:
            raise typer.Exit(1)

    @stubs.command("down")
    def down_cmd(
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
    ) -> None:
        """Stop exactly the processes `twin stubs up` recorded (their state is kept for the next `up`)."""
        from twin.stubs.aws.server import stop_aws_endpoint
        from twin.stubs.process import stop_salesforce

        state_path = _state_path(state_file)
        state = _load(state_path)
        aws_dir = _aws_dir(state_path)
        if aws_dir.is_dir():
            with console.status("Stopping the AWS endpoint…"):
                if stop_aws_endpoint(aws_dir):
                    console.print("[green]down[/]: aws endpoint stopped", highlight=False)
        if state is None or state.salesforce is None:
            console.print(
                f"nothing to stop: no stand-in recorded in {state_path}", highlight=False, markup=False
            )
            return
        sf = state.salesforce
        with console.status("Stopping the Salesforce stand-in…"):
            stopped = stop_salesforce(sf)
        state_path.unlink(missing_ok=True)
        what = "stopped" if stopped else "was not running"
        console.print(f"[green]down[/]: salesforce at {sf.instance_url} {what}", highlight=False)
