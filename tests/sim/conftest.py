"""A small platform behind the port for runner tests: real DuckDB, a toy policy (tellers may not read
fund NAVs), no dependence on the governance package's progress."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import duckdb
import pytest

from twin.cache.keys import CacheScope
from twin.sim.platform import Caller, Denied, Outcome
from twin.sim.scenario import Scenario, parse_scenario


class ToyPlatform:
    name = "toy-duckdb"

    def __init__(self) -> None:
        self.con = duckdb.connect()
        self.con.execute("CREATE SCHEMA gold").fetchall()
        self.con.execute(
            "CREATE TABLE gold.customer_360 AS SELECT 'CUST' || lpad(i::VARCHAR, 5, '0') AS customer_id,"
            " i % 7 AS segment FROM range(500) t(i)"
        ).fetchall()
        self.con.execute(
            "CREATE TABLE gold.fund_nav AS SELECT 'FND' || lpad((i % 50)::VARCHAR, 4, '0') AS fund_id,"
            " i AS day, 100 + i / 10 AS nav FROM range(5000) t(i)"
        ).fetchall()
        self.calls = 0
        self.refreshes = 0

    def query(self, caller: Caller, sql: str, params: list[Any]) -> Outcome:
        self.calls += 1
        if caller.role == "RETAIL_TELLER" and "fund_nav" in sql:
            raise Denied("tellers cannot read fund_nav")
        t0 = time.perf_counter()
        rows = self.con.execute(sql, params).fetchall()
        return Outcome(rows=len(rows), duration_s=time.perf_counter() - t0)

    def sample_keys(self, table: str, column: str, limit: int) -> list[Any]:
        from twin.sim.platform import _sample_keys

        return _sample_keys(self.con, table, column, limit)

    def refresh_gold(self) -> float:
        self.refreshes += 1
        return 0.05

    def cache_scope(self, caller: Caller) -> CacheScope:
        return CacheScope.of(caller.role, caller.department, caller.secondary_roles)

    def close(self) -> None:
        self.con.close()


SMALL = """
name: small
seed: 7
start: "09:00"
duration: 30m
platform:
  warehouse_slots: 2
  api_workers: 8
  gold_refresh_every: 5m
  calibration_samples: 5
operations:
  client_360:
    sql: "select * from gold.customer_360 where customer_id = ?"
    key: {table: gold.customer_360, column: customer_id, zipf_s: 1.1, limit: 500}
  fund_nav:
    sql: "select * from gold.fund_nav where fund_id = ? order by day desc limit 30"
    key: {table: gold.fund_nav, column: fund_id, popularity: uniform}
    depends_on: [crm]
personas:
  - name: advisor
    count: 40
    role: WEALTH_ADVISOR
    department: WEALTH
    requests_per_day: 400
    think_time: 5s
    profile: flat
    mix: {client_360: 3, fund_nav: 1}
event_sources:
  - {name: aladdin, rate: 10000}
  - {name: trades, rate: 2000}
slas:
  - {name: client_360 p95, metric: p95_ms, operation: client_360, max: 500}
  - {name: availability, metric: availability, min: 0.99}
  - {name: freshness p95, metric: freshness_p95_s, max: 1200}
"""


@pytest.fixture
def toy_platform() -> Any:
    p = ToyPlatform()
    yield p
    p.close()


@pytest.fixture
def small_scenario() -> Scenario:
    return parse_scenario(SMALL, "small.yaml")


@pytest.fixture
def small_text() -> str:
    return SMALL


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    return tmp_path / "out"


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One small run of SMALL on the toy platform, shared by a module's gate tests."""
    from twin.sim.execute import run_to_dir

    out = tmp_path_factory.mktemp("gate") / "run"
    p = ToyPlatform()
    try:
        run_to_dir(parse_scenario(SMALL), out=out, platform=p)
    finally:
        p.close()
    return out


def load_report(report_dir: Path) -> dict[str, Any]:
    return json.loads((report_dir / "report.json").read_text())
