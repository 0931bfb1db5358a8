"""PII scanner (the Macie stand-in): finds personal data in columns not tagged as PII.

Detectors: US SSNs, emails, phone numbers, card numbers (Luhn-valid 13–19 digits), account numbers
(8–17 digit runs that are not cards) and person names (a common first name followed by a capitalised
word). Reports per-column counts and masked samples; it is the publish gate for data products.

A flagged column that no masking policy covers needs a declared decision in the policy DDL, the
`pii_decision` tag with the value `visible_to:ROLE,ROLE,…` (Snowflake tags are plain strings, so the
decision travels with the column to Snowflake too). A finding carries its column's decision, so a
reader tells "PII we chose to show these roles" from "PII nobody decided about" (`undecided`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from twin.governance.errors import GovernanceError

SAMPLE_ROWS = 20_000

_SSN = re.compile(r"\b(?!000|666|9\d\d)\d{3}-(?!00)\d{2}-(?!0000)\d{4}\b")
_EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
_PHONE = re.compile(r"(?<!\d)(?:\+?1[ .-]?)?\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}(?!\d)")
_DIGITS = re.compile(r"(?<![\d-])\d(?:[ -]?\d){7,18}(?![\d-])")
_NAME = re.compile(r"\b([A-Z][a-z]+)\s+(?:[A-Z]\.\s+)?[A-Z][a-z'’-]+\b")


def luhn(digits: str) -> bool:
    total, alt = 0, False
    for ch in reversed(digits):
        d = int(ch)
        if alt:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
        alt = not alt
    return total % 10 == 0


def _first_names() -> frozenset[str]:
    from faker.providers.person.en_US import Provider

    return frozenset(Provider.first_names)


_FIRST: frozenset[str] | None = None


def _cards(v: str) -> list[str]:
    out = []
    for m in _DIGITS.finditer(v):
        d = re.sub(r"\D", "", m.group())
        if 13 <= len(d) <= 19 and luhn(d):
            out.append(m.group())
    return out


def _accounts(v: str) -> list[str]:
    out = []
    for m in _DIGITS.finditer(v):
        d = re.sub(r"\D", "", m.group())
        if 8 <= len(d) <= 17 and not (len(d) >= 13 and luhn(d)) and not _PHONE.fullmatch(m.group()):
            out.append(m.group())
    return out


def _names(v: str) -> list[str]:
    global _FIRST
    if _FIRST is None:
        _FIRST = _first_names()
    return [m.group() for m in _NAME.finditer(v) if m.group(1) in _FIRST]


DETECTORS: dict[str, Callable[[str], list[str]]] = {
    "ssn": lambda v: _SSN.findall(v),
    "email": lambda v: _EMAIL.findall(v),
    "phone": lambda v: [m.group() for m in _PHONE.finditer(v)],
    "card_number": _cards,
    "account_number": _accounts,
    "person_name": _names,
}


def mask(s: str) -> str:
    keep = max(1, len(s) // 5)
    return s[:keep] + "*" * max(0, len(s) - 2 * keep) + s[-keep:] if len(s) > 2 else "*" * len(s)


DECISION_TAG = "pii_decision"
_DECISION = re.compile(r"^visible_to:([A-Za-z_][A-Za-z0-9_$]*(?:,[A-Za-z_][A-Za-z0-9_$]*)*)$")


class PiiDecision(BaseModel):
    """`ALTER TABLE t MODIFY COLUMN c SET TAG pii_decision = 'visible_to:A,B'`: A and B (and the
    roles that inherit them) may read `c` in clear; every other role must not."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    table: str
    column: str
    visible_to: frozenset[str]


def parse_decision(table: str, column: str, value: str) -> PiiDecision:
    m = _DECISION.match(value.replace(" ", ""))
    if not m:
        raise GovernanceError(
            f"{table}.{column}: tag {DECISION_TAG} = {value!r} is not a decision; "
            "write 'visible_to:ROLE,ROLE' (role names, comma-separated)"
        )
    return PiiDecision(table=table, column=column, visible_to=frozenset(r.upper() for r in m[1].split(",")))


