-- gold.portfolio_daily: market value per account and asset class on each Aladdin snapshot date.
select
    p.as_of,
    p.account_id,
    a.customer_id,
    c.department,
    f.asset_class,
    count(*) as holdings,
    sum(p.market_value) as market_value
from {{ ref('silver_positions') }} p
join {{ ref('silver_accounts') }} a on a.account_id = p.account_id
join {{ ref('silver_customers') }} c on c.customer_id = a.customer_id
join {{ ref('silver_funds') }} f on f.fund_id = p.fund_id
group by p.as_of, p.account_id, a.customer_id, c.department, f.asset_class
