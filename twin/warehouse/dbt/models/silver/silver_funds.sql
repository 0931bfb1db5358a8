-- silver.funds: reference data: the latest load of each key wins.
{% set natural_key = ['fund_id'] %}
{% set version_order = '_ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='funds', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'funds_raw'}) }}

with typed as (
    select
        fund_id,
        ticker,
        name,
        asset_class,
        currency,
        cast(inception_date as date) as inception_date,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'funds_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
