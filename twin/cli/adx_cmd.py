"""`twin adx publish|subscriber-query|trail`: the Data Exchange stand-in, driven through the running AWS
endpoint (`twin stubs up`) with the real boto3 client and the keys of its state file."""

from __future__ import annotations

import json
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from twin.cli.errors import fail

console = Console(soft_wrap=True)


class Format(StrEnum):
    text = "text"
    json = "json"


STATE_HELP = "The AWS endpoint's state folder (default: $TWIN_HOME/aws)."


def _endpoint(state_dir: Path | None) -> Any:
    from twin.stubs.aws.server import default_state_dir, endpoint_status

    folder = state_dir or default_state_dir()
    state = endpoint_status(folder)
    if state is None:
        fail(f"no AWS endpoint is running from {folder}: start it with `twin stubs up` (or pass --state-dir)")
    return state


def _client(state: Any, service: str, account: str) -> Any:
    import boto3

    try:
        cred = state.credential_for(account)
    except KeyError:
        known = ", ".join(sorted({c.account_id for c in state.credentials}))
        fail(f"--account {account} is not an account of this endpoint; known: {known}")
    return boto3.client(
        service,
        endpoint_url=state.url,
        region_name=state.region,
        aws_access_key_id=cred.access_key_id,
        aws_secret_access_key=cred.secret_access_key,
    )


def register(app: typer.Typer) -> None:
    adx = typer.Typer(
        help="AWS Data Exchange stand-in: publish products from gold, read them as a subscriber.",
        no_args_is_help=True,
    )
    app.add_typer(adx, name="adx")

    @adx.command("publish")
    def publish(
        db: Path = typer.Option(
            None, "--db", help="Warehouse database (default: $TWIN_HOME/warehouse.duckdb)."
        ),
        state_dir: Path = typer.Option(None, "--state-dir", help=STATE_HELP),
        as_of: str = typer.Option(
            None,
            "--as-of",
            help="Business time for the NAV freshness gate (ISO; default: the endpoint's business now).",
        ),
        fmt: Format = typer.Option(Format.text, "--format", help="text or json."),
    ) -> None:
        """Publish the four data products from gold as revisions; finalize only those passing the gates."""
        from twin.cli.inputs import database
        from twin.config import paths
        from twin.stubs.adx.publish import publish_products

        try:
            when = datetime.fromisoformat(as_of) if as_of else None
        except ValueError:
            fail(f"--as-of {as_of!r} is not an ISO date-time (e.g. 2026-10-30T17:30)")
        db_path = database(db or paths().database)
        state = _endpoint(state_dir)
        when = when or state.business_now()
        import duckdb

        con = duckdb.connect(str(db_path), read_only=True)
        try:
            results = publish_products(
                con,
                dataexchange=_client(state, "dataexchange", state.provider_account),
                s3=_client(state, "s3", state.provider_account),
                work_dir=Path(state.state_dir) / "publish",
                as_of=when,
            )
        finally:
            con.close()
        if fmt is Format.json:
            typer.echo(json.dumps([r.model_dump(mode="json") for r in results], indent=2))
        else:
            for r in results:
                mark = "[green]finalized[/]" if r.finalized else "[red]not finalized[/]"
                console.print(f"[bold]{r.name}[/] ({r.product_id}) revision {r.revision_id}: {mark}")
                for c in r.report.checks:
                    flag = "[green]pass[/]" if c.passed else "[red]FAIL[/]"
                    where = f" {c.asset}" if c.asset else ""
                    console.print(f"  {flag} {c.gate}{where}: {c.detail}", highlight=False)
                if r.refused_by_service:
                    console.print(
                        f"  [red]refused by the service:[/] {r.refused_by_service}", highlight=False
                    )
        if not all(r.finalized for r in results):
            raise typer.Exit(1)

    @adx.command("subscriber-query")
    def subscriber_query(
        sql: str = typer.Argument(
            ...,
            help="SQL over the products the account is entitled to, e.g. "
            '"SELECT count(*) FROM esg_insights.fund_nav".',
        ),
        account: str = typer.Option(..., "--account", help="The subscriber's 12-digit AWS account id."),
        state_dir: Path = typer.Option(None, "--state-dir", help=STATE_HELP),
        fmt: Format = typer.Option(Format.text, "--format", help="text or json."),
    ) -> None:
        """Query products zero-copy from the subscriber's own DuckDB: only accepted grants are readable."""
        import duckdb

        from twin.stubs.adx.subscriber import entitled_tables, subscriber_connection

        state = _endpoint(state_dir)
        tables = entitled_tables(_client(state, "dataexchange", account), Path(state.state_dir) / "adx")
        con = subscriber_connection(tables)
        try:
            rel = con.sql(sql)
            cols, rows = (list(rel.columns), rel.fetchall()) if rel is not None else ([], [])
        except duckdb.Error as e:
            names = ", ".join(f"{t.schema_name}.{t.table}" for t in tables) or "none (no accepted grant)"
            fail(
                f"account {account} cannot run this query: {str(e).splitlines()[0].rstrip('.')}. "
                f"Entitled tables: {names}",
                1,
            )
        finally:
            con.close()
        if fmt is Format.json:
            typer.echo(json.dumps({"columns": cols, "rows": [list(r) for r in rows]}, default=str, indent=2))
            return
        from rich.table import Table

        table = Table(*cols)
        for r in rows:
            table.add_row(*("NULL" if v is None else str(v) for v in r))
        console.print(table)

    @adx.command("trail")
    def trail(
        state_dir: Path = typer.Option(None, "--state-dir", help=STATE_HELP),
        account: str = typer.Option(None, "--account", help="Only calls made by this account."),
        service: str = typer.Option(
            None, "--service", help="Only calls to this service (e.g. dataexchange)."
        ),
        outcome: str = typer.Option(None, "--outcome", help="success, error or denied."),
        limit: int = typer.Option(50, "--limit", min=1, help="The newest N matching calls."),
        fmt: Format = typer.Option(Format.text, "--format", help="text or json."),
    ) -> None:
        """Every AWS call through the endpoint, CloudTrail-like (`twin audit verify` checks its chain)."""
        from twin.stubs.aws.server import default_state_dir
        from twin.stubs.aws.trail import query_trail

        log = (state_dir or default_state_dir()) / "cloudtrail.jsonl"
        if not log.is_file():
            fail(f"no audit trail at {log}: start the endpoint with `twin stubs up` (or pass --state-dir)")
        rows = query_trail(log, account=account, service=service, outcome=outcome, limit=limit)
        if fmt is Format.json:
            typer.echo(json.dumps(rows, indent=2))
            return
        from rich.table import Table

        table = Table("seq", "time", "account", "service", "operation", "status", "error", "request id")
        for r in rows:
            table.add_row(
                str(r.get("seq")),
                str(r.get("ts", ""))[:23],
                str(r.get("account") or "-"),
                str(r.get("service")),
                str(r.get("operation") or "-"),
                str(r.get("status")),
                str(r.get("error_code") or ""),
                str(r.get("request_id")),
            )
        console.print(table)
