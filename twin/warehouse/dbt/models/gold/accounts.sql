-- gold.accounts: each account with its current balance (the balance update with the latest business
-- time, else the account record's balance) and its owner's department, on which row access applies.
with latest_balance as (
    select account_id, balance, updated_at
    from {{ ref('silver_balances') }}
    qualify row_number() over (partition by account_id order by updated_at desc) = 1
)

select
    a.account_id,
    a.customer_id,
    a.account_number,
    a.type,
    coalesce(b.balance, a.balance) as balance,
    a.currency,
    c.department,
    b.updated_at as balance_updated_at
from {{ ref('silver_accounts') }} a
join {{ ref('silver_customers') }} c on c.customer_id = a.customer_id
left join latest_balance b on b.account_id = a.account_id
