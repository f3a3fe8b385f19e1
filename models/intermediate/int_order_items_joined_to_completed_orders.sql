-- One row per clean order line of a completed order: who bought which product and category, when, for how much
-- (line amount after discounts, before refunds: refunds are not itemised). Not filtered by an as-of date: each
-- reader applies its own. Shared by preferred category, category penetration and launch penetration
-- (docs/metrics.md, "Segments").
--
-- Incremental (macros/order_lines_state.sql, docs/operations.md "Incremental runs"): a run recomputes the orders whose
-- lines base_shop__order_items wrote in this run or whose row int_orders_enriched rewrote (its status, customer, date,
-- items changed) and replaces their lines; every order when the products changed. A full build computes every order.
{%- set product_columns = ['product_id', 'category', 'launched_on'] %}
{%- set scoped = order_lines_scoped(product_columns) %}
{{ config(**order_lines_config(product_columns, also='orders_rewritten_in_this_run')) }}
-- depends_on: {{ ref('base_shop__order_items') }}
with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

completed_orders as (

    select
        order_id,
        customer_id,
        ordered_on,
        order_month
    from orders
    where is_completed

),
{%- if scoped %}

    changed_orders as (

        {{ changed_line_orders(also=orders_rewritten_in_this_run()) }}

    ),
{%- endif %}

scoped_items as (

    {{ rows_of_changed_orders('order_items', scoped) }}

),

final as (

    select
        order_items.order_item_id,
        completed_orders.order_id,
        completed_orders.customer_id,
        completed_orders.ordered_on,
        completed_orders.order_month,
        order_items.product_id,
        -- same label as int_order_items_aggregated_to_orders for lines whose product is unknown
        {{ product_category('products.category') }} as category,
        products.launched_on,
        order_items.quantity,
        order_items.line_amount,
        -- when the row was (re)computed: the incremental run that wrote it, or the full build
        {{ this_run_loaded_at() }} as batch_loaded_at
    from scoped_items as order_items
    inner join completed_orders on order_items.order_id = completed_orders.order_id
    left join products on order_items.product_id = products.product_id

)

select * from final
