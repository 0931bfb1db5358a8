-- gold.risk_metrics: historical-simulation 1-day VaR at 95% and 99%, per fund and per customer
-- portfolio, over the last `var_window_days` daily returns. VaR is reported as a positive loss: as a
-- fraction of value (var_*_pct) and in currency on the current value (var_95, var_99). A customer's
-- scenario P&L on a day is the sum over current holdings of market value x that fund's return.
--
-- How the customer P&Ls are computed: joining every (customer, fund) exposure to every scenario day
-- and grouping by (customer, day) means a 137 M-row join hashed into 25 M groups (at scale 1). Instead
-- the window's returns are laid out one column per scenario day (one row per fund), so each exposure
-- joins one fund row and a single group by customer sums market value x return per day column: the
-- same products and sums, over 550,000 rows and 100,000 groups. UNPIVOT then turns the day columns
-- back into rows for the percentile; like the join it replaces, it drops days on which none of the
-- customer's funds has a return (a null sum), so `observations` counts the same days.
{%- set days = range(1, var('var_window_days') + 1) %}
with returns as (
    select fund_id, nav_date, daily_return
    from {{ ref('fund_performance') }}
    where daily_return is not null
),

-- Day 1 is the latest NAV date (dates are distinct, so row_number is the dense rank).
scenario_dates as (
    select nav_date, day_no
    from (
        select nav_date, row_number() over (order by nav_date desc) as day_no
        from (select distinct nav_date from returns) d
    ) ranked
    where day_no <= {{ var('var_window_days') }}
),

window_returns as (
    select r.fund_id, r.nav_date, s.day_no, r.daily_return
    from returns r
    join scenario_dates s on s.nav_date = r.nav_date
),

-- One row per fund, one return column per scenario day (null where the fund has no return that day);
-- (fund_id, nav_date) is unique, so max() just picks the one value.
fund_returns_by_day as (
    select
        fund_id,
        max(nav_date) as last_return_date,
        {%- for d in days %}
        max(case when day_no = {{ d }} then daily_return end) as r_{{ d }}{{ "," if not loop.last }}
        {%- endfor %}
    from window_returns
    group by fund_id
),

fund_value as (
    select fund_id, aum
    from {{ ref('fund_nav') }}
    qualify row_number() over (partition by fund_id order by nav_date desc) = 1
),

fund_var as (
    select
        'fund' as entity_type,
        r.fund_id as entity_id,
        cast(null as varchar) as department,
        max(r.nav_date) as as_of,
        count(*) as observations,
        max(cast(v.aum as double)) as exposure,
        -percentile_cont(0.05) within group (order by r.daily_return) as var_95_pct,
        -percentile_cont(0.01) within group (order by r.daily_return) as var_99_pct
    from window_returns r
    join fund_value v on v.fund_id = r.fund_id
    group by r.fund_id
),

exposure as (
    select a.customer_id, c.department, h.fund_id, sum(cast(h.market_value as double)) as market_value
    from {{ ref('silver_holdings') }} h
    join {{ ref('silver_accounts') }} a on a.account_id = h.account_id
    join {{ ref('silver_customers') }} c on c.customer_id = a.customer_id
    group by a.customer_id, c.department, h.fund_id
),

-- Per customer: exposure over all current holdings (a fund without returns in the window still
-- counts), the latest scenario date any of its funds has a return on (the as_of of its P&L series),
-- and the P&L of each scenario day.
customer_pnl_by_day as (
    select
        e.customer_id,
        max(e.department) as department,
        sum(e.market_value) as exposure,
        max(r.last_return_date) as as_of,
        {%- for d in days %}
        sum(e.market_value * r.r_{{ d }}) as pnl_{{ d }}{{ "," if not loop.last }}
        {%- endfor %}
    from exposure e
    left join fund_returns_by_day r on r.fund_id = e.fund_id
    group by e.customer_id
),

customer_pnl as (
    select customer_id, department, exposure, as_of, pnl
    from customer_pnl_by_day
    unpivot (pnl for scenario_day in (
        {%- for d in days %}pnl_{{ d }}{{ ", " if not loop.last }}{% endfor -%}
    ))
),

customer_var as (
    select
        'customer' as entity_type,
        customer_id as entity_id,
        max(department) as department,
        max(as_of) as as_of,
        count(*) as observations,
        max(exposure) as exposure,
        -percentile_cont(0.05) within group (order by pnl) / nullif(max(exposure), 0) as var_95_pct,
        -percentile_cont(0.01) within group (order by pnl) / nullif(max(exposure), 0) as var_99_pct
    from customer_pnl
    group by customer_id
),

all_var as (
    select * from fund_var
    union all
    select * from customer_var
)

select
    entity_type || ':' || entity_id as risk_id,
    entity_type,
    entity_id,
    department,
    as_of,
    observations,
    exposure,
    var_95_pct,
    var_99_pct,
    var_95_pct * exposure as var_95,
    var_99_pct * exposure as var_99
from all_var
