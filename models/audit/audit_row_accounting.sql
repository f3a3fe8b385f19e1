-- Row accounting per raw table: every raw row is either clean (in stg_shop__<table>) or quarantined (in
-- quarantine_shop__<table>, with a reason). tests/dbt/assert_row_accounting_balances.sql asserts it.
{%- set tables = raw_tables() %}

with

{% for table in tables %}
    {{ table }}_counts as (

        select
            '{{ table }}' as source_table,
            (select count(*) from {{ raw_relation(table) }} as raw_rows) as raw_rows,
            (select count(*) from {{ ref('stg_shop__' ~ table) }}) as clean_rows,
            (select count(*) from {{ ref('quarantine_shop__' ~ table) }}) as quarantined_rows

    ),

{% endfor %}
final as (

    {% for table in tables %}
        select * from {{ table }}_counts
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select
    source_table,
    raw_rows,
    clean_rows,
    quarantined_rows,
    raw_rows - clean_rows - quarantined_rows as unaccounted_rows,
    {{ safe_divide('quarantined_rows', 'raw_rows') }} as quarantined_share
from final
