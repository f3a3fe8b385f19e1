-- One row per order that has clean items: basket size, item revenue and cost, categories.
-- Item cost is known only when every line's product has a unit cost (otherwise items_cost is null and the order's
-- margin falls back to var('gross_margin_rate'), see fct_orders).
--
-- Incremental (macros/order_lines_state.sql, docs/operations.md "Incremental runs"): a run recomputes the orders whose
-- lines base_shop__order_items wrote in this run, or whose lines went (found by count), and replaces their rows; every
-- order when the products changed. A full build computes every order.
{%- set product_columns = ['product_id', 'category', 'unit_cost'] %}
{%- set scoped = order_lines_scoped(product_columns) %}
{{ config(**order_lines_config(product_columns, counted=true)) }}
-- depends_on: {{ ref('base_shop__order_items') }}
with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),
{%- if scoped %}

    changed_orders as (

        {{ changed_line_orders(counted=this) }}

    ),
{%- endif %}

scoped_items as (

    {{ rows_of_changed_orders('order_items', scoped) }}

),

lines as (

    select
        order_items.order_id,
        order_items.quantity,
        order_items.line_amount,
        {{ product_category('products.category') }} as category,
        order_items.quantity * products.unit_cost as line_cost
    from scoped_items as order_items
    left join products on order_items.product_id = products.product_id

),

main_categories as (

    {{ top_category_by_amount('lines', 'order_id', 'line_amount') }}

),

order_totals as (

    select
        order_id,
        count(*) as item_lines,
        sum(quantity) as item_units,
        sum(line_amount) as items_net_amount,
        case when count(line_cost) = count(*) then sum(line_cost) end as items_cost,
        count(distinct category) as distinct_categories
    from lines
    group by order_id

),

final as (

    select
        order_totals.order_id,
        order_totals.item_lines,
        order_totals.item_units,
        order_totals.items_net_amount,
        order_totals.items_cost,
        order_totals.distinct_categories,
        main_categories.category as main_category,
        order_totals.distinct_categories > 1 as has_addon_category,
        -- when the row was (re)computed: the incremental run that wrote it, or the full build
        {{ this_run_loaded_at() }} as batch_loaded_at
    from order_totals
    inner join main_categories on order_totals.order_id = main_categories.order_id

)

select * from final
