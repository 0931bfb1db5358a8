"""The CI gate: SLA breaches and regressions against a baseline report, as rows a table can show.

The gate trusts a report's figures only after checking them, and never its verdicts: each SLA row's
`passed` flag (and `actual`) is recomputed from the report's figures and the row's bound, and figures
that contradict each other (an availability higher than the counts allow) fail the gate as
`integrity` rows. A report.json edited to say `passed: true` next to a breaching figure fails.
A report's bounds come from the same file; pass `--sla` to gate on bounds the report cannot edit.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.errors import TwinError
from twin.sim.scenario import ScenarioError, Sla, SlaMetric
from twin.sim.sla import evaluate
from twin.sim.yaml_lines import YamlSyntaxError, line_of, load_with_lines

MAX_PROBLEMS = 12  # a report that is wrong everywhere needs its first problems shown, not all


class GateRow(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    check: str
    kind: Literal["sla", "regression", "integrity"]
    baseline: float | None = None
    actual: float | None
    limit: str
    change: str = ""
    passed: bool


# --- what the gate reads from a report -------------------------------------------------------------
# A report has more sections (timeline, cost, faults...) than the gate reads: those are ignored here
# (extra="ignore"), every section the gate does read is validated before any figure is used.


class _Figures(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", allow_inf_nan=False)


class OpFigures(_Figures):
    count: int = Field(ge=0)
    errors: int = Field(ge=0)
    denied: int = Field(ge=0)
    denied_unexpected: int = Field(0, ge=0)  # absent from reports written before it existed
    stale: int = Field(0, ge=0)
    p50_ms: float = Field(ge=0)
    p95_ms: float = Field(ge=0)
    p99_ms: float = Field(ge=0)
    max_ms: float = Field(ge=0)


class CacheFigures(_Figures):
    hit_rate: float = Field(ge=0, le=1)


class AgeFigures(_Figures):
    count: int = Field(ge=0)
    p95_s: float = Field(0.0, ge=0)
    max_s: float = Field(ge=0)


class EntitlementFigures(_Figures):
    count: int = Field(ge=0)
    p95_ms: float = Field(ge=0)


_BOUND = re.compile(r"^(<=|>=) (\S+)$")


class SlaRow(_Figures):
    name: str
    metric: SlaMetric
    operation: str | None = None
    bound: str
    actual: float | None
    passed: bool
    note: str = ""
    optional: bool = False

    @field_validator("bound")
    @classmethod
    def _finite_bound(cls, v: str) -> str:
        m = _BOUND.match(v)
        try:
            ok = m is not None and math.isfinite(float(m.group(2)))
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"expected a bound like '<= 250' or '>= 0.999', got {v!r}")
        return v

    def sla(self) -> Sla:
        m = _BOUND.match(self.bound)
        assert m is not None  # checked by _finite_bound
        value = float(m.group(2))
        return Sla(
            name=self.name,
            metric=self.metric,
            operation=self.operation,
            optional=self.optional,
            **({"max": value} if m.group(1) == "<=" else {"min": value}),
        )


class ReportFigures(_Figures):
    scenario: str
    operations: dict[str, OpFigures]
    overall: OpFigures
    availability: float = Field(ge=0, le=1)
    error_rate: float = Field(ge=0, le=1)
    cache: CacheFigures
    freshness: AgeFigures
    staleness: AgeFigures
    entitlement: EntitlementFigures
    slas: list[SlaRow]


class ReportError(TwinError, ValueError):
    """A report (or baseline) is not one `twin run` writes; each problem names the field."""

    def __init__(self, source: str, problems: list[str]) -> None:
        shown = problems[:MAX_PROBLEMS]
        if len(problems) > MAX_PROBLEMS:
            shown.append(f"... and {len(problems) - MAX_PROBLEMS} more")
        super().__init__(f"{source} is not a twin report:\n  " + "\n  ".join(shown))
        self.problems = problems


def _dotted(loc: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def validate_report(data: Any, source: str = "report") -> dict[str, Any]:
    """The sections of a report the gate reads, checked; raises ReportError naming each bad field."""
    return _figures(data, source).model_dump()


def _kind(value: Any) -> str:
    return {list: "a list", str: "a string", bool: "a boolean", type(None): "null"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _figures(data: Any, source: str) -> ReportFigures:
    if not isinstance(data, dict):
        raise ReportError(source, [f"expected a JSON object (a report.json), got {_kind(data)}"])
    try:
        return ReportFigures.model_validate(data)
    except ValidationError as e:
        raise ReportError(
            source, [f"{_dotted(tuple(err['loc']))}: {err['msg']}" for err in e.errors()]
        ) from None


# (label, how to read it from a report, worse when higher?, absolute slack so 0 -> 0.0001 is not +inf%)
Metric = tuple[str, Any, bool, float]


def _regression_metrics(report: dict[str, Any]) -> list[Metric]:
    out: list[Metric] = []
    for op in sorted(report["operations"]):
        for q in ("p95_ms", "p99_ms"):
            out.append((f"{op} {q}", lambda r, op=op, q=q: r["operations"].get(op, {}).get(q), True, 1.0))
    out.append(("error_rate", lambda r: r["error_rate"], True, 0.001))
    out.append(("unavailability", lambda r: round(1 - r["availability"], 6), True, 0.001))
    out.append(("freshness_p95_s", lambda r: r["freshness"]["p95_s"], True, 1.0))
    out.append(("cache_hit_rate", lambda r: r["cache"]["hit_rate"], False, 0.01))
    return out


def parse_tolerance(text: str) -> float:
    t = text.strip()
    try:
        value = float(t[:-1]) / 100 if t.endswith("%") else float(t)
    except ValueError:
        raise ValueError(f"--max-regression: expected a tolerance like '10%' or 0.1, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"--max-regression: a tolerance is a finite number >= 0, got {text!r}")
    return value


class _SlaFile(BaseModel):
    # a scenario file works too: its other fields are not the gate's business
    model_config = ConfigDict(extra="ignore", frozen=True)
    slas: list[Sla]


def load_slas(path: Path) -> list[Sla]:
    """SLAs from a YAML file with an `slas:` list (a scenario file works too)."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        raise ScenarioError([f"{path.name}: not a UTF-8 text file; an SLA file is YAML"]) from None
    try:
        data, lines = load_with_lines(text)
    except YamlSyntaxError as e:
        raise ScenarioError([f"{path.name}: {e}"]) from None
    if not isinstance(data, dict):
        raise ScenarioError(
            [f"{path.name}: an SLA file is a mapping with an `slas:` list, got {_kind(data)}"]
        )
    try:
        return _SlaFile.model_validate(data).slas
    except ValidationError as e:
        raise ScenarioError(
            [
                f"{path.name}:{line_of(lines, tuple(err['loc']))}: {'.'.join(map(str, err['loc']))}: "
                f"{err['msg'].removeprefix('Value error, ')}"
                for err in e.errors()[:MAX_PROBLEMS]
            ]
        ) from None


