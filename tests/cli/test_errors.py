"""Clear errors at every CLI entry point: exit 2 and a message naming the field, line or limit.

Also the CLI's single error path: an exception no command handled is one line (exit 2 for input
errors, 1 for bugs) with a hint to rerun with --debug / TWIN_DEBUG=1, which shows the traceback.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tests.sim.conftest import SMALL, ToyPlatform
from twin.cli.errors import TwinGroup
from twin.cli.main import app

runner = CliRunner()


def _flat(output: str) -> str:
    return " ".join(output.split())


# --- the single error path ------------------------------------------------------------------------


def _app_raising(exc: Exception) -> typer.Typer:
    toy = typer.Typer(cls=TwinGroup, pretty_exceptions_enable=False)

    @toy.callback()
    def _root(debug: bool = typer.Option(False, "--debug")) -> None:
        pass

    @toy.command()
    def boom() -> None:
        raise exc

    return toy


def test_an_unexpected_exception_is_one_line_exit_1_with_the_debug_hint() -> None:
    res = runner.invoke(_app_raising(RuntimeError("widget\nexploded")), ["boom"], env={"TWIN_DEBUG": None})
    assert res.exit_code == 1 and isinstance(res.exception, SystemExit)
    assert res.output.count("\n") == 1 and "Traceback" not in res.output
    assert "unexpected RuntimeError: widget exploded" in res.output
    assert "--debug" in res.output and "TWIN_DEBUG=1" in res.output


def test_an_input_error_no_command_caught_exits_2() -> None:
    res = runner.invoke(_app_raising(FileNotFoundError(2, "No such file", "x.yaml")), ["boom"])
    assert res.exit_code == 2 and "No such file" in res.output and "bug in twin" not in res.output


@pytest.mark.parametrize(("args", "env"), [(["--debug", "boom"], {}), (["boom"], {"TWIN_DEBUG": "1"})])
def test_debug_shows_the_real_exception(args: list[str], env: dict[str, str]) -> None:
    res = runner.invoke(_app_raising(RuntimeError("widget")), args, env=env)
    assert isinstance(res.exception, RuntimeError)  # re-raised: python prints the traceback


def test_the_twin_app_routes_unhandled_exceptions_through_the_error_path(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import twin.sim.gate

    def broken(*a: Any, **k: Any) -> Any:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(twin.sim.gate, "gate", broken)
    report = tmp_path / "r.json"
    report.write_text(json.dumps(_valid_report()))
    res = runner.invoke(app, ["gate", str(report)], env={"TWIN_DEBUG": None})
    assert res.exit_code == 1 and "unexpected ZeroDivisionError" in res.output
    assert "Traceback" not in res.output


def _valid_report() -> dict[str, Any]:
    from tests.cli.test_fuzz_cli import REPORT

    return json.loads(json.dumps(REPORT))


@pytest.mark.parametrize("name", ["[/x]", "[/]", "[bold]report.json"])
def test_messages_quoting_user_input_are_not_rich_markup(name: str) -> None:
    res = runner.invoke(app, ["gate", name])
    assert res.exit_code == 2 and f"no report at {name}" in res.output


# --- twin run ---------------------------------------------------------------------------------------


def _scenario(tmp_path: Path, text: str, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_run_on_a_binary_file(tmp_path: Path) -> None:
    path = tmp_path / "s.yaml"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff\xfe")
    res = runner.invoke(app, ["run", str(path)])
    assert res.exit_code == 2 and "not a UTF-8 text file" in res.output and "Traceback" not in res.output


def test_run_on_a_directory(tmp_path: Path) -> None:
    res = runner.invoke(app, ["run", str(tmp_path)])
    assert res.exit_code == 2 and "cannot read the scenario" in res.output


def test_run_with_a_role_that_is_not_a_role_name_names_field_and_line(tmp_path: Path) -> None:
    path = _scenario(tmp_path, SMALL.replace("role: WEALTH_ADVISOR", "role: 'advisor; drop'"))
    res = runner.invoke(app, ["run", str(path)])
    assert res.exit_code == 2
    assert "s.yaml:22: personas[0].role: not a role name: 'advisor; drop'" in _flat(res.output)


class _Governed(ToyPlatform):
    """The toy platform with the governed adapter's role check (roles a policy file defines)."""

    roles = frozenset({"WEALTH_ADVISOR", "RETAIL_TELLER"})

    def check(self, caller: Any) -> str | None:
        unknown = [r for r in (caller.role, *caller.secondary_roles) if r not in self.roles]
        return f"unknown role(s) {', '.join(unknown)}: not defined by any policy file" if unknown else None


