-- silver.accounts: reference data: the latest load of each key wins.
{% set natural_key = ['account_id'] %}
{% set version_order = '_ingested_at desc, _topic desc, _partition desc, _offset desc' %}
{{ config(alias='accounts', meta={'natural_key': natural_key, 'version_order': version_order, 'refresh': 'merge', 'source_table': 'accounts_raw'}) }}

with typed as (
    select
        account_id,
        customer_id,
        account_number,
        type,
        cast(balance as decimal(18, 2)) as balance,
        currency,
        _source,
        _topic,
        _partition,
        _offset,
        _ingested_at
    from {{ source('bronze', 'accounts_raw') }}
)

{{ dedup_latest('typed', natural_key, version_order) }}
