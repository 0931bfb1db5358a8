"""Command-line tools the tests run, found beside this interpreter (the venv `make test` installs them
into) or on PATH. A missing one fails the test that needs it: `make test` installs them, so a skip
would only hide a broken install."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest


def venv_tool(name: str) -> str:
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed: run `make test` (it installs the dev extra)")
    return found
