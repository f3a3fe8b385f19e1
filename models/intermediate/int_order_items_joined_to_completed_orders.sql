-- One row per clean order line of a completed order placed up to the as-of date: who bought which product and
-- category, when, for how much (line amount after discounts, before refunds: refunds are not itemised).
-- Shared by preferred category, category penetration and launch penetration (docs/metrics.md, "Segments").
with

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

completed_orders as (

    select
        orders.order_id,
        orders.customer_id,
        orders.ordered_on,
        orders.order_month
    from orders
    cross join as_of
    where {{ is_completed_by_as_of() }}

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
        coalesce(products.category, 'uncategorised') as category,
        products.launched_on,
        order_items.quantity,
        order_items.line_amount
    from order_items
    inner join completed_orders on order_items.order_id = completed_orders.order_id
    left join products on order_items.product_id = products.product_id

)

select * from final
