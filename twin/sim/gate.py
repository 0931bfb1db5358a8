"""The CI gate: SLA breaches and regressions against a baseline report, as rows a table can show."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from twin.sim.scenario import ScenarioError, Sla
from twin.sim.sla import evaluate
from twin.sim.yaml_lines import line_of, load_with_lines


class GateRow(BaseModel):
    check: str
    kind: Literal["sla", "regression"]
    baseline: float | None = None
    actual: float | None
    limit: str
    change: str = ""
    passed: bool


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
        raise ValueError(f"expected a tolerance like '10%' or 0.1, got {text!r}") from None
    if value < 0:
        raise ValueError("a tolerance cannot be negative")
    return value


class _SlaFile(BaseModel):
    model_config = ConfigDict(extra="ignore")
    slas: list[Sla]


def load_slas(path: Path) -> list[Sla]:
    """SLAs from a YAML file with an `slas:` list (a scenario file works too)."""
    from pydantic import ValidationError

    data, lines = load_with_lines(path.read_text())
    try:
        return _SlaFile.model_validate(data).slas
    except ValidationError as e:
        raise ScenarioError(
            [
                f"{path.name}:{line_of(lines, tuple(err['loc']))}: {'.'.join(map(str, err['loc']))}: "
                f"{err['msg']}"
                for err in e.errors()
            ]
        ) from None


def gate(
    report: dict[str, Any],
    *,
    slas: list[Sla] | None = None,
    baseline: dict[str, Any] | None = None,
    max_regression: float = 0.10,
) -> list[GateRow]:
    rows: list[GateRow] = []
    results = evaluate(report, slas) if slas is not None else None
    sla_rows = [r.model_dump() for r in results] if results is not None else report["slas"]
    for r in sla_rows:
        rows.append(
            GateRow(
                check=r["name"],
                kind="sla",
                actual=r["actual"],
                limit=r["bound"],
                passed=r["passed"],
                change=r.get("note", ""),
            )
        )
    if baseline is not None:
        for label, read, higher_worse, slack in _regression_metrics(baseline):
            base, now = read(baseline), read(report)
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
