"""The notebooks are executed, so they cannot rot."""

from __future__ import annotations

from pathlib import Path

import jupytext
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _execute(name: str, tmp_path: Path) -> None:
    nb = jupytext.read(NOTEBOOKS / f"{name}.py")
    NotebookClient(
        nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def test_cost_model_notebook(tmp_path: Path) -> None:
    _execute("cost_model", tmp_path)


def test_sla_report_notebook(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.sim.conftest import SMALL, ToyPlatform
    from twin.sim.execute import run_to_dir
    from twin.sim.scenario import parse_scenario

    p = ToyPlatform()
    try:
        run_to_dir(parse_scenario(SMALL), out=tmp_path / "run", platform=p)
    finally:
        p.close()
    monkeypatch.setenv("TWIN_REPORT", str(tmp_path / "run" / "report.json"))
    _execute("sla_report", tmp_path)
