-- silver.positions: an event feed: the latest version of each key by business time, then emission.
{% set natural_key = ['account_id', 'fund_id', 'as_of'] %}
{% set version_order = 'as_of desc, _emitted_at desc, _ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='positions', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'aladdin_positions_raw'}) }}

with typed as (
    select
        account_id,
        fund_id,
        cast(quantity as decimal(18, 4)) as quantity,
        cast(market_value as decimal(18, 2)) as market_value,
        cast(as_of as date) as as_of,
        _event_id,
        cast(_emitted_at as timestamp) as _emitted_at,
        _dup_of,
        _late,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'aladdin_positions_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
