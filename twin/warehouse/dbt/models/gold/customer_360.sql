-- gold.customer_360: one row per customer: profile, balances across accounts, last trade and a risk
-- score (the customer portfolio's 1-day historical VaR 95% as a percentage of its value).
-- profile_refreshed_at is the latest business or ingestion time among the inputs, never the wall clock,
-- so a rebuild of unchanged data is identical. Sorted by customer_id, and indexed on DuckDB (a post-hook:
-- Snowflake has no indexes), for point lookups.
-- On a rebuild the replaced table (and its index) still exists when the hook runs, hence the drop.
-- Refresh: when only the trades feed moved, the refresh path (twin.warehouse.refresh) recomputes just
-- the customers whose accounts traded: `keys_from` maps the changed rows of an input to customer_ids,
-- and `restrict` narrows every input to those customers (each output row depends only on its own
-- customer's rows, so the result for them is the same as a full rebuild).
{% set in_keys = 'customer_id in (select customer_id from {keys})' %}
{% set refresh_meta = {
    'refresh': 'keyed',
    'refresh_key': 'customer_id',
    'keys_from': {
        'silver.trade_activity': 'select a.customer_id from {delta} d join silver.accounts a on a.account_id = d.account_id',
    },
    'restrict': {
        'silver.customers': in_keys,
        'silver.accounts': in_keys,
        'gold.accounts': in_keys,
        'gold.risk_metrics': "entity_type = 'customer' and entity_id in (select customer_id from {keys})",
        'silver.trade_activity': 'account_id in (select account_id from silver.accounts where ' ~ in_keys ~ ')',
    },
} %}
{{ config(meta=refresh_meta, post_hook=[
    "drop index if exists {{ this.schema }}.customer_360_customer_id",
    "create unique index customer_360_customer_id on {{ this }} (customer_id)",
]) }}
with acct as (
    select
        customer_id,
        count(*) as account_count,
        sum(balance) as total_balance,
        max(balance_updated_at) as balance_updated_at
    from {{ ref('accounts') }}
    group by customer_id
),

trade_activity as (
    select a.customer_id, max(t.last_trade_at) as last_trade_at
    from {{ ref('silver_trade_activity') }} t
    join {{ ref('silver_accounts') }} a on a.account_id = t.account_id
    group by a.customer_id
),

risk as (
    select entity_id as customer_id, var_95_pct
    from {{ ref('risk_metrics') }}
    where entity_type = 'customer'
)

select
    c.customer_id,
    c.name,
    c.ssn,
    c.email,
    c.phone,
    c.department,
    c.advisor_id,
    coalesce(acct.total_balance, 0) as total_balance,
    coalesce(acct.account_count, 0) as account_count,
    cast(ta.last_trade_at as date) as last_trade_date,
    round(coalesce(risk.var_95_pct, 0) * 100, 4) as risk_score,
    greatest(
        c._ingested_at,
        coalesce(acct.balance_updated_at, c._ingested_at),
        coalesce(ta.last_trade_at, c._ingested_at)
    ) as profile_refreshed_at
from {{ ref('silver_customers') }} c
left join acct on acct.customer_id = c.customer_id
left join trade_activity ta on ta.customer_id = c.customer_id
left join risk on risk.customer_id = c.customer_id
order by c.customer_id
