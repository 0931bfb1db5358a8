"""A run's outputs: report.json (the numbers), junit.xml (one test case per SLA), report.html (plots).

report.json holds only what the simulation determines, so the same seed and calibration give the same
bytes; wall-clock figures go to run.json beside it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from twin.cost.chargeback import chargeback
from twin.cost.summary import cost_summary
from twin.sim.costing import traffic_of
from twin.sim.durations import format_clock
from twin.sim.faults import Window, windows
from twin.sim.metrics import hist_summary_s
from twin.sim.runner import RunResult
from twin.sim.sla import SlaResult, evaluate

REPORT_VERSION = 1


def build_report(result: RunResult) -> dict[str, Any]:
    s, rec = result.scenario, result.recorder
    rec.merge_all()
    overall = rec.all.summary()
    ops = {name: rec.ops[name].summary() for name in sorted(rec.ops)}
    total = int(overall["count"])  # a count (the summary's values are typed float | int)
    # A denial the scenario did not expect is a call the user could not make: an empty answer
    # must not read as 100% available (every query of an operation denied used to pass the gate).
    unserved = overall["errors"] + overall["denied_unexpected"]
    availability = (total - unserved) / total if total else 1.0
    fresh = hist_summary_s(rec.freshness)
    stale = hist_summary_s(rec.staleness)
    advisors = sum(p.count for p in s.personas)
    per_user = sum(p.count * p.requests_per_day for p in s.personas) / advisors if advisors else 0.0
    keyed = list(result.key_counts.values())  # the keys the warehouse really had
    report: dict[str, Any] = {
        "version": REPORT_VERSION,
        "scenario": s.name,
        "seed": s.seed,
        "mode": result.mode,
        "platform": result.platform_name,
        "start": format_clock(s.start),
        "duration_s": s.duration,
        "calibration": {op: _median_ms(v) for op, v in sorted(result.calibration.samples.items())},
        "operations": ops,
        "overall": overall,
        "availability": round(availability, 6),
        "error_rate": round(overall["errors"] / total, 6) if total else 0.0,
        "cache": result.cache_stats,
        "freshness": fresh,
        "staleness": stale,
        "entitlement": {
            "count": 0,
            "p50_ms": 0.0,
            "p95_ms": 0.0,
            "p99_ms": 0.0,
            "note": "the entitlement workflow is not in the runner yet",
        },
        "events": result.events,
        "refreshes": result.refreshes,
        "faults": [
            {
                "kind": w.kind,
                "start_s": w.start,
                "end_s": _fault_end(w, result),
                "latency_ms": w.latency_ms,
                "nodes": w.nodes,
            }
            for w in windows(s)
        ],
        "failover": result.failover,
        "timeline": rec.timeline(s.duration),
    }
    cost = cost_summary(
        s.cost,
        users=advisors,
        queries_per_user_per_day=per_user,
        queries=total,
        hit_rate=result.cache_stats["hit_rate"],
        duration_s=s.duration,
        start_s=s.start,
        warehouse_calls=rec.misses_at,
        keys=rec.keys,
        traffic=traffic_of(s, result.key_counts),
        sweep_ttls=s.sweep.ttls if s.sweep else None,
        sweep_zipf_s=s.sweep.zipf_s if s.sweep else (),
        n_keys=keyed[0] if keyed else 1,
        seed=s.seed,
    )
    group_of = {user: user.rsplit("-", 1)[0] for user in result.usage}
    day = cost["run"]["warehouse_clock_per_day"]
    # a window that cannot be projected is charged back at its own bill, and says so
    cost["chargeback"] = chargeback(
        result.usage,
        per_day=day if day is not None else cost["run"]["window_warehouse_clock"],
        group_of=group_of,
    )
    if day is None:
        cost["chargeback"]["basis"] = (
            "the window's own warehouse clock (no day projected), split by warehouse calls"
        )
    if result.monitor is not None:
        cost["resource_monitor"] = result.monitor
    report["cost"] = cost
    if result.mode == "live" and result.requested_speed:
        report["speed"] = speed_label(result.requested_speed, result.wall.get("simulated_s_per_wall_s", 0.0))
        report["cost"]["run"]["label"] = report["speed"]["label"]
    report["slas"] = [r.model_dump() for r in evaluate(report, s.slas)]
    return report


KEPT_UP = 0.95  # a live run within 5% of the requested speed kept up


def speed_label(requested: float, achieved: float) -> dict[str, Any]:
    """Requested vs achieved speed of a live run, and the label its figures carry."""
    kept = achieved >= KEPT_UP * requested
    if kept:
        label = f"live at the requested {requested:g}x"
    else:
        label = (
            f"live run fell behind: achieved {achieved:.3g}x of the requested {requested:g}x; wall-time "
            "figures (latencies under load, event rates) are at the achieved speed"
        )
    return {"requested": requested, "achieved": achieved, "kept_up": kept, "label": label}


def _fault_end(w: Window, result: RunResult) -> float:
    """A lost region is down until the failover strategy's RTO, not to the end of the run."""
    if w.kind == "region_lost" and result.failover is not None:
        return min(w.end, w.start + result.failover["rto_s"])
    return w.end


def _median_ms(values: list[float]) -> float:
    v = sorted(values)
    return round(v[len(v) // 2] * 1000, 4) if v else 0.0


def junit_xml(suite: str, results: list[SlaResult]) -> str:
    failures = sum(not r.passed for r in results)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuite name={quoteattr(suite)} tests="{len(results)}" failures="{failures}">',
    ]
    for r in results:
        name = quoteattr(r.name)
        lines.append(f"  <testcase classname={quoteattr('sla.' + suite)} name={name}>")
        if not r.passed:
            msg = f"{r.metric}{' of ' + r.operation if r.operation else ''}: {r.actual} not {r.bound}"
            lines.append(f"    <failure message={quoteattr(msg)}>{escape(msg)}</failure>")
        elif r.note:
            lines.append(f"    <system-out>{escape(r.note)}</system-out>")
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


def write_outputs(result: RunResult, out_dir: Path) -> dict[str, Any]:
    from twin.sim.html import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    report = build_report(result)
    (out_dir / "report.json").write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    result.calibration.save(out_dir / "calibration.json")
    (out_dir / "run.json").write_text(json.dumps({"wall": result.wall}, indent=1) + "\n")
    slas = [SlaResult.model_validate(r) for r in report["slas"]]
    (out_dir / "junit.xml").write_text(junit_xml(result.scenario.name, slas))
    (out_dir / "report.html").write_text(render_html(report))
    return report
