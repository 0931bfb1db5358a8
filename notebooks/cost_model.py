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

# %% [markdown]
# ## Projecting a day from a window
# A window's bill multiplied by (day's queries / window's queries) is wrong by more than an order of
# magnitude: a night window resumes the warehouse for almost every query and its cold, quiet cache
# hits less. The twin models the day hour by hour from the scenario's traffic profile (the TTL cache's
# hit rate λT/(1+λT) per key, and the warehouse's idle share exp(-m(d+A)) under m misses/s) and fits
# the model to the window that ran. The profile model alone, for `advisor_peak_day`:

# %%
from twin.cost.projection import model_window  # noqa: E402
from twin.cost.summary import parametric_summary, terms_of  # noqa: E402
from twin.sim.costing import traffic_of  # noqa: E402
from twin.sim.scenario import find_scenario, load_scenario  # noqa: E402

apd = load_scenario(find_scenario("advisor_peak_day"))
traffic, terms = traffic_of(apd, {}), terms_of(apd.cost)
for hour in (1, 7, 10, 13, 19):
    f = model_window(traffic, terms, hour * 3600, 3600)
    print(f"{hour:02d}:00  {f.queries:7,.0f} queries  hit rate {f.hit_rate:5.1%}  "
          f"billed {f.billed_s / 60:4.0f} min  busy {f.busy_s / 60:4.0f} min")  # fmt: skip
day = model_window(traffic, terms, 0, 86_400)
print(
    f"day: {day.queries:,.0f} queries, hit rate {day.hit_rate:.1%}, "
    f"warehouse clock ${day.billed_s * apd.cost.dollars_per_second:,.0f}/day"
)

# %% [markdown]
# ## Scenarios side by side
# The same functions as `twin cost compare`: what each costs per day and per year, and why.

# %%
from twin.cost.compare import compare, figure, why  # noqa: E402


def parametric(name: str) -> dict:
    s = load_scenario(find_scenario(name))
    users = sum(p.count for p in s.personas)
    per_user = sum(p.count * p.requests_per_day for p in s.personas) / users
    return parametric_summary(
        s.cost, users=users, queries_per_user_per_day=per_user, traffic=traffic_of(s, {})
    )


rows = compare([(n, parametric(n)) for n in ("advisor_peak_day", "cost_cache_sweep", "dashboard_storm")])
for r in rows:
    print(f"{r.label:18} ${r.total_per_day:>9,.2f}/day  ${r.total_per_year:>12,.0f}/year  ({r.basis})")
for line in why(rows):
    print(line)
figure(rows).show()

# %% [markdown]
# ## Delivery: pull vs push, and the trajectory

# %%
from twin.cost.delivery import delivery_cost, trajectory  # noqa: E402

d = delivery_cost()
print(f"pull ${d.pull_per_year:,.0f}/year  push ${d.push_per_year:,.0f}/year  ({d.reduction:.0%} lower)")
for st in trajectory():
    print(f"{st.label:28} ${st.per_year:>12,.0f}/year  saving {st.saving_vs_first:.0%}")
assert d.pull_per_year > 500_000 and d.push_per_year < 55_000

# %% [markdown]
# ## Resource monitors
# A monitor from its Snowflake DDL, metered on a stream of calls: the thresholds fire at exactly
# their share of the quota.

# %%
from twin.cost.monitor import MonitorMeter, parse_resource_monitor  # noqa: E402

monitor = parse_resource_monitor(
    "CREATE RESOURCE MONITOR bi WITH CREDIT_QUOTA = 2 "
    "TRIGGERS ON 75 PERCENT DO NOTIFY ON 100 PERCENT DO SUSPEND"
)
meter = MonitorMeter(monitor, credits_per_hour=4, min_billing_s=60, auto_suspend_s=60)
t = 0.0
while not meter.suspended(t):
    meter.call(t, 3.0)
    t += 20.0
for n in meter.notifications:
    print(f"{n.t_s / 60:6.1f} min: {n.percent}% of {monitor.credit_quota:g} credits -> {n.action}")
