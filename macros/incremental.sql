{#- Post-hook of an incremental model keyed wider than its rows (delete+insert replaces every row of a changed key,
    e.g. all orders of a customer): removes the rows whose `columns` no longer appear in `relation` (optionally
    filtered by `where`) - a customer whose last order was deleted or moved away has no new row to replace the old
    ones with. A full build (no previous rows, or --full-refresh) deletes nothing it just wrote. -#}
{% macro delete_rows_gone_from(columns, relation, where=none) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where not exists (
            select 1
            from {{ relation }} as current_rows
            where
                {% for column in columns -%}
                    current_rows.{{ column }} = {{ this.identifier }}.{{ column }}{% if not loop.last %} and {% endif %}
                {%- endfor %}
                {%- if where %} and ({{ where }}){% endif %}
        )
    {%- endif -%}
{%- endmacro %}

{#- The time stamp of the rows this run (re)computes: dbt's run start, the same in every model of the run. A build
    of several dbt invocations (Spark: scripts/clvlayer/spark.py) passes its own start in CLV_RUN_STARTED_AT, so the
    models of its later invocations (the load ledger, the scoped tests) see the rows its first one wrote. -#}
{% macro this_run_loaded_at() -%}
    {%- set shared_start = env_var("CLV_RUN_STARTED_AT", "") if target.type == 'spark' else "" -%}
    cast('{{ shared_start or run_started_at.strftime("%Y-%m-%d %H:%M:%S.%f") }}' as timestamp)
{%- endmacro %}

{#- In an incremental model that reads int_orders_enriched: whether the row's `column` (a customer) had rows
    (re)written by this run in `relation` (true for every row in a full build). -#}
{% macro rewritten_in_this_run(column, relation) -%}
    {%- if is_incremental() -%}
        {{ column }} in (
            select rewritten.{{ column }} from {{ relation }} as rewritten
            where rewritten.batch_loaded_at = {{ this_run_loaded_at() }}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}

{#- In an incremental model whose incremental run defines a CTE `changed_customers` (customer_id): the rows of the
    CTE `relation` of those customers; every row of it in a full build. -#}
{% macro rows_of_changed_customers(relation) -%}
    {%- if is_incremental() -%}
        select {{ relation }}.*
        from {{ relation }}
        inner join changed_customers on {{ relation }}.customer_id = changed_customers.customer_id
    {%- else -%}
        select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of an incremental model keyed by as-of snapshot (int_customers_aggregated_to_snapshots): sets every
    row's as_of_date to its snapshot's date in this run (`snapshots`: int_as_of_snapshots). A row not recomputed by
    the run is valid at the new date (no order of its customer lies between the old and the new date), and the next
    run reads the date the state was computed at from it. -#}
{% macro restamp_snapshot_dates(snapshots) -%}
    {%- if is_incremental() -%}
        update {{ this }}
        set as_of_date = current_snapshots.as_of_date
        from {{ snapshots }} as current_snapshots
        where
            {{ this.identifier }}.as_of_snapshot = current_snapshots.as_of_snapshot
            and {{ this.identifier }}.as_of_date <> current_snapshots.as_of_date
    {%- endif -%}
{%- endmacro %}

{#- Data tests sized to the change (`config: {where: __rewritten_rows__}` and the other placeholders): see
    macros/tests/scoped_tests.sql. -#}
