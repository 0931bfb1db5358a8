-- gold.compliance_transactions: the trade audit view. A view (nothing can be written through it) over
-- silver trades, carrying each trade's bronze lineage: source, topic/partition/offset and ingestion time.
{{ config(materialized='view') }}

select
    t.trade_id,
    t.account_id,
    a.customer_id,
    c.department,
    t.symbol,
    f.fund_id,
    t.side,
    t.quantity,
    t.price,
    t.quantity * t.price as notional,
    t.executed_at,
    t._late as arrived_late,
    t._event_id as source_event_id,
    t._source as source,
    t._topic as source_topic,
    t._partition as source_partition,
    t._offset as source_offset,
    t._ingested_at as ingested_at
from {{ ref('silver_trades') }} t
left join {{ ref('silver_accounts') }} a on a.account_id = t.account_id
left join {{ ref('silver_customers') }} c on c.customer_id = a.customer_id
left join {{ ref('silver_funds') }} f on f.ticker = t.symbol
