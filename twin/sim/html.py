"""report.html: one self-contained page (plotly.js inline, no network) a person would rather read."""

from __future__ import annotations

import html
from typing import Any

OP_HEADERS = ["operation", "count", "errors", "denied", "p50 ms", "p95 ms", "p99 ms", "max ms"]


def _shade_faults(fig: Any, faults: list[dict[str, Any]], rows: int) -> None:
    colours = {"warehouse_down": "red", "region_lost": "darkred", "broker_node_lost": "orange"}
    for f in faults:
        for r in range(1, rows + 1):
            fig.add_vrect(
                x0=f["start_s"] / 3600, x1=f["end_s"] / 3600, row=r, col=1,
                fillcolor=colours.get(f["kind"], "purple"), opacity=0.15, line_width=0,
                annotation_text=f["kind"] if r == 1 else None, annotation_position="top left",
            )  # fmt: skip


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    import plotly.graph_objects as go
    from plotly.offline import get_plotlyjs
    from plotly.subplots import make_subplots

    tl = report["timeline"]
    hours = [t / 3600 for t in tl["t_s"]]
    fig = make_subplots(
        rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.06,
        subplot_titles=("p95 latency (ms)", "throughput (requests/s) and errors", "cache hit rate"),
    )  # fmt: skip
    fig.add_trace(go.Scatter(x=hours, y=tl["p95_ms"], name="p95 ms", mode="lines"), row=1, col=1)
    fig.add_trace(go.Scatter(x=hours, y=tl["throughput_rps"], name="req/s", mode="lines"), row=2, col=1)
    fig.add_trace(go.Bar(x=hours, y=tl["errors"], name="errors", marker_color="red"), row=2, col=1)
    fig.add_trace(go.Scatter(x=hours, y=tl["cache_hit_rate"], name="hit rate", mode="lines"), row=3, col=1)
    _shade_faults(fig, report["faults"], 3)
    fig.update_xaxes(title_text="hours since start", row=3, col=1)
    fig.update_layout(height=800, showlegend=False, margin={"t": 40})

    cost = report["cost"]
    sens = cost["sensitivity"]["by_ttl"]
    cfig = make_subplots(rows=1, cols=2, subplot_titles=("cost/day by cache TTL", "cost/day by hit rate"))
    cfig.add_trace(go.Scatter(x=[r["ttl_s"] for r in sens], y=[r["per_day"] for r in sens],
                              mode="lines+markers", name="by TTL"), row=1, col=1)  # fmt: skip
    hr = cost["sensitivity"]["by_hit_rate"]
    cfig.add_trace(go.Scatter(x=[r["hit_rate"] for r in hr], y=[r["per_day"] for r in hr],
                              mode="lines+markers", name="by hit rate"), row=1, col=2)  # fmt: skip
    cfig.update_xaxes(title_text="TTL (s)", row=1, col=1)
    cfig.update_xaxes(title_text="hit rate", row=1, col=2)
    cfig.update_layout(height=380, showlegend=False, margin={"t": 40})

    sla_rows = [
        [r["name"], r["metric"], r["operation"] or "all", r["bound"], r["actual"],
         "pass" if r["passed"] else "FAIL"]
        for r in report["slas"]
    ]  # fmt: skip
    op_rows = [
        [op, s["count"], s["errors"], s["denied"], s["p50_ms"], s["p95_ms"], s["p99_ms"], s["max_ms"]]
        for op, s in report["operations"].items()
    ]
    we, run = cost["worked_example"], cost["run"]
    cost_rows = [
        ["worked example, no cache", f"${we['no_cache_per_day']:,.2f}", f"${we['no_cache_per_year']:,.0f}"],
        ["worked example, 94% hit rate", f"${we['cache_94_per_day']:,.2f}",
         f"${we['cache_94_per_year']:,.0f}"],
        [f"this run, per query, hit rate {run['hit_rate']:.1%}", f"${run['per_query_per_day']:,.2f}",
         f"${run['per_query_per_year']:,.0f}"],
        ["this run, warehouse clock (60 s minimum, auto-suspend)",
         f"${run['warehouse_clock_per_day']:,.2f}",
         f"${run['warehouse_clock_per_year']:,.0f}"],
    ]  # fmt: skip
    verdict = "all SLAs met" if all(r["passed"] for r in report["slas"]) else "SLA breach"
    title = html.escape(f"twin report: {report['scenario']}")
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>{title}</title>
<script type="text/javascript">{get_plotlyjs()}</script>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}th{{background:#eee}}</style></head>
<body><h1>{title}</h1>
<p>mode {report["mode"]}, seed {report["seed"]}, start {report["start"]}, {report["duration_s"] / 3600:.2f} h
simulated, platform {html.escape(report["platform"])}. Availability {report["availability"]:.4%},
cache hit rate {report["cache"]["hit_rate"]:.1%}, freshness p95 {report["freshness"]["p95_s"]:.0f} s.
<b>{verdict}</b>.</p>
<h2>SLAs</h2>{_table(["SLA", "metric", "operation", "bound", "actual", "result"], sla_rows)}
<h2>Over time</h2>{fig.to_html(include_plotlyjs=False, full_html=False)}
<h2>Operations</h2>{_table(OP_HEADERS, op_rows)}
<h2>Cost</h2>{_table(["", "per day", "per year"], cost_rows)}
{cfig.to_html(include_plotlyjs=False, full_html=False)}
</body></html>
"""
