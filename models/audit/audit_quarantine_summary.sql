-- Quarantined rows per raw table and reason: the first place to look when input data is bad.
{%- set tables = raw_tables() %}

with

final as (

    {% for table in tables %}
        select
            '{{ table }}' as source_table,
            quarantine_reason,
            count(*) as quarantined_rows
        from {{ ref('quarantine_shop__' ~ table) }}
        group by quarantine_reason
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

)

select * from final
