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
# # The cost model
#
# The architecture's worked example, reproduced from its parameters; then what changes under
# realistic warehouse billing and with hit rates measured from a request stream rather than assumed.

# %%
import random

from twin.cost.billing import warehouse_clock
from twin.cost.hit_rate import zipf_replay
from twin.cost.model import per_query_cost, worked_example

ex = worked_example(users=1_000, queries_per_user_per_day=100, seconds_per_query=3, price_per_second=0.04,
                    hit_rate=0.94)  # fmt: skip
print(f"no cache:  ${ex.no_cache.per_day:,.0f}/day  ${ex.no_cache.per_year:,.0f}/year")
print(f"94% cache: ${ex.with_cache.per_day:,.0f}/day  ${ex.with_cache.per_year:,.0f}/year")
print(f"saving {ex.saving:.0%}")
assert round(ex.no_cache.per_day) == 12_000 and round(ex.with_cache.per_day) == 720

# %% [markdown]
# ## Realistic billing
# A warehouse bills wall-clock seconds while resumed (60-second minimum per resume, then until
# auto-suspend fires), not query-seconds. 6,000 cache misses spread over a 10-hour business day:

# %%
rng = random.Random(1)
misses = sorted((rng.uniform(8 * 3600, 18 * 3600), 3.0) for _ in range(6_000))
dps = 0.04
for suspend in (60, 300, 600):
    b = warehouse_clock(misses, min_billing_s=60, auto_suspend_s=suspend)
    print(f"auto-suspend {suspend:>3} s: billed {b.billed_s / 3600:5.2f} h = ${b.billed_s * dps:,.0f}/day "
          f"(busy {b.busy_s / 3600:.2f} h, idle {b.idle_s / 3600:.2f} h, {b.resumes} resumes)")  # fmt: skip
arithmetic = per_query_cost(6_000, seconds_per_query=3, price_per_second=dps).per_day
print(f"per-query arithmetic: ${arithmetic:,.0f}/day")

# %% [markdown]
# ## Hit rate under Zipf popularity and a TTL
# 100,000 requests over a business day for 5,000 customers, replayed through a read-through cache.

# %%
times = sorted(rng.uniform(8 * 3600, 18 * 3600) for _ in range(100_000))
rows = []
for s in (0.8, 1.1, 1.4):
    for ttl in (60, 300, 900, 3600):
        h = zipf_replay(times, 5_000, s, ttl, seed=2)
        cost = per_query_cost(100_000, seconds_per_query=3, price_per_second=dps, hit_rate=h).per_day
        rows.append((s, ttl, h, cost))
        print(f"zipf s={s:.1f} ttl={ttl:>4} s: hit rate {h:6.1%}  ${cost:>8,.0f}/day")
assert rows[0][2] < rows[-1][2]

# %%
import plotly.graph_objects as go  # noqa: E402

fig = go.Figure()
for s in (0.8, 1.1, 1.4):
    pts = [(ttl, c) for ss, ttl, _, c in rows if ss == s]
    fig.add_trace(go.Scatter(x=[p[0] for p in pts], y=[p[1] for p in pts], name=f"zipf s={s}"))
fig.update_layout(xaxis_title="TTL (s)", yaxis_title="$/day", title="Daily warehouse cost by cache TTL")
fig.show()
