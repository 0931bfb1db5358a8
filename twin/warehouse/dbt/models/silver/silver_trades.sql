-- silver.trades: an event feed: the latest version of each key by business time, then emission.
{% set natural_key = ['trade_id'] %}
{% set version_order = 'executed_at desc, _emitted_at desc, _ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='trades', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'trades_raw'}) }}

with typed as (
    select
        trade_id,
        account_id,
        symbol,
        side,
        cast(quantity as decimal(18, 4)) as quantity,
        cast(price as decimal(18, 4)) as price,
        cast(executed_at as timestamp) as executed_at,
        _event_id,
        cast(_emitted_at as timestamp) as _emitted_at,
        _dup_of,
        _late,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'trades_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
