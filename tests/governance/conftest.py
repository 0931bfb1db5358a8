"""Fixtures: a small governed warehouse (hand-made gold with the published columns) and sessions on it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.governance.gold_data import build, copy_database
from twin.governance.audit import AuditLog
from twin.governance.ddl import load_shipped
from twin.governance.session import Claims, SecureSession, open_session
from twin.governance.store import apply_policies
from twin.warehouse.engine import Warehouse


@pytest.fixture(scope="session")
def governed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Warehouse]:
    wh = build(tmp_path_factory.mktemp("gov") / "warehouse.duckdb")
    apply_policies(wh.con, load_shipped())
    yield wh
    wh.close()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[Warehouse]:
    """A governed warehouse of its own, for tests that change data or policies."""
    wh = build(tmp_path / "warehouse.duckdb")
    apply_policies(wh.con, load_shipped())
    yield wh
    wh.close()


@pytest.fixture
def db(twin_home: Path) -> Path:
    """A warehouse file in TWIN_HOME with the hand-made gold and the shipped policies (for the CLI)."""
    from tests.governance.gold_data import build
    from twin.governance.ddl import load_shipped
    from twin.governance.store import apply_policies

    path = twin_home / "warehouse.duckdb"
    wh = build(path)
    apply_policies(wh.con, load_shipped())
    wh.close()
    return path


@pytest.fixture
def audit(tmp_path: Path) -> Iterator[AuditLog]:
    log = AuditLog(tmp_path / "audit.jsonl")
    yield log
    log.close()


@pytest.fixture
def session(governed: Warehouse) -> Iterator[Callable[..., SecureSession]]:
    opened: list[SecureSession] = []

    def make(role: str, department: str | None = None, secondary: list[str] | None = None) -> SecureSession:
        s = open_session(
            governed, Claims(user="tester", role=role, department=department, secondary_roles=secondary or [])
        )
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


def raw(wh: Warehouse, sql: str) -> list[tuple]:
    return wh.con.cursor().execute(sql).fetchall()


# Every role of the policy files once, plus the advisor outside its own department (ssn differs).
SESSIONS = [
    ("WEALTH_ADMIN", None),
    ("WEALTH_ADVISOR", "Wealth"),
    ("WEALTH_ADVISOR", "Retail"),
    ("RETAIL_TELLER", "Retail"),
    ("COMPLIANCE_AUDITOR", None),
    ("EXTERNAL_BI_TOOL", None),
    ("ANALYST", None),
    ("PUBLIC", None),
]


def policed_copy(request: pytest.FixtureRequest, folder: Path) -> Warehouse:
    """A warehouse with the shipped policies on the hand-made gold (param "handmade") or on a copy of
    the real dbt-built gold (param "dbt-gold"), for module fixtures parametrised over both."""
    path = folder / "warehouse.duckdb"
    if request.param == "handmade":
        wh = build(path)
    else:
        copy_database(request.getfixturevalue("gold_db"), path)
        wh = Warehouse(path)
    apply_policies(wh.con, load_shipped())
    return wh
