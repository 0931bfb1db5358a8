-- silver.trade_activity: each account's latest trade. A maximum only ever grows, so the refresh path
-- merges it like a dedup model (natural key account_id, newest first) from the new silver trades alone
-- instead of re-aggregating every trade.
{% set natural_key = ['account_id'] %}
{% set version_order = 'last_trade_at desc' %}
{{ config(alias='trade_activity', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'delta_of': 'silver.trades'}) }}

select account_id, max(executed_at) as last_trade_at
from {{ ref('silver_trades') }}
group by account_id
