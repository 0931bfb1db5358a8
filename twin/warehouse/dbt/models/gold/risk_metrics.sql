-- gold.risk_metrics: historical-simulation 1-day VaR at 95% and 99%, per fund and per customer
-- portfolio, over the last `var_window_days` daily returns. VaR is reported as a positive loss: as a
-- fraction of value (var_*_pct) and in currency on the current value (var_95, var_99). A customer's
-- scenario P&L on a day is the sum over current holdings of market value x that fund's return.
with returns as (
    select fund_id, nav_date, daily_return
    from {{ ref('fund_performance') }}
    where daily_return is not null
),

scenario_dates as (
    select nav_date
    from (select distinct nav_date from returns) d
    qualify dense_rank() over (order by nav_date desc) <= {{ var('var_window_days') }}
),

window_returns as (
    select r.fund_id, r.nav_date, r.daily_return
    from returns r
    join scenario_dates s on s.nav_date = r.nav_date
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

customer_value as (
    select customer_id, department, sum(market_value) as exposure
    from exposure
    group by customer_id, department
),

customer_pnl as (
    select e.customer_id, r.nav_date, sum(e.market_value * r.daily_return) as pnl
    from exposure e
    join window_returns r on r.fund_id = e.fund_id
    group by e.customer_id, r.nav_date
),

customer_var as (
    select
        'customer' as entity_type,
        p.customer_id as entity_id,
        max(v.department) as department,
        max(p.nav_date) as as_of,
        count(*) as observations,
        max(v.exposure) as exposure,
        -percentile_cont(0.05) within group (order by p.pnl) / nullif(max(v.exposure), 0) as var_95_pct,
        -percentile_cont(0.01) within group (order by p.pnl) / nullif(max(v.exposure), 0) as var_99_pct
    from customer_pnl p
    join customer_value v on v.customer_id = p.customer_id
    group by p.customer_id
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
