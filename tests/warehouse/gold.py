"""The session-wide small warehouse other areas' tests read (`gold_db` in tests/conftest.py)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from twin.fixtures import FixtureManifest, generate
from twin.warehouse.build import BuildResult, build_warehouse

GOLD_SCALE = 0.002
GOLD_SEED = 42


@dataclass(frozen=True)
class GoldBuild:
    db_path: Path
    fixtures_dir: Path
    fixtures: FixtureManifest
    result: BuildResult


def build_small_gold(root: Path) -> GoldBuild:
    fixtures_dir = root / "fixtures"
    manifest = generate(fixtures_dir, scale=GOLD_SCALE, seed=GOLD_SEED)
    db = root / "warehouse.duckdb"
    result = build_warehouse(db, fixtures_dir)
    return GoldBuild(db_path=db, fixtures_dir=fixtures_dir, fixtures=manifest, result=result)
