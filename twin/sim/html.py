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


def _mark_monitor(fig: Any, monitor: dict[str, Any] | None) -> None:
    """A resource monitor's notifications as vertical lines on the timeline."""
    for n in (monitor or {}).get("notifications", []):
        colour = "orange" if n["action"] == "NOTIFY" else "red"
        fig.add_vline(x=n["t_s"] / 3600, line_dash="dash", line_color=colour,
                      annotation_text=f"monitor {n['percent']}%: {n['action']}")  # fmt: skip


def _speed_html(report: dict[str, Any]) -> str:
    speed = report.get("speed")
    if not speed:
        return ""
    style = "" if speed["kept_up"] else ' style="color:#b00;font-weight:bold"'
    return f"<p{style}>{html.escape(speed['label'])}</p>"


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _range(proj: dict[str, Any], key: str) -> str:
    lo, hi = proj.get(f"{key}_low"), proj.get(f"{key}_high")
    return f" (${lo:,.0f}–${hi:,.0f})" if proj.get("method") == "profile" and lo is not None else ""


def cost_run_rows(run: dict[str, Any]) -> list[list[str]]:
    """The run's projected day, with its range, or the plain refusal."""
    proj = run.get("projection") or {}
    if run.get("per_query_per_day") is None:
        return [
            ["this run, projected to a day", "cannot project", "-"],
            ["this run's window alone, warehouse clock", f"${run['window_warehouse_clock']:,.2f}", "-"],
        ]
    return [
        [f"this run, per query, day's hit rate {run['hit_rate']:.1%}",
         f"${run['per_query_per_day']:,.2f}{_range(proj, 'per_query_per_day')}",
         f"${run['per_query_per_year']:,.0f}"],
        ["this run, warehouse clock (minimum billing, auto-suspend)",
         f"${run['warehouse_clock_per_day']:,.2f}{_range(proj, 'warehouse_clock_per_day')}",
         f"${run['warehouse_clock_per_year']:,.0f}"],
    ]  # fmt: skip


def sweep_figure(sweeps: dict[str, Any]) -> Any:
    """One panel per swept parameter: the day's warehouse clock cost, the scenario's choice marked."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    names = list(sweeps)
    fig = make_subplots(rows=1, cols=max(1, len(names)), subplot_titles=[f"$/day by {n}" for n in names])
    for i, name in enumerate(names, start=1):
        sw = sweeps[name]
        xs = [p["x"] for p in sw["points"]]
        ys = [p["warehouse_clock_per_day"] for p in sw["points"]]
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=name), row=1, col=i)
        chosen = [(x, y) for x, y in zip(xs, ys, strict=True) if x == sw["chosen"]]
        if chosen:
            fig.add_trace(go.Scatter(x=[chosen[0][0]], y=[chosen[0][1]], mode="markers+text",
                                     marker={"size": 14, "color": "red", "symbol": "star"},
                                     text=["chosen"], textposition="top center", name="chosen"),
                          row=1, col=i)  # fmt: skip
        fig.update_xaxes(title_text=name, row=1, col=i)
    fig.update_layout(height=360, showlegend=False, margin={"t": 40})
    return fig


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
    _mark_monitor(fig, (report.get("cost") or {}).get("resource_monitor"))
    fig.update_xaxes(title_text="hours since start", row=3, col=1)
    fig.update_layout(height=800, showlegend=False, margin={"t": 40})

    cost = report["cost"]
    sens = cost["sensitivity"]["by_ttl"]
    cfig = make_subplots(
        rows=1, cols=2, subplot_titles=("day's hit rate by cache TTL", "cost/day by hit rate")
    )
    cfig.add_trace(go.Scatter(x=[r["ttl_s"] for r in sens], y=[r["hit_rate"] for r in sens],
                              mode="lines+markers", name="by TTL"), row=1, col=1)  # fmt: skip
    hr = cost["sensitivity"]["by_hit_rate"]
    cfig.add_trace(go.Scatter(x=[r["hit_rate"] for r in hr], y=[r["per_day"] for r in hr],
                              mode="lines+markers", name="by hit rate"), row=1, col=2)  # fmt: skip
    cfig.update_xaxes(title_text="TTL (s)", row=1, col=1)
    cfig.update_xaxes(title_text="hit rate", row=1, col=2)
    cfig.update_layout(height=380, showlegend=False, margin={"t": 40})

    sla_rows = [
        [r["name"], r["metric"], r["operation"] or "all", r["bound"],
         "no data" if r["actual"] is None else r["actual"],
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
    ]  # fmt: skip
    cost_rows += cost_run_rows(run)
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
{_speed_html(report)}
<h2>SLAs</h2>{_table(["SLA", "metric", "operation", "bound", "actual", "result"], sla_rows)}
<h2>Over time</h2>{fig.to_html(include_plotlyjs=False, full_html=False)}
<h2>Operations</h2>{_table(OP_HEADERS, op_rows)}
<h2>Cost</h2>{_table(["", "per day", "per year"], cost_rows)}
<p>{html.escape((run.get("projection") or {}).get("note", ""))}</p>
{cfig.to_html(include_plotlyjs=False, full_html=False)}
{extra_cost_html(cost)}
</body></html>
"""


