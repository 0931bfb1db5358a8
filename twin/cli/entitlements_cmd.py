"""`twin entitlements run|status|replay-dlq|resolve`: the entitlement workflow against the stand-ins
`twin stubs up` started (the Salesforce org over HTTPS, the AWS endpoint with moto's Step Functions)."""

from __future__ import annotations

import json
import threading
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from twin.cli.errors import fail
from twin.streaming.broker.models import recorded_bootstrap

if TYPE_CHECKING:
    from twin.entitlements.live import AwsAccess, SalesforceAccess
    from twin.entitlements.worker import EntitlementWorker

console = Console(soft_wrap=True)
STATE_HELP = "State file of `twin stubs up` (default: $TWIN_HOME/stubs/state.json)."
STATUSES = ("Granted", "Revoked", "Failed", "Manual Review", "Pending")


class Format(StrEnum):
    text = "text"
    json = "json"


def _stubs_path(state_file: Path | None) -> Path:
    from twin.config import paths

    return state_file or paths().home / "stubs" / "state.json"


def _access(state_file: Path | None) -> tuple[AwsAccess, SalesforceAccess, str | None]:
    """Where the running stand-ins are, from the stubs' state files; a clear error when they are not up."""
    from twin.entitlements.live import AwsAccess, SalesforceAccess
    from twin.stubs.aws.server import endpoint_status
    from twin.stubs.process import load_state

    path = _stubs_path(state_file)
    try:
        state = load_state(path)
    except ValueError as exc:
        fail(f"unreadable state file {path}: {exc}")
    if state is None or state.salesforce is None:
        fail(f"no Salesforce stand-in recorded in {path}: start the stand-ins with `twin stubs up`")
    aws = endpoint_status(path.parent / "aws")
    if aws is None:
        fail("the AWS endpoint is not running: start it with `twin stubs up` (without --no-aws)")
    cred = aws.credential_for(aws.provider_account)
    sf = state.salesforce
    return (
        AwsAccess(
            url=aws.url,
            region=aws.region,
            access_key_id=cred.access_key_id,
            secret_access_key=cred.secret_access_key,
        ),
        SalesforceAccess(
            login_domain=sf.login_domain,
            username=sf.username,
            password=sf.password,
            consumer_key=sf.consumer_key,
            consumer_secret=sf.consumer_secret,
            ca_cert=sf.ca_cert,
        ),
        sf.cdc_topic,
    )


def _worker_state() -> Path:
    from twin.config import paths

    folder = paths().home / "entitlements"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / "worker.json"


def _worker(state_file: Path | None) -> tuple[EntitlementWorker, str | None]:
    from twin.entitlements.live import build_worker

    aws, sf, topic = _access(state_file)
    try:
        return build_worker(aws, sf, _worker_state()), topic
    except Exception as exc:  # connection refused, login refused: name the service and the next step
        fail(f"cannot reach the stand-ins ({type(exc).__name__}: {exc}); check `twin stubs status`")


