{#-
    The order lines' incremental models (int_order_items_aggregated_to_orders, int_order_items_joined_to_completed_orders;
    docs/operations.md "Incremental runs", DECISIONLOG "Order lines recomputed per changed order"): a run recomputes the
    orders whose lines, order or products changed and replaces their rows (delete+insert on order_id).

    Changed orders (changed_line_orders), found without reading every line:
      * the order ids of the lines base_shop__order_items (re)wrote in this run (batch_loaded_at): new or changed
        lines, lines whose order or product verdict changed (quarantined or clean again), every line of a rebuild;
      * `also`: other ids the model reads change from (int_orders_enriched's rewritten orders for the joined lines);
      * when lines went without a trace (a key gone from a snapshot file deletes its stored rows: nothing is written):
        the stored line count of the orders not named above is compared with their clean lines now, and on a
        difference the orders whose count differs;
      * every order when the products changed since the table was last written (products_fingerprint: a hash of the
        product rows the model reads, kept as the table's comment; a missing comment recomputes every order).
-#}

{#- The config of an order-lines model (`{{ config(**order_lines_config(product_columns, also)) }}`): delete+insert on
    order_id; the post-hooks remove the recomputed orders' rows this run did not rewrite and keep the products
    fingerprint. `also`: the name of a macro giving more changed order ids (orders_rewritten_in_this_run). A table
    elsewhere than on DuckDB is rebuilt in full (and keeps no products fingerprint: the hash query is DuckDB's). -#}
{% macro order_lines_config(product_columns, also=none, counted=false) -%}
    {%- set arguments = product_columns ~ (', also=' ~ also ~ '()' if also else '') ~ ', counted=' ~ counted -%}
    {{ return({
        'materialized': ('incremental' if target.type == 'duckdb' else 'table'),
        'incremental_strategy': 'delete+insert',
        'unique_key': 'order_id',
        'on_schema_change': 'fail',
        'post_hook': ["{{ delete_unwritten_orders(" ~ arguments ~ ") }}",
            "{{ keep_products_fingerprint(" ~ product_columns ~ ") }}"]}) }}
{%- endmacro %}

{#- A hash of the product columns an order-lines model reads (stg_shop__products), as text: the table keeps it as its
    comment, and a run whose products differ recomputes every order. -#}
{% macro products_fingerprint(columns) -%}
    {%- set query -%}
        select coalesce(cast(hash(list(({{ columns | join(', ') }}) order by all)) as {{ dbt.type_string() }}), 'none')
        from {{ ref('stg_shop__products') }}
    {%- endset -%}
    {#- whether the table was given at all is part of it: without one, a product's category reads 'unknown', with an
        empty one 'uncategorised' (macro product_category) -#}
    {{ return((('given ' if input_given('products') else 'absent ') ~ run_query(query).columns[0].values()[0])
        if execute else '') }}
{%- endmacro %}

{#- The products fingerprint this model's table was last written with (its comment), or none. -#}
{% macro stored_products_fingerprint() -%}
    {%- set query -%}
        select comment from duckdb_tables()
        where database_name = '{{ this.database }}' and schema_name = '{{ this.schema }}'
            and table_name = '{{ this.identifier }}'
    {%- endset -%}
    {%- set rows = run_query(query).rows if execute else [] -%}
    {%- set comment = rows[0][0] if rows | length > 0 else none -%}
    {{ return(comment[9:] if comment and comment.startswith('products ') else none) }}
{%- endmacro %}

{#- Whether this incremental run recomputes only the changed orders (false: every order - a full build, or products
    that changed since the table was written). -#}
{% macro order_lines_scoped(product_columns) -%}
    {{ return(is_incremental() and stored_products_fingerprint() == products_fingerprint(product_columns)) }}
{%- endmacro %}

{#- The query of the order ids whose rows this run recomputes (see above). `counted`: a table of the previous run
    with one row per order and its clean line count in `count_column` (int_order_items_aggregated_to_orders), whose
    orders with lines gone are found by count; `also`: a query of more order ids. -#}
{% macro changed_line_orders(also=none, counted=none, count_column='item_lines') -%}
    {%- set marked -%}
        select order_id from {{ ref('base_shop__order_items') }}
        where batch_loaded_at = {{ this_run_loaded_at() }} and order_id is not null
        {%- if also %}
        union
        {{ also }}
        {%- endif %}
    {%- endset -%}
    {%- set lines_gone = counted is not none and execute and lines_gone_unmarked(marked, counted, count_column) -%}
    {{ marked }}
    {%- if lines_gone %}
    union
    select coalesce(now_counted.order_id, stored.order_id) as order_id
    from (
        select order_id, count(*) as line_count from {{ ref('stg_shop__order_items') }} group by order_id
    ) as now_counted
    full join {{ counted }} as stored on now_counted.order_id = stored.order_id
    where now_counted.line_count is distinct from stored.{{ count_column }}
    {%- endif %}
{%- endmacro %}

{#- Whether lines went from orders no line of this run names: their stored line count (`counted`) exceeds their clean
    lines now (lines are only added by a write, which names the order). -#}
{% macro lines_gone_unmarked(marked, counted, count_column) -%}
    {%- set query -%}
        with marked as ({{ marked }})
        select
            (select coalesce(sum({{ count_column }}), 0) from {{ counted }}
                where order_id not in (select marked.order_id from marked))
            <> (select count(*) from {{ ref('stg_shop__order_items') }}
                where order_id not in (select marked.order_id from marked))
    {%- endset -%}
    {{ return(run_query(query).columns[0].values()[0]) }}
{%- endmacro %}

{#- The orders int_orders_enriched (re)computed in this run (their customer's orders changed). -#}
{% macro orders_rewritten_in_this_run() -%}
    select order_id from {{ ref('int_orders_enriched') }} where batch_loaded_at = {{ this_run_loaded_at() }}
{%- endmacro %}

{#- In an order-lines model: the rows of `relation` of the changed orders (a CTE `changed_orders`), or every row when
    the run is not scoped. -#}
{% macro rows_of_changed_orders(relation, scoped) -%}
    {%- if scoped -%}
        select {{ relation }}.*
        from {{ relation }}
        where {{ relation }}.order_id in (select changed_orders.order_id from changed_orders)
    {%- else -%}
        select * from {{ relation }}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of an order-lines model: removes the rows this run did not rewrite of the orders it recomputed (an order
    left without output: no clean line any more, no longer completed). A full build removes nothing. -#}
{% macro delete_unwritten_orders(product_columns, also=none, counted=false) -%}
    {%- if is_incremental() -%}
        delete from {{ this }}
        where
            batch_loaded_at <> {{ this_run_loaded_at() }}
            {%- if order_lines_scoped(product_columns) %}
            and order_id in ({{ changed_line_orders(also, this if counted else none) }})
            {%- endif %}
    {%- endif -%}
{%- endmacro %}

{#- Post-hook of an order-lines model (after delete_unwritten_orders): keeps the products fingerprint as the table's
    comment. -#}
{% macro keep_products_fingerprint(product_columns) -%}
    {%- if target.type == 'duckdb' -%}
        comment on table {{ this }} is 'products {{ products_fingerprint(product_columns) }}'
    {%- endif -%}
{%- endmacro %}
