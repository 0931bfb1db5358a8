-- silver.institutional_clients: reference data: the latest load of each key wins.
{% set natural_key = ['client_id'] %}
{% set version_order = '_ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='institutional_clients', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'institutional_clients_raw'}) }}

with typed as (
    select
        client_id,
        name,
        type,
        salesforce_account_id,
        aws_account_id,
        region,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'institutional_clients_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
