-- gold.aum_by_department_asset_class: assets under management (current holdings at market value) by
-- client department and fund asset class.
-- Holdings are first summed per account and asset class (one row each), so accounts are counted
-- without a DISTINCT.
with by_account as (
    select h.account_id, f.asset_class, sum(h.market_value) as market_value, count(*) as holdings
    from {{ ref('silver_holdings') }} h
    join {{ ref('silver_funds') }} f on f.fund_id = h.fund_id
    group by h.account_id, f.asset_class
)

select
    c.department,
    b.asset_class,
    sum(b.market_value) as aum,
    count(distinct a.customer_id) as customers,
    count(*) as accounts,
    sum(b.holdings) as holdings
from by_account b
join {{ ref('silver_accounts') }} a on a.account_id = b.account_id
join {{ ref('silver_customers') }} c on c.customer_id = a.customer_id
group by c.department, b.asset_class
