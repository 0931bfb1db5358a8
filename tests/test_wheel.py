"""twin works from an installed wheel, outside the checkout: the scenarios and the dbt project are package
data and nothing resolves a path into the source tree. Builds the wheel, installs it into a fresh
virtualenv in a temporary folder (uv, offline from the local cache) and runs `twin demo` and `twin run`
there, with the checkout neither the working directory nor on the path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.tools import venv_tool

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.slow


def _uv(*args: str | Path, cwd: Path = ROOT) -> None:
    res = subprocess.run(
        [venv_tool("uv"), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_installed_wheel_runs_the_demo_and_a_scenario_outside_the_checkout(tmp_path: Path) -> None:
    dist, venv, work = tmp_path / "dist", tmp_path / "venv", tmp_path / "work"
    work.mkdir()
    _uv("build", "--wheel", "--offline", "--out-dir", dist, ".")
    (wheel,) = dist.glob("twin-*.whl")
    _uv("venv", "--quiet", "--offline", "--python", sys.executable, venv, cwd=tmp_path)
    _uv("pip", "install", "--quiet", "--offline", "--python", venv / "bin" / "python", wheel, cwd=tmp_path)

    # A clean environment: no checkout on the path, no twin settings inherited from the test run.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWIN_", "PYTHON", "VIRTUAL_ENV"))}
    env |= {"DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1", "HOME": str(tmp_path)}
    twin = venv / "bin" / "twin"

    def run(*args: str) -> str:
        res = subprocess.run(
            [str(twin), *args], cwd=work, env=env, capture_output=True, text=True, timeout=900, check=False
        )
        assert res.returncode == 0, res.stdout + res.stderr
        return res.stdout

    # the wheel's own code, not the checkout's
    origin = run("--help") and subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import twin; print(twin.__file__)"],
        cwd=work, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert str(ROOT) not in origin and str(venv) in origin

    out = run("demo")
    assert "gate: PASS" in out
    db = work / ".twin" / "demo" / "warehouse.duckdb"
    assert db.exists()
    run("run", "dashboard_storm", "--db", str(db), "--duration", "2m", "--out", "out")
    assert (work / "out" / "report.json").exists()
