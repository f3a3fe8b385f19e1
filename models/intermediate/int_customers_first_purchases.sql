-- One row per customer with a completed order: what their first completed order was - its main category, the product
-- leading it (the N products that lead most first orders keep their id, the rest read `other`), whether it carried a
-- discount (a line discount, or a discount code where orders.discount_code is given), and its value band. The
-- first-purchase segment types of the segment marts (macros/segments.sql) read it through int_customers_valued.
-- Definitions: DECISIONLOG.md ("LTV by first purchase", "discount_code").
-- Scale (docs/benchmarks.md, "Orders at 100M: no wide CTE materialized"): the orders are read where used (a scan of
-- the first orders' few columns), not materialized whole; the first order's lines are read once (their leading
-- product and their discount total in one window pass).
{%- set bands = var('first_order_value_bands') %}
{%- if bands | length == 0 or bands != bands | sort or bands | unique | list | length != bands | length %}
    {{ exceptions.raise_compiler_error("var first_order_value_bands must be a non-empty list of strictly "
        ~ "ascending amounts, not " ~ bands) }}
{%- endif %}
{%- set without_items = if_input('order_items', "'no_item_data'", "'unknown'") %}
{%- set codes_given = column_given('orders', 'discount_code') %}
with

orders as {{ not_materialized() }} (

    select * from {{ ref('int_orders_enriched') }}

),

order_codes as (

    select
        order_id,
        discount_code
    from {{ ref('stg_shop__orders') }}

),

order_items as (

    select * from {{ ref('stg_shop__order_items') }}

),

first_orders as {{ not_materialized() }} (

    select
        customer_id,
        order_id,
        gross_revenue,
        main_category,
        has_items
    from orders
    where is_first_order

),

first_order_lines as (

    select
        first_orders.customer_id,
        order_items.product_id,
        order_items.line_amount,
        order_items.discount_amount
    from first_orders
    inner join order_items on first_orders.order_id = order_items.order_id

),

ranked_lines as (

    -- the product of the first order's largest line (ties: the smaller product id) leads it; the discount total of
    -- all its lines rides along (one pass over the lines)
    select
        customer_id,
        product_id,
        row_number() over (partition by customer_id order by line_amount desc, product_id asc) as line_rank,
        sum(discount_amount) over (partition by customer_id) as first_order_discount_amount
    from first_order_lines

),

leading_products as (

    select
        customer_id,
        product_id,
        first_order_discount_amount
    from ranked_lines
    where line_rank = 1

),

product_ranks as (

    select
        product_id,
        row_number() over (order by count(*) desc, product_id) as product_rank
    from leading_products
    group by product_id

),

final as (

    select
        first_orders.customer_id,
        first_orders.order_id as first_order_id,
        first_orders.gross_revenue as first_order_gross_revenue,
        leading_products.first_order_discount_amount,
        case
            when first_orders.has_items then coalesce(first_orders.main_category, 'unknown')
            else {{ without_items }}
        end as first_category,
        case
            when product_ranks.product_rank <= {{ var('first_product_top_n') }}
                then cast(leading_products.product_id as {{ dbt.type_string() }})
            when leading_products.product_id is not null then 'other'
            else {{ without_items }}
        end as first_product,
        -- a discount code on the first order (orders.discount_code, where given) makes it discounted; otherwise the
        -- line discounts decide. Without a discount_amount column in the order_items input a discount is not known
        -- (staging reads 0)
        case
            {%- if codes_given %}
                when order_codes.discount_code is not null then 'discounted'
            {%- endif %}
            when not {{ column_given('order_items', 'discount_amount') }} then 'unknown'
            when leading_products.first_order_discount_amount > 0 then 'discounted'
            when leading_products.first_order_discount_amount is not null then 'full_price'
            else {{ without_items }}
        end as first_order_discount,
        case
            {%- for bound in bands %}
                when first_orders.gross_revenue < {{ bound }}
                    then '{{ "under_" ~ bound if loop.first else bands[loop.index0 - 1] ~ "_to_" ~ bound }}'
            {%- endfor %}
            else '{{ bands[-1] }}_and_over'
        end as first_order_value_band
    from first_orders
    left join leading_products on first_orders.customer_id = leading_products.customer_id
    left join product_ranks on leading_products.product_id = product_ranks.product_id
    left join order_codes on first_orders.order_id = order_codes.order_id

)

select * from final
