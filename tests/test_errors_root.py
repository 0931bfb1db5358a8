"""One error root: every error class twin defines subclasses `twin.errors.TwinError`, and the CLI's single
error path turns any of them into a one-line message with exit code 2 (not the exit 1 kept for bugs)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import twin
from twin.cli.errors import TwinGroup
from twin.errors import TwinError

# Private helpers that never leave their module (caught where they are raised, turned into a TwinError
# or a pydantic problem). The platform's Denied and Failed subclass the root like every other error.
INTERNAL = {"_Invalid", "_RefError", "DuplicateKey"}


def _error_classes() -> list[type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    root = Path(twin.__file__).parent
    # every source file, not pkgutil's walk: a folder without __init__.py (twin/sim) is still a package
    for path in sorted(root.rglob("*.py")):
        dotted = ".".join(("twin", *path.relative_to(root).with_suffix("").parts)).removesuffix(".__init__")
        if dotted.endswith(".__main__"):  # a module that runs its program on import
            continue
        module = importlib.import_module(dotted)
        for name, obj in vars(module).items():
            if (
                inspect.isclass(obj)
                and issubclass(obj, Exception)
                and obj.__module__ == dotted
                and name not in INTERNAL
            ):
                found[f"{dotted}.{name}"] = obj
    return list(found.values())


def test_every_error_twin_defines_subclasses_the_root() -> None:
    classes = _error_classes()
    assert len(classes) >= 15  # the walk really found the layers' errors
    strays = sorted(f"{c.__module__}.{c.__qualname__}" for c in classes if not issubclass(c, TwinError))
    assert strays == []


def test_layer_errors_keep_their_standard_bases_for_existing_handlers() -> None:
    from twin.sim.scenario import ScenarioError
    from twin.streaming.port import BrokerError

    assert issubclass(ScenarioError, ValueError) and issubclass(BrokerError, RuntimeError)


@pytest.mark.parametrize("cls", _error_classes(), ids=lambda c: c.__qualname__)
def test_the_cli_maps_every_layer_error_to_exit_2(cls: type[Exception]) -> None:
    exc = cls.__new__(cls)  # constructors differ; the mapping looks at the class only
    Exception.__init__(exc, "the message that names the field")
    toy = typer.Typer(cls=TwinGroup, pretty_exceptions_enable=False)

    @toy.callback()
    def _root() -> None:
        pass

    @toy.command()
    def boom() -> None:
        raise exc

    res = CliRunner().invoke(toy, ["boom"], env={"TWIN_DEBUG": None})
    assert res.exit_code == 2, res.output
    assert "bug in twin" not in res.output
