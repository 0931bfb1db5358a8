-- silver.data_products: reference data: the latest load of each key wins.
{% set natural_key = ['product_id'] %}
{% set version_order = '_ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='data_products', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'data_products_raw'}) }}

with typed as (
    select
        product_id,
        name,
        description,
        gold_tables,
        cast(price_per_month_usd as decimal(18, 2)) as price_per_month_usd,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'data_products_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
