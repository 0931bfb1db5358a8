-- silver.balances: an event feed: the latest version of each key by business time, then emission.
{% set natural_key = ['account_id', 'updated_at'] %}
{% set version_order = 'updated_at desc, _emitted_at desc, _ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='balances', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'balances_raw'}) }}

with typed as (
    select
        account_id,
        cast(balance as decimal(18, 2)) as balance,
        currency,
        cast(updated_at as timestamp) as updated_at,
        _event_id,
        cast(_emitted_at as timestamp) as _emitted_at,
        _dup_of,
        _late,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'balances_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
