{#
  Keep the latest version of each natural key. `order_by` ranks versions newest first: business time,
  then the source's emission time, then ingestion position, so the winner is the same whatever order the
  events arrived in (late events are placed by business time, re-sent duplicates collapse).
  The refresh path (twin.warehouse.refresh) reads natural_key/version_order from the model's meta and
  merges new bronze rows with exactly this rule.
#}
{% macro dedup_latest(relation, natural_key, order_by) -%}
select *
from {{ relation }}
qualify row_number() over (partition by {{ natural_key | join(', ') }} order by {{ order_by }}) = 1
{%- endmacro %}
