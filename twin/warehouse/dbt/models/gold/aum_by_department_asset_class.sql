-- gold.aum_by_department_asset_class: assets under management (current holdings at market value) by
-- client department and fund asset class.
-- silver.customer_exposure already holds one row per (customer, asset class) with accounts and holdings
-- counted, so this is a plain sum over it: customers are counted without a DISTINCT, and no join runs.
select
    department,
    asset_class,
    sum(market_value) as aum,
    count(*) as customers,
    sum(accounts) as accounts,
    sum(holdings) as holdings
from {{ ref('silver_customer_exposure') }}
group by department, asset_class
