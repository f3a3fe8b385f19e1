-- The load ledger: one row per input file each time a run loads it - the file's name, size and checksum, the rows
-- counted at the source, and how its rows were staged (read, clean, quarantined) when it was loaded, with the run
-- that loaded it and why the table was rebuilt when it was. Incremental runs compare the files delivered with the
-- ledger (macros/staging/load_state.sql): a file it lists is not read again; one that changed (checksum) or vanished
-- rebuilds its table in full. Append-only: the files loaded are those of the table's last full load and the
-- incremental loads after it. Tables whose staging keeps its decisions as state: orders
-- (macros/staging/load_state.sql).
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
        min({{ date_orders_label(date_columns) }}) as date_orders
    from staged
    where batch_read_at = {{ this_run }}
    group by batch_file

),

delivered as (

    {{ delivered_files(table_name, files, 'read_this_run') }}

),

load_mode as (

    select
        case
            when (select min(batch_read_at) from staged) = {{ this_run }} then 'full' else 'incremental'
        end as load_mode

),

load_note as (

    select {{ ledger_load_note(table_name, 'load_mode.load_mode', 'read_this_run') }} as load_note
    from load_mode

),

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
