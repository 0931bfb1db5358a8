-- silver.holdings: current holdings, i.e. the latest Aladdin snapshot of each (account, fund) that still
-- holds units. Rebuilt (not merged) on refresh because a newer snapshot replaces an older one.
{{ config(alias='holdings', meta={'refresh': 'rebuild'}) }}

select account_id, fund_id, quantity, market_value, as_of
from (
    select account_id, fund_id, quantity, market_value, as_of
    from {{ ref('silver_positions') }}
    qualify row_number() over (partition by account_id, fund_id order by as_of desc) = 1
) latest
where quantity > 0
