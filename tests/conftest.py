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


@pytest.fixture(scope="session")
def gold_build(tmp_path_factory: pytest.TempPathFactory):  # -> tests.warehouse.gold.GoldBuild
    """Fixtures (scale 0.002, seed 42) and the warehouse built from them, once per test session."""
    from tests.warehouse.gold import build_small_gold

    return build_small_gold(tmp_path_factory.mktemp("gold"))


@pytest.fixture(scope="session")
def gold_db(gold_build) -> Path:
    """Path of a DuckDB file with bronze, silver and gold built by dbt from small fixtures.

    Shared by the whole session: treat it as read-only. A test that writes uses `gold_db_copy`.
    """
    return gold_build.db_path


@pytest.fixture
def gold_db_copy(gold_db: Path, tmp_path: Path) -> Path:
    """A private copy of `gold_db` for a test that writes (the copy works under any file name)."""
    import shutil

    target = tmp_path / "warehouse.duckdb"
    shutil.copy(gold_db, target)
    return target
