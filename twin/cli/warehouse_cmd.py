"""`twin warehouse build|load|refresh` and `twin catalog lineage`: the medallion warehouse from the CLI."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.tree import Tree

from twin.cli import params, render
from twin.cli.errors import fail

if TYPE_CHECKING:
    from twin.quality import QualityReport
    from twin.warehouse.catalog import LineageNode

console = Console()


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


DB_HELP = "DuckDB file (default: <twin home>/warehouse.duckdb)."


def _db(db: Path | None) -> Path:
    from twin.cli.inputs import database
    from twin.config import paths

    # checked before `build --fresh` deletes it: a path that is not a DuckDB file is never removed
    return database(db if db is not None else paths().database, must_exist=False)


def _quality(path: Path) -> QualityReport:
    """The data-quality checks on a just-built warehouse (they read what dbt recorded there)."""
    from twin.quality import check_warehouse
    from twin.warehouse.engine import Warehouse

    with Warehouse(path) as wh:
        return check_warehouse(wh)


def register(app: typer.Typer) -> None:
    """Add `twin warehouse …` and `twin catalog …`."""
    warehouse = typer.Typer(help="The DuckDB medallion warehouse (bronze → silver → gold, built by dbt).")
    catalog = typer.Typer(help="The data catalog: lineage and PII tags from dbt's manifest.")
    app.add_typer(warehouse, name="warehouse")
    app.add_typer(catalog, name="catalog")

    @warehouse.command("build")
    def build(
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),
        fixtures: Path | None = typer.Option(
            None, "--fixtures", help="Fixture folder (default: <twin home>/fixtures)."
        ),
        fresh: bool = typer.Option(
            False,
            "--fresh",
            help="Delete an existing database first, keeping its erasure register (default: append).",
        ),
        fmt: OutputFormat = typer.Option(OutputFormat.TEXT, "--format", help="text or json."),
    ) -> None:
        """Load fixture files into bronze and run `dbt build` (silver, gold and their tests).

        On an existing database the files are appended to bronze again, like a re-delivery: silver
        keeps one version per key, so gold's figures do not change. `--fresh` starts from an empty file."""
        from twin.config import paths
        from twin.warehouse.build import build_warehouse
        from twin.warehouse.dbt_runner import DbtError
        from twin.warehouse.engine import WarehouseError

        fixtures_dir = fixtures if fixtures is not None else paths().fixtures
        if not fixtures_dir.is_dir():
            fail(f"fixtures folder not found: {fixtures_dir} (run `twin fixtures generate` first)")
        db_path = _db(db)
        try:
            with console.status("building the warehouse…") as status:
                result = build_warehouse(
                    db_path, fixtures_dir, progress=lambda m: status.update(m), fresh=fresh
                )
        except (WarehouseError, DbtError) as exc:
            fail(str(exc))
        quality = _quality(db_path)
        if fmt is OutputFormat.JSON:
            typer.echo(
                json.dumps({**result.model_dump(mode="json"), "quality": quality.model_dump()}, indent=2)
            )
            return
        table = Table(title=f"warehouse built in {result.seconds:.1f} s: {result.db_path}")
        for col in ("layer", "table", "rows"):
            table.add_column(col, justify="right" if col == "rows" else "left")
        for layer, counts in result.rows.items():
            for name, n in counts.items():
                table.add_row(layer, name, f"{n:,}")
        console.print(table)
        console.print(
            f"dbt: {result.models_built} models built, {result.tests_passed} tests passed, "
            f"{len(result.tests_failed)} failed"
        )
        console.print("\n".join(quality.lines()), highlight=False)

    @warehouse.command("refresh")
    def refresh(db: Path | None = params.db(), fmt: params.Format = params.output_format()) -> None:
        """Bring silver and gold up to date with new bronze rows, without starting dbt."""
        from twin.quality import check_warehouse
        from twin.warehouse.engine import Warehouse, WarehouseError
        from twin.warehouse.refresh import refresh_gold

        path = _db(db)
        if not path.is_file():
            fail(f"no warehouse at {path} (run `twin warehouse build` first)")
        try:
            with Warehouse(path) as wh:
                stats = refresh_gold(wh)
                quality = check_warehouse(wh)
        except WarehouseError as exc:
            fail(str(exc))
        # The checks' verdict on stderr: seen beside any output format, never mixed into JSON or CSV.
        err = Console(stderr=True)
        for line in quality.lines():
            err.print(line, highlight=False)
        if fmt == params.Format.json:
            typer.echo(
                json.dumps({**stats.model_dump(mode="json"), "quality": quality.model_dump()}, indent=2)
            )
            return
        changes = (
            [
                {"relation": f"bronze.{t}", "change": "new rows", "rows": n}
                for t, n in stats.new_bronze_rows.items()
            ]
            + [{"relation": r, "change": "merged", "rows": n} for r, n in stats.merged.items()]
            + [{"relation": r, "change": "keys recomputed", "rows": n} for r, n in stats.keyed.items()]
            + [{"relation": r, "change": "rebuilt", "rows": None} for r in stats.rebuilt]
        )
        title = f"refresh: {stats.seconds:.2f} s" + ("" if changes else ", nothing new in bronze")
        render.rows(changes, fmt, columns=("relation", "change", "rows"), title=title, console=console)

    @warehouse.command("load")
    def load(
        target: str = typer.Argument(..., help="SCHEMA.TABLE in a published schema, e.g. published.rates."),
        file: Path = typer.Argument(..., help="A .parquet or .csv file."),
        db: Path | None = typer.Option(None, "--db", help=DB_HELP),
        replace: bool = typer.Option(False, "--replace", help="Overwrite the table if it exists."),
    ) -> None:
        """Load a Parquet or CSV file into a table users may read (through governance)."""
        from twin.warehouse.engine import Warehouse, WarehouseError
        from twin.warehouse.published import load_published

        try:
            with Warehouse(_db(db)) as wh:
                n = load_published(wh, target, file, replace=replace)
        except WarehouseError as exc:
            fail(str(exc))
        console.print(f"loaded {n:,} rows into {target}")

    @catalog.command("lineage")
    def lineage_cmd(
        relation: str = typer.Argument(..., help="A model as schema.table, e.g. gold.customer_360."),
        manifest: Path | None = typer.Option(
            None, "--manifest", help="A dbt manifest.json (default: parse the bundled project)."
        ),
        fmt: OutputFormat = typer.Option(OutputFormat.TEXT, "--format", help="text or json."),
    ) -> None:
        """Show where a model's data comes from (bronze → silver → gold), with PII-tagged columns."""
        from twin.warehouse.catalog import lineage, project_manifest
        from twin.warehouse.dbt_runner import DbtError
        from twin.warehouse.engine import WarehouseError

        try:
            if manifest is not None:
                if not manifest.is_file():
                    fail(f"manifest not found: {manifest}")
                data = json.loads(manifest.read_text())
            else:
                data = project_manifest()
            tree = lineage(data, relation)
        except (WarehouseError, DbtError, json.JSONDecodeError, KeyError) as exc:
            fail(f"cannot show lineage: {exc}")
        except (ValueError, TypeError, AttributeError) as exc:
            if manifest is None:
                raise  # the bundled project's own manifest: a bug, for the CLI's error path
            # not UTF-8, or JSON that is not a dbt manifest (nodes/sources mappings of objects)
            fail(f"{manifest} is not a dbt manifest.json: {type(exc).__name__}: {exc}")
        if fmt is OutputFormat.JSON:
            typer.echo(tree.model_dump_json(indent=2))
            return

        def label(node: LineageNode) -> str:
            pii = f" [red]PII: {', '.join(node.pii_columns)}[/]" if node.pii_columns else ""
            return f"[bold]{node.relation}[/] ({node.kind}){pii}"

        def add(parent: Tree, node: LineageNode) -> None:
            for up in node.upstream:
                add(parent.add(label(up)), up)

        root = Tree(label(tree))
        add(root, tree)
        console.print(root)
