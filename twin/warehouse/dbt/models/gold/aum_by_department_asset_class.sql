-- gold.aum_by_department_asset_class: assets under management (current holdings at market value) by
-- client department and fund asset class.
select
    c.department,
    f.asset_class,
    sum(h.market_value) as aum,
    count(distinct a.customer_id) as customers,
    count(distinct h.account_id) as accounts,
    count(*) as holdings
from {{ ref('silver_holdings') }} h
join {{ ref('silver_accounts') }} a on a.account_id = h.account_id
join {{ ref('silver_customers') }} c on c.customer_id = a.customer_id
join {{ ref('silver_funds') }} f on f.fund_id = h.fund_id
group by c.department, f.asset_class
