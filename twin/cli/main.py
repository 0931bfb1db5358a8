"""Entry point of the `twin` CLI: one app, each area's commands registered from its own module."""

from __future__ import annotations

import typer

from twin.cli import (
    adx_cmd,
    api_cmd,
    bench_cmd,
    broker_cmd,
    demo_cmd,
    entitlements_cmd,
    fixtures_cmd,
    governance_cmd,
    serve_cmd,
    sim_cmd,
    streaming_cmd,
    stubs_cmd,
    warehouse_cmd,
)
from twin.cli.errors import DEBUG_ENV, TwinGroup

app = typer.Typer(
    name="twin",
    help="A local-first digital twin of an asset manager's client data-distribution platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=TwinGroup,  # the single error path: an unhandled exception becomes one line, not a traceback
)


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help=f"Show the full traceback of an unexpected error (or set {DEBUG_ENV}=1)."
    ),
) -> None:
    """twin: chaos scenarios, SLA gates and cost models on an offline copy of the platform."""


for module in (
    demo_cmd,
    fixtures_cmd,
    warehouse_cmd,
    governance_cmd,
    broker_cmd,
    streaming_cmd,
    sim_cmd,
    bench_cmd,
    api_cmd,
    serve_cmd,
    adx_cmd,
    stubs_cmd,
    entitlements_cmd,
):
    module.register(app)


if __name__ == "__main__":
    app()
