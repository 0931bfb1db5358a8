"""`twin demo`: the main job end to end on this machine, in about a minute."""

from __future__ import annotations

import json
import time
from pathlib import Path

import typer

from twin.cli.errors import fail


def register(app: typer.Typer) -> None:
    @app.command("demo")
    def demo(
        work_dir: Path | None = typer.Option(None, help="Where to work [default: TWIN_HOME/demo]."),
        scale: float = typer.Option(0.01, help="Fixture scale."),
        seed: int = typer.Option(42, min=0, help="Fixture and scenario seed (>= 0)."),
        window: str = typer.Option("30m", help="Simulated window of advisor_peak_day."),
        start: str = typer.Option("09:30", help="Simulated time of day the window starts."),
        rebuild: bool = typer.Option(False, help="Regenerate fixtures and rebuild the warehouse."),
    ) -> None:
        """Fixtures, warehouse, advisor_peak_day in sim mode, then SLAs, the gate and the cost."""
        from rich.console import Console

        from twin.cli.sim_cmd import _console, cost_table, gate_table, ops_table, sla_table
        from twin.config import paths
        from twin.sim.durations import parse_clock, parse_duration
        from twin.sim.execute import run_to_dir
        from twin.sim.gate import gate
        from twin.sim.scenario import find_scenario, load_scenario

        console = _console()
        err = Console(stderr=True)
        try:
            span, at = parse_duration(window), parse_clock(start)
        except ValueError as e:
            fail(str(e))
        work = work_dir or paths().home / "demo"
        work.mkdir(parents=True, exist_ok=True)
        fixtures, db, marker = work / "fixtures", work / "warehouse.duckdb", work / "demo.json"
        wanted = {"scale": scale, "seed": seed}
        t0 = time.perf_counter()
        built = marker.exists() and db.exists() and json.loads(marker.read_text()) == wanted
        if rebuild or not built:
            from twin.fixtures import generate
            from twin.warehouse.build import build_warehouse

            with err.status("generating fixtures") as status:
                try:
                    generate(
                        fixtures,
                        scale=scale,
                        seed=seed,
                        progress=lambda name, i, n: status.update(f"fixtures: {name} ({i}/{n})"),
                    )
                    status.update("building the warehouse")
                    build_warehouse(
                        db, fixtures, progress=lambda msg: status.update(f"warehouse: {msg}"), fresh=True
                    )
                except Exception as e:  # shown as a clear message, not a traceback
                    fail(f"could not build the demo warehouse: {e}")
            marker.write_text(json.dumps(wanted))
            console.print(f"fixtures (scale {scale}) and warehouse built in {time.perf_counter() - t0:.1f} s")
        else:
            console.print(f"reusing the warehouse in {work} (--rebuild to start over)")
        scenario = load_scenario(find_scenario("advisor_peak_day"))
        scenario = scenario.model_copy(update={"start": at, "duration": span, "seed": seed})
        out = work / "report"
        with err.status("running advisor_peak_day (sim)") as status:
            report, result = run_to_dir(
                scenario, out=out, db=db,
                progress=lambda t, total: status.update(f"advisor_peak_day: {t / total:.0%} simulated"),
            )  # fmt: skip
        console.print(ops_table(report))
        console.print(sla_table(report))
        baseline_path = work / "baseline.json"
        baseline = json.loads(baseline_path.read_text()) if baseline_path.exists() else None
        rows = gate(report, baseline=baseline)
        console.print(gate_table(rows))
        failed = [r for r in rows if not r.passed]
        verdict = "[bold red]gate: FAIL[/]" if failed else "[green]gate: PASS[/]"
        console.print(f"{verdict} ({len(rows) - len(failed)}/{len(rows)} checks)"
                      + ("" if baseline else "; this run is now the baseline for the next"))  # fmt: skip
        if baseline is None:
            baseline_path.write_text((out / "report.json").read_text())
        console.print(cost_table(report["cost"]))
        w = result.wall
        hit_rate = report["cache"]["hit_rate"]
        console.print(
            f"{report['overall']['count']:,} governed requests, cache hit rate {hit_rate:.1%}; "
            f"{span:,.0f} simulated s in {w['simulation_s']:.1f} s wall. "
            f"Total {time.perf_counter() - t0:.1f} s."
        )
        console.print(f"HTML report: {out / 'report.html'}")
