-- gold.fund_performance: time-weighted returns per fund and NAV date. NAV per share already neutralises
-- flows, so chain-linking daily returns telescopes to a ratio of NAVs: a period's return is
-- nav / (NAV at the close before the period) - 1, with the first NAV as the base inside the inception
-- period. 1Y uses the last NAV on or before the same date a year earlier (null with under a year).
with nav as (
    select
        fund_id,
        nav_date,
        cast(nav as double) as nav,
        lag(cast(nav as double)) over (partition by fund_id order by nav_date) as prev_nav,
        first_value(cast(nav as double)) over (partition by fund_id order by nav_date) as inception_nav
    from {{ ref('fund_nav') }}
),

bases as (
    select
        nav.*,
        first_value(prev_nav) over (
            partition by fund_id, date_trunc('month', nav_date) order by nav_date
        ) as month_base,
        first_value(prev_nav) over (
            partition by fund_id, date_trunc('quarter', nav_date) order by nav_date
        ) as quarter_base,
        first_value(prev_nav) over (
            partition by fund_id, date_trunc('year', nav_date) order by nav_date
        ) as year_base
    from nav
),

year_ago as (
    select a.fund_id, a.nav_date, b.nav as year_ago_nav
    from nav a
    join nav b
        on b.fund_id = a.fund_id
        and b.nav_date <= a.nav_date - interval '1 year'
        and b.nav_date > a.nav_date - interval '1 year' - interval '14 days'
    qualify row_number() over (partition by a.fund_id, a.nav_date order by b.nav_date desc) = 1
)

select
    b.fund_id,
    b.nav_date,
    b.nav,
    b.nav / b.prev_nav - 1 as daily_return,
    b.nav / coalesce(b.month_base, b.inception_nav) - 1 as mtd_return,
    b.nav / coalesce(b.quarter_base, b.inception_nav) - 1 as qtd_return,
    b.nav / coalesce(b.year_base, b.inception_nav) - 1 as ytd_return,
    b.nav / y.year_ago_nav - 1 as return_1y,
    b.nav / b.inception_nav - 1 as since_inception_return
from bases b
left join year_ago y on y.fund_id = b.fund_id and y.nav_date = b.nav_date
