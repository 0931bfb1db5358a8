"""The data-quality gates a revision passes before it may be finalized (published to subscribers).

Four checks over the revision's Parquet assets, each a pass/fail with a line a publisher can act on:
- `nav_freshness`: an asset with a `nav_date` column must hold the NAV of the expected business day:
  today's once it is 17:00 (the NAV strike the architecture promises), the previous business day's
  before that;
- `key_nulls`: no nulls in key columns (those the file's metadata names in `twin.key_columns`, else
  every `*_id` column);
- `schema_drift`: against the last finalized revision, no table dropped, no column dropped, no column
  type changed (adding a column is compatible, as for the topic contracts);
- `untagged_pii`: the PII scanner finds nothing in columns the file's metadata does not list in
  `twin.pii_columns` (the columns the warehouse tags as PII or carries a declared decision for).

The Data Exchange stand-in runs them when a revision is finalized, whoever asks, and `publish` runs
them first to print the full report. Both call `run_gates`, so they cannot disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from twin.governance.pii import scan_parquet

__all__ = [
    "KEY_COLUMNS_META",
    "NAV_CUTOFF",
    "PII_COLUMNS_META",
    "GateCheck",
    "GateReport",
    "expected_nav_date",
    "run_gates",
]

NAV_CUTOFF = time(17, 0)
KEY_COLUMNS_META = b"twin.key_columns"
PII_COLUMNS_META = b"twin.pii_columns"


class GateCheck(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    gate: str
    asset: str | None = None
    passed: bool
    detail: str


class GateReport(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    as_of: datetime
    checks: list[GateCheck]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    def failures(self) -> list[GateCheck]:
        return [c for c in self.checks if not c.passed]

    def summary(self) -> str:
        bad = self.failures()
        if not bad:
            return f"all {len(self.checks)} checks passed"
        return "; ".join(f"{c.gate}{f' ({c.asset})' if c.asset else ''}: {c.detail}" for c in bad)


def _previous_business_day(d: date) -> date:
    d -= timedelta(days=1)
    while d.weekday() >= 5:
        d -= timedelta(days=1)
    return d


def expected_nav_date(as_of: datetime) -> date:
    """The NAV date that must be present at `as_of`: today's from 17:00 on a business day, else the last
    business day's before today."""
    today = as_of.date()
    if today.weekday() < 5 and as_of.time() >= NAV_CUTOFF:
        return today
    return _previous_business_day(today)


def _meta_list(schema: object, key: bytes) -> list[str] | None:
    meta = getattr(schema, "metadata", None) or {}
    raw = meta.get(key)
    if raw is None:
        return None
    value = json.loads(raw)
    return [str(v) for v in value] if isinstance(value, list) else None


def _schema_of(path: Path) -> dict[str, str]:
    import pyarrow.parquet as pq

    return {f.name: str(f.type) for f in pq.read_schema(path)}


Assets = Mapping[str, Path] | Sequence[Path]


def _named(assets: Assets) -> dict[str, Path]:
    """Table name → file; a bare list of files is named by their stems."""
    if isinstance(assets, Mapping):
        return dict(assets)
    return {p.stem: p for p in assets}


def run_gates(assets: Assets, previous: Assets, *, as_of: datetime) -> GateReport:
    """Check a revision's Parquet files (`previous`: the last finalized revision's, or empty), each
    given as table name → file (or a list of files named `<table>.parquet`)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    assets, previous = _named(assets), _named(previous)
    checks: list[GateCheck] = []
    if not assets:
        checks.append(GateCheck(gate="assets", passed=False, detail="the revision has no assets to publish"))
    want_nav = expected_nav_date(as_of)
    saw_nav = False
    for name, path in sorted(assets.items()):
        schema = pq.read_schema(path)
        columns = set(schema.names)
        if "nav_date" in columns:
            saw_nav = True
            latest = pc.max(pq.read_table(path, columns=["nav_date"]).column("nav_date")).as_py()
            latest_day = latest.date() if isinstance(latest, datetime) else latest
            ok = latest_day is not None and latest_day >= want_nav
            checks.append(
                GateCheck(
                    gate="nav_freshness",
                    asset=name,
                    passed=ok,
                    detail=f"latest nav_date {latest_day}, expected {want_nav} at {as_of:%Y-%m-%d %H:%M}",
                )
            )
        keys = _meta_list(schema, KEY_COLUMNS_META)
        if keys is None:
            keys = [c for c in schema.names if c.endswith("_id")]
        unknown = sorted(set(keys) - columns)
        if unknown:
            checks.append(
                GateCheck(
                    gate="key_nulls",
                    asset=name,
                    passed=False,
                    detail=f"key column(s) {', '.join(unknown)} missing from the file",
                )
            )
        present = [k for k in keys if k in columns]
        if present:
            table = pq.read_table(path, columns=present)
            nulls = {k: table.column(k).null_count for k in present if table.column(k).null_count}
            detail = (
                ", ".join(f"{k}: {n} null(s)" for k, n in nulls.items())
                if nulls
                else f"no nulls in {', '.join(present)}"
            )
            checks.append(GateCheck(gate="key_nulls", asset=name, passed=not nulls, detail=detail))
        governed = {c.lower() for c in (_meta_list(schema, PII_COLUMNS_META) or [])}
        findings = [f for f in scan_parquet(path).findings if f.column.lower() not in governed]
        checks.append(
            GateCheck(
                gate="untagged_pii",
                asset=name,
                passed=not findings,
                detail=(
                    "; ".join(
                        f"{f.column}: {f.count} {f.detector} value(s), e.g. {f.samples[0]}" for f in findings
                    )
                    + " (tag the column as PII in the warehouse or drop it from the product)"
                    if findings
                    else "no PII found outside tagged columns"
                ),
            )
        )
    if not saw_nav:
        checks.append(GateCheck(gate="nav_freshness", passed=True, detail="no asset carries nav_date"))
    checks.extend(_drift(assets, previous))
    return GateReport(as_of=as_of, checks=checks)


def _drift(assets: dict[str, Path], previous: dict[str, Path]) -> list[GateCheck]:
    if not previous:
        return [
            GateCheck(gate="schema_drift", passed=True, detail="first finalized revision: nothing to compare")
        ]
    now = {name: _schema_of(p) for name, p in assets.items()}
    out: list[GateCheck] = []
    for name, p in sorted(previous.items()):
        before = _schema_of(p)
        after = now.get(name)
        if after is None:
            out.append(
                GateCheck(
                    gate="schema_drift",
                    asset=name,
                    passed=False,
                    detail="table dropped since the last finalized revision",
                )
            )
            continue
        problems = [f"{c} dropped" for c in before if c not in after]
        problems += [f"{c} {before[c]} -> {after[c]}" for c in before if c in after and after[c] != before[c]]
        added = [c for c in after if c not in before]
        detail = (
            "; ".join(problems)
            if problems
            else "compatible" + (f" (added {', '.join(added)})" if added else "")
        )
        out.append(GateCheck(gate="schema_drift", asset=name, passed=not problems, detail=detail))
    return out
