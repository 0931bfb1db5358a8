"""Side-by-side cost of several scenarios or runs: what each costs per day and per year, and why.

Input is the `cost` section of a report (or of `parametric_summary` for a scenario not run), so the
CLI's `twin cost compare` and the cost notebook call the same functions. The "why" columns are the
drivers of the bill: queries, hit rate, warehouse calls, busy vs billed warehouse seconds, egress and
storage.
"""

from __future__ import annotations

import html
from typing import Any

from pydantic import BaseModel, ConfigDict


class CompareRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: str
    basis: str  # how the day was obtained: full_day, profile, model, refused
    queries_per_day: float | None
    hit_rate: float | None
    busy_s_per_day: float | None  # warehouse seconds at least one query ran
    billed_s_per_day: float | None  # warehouse seconds billed (resumes, idle tails included)
    warehouse_per_day: float | None
    egress_per_day: float
    storage_per_day: float
    total_per_day: float | None
    total_per_year: float | None
    note: str


def compare_row(label: str, cost: dict[str, Any]) -> CompareRow:
    run = cost.get("run") or {}
    dps = cost["dollars_per_second"]
    proj = run.get("projection") or {}
    clock = run.get("warehouse_clock_per_day")
    delivery = cost.get("delivery") or {}
    egress = float(delivery.get("push_egress_per_day", 0.0))
    storage = float(delivery.get("storage_per_day", 0.0))
    days = round(run["warehouse_clock_per_year"] / clock) if clock else 365
    total = None if clock is None else clock + egress + storage
    return CompareRow(
        label=label,
        basis=proj.get("method", "worked example"),
        queries_per_day=run.get("queries_per_day"),
        hit_rate=run.get("hit_rate"),
        busy_s_per_day=run.get("busy_s_per_day"),
        billed_s_per_day=run.get("billed_s_per_day", None if clock is None else round(clock / dps, 1)),
        warehouse_per_day=clock,
        egress_per_day=egress,
        storage_per_day=storage,
        total_per_day=None if total is None else round(total, 2),
        total_per_year=None if total is None else round(total * days, 2),
        note=proj.get("note", ""),
    )


def compare(costs: list[tuple[str, dict[str, Any]]]) -> list[CompareRow]:
    return [compare_row(label, cost) for label, cost in costs]


def why(rows: list[CompareRow]) -> list[str]:
    """One sentence per row after the first: what drives its difference from the first."""
    out = []
    base = rows[0]
    for r in rows[1:]:
        if r.total_per_day is None or base.total_per_day is None:
            out.append(f"{r.label}: no day to compare ({r.note or 'no projection'})")
            continue
        parts = []
        if base.queries_per_day and r.queries_per_day is not None:
            parts.append(f"queries ×{r.queries_per_day / base.queries_per_day:.2f}")
        if r.hit_rate is not None and base.hit_rate is not None:
            parts.append(f"hit rate {base.hit_rate:.1%} → {r.hit_rate:.1%}")
        if r.billed_s_per_day is not None and base.billed_s_per_day:
            parts.append(f"billed warehouse time ×{r.billed_s_per_day / base.billed_s_per_day:.2f}")
        if r.busy_s_per_day and r.billed_s_per_day:
            parts.append(f"busy {r.busy_s_per_day / r.billed_s_per_day:.0%} of billed")
        if r.egress_per_day != base.egress_per_day:
            parts.append(f"egress ${base.egress_per_day:,.0f} → ${r.egress_per_day:,.0f}/day")
        change = r.total_per_day / base.total_per_day - 1 if base.total_per_day else 0.0
        out.append(f"{r.label} costs {change:+.0%} vs {base.label}: " + ", ".join(parts))
    return out


def _fmt(v: float | None, kind: str = "num") -> str:
    if v is None:
        return "-"
    return {"money": f"${v:,.2f}", "pct": f"{v:.1%}"}.get(kind, f"{v:,.0f}")


HEADERS = ["", "basis", "queries/day", "hit rate", "busy s/day", "billed s/day", "warehouse/day",
           "egress/day", "storage/day", "total/day", "total/year"]  # fmt: skip


def table_rows(rows: list[CompareRow]) -> list[list[str]]:
    return [
        [r.label, r.basis, _fmt(r.queries_per_day), _fmt(r.hit_rate, "pct"), _fmt(r.busy_s_per_day),
         _fmt(r.billed_s_per_day), _fmt(r.warehouse_per_day, "money"), _fmt(r.egress_per_day, "money"),
         _fmt(r.storage_per_day, "money"), _fmt(r.total_per_day, "money"), _fmt(r.total_per_year, "money")]
        for r in rows
    ]  # fmt: skip


def figure(rows: list[CompareRow]) -> Any:
    """Bars of a day's cost by component, and busy vs billed warehouse hours."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    labels = [r.label for r in rows]
    fig = make_subplots(rows=1, cols=2, subplot_titles=("$/day by component", "warehouse hours/day"))
    for name, key in (("warehouse", "warehouse_per_day"), ("egress", "egress_per_day"),
                      ("storage", "storage_per_day")):  # fmt: skip
        fig.add_trace(go.Bar(x=labels, y=[getattr(r, key) or 0 for r in rows], name=name), row=1, col=1)
    fig.add_trace(
        go.Bar(x=labels, y=[(r.busy_s_per_day or 0) / 3600 for r in rows], name="busy h"), row=1, col=2
    )
    fig.add_trace(go.Bar(x=labels, y=[(r.billed_s_per_day or 0) / 3600 for r in rows], name="billed h"),
                  row=1, col=2)  # fmt: skip
    fig.update_layout(barmode="group", height=420, margin={"t": 40})
    return fig


def render_compare_html(rows: list[CompareRow]) -> str:
    """A self-contained page: plotly.js inline, no network."""
    from plotly.offline import get_plotlyjs

    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADERS)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in table_rows(rows)
    )
    reasons = "".join(f"<li>{html.escape(w)}</li>" for w in why(rows))
    notes = "".join(f"<li><b>{html.escape(r.label)}</b>: {html.escape(r.note)}</li>" for r in rows if r.note)
    plot = figure(rows).to_html(include_plotlyjs=False, full_html=False)
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>twin cost comparison</title>
<script type="text/javascript">{get_plotlyjs()}</script>
<style>body{{font-family:sans-serif;margin:2em;max-width:1200px}}
table{{border-collapse:collapse;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}th{{background:#eee}}</style></head>
<body><h1>Cost comparison</h1>
<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>
<h2>Why</h2><ul>{reasons}</ul>
{plot}
<h2>How each day was obtained</h2><ul>{notes}</ul>
</body></html>
"""
