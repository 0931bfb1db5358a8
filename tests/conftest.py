"""Shared test set-up: every test runs with its own twin home and cache-free defaults."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")


@pytest.fixture
def twin_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "twin-home"
    monkeypatch.setenv("TWIN_HOME", str(home))
    return home
