"""`twin run`, `twin gate`, `twin cost`: scenarios, the CI gate and the cost model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from twin.cli.errors import fail
from twin.cli.inputs import database as checked_database


def _console() -> Console:
    # created per command so COLUMNS is read when the command runs; CI logs are not terminals and
    # would otherwise get rich's 80 columns, wrapping the tables
    import os
    import sys

    wide = None if sys.stdout.isatty() or "COLUMNS" in os.environ else 140
    return Console(width=wide)


def sla_table(report: dict[str, Any]) -> Table:
    # names come from scenario and SLA files: escaped, so `[/x]` in a name is text, not rich markup
    t = Table(title=f"SLAs: {escape(str(report['scenario']))}")
    for col in ("SLA", "metric", "operation", "bound", "actual", "result"):
        t.add_column(col)
    for r in report["slas"]:
        result = "[green]pass[/]" if r["passed"] else "[bold red]FAIL[/]"
        actual = "no data" if r["actual"] is None else f"{r['actual']:.4g}"
        t.add_row(escape(r["name"]), r["metric"], escape(r["operation"] or "all"), r["bound"], actual, result)
    return t


def ops_table(report: dict[str, Any]) -> Table:
    t = Table(title="operations (simulated latency, ms)")
    for col in ("operation", "count", "errors", "denied", "stale", "p50", "p95", "p99", "max"):
        t.add_column(col, justify="right")
    for op, s in report["operations"].items():
        t.add_row(escape(op), *(str(s[k]) for k in ("count", "errors", "denied", "stale", "p50_ms", "p95_ms",
                                           "p99_ms", "max_ms")))  # fmt: skip
    return t


def cost_table(cost: dict[str, Any]) -> Table:
    we, run = cost["worked_example"], cost["run"]
    t = Table(title="cost")
    t.add_column("")
    t.add_column("per day", justify="right")
    t.add_column("per year", justify="right")
    t.add_row(
        "worked example, no cache", f"${we['no_cache_per_day']:,.2f}", f"${we['no_cache_per_year']:,.0f}"
    )
    t.add_row(
        "worked example, 94% hit rate", f"${we['cache_94_per_day']:,.2f}", f"${we['cache_94_per_year']:,.0f}"
    )
    if run is not None and run.get("per_query_per_day") is None:
        t.add_row("this run, projected to a day", "cannot project", "-")
        t.add_row(
            f"this run's {run.get('window_s', 0) / 3600:g} h window alone, warehouse clock",
            f"${run['window_warehouse_clock']:,.2f} (window)",
            "-",
        )
    elif run is not None:
        proj = run.get("projection") or {}
        lo, hi = proj.get("per_query_per_day_low"), proj.get("per_query_per_day_high")
        rng = f" (${lo:,.0f}–${hi:,.0f})" if lo is not None and proj.get("method") == "profile" else ""
        t.add_row(
            f"this run, per query, day's hit rate {run['hit_rate']:.1%}",
            f"${run['per_query_per_day']:,.2f}{rng}",
            f"${run['per_query_per_year']:,.0f}",
        )
        lo, hi = proj.get("warehouse_clock_per_day_low"), proj.get("warehouse_clock_per_day_high")
        rng = f" (${lo:,.0f}–${hi:,.0f})" if lo is not None and proj.get("method") == "profile" else ""
        t.add_row(
            "this run, warehouse clock (min billing, auto-suspend)",
            f"${run['warehouse_clock_per_day']:,.2f}{rng}",
            f"${run['warehouse_clock_per_year']:,.0f}",
        )
    if run is not None and run.get("projection"):
        t.caption = run["projection"]["note"]
    return t


def sensitivity_table(cost: dict[str, Any]) -> Table:
    t = Table(title="sensitivity: cache TTL (the day's hit rate on the traffic profile, per-query cost)")
    t.add_column("TTL s", justify="right")
    t.add_column("hit rate", justify="right")
    t.add_column("per day", justify="right")
    for r in cost["sensitivity"]["by_ttl"]:
        per_day = "-" if r["per_day"] is None else f"${r['per_day']:,.2f}"
        t.add_row(f"{r['ttl_s']:g}", f"{r['hit_rate']:.1%}", per_day)
    return t


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:,.2f}"


def _cost_extras(cost: dict[str, Any]) -> list[Table]:
    """Chargeback, resource monitor, delivery models and the trajectory, where the cost section has them."""
    out = []
    cb = cost.get("chargeback")
    if cb:
        t = Table(title=f"chargeback by persona ({cb['basis']})")
        for col in ("persona", "clients", "requests", "warehouse calls", "share", "per day"):
            t.add_column(col, justify="right")
        for p in cb["personas"]:
            t.add_row(p["persona"], str(p["clients"]), f"{p['requests']:,}", f"{p['warehouse_calls']:,}",
                      f"{p['share']:.1%}", _money(p["per_day"]))  # fmt: skip
        out.append(t)
        t = Table(title="costliest clients")
        for col in ("client", "persona", "requests", "warehouse calls", "per day"):
            t.add_column(col, justify="right")
        for c in cb["top_clients"]:
            t.add_row(c["client"], c["persona"], f"{c['requests']:,}", f"{c['warehouse_calls']:,}",
                      _money(c["per_day"]))  # fmt: skip
        out.append(t)
    mon = cost.get("resource_monitor")
    if mon:
        quota = f"quota {mon['credit_quota']:g} credits ({mon['frequency']})"
        t = Table(title=f"resource monitor {mon['name']}: {quota}")
        for col in ("at (h since start)", "threshold", "action", "credits"):
            t.add_column(col, justify="right")
        for n in mon["notifications"]:
            t.add_row(f"{n['t_s'] / 3600:.3f}", f"{n['percent']}%", n["action"], f"{n['credits']:g}")
        out.append(t)
    delivery = cost.get("delivery") or {}
    pvp = delivery.get("pull_vs_push")
    if pvp:
        t = Table(title=f"delivery: pull vs push (ADX zero-copy), {pvp['reduction']:.0%} lower")
        t.add_column("model")
        t.add_column("per year", justify="right")
        t.add_column("of which egress", justify="right")
        t.add_row(
            "pull (every client extracts)", _money(pvp["pull_per_year"]), _money(pvp["pull_egress_per_year"])
        )
        t.add_row("push (publish once per destination)", _money(pvp["push_per_year"]),
                  _money(pvp["push_egress_per_year"]))  # fmt: skip
        out.append(t)
    stages = delivery.get("trajectory")
    if stages:
        t = Table(title="cost-reduction trajectory (the worked example's traffic)")
        for col in ("stage", "per day", "per year", "saving"):
            t.add_column(col, justify="right")
        for st in stages:
            t.add_row(
                st["label"], _money(st["per_day"]), _money(st["per_year"]), f"{st['saving_vs_first']:.0%}"
            )
        out.append(t)
    on_profile = delivery.get("trajectory_on_profile")
    if on_profile:
        t = Table(title="the same levers on this scenario's traffic, billed by the warehouse clock")
        for col in ("stage", "hit rate", "warehouse clock/day", "per year", "saving", "per-query $/day"):
            t.add_column(col, justify="right")
        for st in on_profile:
            clock, per_query = _money(st["warehouse_clock_per_day"]), _money(st["per_query_per_day"])
            saving = f"{st['saving_vs_first']:.0%}"
            t.add_row(st["label"], f"{st['hit_rate']:.1%}", clock, _money(st["per_year"]), saving, per_query)
        out.append(t)
    return out


def gate_table(rows: list[Any]) -> Table:
    t = Table(title="gate")
    for col in ("check", "kind", "baseline", "actual", "limit", "change", "result"):
        t.add_column(col)
    for r in rows:
        t.add_row(
            escape(r.check), r.kind, "-" if r.baseline is None else f"{r.baseline:.4g}",
            "no data" if r.actual is None else f"{r.actual:.4g}", r.limit, escape(r.change),
            "[green]pass[/]" if r.passed else "[bold red]FAIL[/]",
        )  # fmt: skip
    return t


def _load_scenario(name: str) -> Any:
    from twin.sim.scenario import ScenarioError, find_scenario, load_scenario

    try:
        return load_scenario(find_scenario(name))
    except FileNotFoundError as e:
        fail(str(e))
    except UnicodeDecodeError:
        fail(f"{name} is not a scenario: not a UTF-8 text file (a scenario is YAML)")
    except OSError as e:
        fail(f"cannot read the scenario {name}: {e.strerror or e}")
    except ScenarioError as e:
        fail("invalid scenario:\n  " + "\n  ".join(e.problems))


def _cost_of(target: str) -> dict[str, Any]:
    """A report's cost section, or a scenario's parametric one."""
    path = Path(target)
    if path.is_dir():
        path = path / "report.json"
    if path.suffix == ".json":
        cost = _read_json(path, "report").get("cost")
        if cost is None:
            fail(f"{path} has no cost section")
        if not isinstance(cost, dict):
            fail(f"{path}: cost: expected a JSON object, got {type(cost).__name__}")
        return cost
    return _parametric(_load_scenario(target))


def _compare(console: Console, targets: list[str], fmt: str, out: Path) -> None:
    from twin.cost.compare import HEADERS, compare, render_compare_html, table_rows, why

    if len(targets) < 2:
        fail("twin cost compare needs at least two scenarios or report.json files")
    labels = [Path(t).parent.name if Path(t).name == "report.json" else Path(t).stem or t for t in targets]
    rows = compare([(label, _cost_of(t)) for label, t in zip(labels, targets, strict=True)])
    out.write_text(render_compare_html(rows))
    if fmt == "json":
        typer.echo(json.dumps({"html": str(out), "rows": [r.model_dump() for r in rows], "why": why(rows)},
                              indent=1))  # fmt: skip
        return
    t = Table(title="cost compared")
    for h in HEADERS:
        t.add_column(h, justify="right")
    for row in table_rows(rows):
        t.add_row(*row)
    console.print(t)
    for line in why(rows):
        console.print(line)
    console.print(f"comparison page: {out}")


def _parametric(s: Any) -> dict[str, Any]:
    from twin.cost.summary import parametric_summary
    from twin.sim.costing import traffic_of

    users = sum(p.count for p in s.personas)
    per_user = sum(p.count * p.requests_per_day for p in s.personas) / users
    return parametric_summary(
        s.cost, users=users, queries_per_user_per_day=per_user, traffic=traffic_of(s, {})
    )


def _progress(bar: Any, task: Any, name: str, speed: float | None) -> Any:
    """Progress updates; in live mode the label shows the speed achieved against the requested one."""
    import time

    wall0 = time.perf_counter()

    def update(t: float, total: float) -> None:
        if speed is None:
            bar.update(task, completed=t)
            return
        achieved = t / max(1e-9, time.perf_counter() - wall0)
        behind = " [red]behind[/]" if achieved < 0.95 * speed else ""
        bar.update(task, completed=t, description=f"{name} (live {achieved:,.1f}x of {speed:g}x){behind}")

    return update


def _mismatch(name: str, e: Any) -> list[str]:
    """A ScenarioMismatch's problems with the scenario file's lines, when the file can be read again."""
    from twin.sim.scenario import find_scenario

    try:
        path = find_scenario(name)
        return e.locate(path.read_text(), path.name)
    except (OSError, ValueError):
        return list(e.problems)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        fail(f"no {what} at {path}")
    except OSError as e:
        fail(f"cannot read the {what} {path}: {e.strerror or e}")
    except (ValueError, RecursionError) as e:  # UnicodeDecodeError is a ValueError too
        fail(f"{path} is not a JSON {what}: {' '.join(str(e).split())[:200]}")
    if not isinstance(data, dict):
        fail(f"{path} is not a {what}: expected a JSON object, got {type(data).__name__}")
    return data


def register(app: typer.Typer) -> None:
    @app.command("run")
    def run(
        scenario: str = typer.Argument(..., help="A scenario file, or a name under scenarios/."),
        mode: str = typer.Option("sim", help="sim (virtual time) or live (wall time, real broker)."),
        out: Path | None = typer.Option(None, help="Report directory [default: TWIN_HOME/reports/NAME]."),
        duration: str | None = typer.Option(None, help="Override the scenario's duration, e.g. 2h."),
        start: str | None = typer.Option(None, help="Override the scenario's start time of day, e.g. 09:00."),
        seed: int | None = typer.Option(None, min=0, help="Override the scenario's seed (>= 0)."),
        db: Path | None = typer.Option(None, help="Warehouse file [default: TWIN_HOME/warehouse.duckdb]."),
        measured: bool = typer.Option(False, help="Advance time by each call's own measured time."),
        reuse_results: bool = typer.Option(
            False, help="Run each distinct governed query once per gold version; reuse its result."
        ),
        calibration: Path | None = typer.Option(None, help="Reuse a calibration.json from an earlier run."),
        speed: float = typer.Option(60.0, help="live: simulated seconds per wall second."),
        bootstrap: str | None = typer.Option(None, help="live: broker bootstrap HOST:PORT."),
        fmt: str = typer.Option("table", "--format", help="table or json."),
    ) -> None:
        """Run a scenario and write report.json, junit.xml and report.html."""
        console = _console()
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from twin.config import paths
        from twin.sim.calibration import Calibration
        from twin.sim.durations import parse_duration
        from twin.sim.execute import run_to_dir
        from twin.sim.scenario import ScenarioMismatch

        if mode not in ("sim", "live"):
            fail(f"--mode must be sim or live, not {mode!r}")
        if fmt not in ("table", "json"):
            fail(f"--format must be table or json, not {fmt!r}")
        s = _load_scenario(scenario)
        updates: dict[str, Any] = {}
        if duration is not None:
            try:
                updates["duration"] = parse_duration(duration)
            except ValueError as e:
                fail(f"--duration: {e}")
        if start is not None:
            from twin.sim.durations import parse_clock

            try:
                updates["start"] = parse_clock(start)
            except ValueError as e:
                fail(f"--start: {e}")
        if seed is not None:
            updates["seed"] = seed
        from twin.sim.scenario import ScenarioError

        try:
            s = s.model_copy(update=updates)
        except ScenarioError as e:
            fail("the overrides do not fit the scenario's limits:\n  " + "\n  ".join(e.problems))
        cal = None
        if calibration is not None:
            try:
                cal = Calibration.load(calibration)
            except (OSError, ValueError) as e:
                fail(f"cannot read calibration {calibration}: {e}")
        db_path = checked_database(db or paths().database, must_exist=False)
        out_dir = out or paths().reports / s.name
        transport = None
        if mode == "live":
            from twin.sim.transport import connect_live

            try:
                transport = connect_live(bootstrap)
            except Exception as e:
                fail(f"live mode needs a broker: {e}")
        with Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(), console=Console(stderr=True), transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task(f"{escape(s.name)} ({mode})", total=s.duration)
            try:
                report, result = run_to_dir(
                    s, out=out_dir, db=db_path, measured=measured, calibration=cal,
                    speed=speed if mode == "live" else None, transport=transport,
                    progress=_progress(bar, task, s.name, speed if mode == "live" else None),
                    reuse_results=reuse_results,
                )  # fmt: skip
            except ScenarioMismatch as e:
                fail("the scenario does not fit this warehouse:\n  " + "\n  ".join(_mismatch(scenario, e)))
            except FileNotFoundError as e:
                fail(str(e))
            except ValueError as e:
                fail(str(e))
            finally:
                if transport is not None:
                    transport.close()
        if fmt == "json":
            typer.echo(json.dumps({"out": str(out_dir), **report}, indent=1))
            return
        console.print(ops_table(report))
        console.print(sla_table(report))
        console.print(cost_table(report["cost"]))
        if "failover_comparison" in report:
            t = Table(title="failover strategies")
            for col in ("strategy", "RTO s", "RPO s", "availability", "events lost"):
                t.add_column(col)
            for r in report["failover_comparison"]:
                t.add_row(escape(str(r["strategy"])), f"{r['rto_s']:g}", f"{r['rpo_s']:g}",
                          f"{r['availability']:.4%}", f"{r['events_lost']:,}")  # fmt: skip
            console.print(t)
        w = result.wall
        speed_info = report.get("speed")
        if speed_info and not speed_info["kept_up"]:
            console.print(f"[bold red]{speed_info['label']}[/]")
        console.print(
            f"simulated {s.duration:,.0f} s in {w['simulation_s']:.1f} s wall "
            f"({w['simulated_s_per_wall_s']:,.0f}x); report in {out_dir}"
        )

    @app.command("gate")
    def gate_cmd(
        report: Path = typer.Argument(..., help="A report.json (or the directory holding it)."),
        sla: Path | None = typer.Option(None, help="SLA file (YAML with an `slas:` list)."),
        baseline: Path | None = typer.Option(None, help="A baseline report.json to compare against."),
        max_regression: str = typer.Option("10%", help="Tolerated regression vs the baseline."),
        fmt: str = typer.Option("table", "--format", help="table or json."),
    ) -> None:
        """Exit 1 on any SLA breach or regression beyond the tolerance; 0 otherwise."""
        console = _console()
        from twin.sim.gate import ReportError, gate, load_slas, parse_tolerance, validate_report
        from twin.sim.scenario import ScenarioError

        if fmt not in ("table", "json"):
            fail(f"--format must be table or json, not {fmt!r}")
        if report.is_dir():
            report = report / "report.json"
        current = _read_json(report, "report")
        base = (
            _read_json(baseline / "report.json" if baseline.is_dir() else baseline, "baseline")
            if baseline
            else None
        )
        try:
            tol = parse_tolerance(max_regression)
            slas = load_slas(sla) if sla else None
        except ScenarioError as e:
            fail("invalid SLA file:\n  " + "\n  ".join(e.problems))
        except ValueError as e:
            fail(f"{e}")
        except OSError as e:
            fail(f"cannot read the SLA file {sla}: {e.strerror or e}")
        try:
            validate_report(current, str(report))
            if base is not None:
                validate_report(base, str(baseline))
        except ReportError as e:
            fail(str(e))
        rows = gate(current, slas=slas, baseline=base, max_regression=tol)
        failed = [r for r in rows if not r.passed]
        if fmt == "json":
            typer.echo(json.dumps({"passed": not failed, "rows": [r.model_dump() for r in rows]}, indent=1))
        else:
            console.print(gate_table(rows))
            if failed:
                console.print(f"[bold red]gate failed[/]: {len(failed)} of {len(rows)} checks")
            else:
                console.print(f"[green]gate passed[/]: {len(rows)} checks")
        raise typer.Exit(1 if failed else 0)

    @app.command("cost")
    def cost_cmd(
        targets: list[str] = typer.Argument(
            ..., help="A scenario (parametric) or a report.json (from a run); or `compare A B [C…]`."
        ),
        fmt: str = typer.Option("table", "--format", help="table or json."),
        out: Path | None = typer.Option(None, help="compare: the HTML page [default: cost-compare.html]."),
    ) -> None:
        """The cost model: worked example, the run's projected day, and sensitivities.

        `twin cost compare A B [C…]` puts scenarios or report.json files side by side."""
        console = _console()
        if fmt not in ("table", "json"):
            fail(f"--format must be table or json, not {fmt!r}")
        if targets[0] == "compare":
            _compare(console, targets[1:], fmt, out or Path("cost-compare.html"))
            return
        if len(targets) != 1:
            fail(f"give one scenario or report.json (or `compare A B …`), not {len(targets)}")
        path = Path(targets[0])
        from_file = path.is_dir() or path.suffix == ".json"
        cost = _cost_of(targets[0])
        if fmt == "json":
            typer.echo(json.dumps(cost, indent=1))
            return
        try:
            _print_cost(console, cost)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as e:
            if not from_file:
                raise  # the model's own output: a bug, for the CLI's error path
            # a report.json edited or written by another version: name the first field that is off
            fail(f"{path}: the cost section is not one twin writes ({type(e).__name__}: {e})")

    def _print_cost(console: Console, cost: dict[str, Any]) -> None:
        console.print(cost_table(cost))
        if cost["sensitivity"]["by_ttl"]:
            console.print(sensitivity_table(cost))
        zipf = cost["sensitivity"].get("zipf") or []
        if zipf:
            ttls = sorted({r["ttl_s"] for r in zipf})
            zt = Table(
                title="hit rate by Zipf exponent (rows) and TTL (columns), replayed on the run's times"
            )
            zt.add_column("zipf s")
            for ttl in ttls:
                zt.add_column(f"{ttl:g} s", justify="right")
            for s_ in sorted({r["zipf_s"] for r in zipf}):
                cells = {r["ttl_s"]: r["hit_rate"] for r in zipf if r["zipf_s"] == s_}
                zt.add_row(f"{s_:g}", *(f"{cells[ttl]:.1%}" for ttl in ttls))
            console.print(zt)
        t = Table(title="sensitivity: hit rate")
        t.add_column("hit rate", justify="right")
        t.add_column("per day", justify="right")
        for r in cost["sensitivity"]["by_hit_rate"]:
            t.add_row(f"{r['hit_rate']:.0%}", f"${r['per_day']:,.2f}")
        console.print(t)
        for extra in _cost_extras(cost):
            console.print(extra)
