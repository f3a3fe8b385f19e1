-- One row per product category x calendar month, from the first month with a completed order to the as-of month
-- (months without buyers included): customers active in the month (a completed order), how many of them bought the
-- category, and the share. Definitions: docs/metrics.md ("Segments and next purchase").
with

orders as (

    select * from {{ ref('fct_orders') }}

),

purchased_items as (

    select * from {{ ref('int_order_items_joined_to_completed_orders') }}

),

products as (

    select * from {{ ref('stg_shop__products') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

calendar_months as (

    select * from {{ ref('int_calendar_months') }}

),

completed_orders as (

    select orders.*
    from orders
    cross join as_of
    where {{ is_completed_by_as_of() }}

),

active_months as (

    select
        order_month as activity_month,
        count(distinct customer_id) as active_customers
    from completed_orders
    group by order_month

),

calendar as (

    -- every month from the first active month to the as-of month
    select
        calendar_month as activity_month,
        calendar_month_end as activity_month_end,
        is_complete_month
    from calendar_months

),

categories as (

    -- every category of the products table, plus any only seen on order lines (unknown products)
    select
        coalesce(category, 'uncategorised') as category,
        launched_on
    from products

    union all

    select distinct
        purchased_items.category,
        cast(null as date) as launched_on
    from purchased_items
    cross join as_of
    where purchased_items.ordered_on <= as_of.as_of_date

),

category_list as (

    select
        category,
        min(launched_on) as category_first_launched_on
    from categories
    group by category

),

category_buyers as (

    select
        purchased_items.category,
        purchased_items.order_month as activity_month,
        count(distinct purchased_items.customer_id) as category_buyers
    from purchased_items
    cross join as_of
    where purchased_items.ordered_on <= as_of.as_of_date
    group by purchased_items.category, purchased_items.order_month

),

grid as (

    select
        category_list.category,
        category_list.category_first_launched_on,
        calendar.activity_month,
        calendar.activity_month_end,
        calendar.is_complete_month,
        coalesce(active_months.active_customers, 0) as active_customers,
        -- without an order_items table nobody is known to have bought a category: null, not 0
        {{ if_input('order_items', 'coalesce(category_buyers.category_buyers, 0)') }} as category_buyers
    from category_list
    cross join calendar
    left join active_months on calendar.activity_month = active_months.activity_month
    left join category_buyers
        on
            category_list.category = category_buyers.category
            and calendar.activity_month = category_buyers.activity_month

),

final as (

    select
        {{ dbt.concat(["category", "'+'", "cast(activity_month as " ~ dbt.type_string() ~ ")"]) }}
            as category_month_key,
        category,
        activity_month,
        category_first_launched_on,
        coalesce(category_first_launched_on <= activity_month_end, true) as is_launched_by_month_end,
        not is_complete_month as is_partial_month,
        active_customers,
        category_buyers,
        {{ safe_divide('category_buyers', 'active_customers') }} as penetration_rate
    from grid

)

select * from final
