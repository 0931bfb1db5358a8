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
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )
    def bench(
        ctx: typer.Context,
        name: str = typer.Argument(..., help="Which benchmark: see `twin bench list`, or `all`."),
    ) -> None:
        """Run a benchmark behind BENCHMARKS.md; extra arguments go to the benchmark (try `--help`)."""
        names = _available()
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
