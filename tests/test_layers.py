"""The layering DESIGN.md draws, enforced: the import-linter contracts in pyproject.toml hold for twin (so
`make test` fails on an import that points outward, not only `make lint`), and the same contract really
breaks on a package that imports upward (a cost model that knows the simulator)."""

from __future__ import annotations

import subprocess
import tomllib
from pathlib import Path

from tests.tools import venv_tool

ROOT = Path(__file__).resolve().parents[1]


def _lint(cwd: Path, config: Path, pythonpath: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_tool("lint-imports"), "--config", str(config), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
        timeout=120,
        check=False,
    )


def test_twin_keeps_its_layer_contracts() -> None:
    res = _lint(ROOT, ROOT / "pyproject.toml", ROOT)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "0 broken" in res.stdout


def _toy_config(tmp_path: Path) -> Path:
    """twin's own contract, renamed onto a toy package built from a few empty modules."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = tool["contracts"]
    layers = [layer.replace("twin.", "toy.") for layer in contract["layers"]]
    quoted = ", ".join(f'"{layer}"' for layer in layers)
    config = tmp_path / "toy.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "toy"\n\n[[tool.importlinter.contracts]]\n'
        f'name = "toy layers"\ntype = "layers"\nlayers = [{quoted}]\n'
    )
    return config


def _toy(tmp_path: Path, cost_body: str) -> Path:
    pkg = tmp_path / "toy"
    for sub in ("cli", "sim", "governance", "streaming", "cache", "quality", "cost", "warehouse",
                "fixtures", "domain"):  # fmt: skip
        (pkg / sub).mkdir(parents=True)
        (pkg / sub / "__init__.py").write_text("")
    for name in ("__init__", "config", "errors"):
        (pkg / f"{name}.py").write_text("")
    (pkg / "sim" / "__init__.py").write_text("import toy.cost\n")
    (pkg / "cost" / "__init__.py").write_text(cost_body)
    return pkg


def test_the_contract_accepts_inward_imports_and_missing_optional_layers(tmp_path: Path) -> None:
    _toy(tmp_path, "import toy.warehouse\nimport toy.errors\n")  # no api/platform/stubs: optional
    res = _lint(tmp_path, _toy_config(tmp_path), tmp_path)
    assert res.returncode == 0, res.stdout + res.stderr


def test_the_contract_breaks_when_the_cost_model_imports_the_simulator(tmp_path: Path) -> None:
    _toy(tmp_path, "import toy.sim\n")
    res = _lint(tmp_path, _toy_config(tmp_path), tmp_path)
    assert res.returncode == 1
    assert "toy.cost -> toy.sim" in res.stdout
