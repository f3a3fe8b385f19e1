-- The load ledger: one row per input file each time a run loads it - the file's name, size and checksum, the rows
-- counted at the source, and how its rows were staged (read, clean, quarantined) when it was loaded, with the run
-- that loaded it and why the table was rebuilt when it was. Incremental runs compare the files delivered with the
-- ledger (macros/staging/load_state.sql): a file it lists is not read again; one that changed (checksum) or vanished
-- rebuilds its table in full. Append-only: the files loaded are those of the table's last full load and the
-- incremental loads after it. Tables whose staging keeps its decisions as state: orders (macros/staging/load_state.sql).
-- A killed or failed run leaves it as it was (the run works on a copy of the warehouse: write-audit-publish).
{{ config(
    materialized=('incremental' if target.type == 'duckdb' else 'table'),
    incremental_strategy='append',
    on_schema_change='fail'
) }}
{%- set table_name = 'orders' %}
{%- set date_columns = ['ordered_at', 'updated_at'] %}
{%- set files = input_files(table_name) %}
{%- set this_run = this_run_loaded_at() %}

with

staged as (

    select * from {{ ref('base_shop__' ~ table_name) }}

),

read_this_run as (

    select
        batch_file,
        count(*) as read_rows,
        count(*) filter (where quarantine_reason is null) as clean_rows,
        count(*) filter (where quarantine_reason is not null) as quarantined_rows,
        min({% for column in date_columns %}'{{ column }}=' || {{ column }}__date_order{{ " || ' ' || " if not loop.last }}{% endfor %})
            as date_orders
    from staged
    where batch_read_at = {{ this_run }}
    group by batch_file

),

delivered as (

    {%- if files %}
    select * from (
        values
        {%- for file in files %}
        ('{{ file.file_name | replace("'", "''") }}', cast({{ file.size }} as bigint), '{{ file.sha256 }}',
            cast({{ file.source_rows }} as bigint)){{ ',' if not loop.last }}
        {%- endfor %}
    ) as files (batch_file, file_bytes, checksum, raw_rows)
    {%- else %}
    {#- the embedded sample: one seed, counted from the seed table, no checksum -#}
    select
        batch_file,
        cast(null as bigint) as file_bytes,
        cast(null as {{ dbt.type_string() }}) as checksum,
        cast({{ source_row_count(table_name) }} as bigint) as raw_rows
    from read_this_run
    {%- endif %}

),

load_mode as (

    select
        case
            when (select min(batch_read_at) from staged) = {{ this_run }} then 'full' else 'incremental'
        end as load_mode

),
{%- if is_incremental() %}
{%- set plan = file_load_plan(table_name, this) %}

previous_load as (

    select max(date_orders) as date_orders
    from {{ this }}
    where
        source_table = '{{ table_name }}'
        and loaded_at = (select max(loaded_at) from {{ this }} where source_table = '{{ table_name }}')

),

load_note as (

    select
        case
            when load_mode.load_mode = 'incremental' then null
            {%- if plan.rebuild %}
            when true then '{{ plan.note | replace("'", "''") }}'
            {%- endif %}
            else '{{ table_name }}: the new rows change the day/month order of a date column ('
                || coalesce(previous_load.date_orders, '?') || ' -> '
                || (select min(date_orders) from read_this_run) || '): rebuilt in full'
        end as load_note
    from load_mode
    left join previous_load on true

),
{%- else %}

load_note as (

    select cast(null as {{ dbt.type_string() }}) as load_note

),
{%- endif %}

final as (

    select
        '{{ table_name }}' as source_table,
        delivered.batch_file,
        delivered.file_bytes,
        delivered.checksum,
        delivered.raw_rows,
        read_this_run.read_rows,
        read_this_run.clean_rows,
        read_this_run.quarantined_rows,
        read_this_run.date_orders,
        load_mode.load_mode,
        load_note.load_note,
        {{ this_run }} as loaded_at,
        '{{ invocation_id }}' as dbt_invocation_id,
        '{{ env_var("CLV_RUN_ID", "") }}' as clv_run_id
    from delivered
    inner join read_this_run on delivered.batch_file = read_this_run.batch_file
    cross join load_mode
    cross join load_note

)

select * from final
