-- silver.customers: reference data: the latest load of each key wins.
{% set natural_key = ['customer_id'] %}
{% set version_order = '_ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='customers', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'customers_raw'}) }}

with typed as (
    select
        customer_id,
        name,
        ssn,
        email,
        phone,
        cast(date_of_birth as date) as date_of_birth,
        department,
        advisor_id,
        region,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'customers_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
