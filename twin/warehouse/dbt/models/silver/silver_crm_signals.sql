-- silver.crm_signals: an event feed: the latest version of each key by business time, then emission.
{% set natural_key = ['signal_id'] %}
{% set version_order = 'occurred_at desc, _emitted_at desc, _ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='crm_signals', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'crm_signals_raw'}) }}

with typed as (
    select
        signal_id,
        client_id,
        kind,
        cast(score as double) as score,
        cast(occurred_at as timestamp) as occurred_at,
        _event_id,
        cast(_emitted_at as timestamp) as _emitted_at,
        _dup_of,
        _late,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'crm_signals_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
