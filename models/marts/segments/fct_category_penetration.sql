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
        cast({{ dbt.dateadd('month', 'month_offsets.n', 'bounds.first_month') }} as date) as activity_month
    from (select min(activity_month) as first_month from active_months) as bounds
    cross join as_of
    inner join {{ integer_series(
        "(select max(" ~ months_between_calendar('m.activity_month', 'a.as_of_date') ~ ") + 1 from "
        ~ "(select min(order_month) as activity_month from " ~ ref('fct_orders') ~ " where is_completed) as m"
        ~ " cross join " ~ ref('int_as_of_dates') ~ " as a)") }} as month_offsets
        on month_offsets.n <= {{ months_between_calendar('bounds.first_month', 'as_of.as_of_date') }}

),

categories as (

    -- every category of the products table, plus any only seen on order lines (unknown products)
    select
        coalesce(category, 'uncategorised') as category,
        launched_on
    from products

    union all

    select distinct
        category,
        cast(null as date) as launched_on
    from purchased_items

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
        category,
        order_month as activity_month,
        count(distinct customer_id) as category_buyers
    from purchased_items
    group by category, order_month

),

grid as (

    select
        category_list.category,
        category_list.category_first_launched_on,
        calendar.activity_month,
        coalesce(active_months.active_customers, 0) as active_customers,
        coalesce(category_buyers.category_buyers, 0) as category_buyers
    from category_list
    cross join calendar
    left join active_months on calendar.activity_month = active_months.activity_month
    left join category_buyers
        on
            category_list.category = category_buyers.category
            and calendar.activity_month = category_buyers.activity_month

),

month_ends as (

    select
        *,
        {{ add_days(dbt.dateadd('month', 1, 'activity_month'), -1) }} as activity_month_end
    from grid

),

final as (

    select
        {{ dbt.concat(["month_ends.category", "'+'", "cast(month_ends.activity_month as " ~ dbt.type_string() ~ ")"]) }}
            as category_month_key,
        month_ends.category,
        month_ends.activity_month,
        month_ends.category_first_launched_on,
        coalesce(month_ends.category_first_launched_on <= month_ends.activity_month_end, true)
            as is_launched_by_month_end,
        month_ends.activity_month_end > as_of.as_of_date as is_partial_month,
        month_ends.active_customers,
        month_ends.category_buyers,
        {{ safe_divide('month_ends.category_buyers', 'month_ends.active_customers') }} as penetration_rate
    from month_ends
    cross join as_of

)

select * from final
