-- silver.contracts: reference data: the latest load of each key wins.
{% set natural_key = ['contract_id'] %}
{% set version_order = '_ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='contracts', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'contracts_raw'}) }}

with typed as (
    select
        contract_id,
        client_id,
        product_id,
        status,
        cast(start_date as date) as start_date,
        cast(end_date as date) as end_date,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'contracts_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
