"""`twin bench NAME`: runs `benchmarks/bench_NAME.py` from the source tree (its `main(argv)`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import typer

from twin.cli.errors import fail

BENCH_DIR = Path(__file__).resolve().parents[2] / "benchmarks"


def _available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in BENCH_DIR.glob("bench_*.py"))


def register(app: typer.Typer) -> None:
    @app.command(
        "bench",
        # --help is handled here, not by click: after a benchmark's name it belongs to that benchmark
        # (`twin bench ingest --help` prints the benchmark's own options), before one it is ours.
        context_settings={
            "allow_extra_args": True,
            "ignore_unknown_options": True,
            "help_option_names": [],
        },
    )
    def bench(
        ctx: typer.Context,
        name: str | None = typer.Argument(
            None, help="Which benchmark: see `twin bench list`, or `all`.", show_default=False
        ),
    ) -> None:
        """Run a benchmark behind BENCHMARKS.md; extra arguments go to it (`twin bench NAME --help`)."""
        names = _available()
        if name is None or name in ("--help", "-h"):
            typer.echo(ctx.get_help())
            typer.echo(f"\nBenchmarks: {', '.join(names)}")
            raise typer.Exit(0 if name else 2)
        if name == "list":
            for n in names:
                typer.echo(n)
            return
        chosen = names if name == "all" else [name]
        for n in chosen:
            path = BENCH_DIR / f"bench_{n}.py"
            if not path.exists():
                fail(f"no benchmark named {n!r}; available: {', '.join(names) or 'none'}")
            spec = importlib.util.spec_from_file_location(f"bench_{n}", path)
            assert spec and spec.loader
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.main(list(ctx.args))
