-- Row accounting per raw table: every row of the source is either clean (in stg_shop__<table>) or quarantined (in
-- quarantine_shop__<table>, with a reason). raw_rows is counted from the source itself, independently of the
-- reader (CSV records by a byte scan, Parquet file metadata, the seed table for the sample: source_row_count), so
-- a reader that drops or merges lines leaves unaccounted rows and the test in audit_row_accounting.yml fails the build.
-- Built after audit_quarantine_summary, so a build stopped by this model's tests (clv build fails fast) keeps the
-- report that explains it.
-- depends_on: {{ ref('audit_quarantine_summary') }}
{%- set tables = raw_tables() %}

with

{% for table in tables %}
    {{ table }}_counts as (

        select
            '{{ table }}' as source_table,
            {{ source_count_method(table) }} as count_method,
            cast({{ source_row_count(table) }} as bigint) as raw_rows,
            (select count(*) from {{ ref('base_shop__' ~ table) }}) as read_rows,
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
    count_method,
    raw_rows,
    read_rows,
    clean_rows,
    quarantined_rows,
    raw_rows - clean_rows - quarantined_rows as unaccounted_rows,
    {{ safe_divide('quarantined_rows', 'raw_rows') }} as quarantined_share
from final
