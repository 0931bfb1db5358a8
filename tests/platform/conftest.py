"""The platform service's adapters for the contract suite, over a private copy of the small warehouse."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twin.governance.audit import AuditLog
from twin.platform.governed import GovernedPlatform


@pytest.fixture(scope="module")
def platform_db(gold_db: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("platform") / "warehouse.duckdb"
    shutil.copy(gold_db, target)
    return target


@pytest.fixture(scope="module")
def audit_log(tmp_path_factory: pytest.TempPathFactory) -> AuditLog:
    root = tmp_path_factory.mktemp("audit")
    return AuditLog(root / "log" / "audit.jsonl", root / "keys")


@pytest.fixture(scope="module", params=["in-process"])
def adapter(request: pytest.FixtureRequest, platform_db: Path, audit_log: AuditLog) -> Iterator[Any]:
    """Every adapter of the port; the HTTP adapter of the API tier joins this list unchanged."""
    platform = GovernedPlatform(platform_db, audit=audit_log)
    yield platform
    platform.close()
