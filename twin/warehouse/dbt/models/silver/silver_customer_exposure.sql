-- silver.customer_exposure: current holdings pre-aggregated to one row per (customer, fund asset class),
-- with the customer's department: the grain the AUM aggregate and similar rollups start from, so they
-- sum a few hundred thousand narrow rows instead of joining 550,000 holdings to funds, accounts and
-- customers and counting distinct customers each time. Rebuilt on refresh like silver.holdings.
{{ config(alias='customer_exposure', meta={'refresh': 'rebuild'}) }}

with by_account as (
    select h.account_id, f.asset_class, sum(h.market_value) as market_value, count(*) as holdings
    from {{ ref('silver_holdings') }} h
    join {{ ref('silver_funds') }} f on f.fund_id = h.fund_id
    group by h.account_id, f.asset_class
)

select
    a.customer_id,
    c.department,
    b.asset_class,
    sum(b.market_value) as market_value,
    count(*) as accounts,
    sum(b.holdings) as holdings
from by_account b
join {{ ref('silver_accounts') }} a on a.account_id = b.account_id
join {{ ref('silver_customers') }} c on c.customer_id = a.customer_id
group by a.customer_id, c.department, b.asset_class
