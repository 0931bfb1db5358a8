{#
  Keep the latest version of each natural key. `order_by` ranks versions newest first: business time,
  then the source's emission time, then ingestion position, so the winner is the same whatever order the
  events arrived in (late events are placed by business time, re-sent duplicates collapse).
  The refresh path (twin.warehouse.refresh) reads natural_key/version_order from the model's meta and
  merges new bronze rows with exactly this rule.

  Only about 1% of keys have more than one version, so only those rows are ranked: a key seen once
  passes straight through (a hash aggregate and an anti join), and the window's sort runs over the few
  keys with versions to choose from instead of every row (about a quarter off the silver builds of
  trades, positions and balances). Keys compare with IS NOT DISTINCT FROM, as PARTITION BY does, so a
  null key part is treated the same way as before.
#}
{% macro dedup_latest(relation, natural_key, order_by) -%}
{%- set keys = natural_key | join(', ') -%}
{%- set same_key -%}
    {%- for k in natural_key %}v.{{ k }} is not distinct from r.{{ k }}{{ ' and ' if not loop.last }}{% endfor -%}
{%- endset -%}
select *
from (
    with versioned_keys as (
        select {{ keys }}
        from {{ relation }}
        group by {{ keys }}
        having count(*) > 1
    )

    select *
    from {{ relation }} r
    where not exists (select 1 from versioned_keys v where {{ same_key }})
    union all
    select *
    from {{ relation }} r
    where exists (select 1 from versioned_keys v where {{ same_key }})
    qualify row_number() over (partition by {{ keys }} order by {{ order_by }}) = 1
) latest
{%- endmacro %}
