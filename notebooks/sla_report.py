# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # SLA report
#
# Reads a run's `report.json` (set `TWIN_REPORT`, or run `twin run advisor_peak_day` first) and shows
# its SLAs, latency over time with fault windows shaded, and the cache's hit rate.

# %%
import json
import os
from pathlib import Path

from twin.config import paths

report_path = Path(os.environ.get("TWIN_REPORT", paths().reports / "advisor_peak_day" / "report.json"))
report = json.loads(report_path.read_text())
print(f"{report['scenario']}: {report['overall']['count']:,} requests, "
      f"availability {report['availability']:.4%}, "
      f"cache hit rate {report['cache']['hit_rate']:.1%}")  # fmt: skip

# %%
for sla in report["slas"]:
    mark = "pass" if sla["passed"] else "FAIL"
    print(f"{mark:4}  {sla['name']:<40} {sla['bound']:>10}  actual {sla['actual']}")

# %%
import plotly.graph_objects as go  # noqa: E402

tl = report["timeline"]
hours = [t / 3600 for t in tl["t_s"]]
fig = go.Figure(go.Scatter(x=hours, y=tl["p95_ms"], name="p95 ms"))
for f in report["faults"]:
    fig.add_vrect(x0=f["start_s"] / 3600, x1=f["end_s"] / 3600, fillcolor="red", opacity=0.15,
                  annotation_text=f["kind"])  # fmt: skip
fig.update_layout(xaxis_title="hours since start", yaxis_title="p95 latency (ms)")
fig.show()

# %%
for op, s in report["operations"].items():
    tail = f"p95 {s['p95_ms']:8.2f}  p99 {s['p99_ms']:8.2f} ms"
    print(f"{op:<18} n={s['count']:>7}  p50 {s['p50_ms']:8.2f}  {tail}")