def extra_cost_html(cost: dict[str, Any]) -> str:
    """Sweeps (curve per parameter, chosen point marked), chargeback, delivery and monitor sections."""
    parts = []
    if cost.get("sweeps"):
        fig = sweep_figure(cost["sweeps"])
        parts.append(
            "<h3>Sweeps (the profile model's day)</h3>" + fig.to_html(include_plotlyjs=False, full_html=False)
        )
    cb = cost.get("chargeback")
    if cb:
        rows = [
            [
                p["persona"],
                p["clients"],
                p["requests"],
                p["warehouse_calls"],
                f"{p['share']:.1%}",
                "-" if p["per_day"] is None else f"${p['per_day']:,.2f}",
            ]
            for p in cb["personas"]
        ]
        parts.append(
            "<h3>Chargeback by persona</h3>"
            + _table(["persona", "clients", "requests", "warehouse calls", "share", "per day"], rows)
        )
        rows = [
            [
                c["client"],
                c["persona"],
                c["requests"],
                c["warehouse_calls"],
                "-" if c["per_day"] is None else f"${c['per_day']:,.2f}",
            ]
            for c in cb["top_clients"]
        ]
        parts.append(
            "<h3>Costliest clients</h3>"
            + _table(["client", "persona", "requests", "warehouse calls", "per day"], rows)
        )
    mon = cost.get("resource_monitor")
    if mon:
        rows = [
            [f"{n['t_s'] / 3600:.2f} h", f"{n['percent']}%", n["action"], f"{n['credits']:.2f}"]
            for n in mon["notifications"]
        ]
        parts.append(
            f"<h3>Resource monitor {html.escape(mon['name'])} (quota {mon['credit_quota']:g} "
            f"credits)</h3>" + _table(["at", "threshold", "action", "credits used"], rows)
        )
    delivery = cost.get("delivery") or {}
    pvp = delivery.get("pull_vs_push")
    if pvp:
        rows = [
            [
                "pull (every client extracts)",
                f"${pvp['pull_per_year']:,.0f}",
                f"${pvp['pull_egress_per_year']:,.0f}",
            ],
            [
                "push (published once per destination, ADX zero-copy)",
                f"${pvp['push_per_year']:,.0f}",
                f"${pvp['push_egress_per_year']:,.0f}",
            ],
        ]
        parts.append(
            f"<h3>Delivery: pull vs push ({pvp['reduction']:.0%} lower)</h3>"
            + _table(["model", "per year", "of which egress"], rows)
        )
    stages = delivery.get("trajectory")
    if stages:
        rows = [
            [st["label"], f"${st['per_day']:,.0f}", f"${st['per_year']:,.0f}", f"{st['saving_vs_first']:.0%}"]
            for st in stages
        ]
        parts.append(
            "<h3>Cost-reduction trajectory</h3>" + _table(["stage", "per day", "per year", "saving"], rows)
        )
    on_profile = delivery.get("trajectory_on_profile")
    if on_profile:
        rows = [[st["label"], f"{st['hit_rate']:.1%}", f"${st['warehouse_clock_per_day']:,.0f}",
                 f"${st['per_year']:,.0f}", f"{st['saving_vs_first']:.0%}"] for st in on_profile]  # fmt: skip
        parts.append("<h3>The same levers on this scenario's traffic (warehouse clock)</h3>" + _table(
            ["stage", "hit rate", "per day", "per year", "saving"], rows))  # fmt: skip
    return "\n".join(parts)  # fmt: skip
