-- The load ledger: one row per input file each time a run loads it - the file's name, size and checksum, the rows
-- counted at the source, and how its rows were staged (read, clean, quarantined) when it was loaded, with the run
-- that loaded it and why the table was rebuilt when it was. Incremental runs compare the files delivered with the
-- ledger (macros/staging/load_state.sql): a file it lists is not read again; one that changed (checksum) or vanished
-- rebuilds its table in full. Append-only: the files loaded are those of the table's last full load and the
-- incremental loads after it. Tables whose staging keeps its decisions as state: those of
-- state_tables (macros/staging/load_state.sql): orders, customers, order_items, refunds. A snapshot file read by
-- difference is loaded again as a whole: its row counts are those of all its rows after the run.
-- A killed or failed run leaves it as it was (the run works on a copy of the warehouse: write-audit-publish).
-- clv_run_id is read when the model runs (`if execute`), not when dbt parses it: read at parse time, each run's
-- new id marked this file changed, and dbt re-parsed it (and re-processed the project) on every run instead of
-- skipping the parse (about 1 CPU s per dbt invocation).
-- Scale (docs/benchmarks.md, "Orders at 100M: no wide CTE materialized"): a table's staged rows are scanned where
-- read (three narrow scans: the batch columns and the quarantine reason), never materialized whole; every other CTE
-- holds one row per file or per table.
{{ config(
    materialized=('incremental' if target.type == 'duckdb' else 'table'),
    incremental_strategy='append',
    on_schema_change='fail'
) }}
{%- set this_run = this_run_loaded_at() %}
{%- set this_run_id = env_var("CLV_RUN_ID", "") if execute else "" %}

with
{%- for table_name, state in state_tables().items() %}

    staged__{{ table_name }} as {{ not_materialized() }} (

        select * from {{ ref('base_shop__' ~ table_name) }}

    ),

    {%- set plan = file_load_plan(table_name, this) if is_incremental() else {'read': none} %}
    files_read__{{ table_name }} as (

        {#- the files whose rows this run read (new batch files, a full load) and a snapshot read by difference -#}
        select distinct batch_file from staged__{{ table_name }}
        where batch_read_at = {{ this_run }}
        {%- if plan.get('diff') %}
        union
        select batch_file from (values ('{{ plan.read | join("'), ('") }}')) as diffed (batch_file)
        {%- endif %}

    ),

    read_this_run__{{ table_name }} as (

        select
            batch_file,
            count(*) as read_rows,
            count(*) filter (where quarantine_reason is null) as clean_rows,
            count(*) filter (where quarantine_reason is not null) as quarantined_rows,
            {{ 'min(' ~ date_orders_label(state.date_columns) ~ ')' if state.date_columns
                else 'cast(null as ' ~ dbt.type_string() ~ ')' }} as date_orders
        from staged__{{ table_name }}
        where batch_file in (select files_read__{{ table_name }}.batch_file from files_read__{{ table_name }})
        group by batch_file

    ),

    delivered__{{ table_name }} as (

        {{ delivered_files(table_name, input_files(table_name), 'read_this_run__' ~ table_name) }}

    ),

    load_mode__{{ table_name }} as (

        {#- a snapshot read by difference may rewrite every row and still be incremental: it was rebuilt only when
            its rows changed a date column's day/month order -#}
        select
            case
                when (select min(batch_read_at) from staged__{{ table_name }}) = {{ this_run }}
                {%- if plan.get('diff') %}
                    and (select min(date_orders) from read_this_run__{{ table_name }})
                    is distinct from {{ ledger_last_date_orders(table_name) }}
                {%- endif %}
                    then 'full'
                else 'incremental'
            end as load_mode

    ),

    load_note__{{ table_name }} as (

        select
            {{ ledger_load_note(table_name, 'load_mode__' ~ table_name ~ '.load_mode',
                'read_this_run__' ~ table_name) }} as load_note
        from load_mode__{{ table_name }}

    ),

    loaded__{{ table_name }} as (

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
            '{{ this_run_id }}' as clv_run_id
        from delivered__{{ table_name }} as delivered
        inner join read_this_run__{{ table_name }} as read_this_run
            on delivered.batch_file = read_this_run.batch_file
        cross join load_mode__{{ table_name }} as load_mode
        cross join load_note__{{ table_name }} as load_note

    ),
{%- endfor %}

{%- set loaded = [] %}
{%- for table_name in state_tables() %}
    {%- do loaded.append('select * from loaded__' ~ table_name) %}
{%- endfor %}

final as (

    {{ loaded | join('\n    union all\n    ') }}

)

select * from final
