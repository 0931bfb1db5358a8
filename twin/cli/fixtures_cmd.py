"""`twin fixtures generate|verify`: deterministic synthetic data (see twin/fixtures)."""

from __future__ import annotations

import json
import math
from enum import StrEnum
from pathlib import Path

import typer

from twin.cli.errors import fail

fixtures_app = typer.Typer(
    help="Deterministic synthetic data: one Parquet file per entity.", no_args_is_help=True
)


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


def _parse_scale(raw: str) -> float:
    try:
        scale = float(raw)
    except ValueError:
        fail(f"--scale must be a number, got {raw!r}")
    if math.isnan(scale) or math.isinf(scale):
        fail(f"--scale must be a finite number, got {raw!r}")
    if scale <= 0:
        fail(f"--scale must be greater than 0, got {raw!r}")
    return scale


@fixtures_app.command("generate")
def generate_cmd(
    scale: str = typer.Option(
        "0.01", "--scale", metavar="FLOAT", help="Size: 1.0 = 100k customers, 2M trades (linear)."
    ),
    seed: int = typer.Option(
        42, "--seed", min=0, help="Seed for every random generator (>= 0); same seed, same data."
    ),
    out: Path | None = typer.Option(None, "--out", help="Output directory (default: TWIN_HOME/fixtures)."),
    output_format: OutputFormat = typer.Option(
        OutputFormat.TEXT, "--format", help="text or json (manifest)."
    ),
) -> None:
    """Generate the fixture set (Parquet per entity + manifest.json)."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from twin.config import paths
    from twin.fixtures import STEPS, FixtureError, generate

    value = _parse_scale(scale)
    target = out if out is not None else paths().fixtures
    if target.exists() and not target.is_dir():
        fail(f"--out is a file, not a directory: {target}")
    console = Console(stderr=True)
    try:
        with Progress(
            TextColumn("[bold]fixtures[/] {task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
            console=console,
            transient=output_format is OutputFormat.JSON,
        ) as bar:
            task = bar.add_task("starting", total=len(STEPS))
            manifest = generate(
                target,
                scale=value,
                seed=seed,
                progress=lambda name, done, total: bar.update(task, completed=done, description=name),
            )
    except (FixtureError, OSError) as exc:
        fail(str(exc))
    if output_format is OutputFormat.JSON:
        typer.echo(json.dumps(manifest.model_dump(mode="json"), indent=2, sort_keys=True))
        return
    from rich.table import Table

    table = Table(title=f"fixtures in {target} (scale {value:g}, seed {seed})")
    table.add_column("entity")
    table.add_column("rows", justify="right")
    table.add_column("duplicates", justify="right")
    table.add_column("late", justify="right")
    for name, rows in manifest.rows.items():
        feed = manifest.feeds.get(name)
        table.add_row(
            name, f"{rows:,}", f"{feed.duplicates:,}" if feed else "", f"{feed.late:,}" if feed else ""
        )
    Console().print(table)
    Console().print(f"digest {manifest.digest}")


@fixtures_app.command("verify")
def verify_cmd(
    directory: Path | None = typer.Argument(None, help="Fixture directory (default: TWIN_HOME/fixtures)."),
    output_format: OutputFormat = typer.Option(OutputFormat.TEXT, "--format", help="text or json."),
) -> None:
    """Re-read every file and check its content digest against manifest.json."""
    from twin.config import paths
    from twin.fixtures import FixtureError, entity_digests, load_manifest

    target = directory if directory is not None else paths().fixtures
    try:
        manifest = load_manifest(target)
        actual = entity_digests(target)
    except FixtureError as exc:
        fail(str(exc))
    changed = sorted(name for name, digest in actual.items() if manifest.digests.get(name) != digest)
    if output_format is OutputFormat.JSON:
        typer.echo(json.dumps({"directory": str(target), "ok": not changed, "changed": changed}))
    if changed:
        fail(f"content differs from manifest.json in {target}: {', '.join(f'{n}.parquet' for n in changed)}")
    if output_format is OutputFormat.TEXT:
        typer.echo(f"ok: {len(actual)} files in {target} match digest {manifest.digest}")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the `twin` app."""
    app.add_typer(fixtures_app, name="fixtures")
