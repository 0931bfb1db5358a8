"""A tiny hand-made warehouse (tests/warehouse/tiny_fixtures.py) built once for this folder's tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.warehouse.tiny_fixtures import TinyManifest, write_tiny_fixtures
from twin.warehouse.build import BuildResult, build_warehouse


@dataclass(frozen=True)
class TinyBuild:
    db_path: Path
    fixtures_dir: Path
    manifest: TinyManifest
    result: BuildResult


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> TinyBuild:
    root = tmp_path_factory.mktemp("tiny")
    manifest = write_tiny_fixtures(root / "fixtures")
    result = build_warehouse(root / "tiny.duckdb", root / "fixtures")
    return TinyBuild(
        db_path=root / "tiny.duckdb", fixtures_dir=root / "fixtures", manifest=manifest, result=result
    )
