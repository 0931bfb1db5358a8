-- gold.portfolio_daily: market value per account and asset class on each Aladdin snapshot date.
-- Positions are grouped by (date, account, asset class) first and the account's owner and department
-- joined to the ~2.2 M groups afterwards: an account has one owner, so the groups are the same, but the
-- 2.75 M positions skip two joins and the aggregate hashes three keys instead of five.
with by_account as (
    select p.as_of, p.account_id, f.asset_class, count(*) as holdings, sum(p.market_value) as market_value
    from {{ ref('silver_positions') }} p
    join {{ ref('silver_funds') }} f on f.fund_id = p.fund_id
    group by p.as_of, p.account_id, f.asset_class
)

select
    b.as_of,
    b.account_id,
    a.customer_id,
    c.department,
    b.asset_class,
    b.holdings,
    b.market_value
from by_account b
join {{ ref('silver_accounts') }} a on a.account_id = b.account_id
join {{ ref('silver_customers') }} c on c.customer_id = a.customer_id
