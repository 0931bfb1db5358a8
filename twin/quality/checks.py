"""Checks that run without dbt on a built warehouse: silver keys unique, gold populated, feeds fresh.

They run after `twin warehouse build` and `refresh` (printed beside the result) and on a cadence in the
streaming pipeline (in its status file), so a failing check is seen where the data is made.

They read the models dbt recorded at build time (`silver._twin_models`), so the natural keys checked are
the ones silver deduplicates on. Freshness compares each feed's latest business time with `as_of` (the
simulation passes its virtual clock; default: the latest business time across feeds).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import duckdb
from pydantic import BaseModel, ConfigDict

from twin.warehouse.catalog import recorded_models


class _Db(Protocol):
    """What the checks read through: a `Warehouse`, or anything with a connection of its own (the
    pipeline passes a cursor, so the checks never share a connection object with the appends)."""

    con: duckdb.DuckDBPyConnection


FEED_TIMES: dict[str, tuple[str, timedelta]] = {
    "silver.trades": ("executed_at", timedelta(days=3)),
    "silver.nav": ("nav_date", timedelta(days=3)),
    "silver.positions": ("as_of", timedelta(days=3)),
    "silver.balances": ("updated_at", timedelta(days=3)),
    # CRM engagement is sparse: a quiet fortnight is normal.
    "silver.crm_signals": ("occurred_at", timedelta(days=30)),
}
"""Feed → (business-time column, how far behind the clock it may be)."""


class QualityCheck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    relation: str
    passed: bool
    detail: str


class QualityReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    checks: list[QualityCheck]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> list[QualityCheck]:
        return [c for c in self.checks if not c.passed]

    def lines(self) -> list[str]:
        """How many checks pass, then one line per failing check (what and why)."""
        head = f"quality: {len(self.checks) - len(self.failures)}/{len(self.checks)} checks pass"
        return [head] + [f"  failing: {c.name} {c.relation}: {c.detail}" for c in self.failures]


def check_warehouse(
    wh: _Db, *, as_of: datetime | None = None, max_staleness: timedelta | None = None
) -> QualityReport:
    """Run every check; `max_staleness` overrides the per-feed allowances in FEED_TIMES."""
    con = wh.con
    checks: list[QualityCheck] = []
    for spec in recorded_models(wh):
        if spec.natural_key:
            key = ", ".join(spec.natural_key)
            dups = con.execute(
                f"SELECT count(*) FROM (SELECT {key} FROM {spec.relation} GROUP BY {key} HAVING count(*) > 1)"
            ).fetchall()[0][0]
            checks.append(
                QualityCheck(
                    name="unique_key",
                    relation=spec.relation,
                    passed=dups == 0,
                    detail=f"{dups} duplicated ({key})" if dups else f"({key}) unique",
                )
            )
        if spec.relation.startswith("gold."):
            n = con.execute(f"SELECT count(*) FROM {spec.relation}").fetchall()[0][0]
            checks.append(
                QualityCheck(name="not_empty", relation=spec.relation, passed=n > 0, detail=f"{n} rows")
            )
    latest = {
        rel: con.execute(f"SELECT max(CAST({col} AS TIMESTAMP)) FROM {rel}").fetchall()[0][0]
        for rel, (col, _) in FEED_TIMES.items()
    }
    known = [t for t in latest.values() if t is not None]
    clock = as_of or (max(known) if known else None)
    for rel, t in latest.items():
        allowed = max_staleness or FEED_TIMES[rel][1]
        fresh = t is not None and clock is not None and clock - t <= allowed
        checks.append(
            QualityCheck(
                name="freshness",
                relation=rel,
                passed=fresh,
                detail=f"latest {t}, {clock - t if t and clock else 'n/a'} behind {clock}",
            )
        )
    return QualityReport(checks=checks)