@pytest.fixture
def toy_warehouse(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    import twin.sim.execute

    monkeypatch.setattr(twin.sim.execute, "open_platform", lambda db, **_: _Governed())
    monkeypatch.setenv("TWIN_HOME", str(tmp_path / "home"))
    return tmp_path


def test_run_with_a_role_no_policy_defines_names_field_and_line(toy_warehouse: Path) -> None:
    text = SMALL.replace("role: WEALTH_ADVISOR", "role: NO_SUCH_ROLE\n    secondary_roles: [RETAIL_TELLER]")
    res = runner.invoke(app, ["run", str(_scenario(toy_warehouse, text))])
    assert res.exit_code == 2, res.output
    assert "s.yaml:22: personas[0].role: unknown role(s) NO_SUCH_ROLE" in _flat(res.output)
    text = SMALL.replace("role: WEALTH_ADVISOR", "role: WEALTH_ADVISOR\n    secondary_roles: [GHOST]")
    res = runner.invoke(app, ["run", str(_scenario(toy_warehouse, text))])
    assert res.exit_code == 2 and "s.yaml:23: personas[0].secondary_roles: unknown role(s) GHOST" in _flat(
        res.output
    )


def test_run_with_a_key_table_the_warehouse_lacks_names_the_operation(toy_warehouse: Path) -> None:
    text = SMALL.replace("key: {table: gold.fund_nav", "key: {table: gold.no_such_table")
    res = runner.invoke(app, ["run", str(_scenario(toy_warehouse, text))])
    out = _flat(res.output)
    assert res.exit_code == 2, res.output
    assert "s.yaml:17: operations.fund_nav.key: cannot sample keys from gold.no_such_table.fund_id" in out


def test_run_with_a_fitting_scenario_still_runs(toy_warehouse: Path) -> None:
    out = toy_warehouse / "out"
    res = runner.invoke(
        app, ["run", str(_scenario(toy_warehouse, SMALL)), "--out", str(out), "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    assert (out / "report.json").exists()


@pytest.mark.parametrize("seed", ["-5", "-1"])
def test_negative_seeds_are_refused(tmp_path: Path, seed: str) -> None:
    res = runner.invoke(app, ["run", str(_scenario(tmp_path, SMALL)), "--seed", seed])
    assert res.exit_code == 2 and "--seed" in res.output
    res = runner.invoke(app, ["fixtures", "generate", "--seed", seed, "--out", str(tmp_path / "fx")])
    assert res.exit_code == 2 and "--seed" in res.output and not (tmp_path / "fx").exists()
    res = runner.invoke(app, ["run", str(_scenario(tmp_path, SMALL.replace("seed: 7", f"seed: {seed}")))])
    assert res.exit_code == 2 and "s.yaml:3: seed" in _flat(res.output)


# --- --db paths -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["w.json", "w.parquet", "w.duckdb", "dir"])
def test_a_db_that_is_not_a_duckdb_file_is_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    if name == "dir":
        path.mkdir()
    else:
        path.write_text('{"not": "a database"}')
    for args in (
        ["sql", "--role", "WEALTH_ADVISOR", "SELECT 1", "--db", str(path)],
        ["policy", "references", "--db", str(path)],
        ["run", str(_scenario(tmp_path, SMALL)), "--db", str(path)],
    ):
        res = runner.invoke(app, args)
        assert res.exit_code == 2, (args, res.output)
        assert "not a DuckDB database file" in _flat(res.output) or "is a directory" in _flat(res.output)


def test_warehouse_build_fresh_never_deletes_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    precious = tmp_path / "notes.txt"
    precious.write_text("not a database")
    (tmp_path / "fixtures").mkdir()
    res = runner.invoke(
        app,
        ["warehouse", "build", "--fresh", "--db", str(precious), "--fixtures", str(tmp_path / "fixtures")],
    )
    assert res.exit_code == 2 and "not a DuckDB database file" in _flat(res.output)
    assert precious.read_text() == "not a database"


# --- twin cost --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("[]", "expected a JSON object, got list"),
        ('{"cost": 5}', "cost: expected a JSON object, got int"),
        ('{"cost": {"worked_example": {}}}', "the cost section is not one twin writes"),
        ("{}", "has no cost section"),
        ("\x00\x01", "is not a JSON report"),
    ],
)
def test_cost_on_malformed_reports(tmp_path: Path, content: str, expected: str) -> None:
    path = tmp_path / "report.json"
    path.write_text(content)
    res = runner.invoke(app, ["cost", str(path)])
    assert res.exit_code == 2, res.output
    assert expected in _flat(res.output) and "Traceback" not in res.output


def test_cost_renders_a_well_formed_cost_section(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps(_valid_report()))
    res = runner.invoke(app, ["cost", str(path)])
    assert res.exit_code == 0, res.output
    assert "worked example" in res.output


# --- twin catalog / audit -----------------------------------------------------------------------------


@pytest.mark.parametrize("content", ['{"nodes": null}', "[1, 2]", '{"nodes": {"a": 1}, "sources": {}}'])
def test_lineage_with_a_manifest_that_is_not_dbt_s(tmp_path: Path, content: str) -> None:
    path = tmp_path / "manifest.json"
    path.write_text(content)
    res = runner.invoke(app, ["catalog", "lineage", "gold.customer_360", "--manifest", str(path)])
    assert res.exit_code == 2, res.output
    assert "manifest" in res.output and "bug in twin" not in res.output


def test_query_results_that_look_like_markup_print_as_text(capsys: pytest.CaptureFixture[str]) -> None:
    from twin.cli.governance_cmd import OutFormat, _print_rows

    _print_rows(["a", "b"], [("[/x]", None), ("[bold]y", 1)], OutFormat.table)
    out = capsys.readouterr().out
    assert "[/x]" in out and "[bold]y" in out and "NULL" in out


def test_no_warehouse_points_a_newcomer_at_the_demo_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    home = tmp_path / "home"
    (home / "demo").mkdir(parents=True)
    duckdb.connect(str(home / "demo" / "warehouse.duckdb")).close()
    monkeypatch.setenv("TWIN_HOME", str(home))
    r = CliRunner().invoke(app, ["sql", "--role", "RETAIL_TELLER", "SELECT 1"])
    assert r.exit_code == 2
    assert f"pass --db {home / 'demo' / 'warehouse.duckdb'}" in " ".join(r.stderr.split())