def register(app: typer.Typer) -> None:
    ent = typer.Typer(
        help="The entitlement workflow: closed deals granted in Data Exchange, terminations revoked.",
        no_args_is_help=True,
    )
    app.add_typer(ent, name="entitlements")

    @ent.command("run")
    def run_cmd(
        bootstrap: str | None = typer.Option(
            None, "--bootstrap", help="Kafka bootstrap of the CDC topic (default: the `twin broker up` one)."
        ),
        duration: float = typer.Option(
            0.0, "--duration", min=0.0, help="Stop after this many seconds (0: until Ctrl-C)."
        ),
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
    ) -> None:
        """Deploy the state machine, then turn Salesforce change events into grants and revocations."""
        from twin.streaming.kafka_adapter import KafkaBroker

        worker, topic = _worker(state_file)
        server = bootstrap or recorded_bootstrap()
        if not topic or not server:
            fail(
                "the Salesforce stand-in publishes no CDC topic: start a broker (`twin broker up`), "
                "then restart the stand-ins (`twin stubs down && twin stubs up`)"
            )
        console.print(
            f"deployed {worker.deployment.state_machine_arn}; {len(worker.products)} product(s) mapped; "
            f"consuming {topic} at {server} (Ctrl-C stops)",
            highlight=False,
            markup=False,
        )
        stop = threading.Event()
        if duration:
            threading.Timer(duration, stop.set).start()
        try:
            worker.run_broker(KafkaBroker(server), topic, stop)
        except KeyboardInterrupt:
            stop.set()
        counts = Counter(o.status for o in worker.state.outcomes)
        console.print(f"stopped; outcomes so far: {dict(sorted(counts.items()))}", highlight=False)

    @ent.command("status")
    def status_cmd(
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
        fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
    ) -> None:
        """Executions by status, the DLQ's depth and the worker's outcomes."""
        worker, _ = _worker(state_file)
        executions: Counter[str] = Counter()
        pages = worker.sfn.get_paginator("list_executions").paginate(
            stateMachineArn=worker.deployment.state_machine_arn
        )
        for page in pages:
            executions.update(e["status"] for e in page["executions"])
        dlq = worker.dlq_messages()
        body: dict[str, Any] = {
            "state_machine": worker.deployment.state_machine_arn,
            "products": worker.products,
            "executions": dict(sorted(executions.items())),
            "dlq": [{k: m[k] for k in ("recordId", "step", "error", "cause")} for m in dlq],
            "outcomes": dict(sorted(Counter(o.status for o in worker.state.outcomes).items())),
        }
        if fmt is Format.json:
            typer.echo(json.dumps(body, indent=2))
            return
        for key in ("state_machine", "products", "executions", "outcomes"):
            console.print(f"{key:<14} {body[key]}", highlight=False, markup=False)
        console.print(f"{'dlq':<14} {len(dlq)} message(s)", highlight=False, markup=False)
        for m in body["dlq"]:
            console.print(
                f"  {m['recordId']}  {m['step']}  {m['error']}: {m['cause']}", highlight=False, markup=False
            )

    @ent.command("replay-dlq")
    def replay_cmd(
        record: str | None = typer.Option(None, "--record", help="Replay only this record's messages."),
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
        fmt: Format = typer.Option(Format.text, "--format", help="Output format."),
    ) -> None:
        """Run dead-lettered entitlements again (after fixing their cause) and write the outcome back."""
        worker, _ = _worker(state_file)
        outcomes = worker.replay_dlq(record_id=record)
        if fmt is Format.json:
            typer.echo(json.dumps([o.model_dump() for o in outcomes], indent=2))
            return
        if not outcomes:
            console.print("the DLQ holds nothing to replay", highlight=False)
        for o in outcomes:
            console.print(
                f"{o.record_id}  {o.status}  {o.grant_id or o.error}", highlight=False, markup=False
            )

    @ent.command("resolve")
    def resolve_cmd(
        record: str = typer.Argument(..., help="The Opportunity or Contract id."),
        status: str = typer.Option("Manual Review", "--status", help=f"One of: {', '.join(STATUSES)}."),
        note: str = typer.Option("", "--note", help="Why; written to Entitlement_Error__c."),
        sobject: str = typer.Option("Opportunity", "--sobject", help="Opportunity or Contract."),
        state_file: Path | None = typer.Option(None, "--state-file", help=STATE_HELP),
    ) -> None:
        """Manual intervention: set a record's entitlement status by hand and drop its DLQ messages."""
        if status not in STATUSES:
            fail(f"--status {status!r} is not one of {', '.join(STATUSES)}")
        if sobject not in ("Opportunity", "Contract"):
            fail(f"--sobject {sobject!r}: entitlements live on Opportunity or Contract")
        worker, _ = _worker(state_file)
        dropped = worker.resolve(record, sobject, status, note)
        console.print(f"{sobject} {record}: {status}; {dropped} DLQ message(s) dropped", highlight=False)
