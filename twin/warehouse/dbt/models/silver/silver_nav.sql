-- silver.nav: an event feed: the latest version of each key by business time, then emission.
{% set natural_key = ['fund_id', 'nav_date'] %}
{% set version_order = 'nav_date desc, _emitted_at desc, _ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='nav', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'nav_raw'}) }}

with typed as (
    select
        fund_id,
        cast(nav_date as date) as nav_date,
        cast(nav as decimal(18, 4)) as nav,
        cast(aum as decimal(18, 2)) as aum,
        _event_id,
        cast(_emitted_at as timestamp) as _emitted_at,
        _dup_of,
        _late,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'nav_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
