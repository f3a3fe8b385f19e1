-- One row per launch: a product whose launched_at falls inside the data period (after the first order date, up to
-- the as-of date), and a category whose every product has a launch date and whose first one falls inside it. Over
-- the launch window (the launch day and the following var('launch_penetration_window_days') - 1 days, cut at the
-- as-of date): customers active in the window (a completed order), how many bought the launched product / category
-- in it, and the share, for everyone and for loyalty members. Definitions: docs/metrics.md.
with

products as (

    select * from {{ ref('stg_shop__products') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

purchased_items as (

    select * from {{ ref('int_order_items_joined_to_completed_orders') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

product_launches as (

    select
        'product' as launch_type,
        coalesce(category, 'uncategorised') as category,
        product_id,
        launched_on
    from products
    where launched_on is not null

),

category_launches as (

    select
        'category' as launch_type,
        coalesce(category, 'uncategorised') as category,
        cast(null as {{ dbt.type_string() }}) as product_id,
        min(launched_on) as launched_on
    from products
    group by coalesce(category, 'uncategorised')
    -- a product without a launch date may have been on sale all along: no launch date for its category
    having count(launched_on) = count(*)

),

launches as (

    select
        {{ dbt.concat(["candidates.launch_type", "':'", "coalesce(candidates.product_id, candidates.category)"]) }}
            as launch_key,
        candidates.launch_type,
        candidates.category,
        candidates.product_id,
        candidates.launched_on,
        {{ add_days('candidates.launched_on', var('launch_penetration_window_days') - 1) }} as window_end_on,
        as_of.as_of_date
    from (
        select * from product_launches
        union all
        select * from category_launches
    ) as candidates
    cross join as_of
    where candidates.launched_on > as_of.first_order_on and candidates.launched_on <= as_of.as_of_date

),

windows as (

    select
        *,
        least(window_end_on, as_of_date) as observed_end_on
    from launches

),

window_activity as (

    select
        windows.launch_key,
        count(distinct orders.customer_id) as active_customers,
        count(distinct case when customers.is_loyalty_member then orders.customer_id end) as active_loyalty_members
    from windows
    inner join orders
        on
            windows.launched_on <= orders.ordered_on
            and windows.observed_end_on >= orders.ordered_on
            and orders.is_completed
    inner join customers on orders.customer_id = customers.customer_id
    group by windows.launch_key

),

window_buyers as (

    select
        windows.launch_key,
        count(distinct purchased_items.customer_id) as launch_buyers,
        count(distinct case when customers.is_loyalty_member then purchased_items.customer_id end)
            as loyalty_member_buyers
    from windows
    inner join purchased_items
        on
            windows.launched_on <= purchased_items.ordered_on
            and windows.observed_end_on >= purchased_items.ordered_on
            and (
                (windows.launch_type = 'product' and windows.product_id = purchased_items.product_id)
                or (windows.launch_type = 'category' and windows.category = purchased_items.category)
            )
    inner join customers on purchased_items.customer_id = customers.customer_id
    group by windows.launch_key

),

joined as (

    select
        windows.*,
        coalesce(window_activity.active_customers, 0) as active_customers,
        -- counts built on an absent table (customers for loyalty, order_items for buyers) are null, not 0
        {{ if_input('customers', 'coalesce(window_activity.active_loyalty_members, 0)') }} as active_loyalty_members,
        {{ if_input('order_items', 'coalesce(window_buyers.launch_buyers, 0)') }} as launch_buyers,
        {{ if_input(['customers', 'order_items'], 'coalesce(window_buyers.loyalty_member_buyers, 0)') }}
            as loyalty_member_buyers
    from windows
    left join window_activity on windows.launch_key = window_activity.launch_key
    left join window_buyers on windows.launch_key = window_buyers.launch_key

),

final as (

    select
        launch_key,
        launch_type,
        category,
        product_id,
        launched_on,
        {{ var('launch_penetration_window_days') }} as window_days,
        window_end_on,
        observed_end_on,
        {{ days_between('launched_on', 'observed_end_on') }} + 1 as observed_days,
        window_end_on <= as_of_date as is_window_complete,
        active_customers,
        launch_buyers,
        {{ safe_divide('launch_buyers', 'active_customers') }} as launch_penetration,
        active_loyalty_members,
        loyalty_member_buyers,
        {{ safe_divide('loyalty_member_buyers', 'active_loyalty_members') }} as loyalty_member_launch_penetration
    from joined

)

select * from final
