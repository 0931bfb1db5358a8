"""SLA evaluation against a report, shared by the runner's junit.xml and `twin gate`."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from twin.sim.scenario import Sla


class SlaResult(BaseModel):
    name: str
    metric: str
    operation: str | None
    bound: str  # "<= 800" or ">= 0.999"
    actual: float | None
    passed: bool
    note: str = ""
    optional: bool = False  # passes with no data; see `Sla.optional`


def metric_value(report: dict[str, Any], metric: str, operation: str | None) -> float | None:
    """The report's value for an SLA metric; None when the report has no samples for it."""
    if metric in ("p50_ms", "p95_ms", "p99_ms", "max_ms"):
        ops = report["operations"]
        stats = ops.get(operation) if operation else report["overall"]
        if not stats or stats["count"] - stats["errors"] - stats["denied"] <= 0:
            return None
        return float(stats[metric])
    if metric == "error_rate":
        stats = report["operations"].get(operation) if operation else report["overall"]
        if not stats or not stats["count"]:
            return None
        return stats["errors"] / stats["count"]
    if metric == "availability":
        return float(report["availability"])
    if metric == "cache_hit_rate":
        return float(report["cache"]["hit_rate"])
    if metric == "freshness_p95_s":
        return _if_counted(report["freshness"], "p95_s")
    if metric == "freshness_max_s":
        return _if_counted(report["freshness"], "max_s")
    if metric == "staleness_max_s":
        st = report["staleness"]
        return float(st["max_s"]) if st["count"] else 0.0
    if metric == "entitlement_p95_ms":
        e = report["entitlement"]
        return float(e["p95_ms"]) if e["count"] else None
    raise ValueError(f"unknown SLA metric {metric!r}")


def _if_counted(section: dict[str, Any], field: str) -> float | None:
    return float(section[field]) if section["count"] else None


LATENCY_METRICS = ("p50_ms", "p95_ms", "p99_ms", "max_ms")
NO_DATA = "no data"  # the verdict of an SLA whose metric has no samples in the run


def unserved(report: dict[str, Any], metric: str, operation: str | None) -> str:
    """Why a latency SLA has no samples although calls were made ("" when it is not that case).

    An operation whose every call failed, or was denied without the scenario expecting it, has no
    latency to measure; its latency SLA fails rather than pass for want of samples.
    """
    if metric not in LATENCY_METRICS:
        return ""
    stats = report["operations"].get(operation) if operation else report["overall"]
    if not stats or not stats["count"] or stats["count"] - stats["errors"] - stats["denied"] > 0:
        return ""
    refused = stats["errors"] + stats.get("denied_unexpected", 0)
    if not refused:
        return ""
    return (
        f"none of {stats['count']} calls was served ({stats['errors']} errors, "
        f"{stats.get('denied_unexpected', 0)} unexpected denials)"
    )


def evaluate(report: dict[str, Any], slas: list[Sla]) -> list[SlaResult]:
    out = []
    for sla in slas:
        actual = metric_value(report, sla.metric, sla.operation)
        # .15g: the bound is written into report.json and `twin gate` reads it back; :g's six
        # significant digits would move a bound like 1234567
        if sla.max is not None:
            bound = f"<= {sla.max:.15g}"
            passed = sla.optional if actual is None else actual <= sla.max
        else:
            assert sla.min is not None
            bound = f">= {sla.min:.15g}"
            passed = sla.optional if actual is None else actual >= sla.min
        note = ""
        if actual is None:
            note = NO_DATA + (" (optional SLA: passes without samples)" if sla.optional else "")
        if actual is None and (why := unserved(report, sla.metric, sla.operation)):
            passed, note = False, why  # calls were made but none served: a failure, not a gap
        out.append(
            SlaResult(
                name=sla.name,
                metric=sla.metric,
                operation=sla.operation,
                bound=bound,
                actual=None if actual is None else round(actual, 6),
                passed=passed,
                note=note,
                optional=sla.optional,
            )
        )
    return out