def pii_decisions(stmts: Iterable[Any]) -> dict[tuple[str, str], PiiDecision]:
    """(table, column) → the declared decision, from policy statements (unknown roles are refused)."""
    from twin.governance.models import CreateRole, SetTag

    stmts = list(stmts)
    roles = {s.name for s in stmts if isinstance(s, CreateRole)}
    out: dict[tuple[str, str], PiiDecision] = {}
    for s in stmts:
        if isinstance(s, SetTag) and s.tag == DECISION_TAG:
            d = parse_decision(s.table, s.column, s.value)
            unknown = sorted(d.visible_to - roles)
            if unknown:
                raise GovernanceError(
                    f"{s.table}.{s.column}: {DECISION_TAG} names unknown role(s) {', '.join(unknown)}; "
                    "declare them with CREATE ROLE first"
                )
            out[(s.table, s.column)] = d
    return out


class Finding(BaseModel):
    column: str
    detector: str
    count: int
    rows_scanned: int
    samples: list[str]
    # The column's declared `pii_decision` roles, when it has one (None: nobody decided).
    visible_to: list[str] | None = None


class ScanReport(BaseModel):
    source: str
    columns_scanned: list[str]
    columns_skipped: list[str]  # tagged PII already, so governed
    rows_scanned: int
    findings: list[Finding]


def scan_values(source: str, columns: dict[str, Iterable[Any]], skip: Iterable[str] = ()) -> ScanReport:
    skip_set = {s.lower() for s in skip}
    findings: list[Finding] = []
    scanned, skipped, n_rows = [], [], 0
    for col, values in columns.items():
        if col.lower() in skip_set:
            skipped.append(col)
            continue
        scanned.append(col)
        counts: dict[str, int] = {}
        samples: dict[str, list[str]] = {}
        n = 0
        for v in values:
            n += 1
            if v is None:
                continue
            text = str(v)
            for name, detect in DETECTORS.items():
                hits = detect(text)
                if hits:
                    counts[name] = counts.get(name, 0) + 1
                    s = samples.setdefault(name, [])
                    if len(s) < 3:
                        s.append(mask(hits[0]))
        n_rows = max(n_rows, n)
        for name, c in counts.items():
            findings.append(
                Finding(column=col, detector=name, count=c, rows_scanned=n, samples=samples[name])
            )
    return ScanReport(
        source=source,
        columns_scanned=scanned,
        columns_skipped=skipped,
        rows_scanned=n_rows,
        findings=findings,
    )


def undecided(report: ScanReport) -> list[Finding]:
    """Findings in columns with neither a PII tag (masked) nor a declared `pii_decision`."""
    return [f for f in report.findings if f.visible_to is None]


def _tagged(con: Any, table: str) -> set[str]:
    from twin.governance.models import SetTag
    from twin.governance.store import load_state

    return {
        s.column for s in load_state(con) if isinstance(s, SetTag) and s.table == table and s.tag == "pii"
    }


def _decided(con: Any, table: str) -> dict[str, list[str]]:
    from twin.governance.store import load_state

    return {col: sorted(d.visible_to) for (t, col), d in pii_decisions(load_state(con)).items() if t == table}


def scan_table(con: Any, table: str, limit: int = SAMPLE_ROWS) -> ScanReport:
    parts = table.lower().split(".")
    if len(parts) != 2 or not all(re.fullmatch(r"[a-z_][a-z0-9_]*", p) for p in parts):
        raise GovernanceError(f"{table!r}: give a table as SCHEMA.TABLE")
    try:
        arrow = con.sql(f'SELECT * FROM "{parts[0]}"."{parts[1]}" LIMIT {int(limit)}').to_arrow_table()
    except Exception as e:
        raise GovernanceError(f"cannot read {table}: {str(e).splitlines()[0]}") from None
    name = ".".join(parts)
    report = _scan_arrow(table, arrow, _tagged(con, name))
    decided = _decided(con, name)
    if decided:
        report.findings = [
            f.model_copy(update={"visible_to": decided.get(f.column)}) for f in report.findings
        ]
    return report


def scan_parquet(path: Path, limit: int = SAMPLE_ROWS) -> ScanReport:
    import pyarrow.parquet as pq

    if not path.exists():
        raise GovernanceError(f"no such file: {path}")
    try:
        arrow = pq.read_table(path).slice(0, limit)
    except Exception as e:
        raise GovernanceError(f"cannot read {path.name}: {e}") from None
    return _scan_arrow(path.name, arrow, ())


def _scan_arrow(source: str, arrow: Any, skip: Iterable[str]) -> ScanReport:
    import pyarrow as pa

    cols = {
        name: arrow.column(name).to_pylist()
        for name in arrow.column_names
        if pa.types.is_string(arrow.schema.field(name).type)
        or pa.types.is_large_string(arrow.schema.field(name).type)
    }
    return scan_values(source, cols, skip)