def _close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def integrity(report: ReportFigures) -> list[GateRow]:
    """Failed rows for figures that contradict each other; none for a report as `twin run` wrote it."""
    rows: list[GateRow] = []

    def bad(check: str, actual: float, limit: str) -> None:
        rows.append(GateRow(check=check, kind="integrity", actual=actual, limit=limit, passed=False))

    o, ops = report.overall, report.operations
    for field in ("count", "errors", "denied", "denied_unexpected"):
        total = sum(getattr(s, field) for s in ops.values())
        if getattr(o, field) != total:
            bad(f"overall.{field}", getattr(o, field), f"= {total} (the operations' sum)")
    for name, s in {"overall": o, **{f"operations.{k}": v for k, v in ops.items()}}.items():
        if s.errors + s.denied > s.count:
            bad(f"{name}.count", s.count, f">= {s.errors + s.denied} (errors + denied)")
        if s.denied_unexpected > s.denied:
            bad(f"{name}.denied_unexpected", s.denied_unexpected, f"<= {s.denied} (denied)")
    served = o.count - o.errors - o.denied_unexpected
    availability = round(served / o.count, 6) if o.count else 1.0
    if not _close(report.availability, availability):
        bad("availability", report.availability, f"= {availability:.6g} (from overall counts)")
    error_rate = round(o.errors / o.count, 6) if o.count else 0.0
    if not _close(report.error_rate, error_rate):
        bad("error_rate", report.error_rate, f"= {error_rate:.6g} (from overall counts)")
    return rows


def _sla_rows(report: ReportFigures, figures: dict[str, Any], slas: list[Sla] | None) -> list[GateRow]:
    if slas is not None:
        return [
            GateRow(check=r.name, kind="sla", actual=r.actual, limit=r.bound, passed=r.passed, change=r.note)
            for r in evaluate(figures, slas)
        ]
    rows = []
    for claimed in report.slas:
        # the report's own verdict is only a claim: recompute it from the figures and the bound
        r = evaluate(figures, [claimed.sla()])[0]
        notes = [r.note] if r.note else []
        if not _close(claimed.actual, r.actual):
            notes.append(f"report's row says {claimed.actual}; gated on its figures")
        if claimed.passed != r.passed:
            notes.append(f"report's row says {'pass' if claimed.passed else 'FAIL'}; recomputed")
        rows.append(
            GateRow(
                check=r.name,
                kind="sla",
                actual=r.actual,
                limit=r.bound,
                passed=r.passed,
                change="; ".join(notes),
            )
        )
    return rows


def gate(
    report: dict[str, Any],
    *,
    slas: list[Sla] | None = None,
    baseline: dict[str, Any] | None = None,
    max_regression: float = 0.10,
) -> list[GateRow]:
    """Rows for every check; raises ReportError when the report or baseline is not a twin report."""
    current = _figures(report, "report")
    figures = current.model_dump()
    rows = integrity(current) + _sla_rows(current, figures, slas)
    if baseline is not None:
        base_figures = _figures(baseline, "baseline").model_dump()
        for label, read, higher_worse, slack in _regression_metrics(base_figures):
            base, now = read(base_figures), read(figures)
            if base is None or now is None:
                continue
            if higher_worse:
                limit = base * (1 + max_regression) + slack
                passed = now <= limit
                bound = f"<= {limit:.4g}"
            else:
                limit = base * (1 - max_regression) - slack
                passed = now >= limit
                bound = f">= {limit:.4g}"
            change = f"{(now - base) / base:+.1%}" if base else f"{now - base:+.4g}"
            rows.append(
                GateRow(
                    check=label,
                    kind="regression",
                    baseline=base,
                    actual=now,
                    limit=bound,
                    change=change,
                    passed=passed,
                )
            )
    return rows
