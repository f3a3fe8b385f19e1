-- Quarantined rows per raw table and reason, with up to three example raw rows and how to fix the input: the
-- first place to look when input data is bad (a refused build prints it).
{%- set tables = raw_tables() %}

with

{% for table in tables %}
    {{ table }}_quarantined as (

        select
            '{{ table }}' as source_table,
            quarantine_reason,
            coalesce(raw_row, '') as raw_row,
            source_line
        from {{ ref('quarantine_shop__' ~ table) }}

    ),

{% endfor %}
quarantined as (

    {% for table in tables %}
        select * from {{ table }}_quarantined
        {% if not loop.last %}union all{% endif %}
    {% endfor %}

),

ranked as (

    select
        source_table,
        quarantine_reason,
        raw_row,
        source_line,
        row_number() over (
            partition by source_table, quarantine_reason order by source_line nulls last, raw_row
        ) as example_number
    from quarantined

),

counted as (

    select
        source_table,
        quarantine_reason,
        count(*) as quarantined_rows
    from quarantined
    group by source_table, quarantine_reason

),

examples as (

    select
        source_table,
        quarantine_reason,
        {{ dbt.listagg(
            "case when source_line is not null then 'line ' || source_line || ': ' else '' end || raw_row",
            "chr(10)",
            "order by example_number") }} as example_raw_rows
    from ranked
    where example_number <= 3
    group by source_table, quarantine_reason

),

final as (

    select
        counted.source_table,
        counted.quarantine_reason,
        counted.quarantined_rows,
        examples.example_raw_rows,
        {{ quarantine_fix('counted.quarantine_reason') }} as fix
    from counted
    left join examples
        on
            counted.source_table = examples.source_table
            and counted.quarantine_reason = examples.quarantine_reason

)

select * from final
