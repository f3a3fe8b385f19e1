-- One row per customer (from the customers table, plus any customer seen only in orders), with order facts as of
-- int_as_of_dates.as_of_date. Definitions: docs/metrics.md (section "Customers").
with

customers as (

    select * from {{ ref('stg_shop__customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

orders_as_of as (

    select orders.*
    from orders
    cross join as_of
    where orders.ordered_on <= as_of.as_of_date

),

customer_ids as (

    select customer_id from customers
    union
    select customer_id from orders

),

order_facts as (

    select
        customer_id,
        count(*) as orders_placed,
        sum(case when is_completed then 1 else 0 end) as completed_orders,
        sum(case when is_cancelled then 1 else 0 end) as cancelled_orders,
        sum(case when is_fully_refunded then 1 else 0 end) as fully_refunded_orders,
        min(case when is_completed then ordered_at end) as first_order_at,
        max(case when is_completed then ordered_at end) as last_order_at,
        sum(gross_revenue) as gross_revenue,
        sum(refunded_amount) as refunded_amount,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin,
        sum(case when is_completed then item_units end) as completed_item_units,
        sum(case when is_completed and has_items then 1 else 0 end) as completed_orders_with_items,
        count(distinct case when is_completed then order_month end) as active_months,
        case
            when min(margin_source) = max(margin_source) then min(margin_source)
            else 'mixed'
        end as margin_source
    from orders_as_of
    group by customer_id

),

joined as (

    select
        customer_ids.customer_id,
        customers.created_at,
        coalesce(customers.acquisition_channel, 'unknown') as acquisition_channel,
        coalesce(customers.region, 'unknown') as region,
        customers.birth_year,
        coalesce(customers.is_loyalty_member, false) as is_loyalty_member,
        customers.loyalty_joined_at,
        coalesce(order_facts.orders_placed, 0) as orders_placed,
        coalesce(order_facts.completed_orders, 0) as completed_orders,
        coalesce(order_facts.cancelled_orders, 0) as cancelled_orders,
        coalesce(order_facts.fully_refunded_orders, 0) as fully_refunded_orders,
        order_facts.first_order_at,
        order_facts.last_order_at,
        cast(order_facts.first_order_at as date) as first_order_on,
        cast(order_facts.last_order_at as date) as last_order_on,
        coalesce(order_facts.gross_revenue, 0) as gross_revenue,
        coalesce(order_facts.refunded_amount, 0) as refunded_amount,
        coalesce(order_facts.net_revenue, 0) as net_revenue,
        coalesce(order_facts.gross_margin, 0) as gross_margin,
        order_facts.completed_item_units,
        coalesce(order_facts.completed_orders_with_items, 0) as completed_orders_with_items,
        coalesce(order_facts.active_months, 0) as active_months,
        order_facts.margin_source,
        as_of.as_of_date
    from customer_ids
    cross join as_of
    left join customers on customer_ids.customer_id = customers.customer_id
    left join order_facts on customer_ids.customer_id = order_facts.customer_id

),

derived as (

    select
        *,
        cast({{ dbt.date_trunc('month', 'first_order_at') }} as date) as cohort_month,
        {{ days_between('first_order_on', 'as_of_date') }} as tenure_days,
        -- years of tenure, floored at one month (the denominator of orders_per_year; sums over segments)
        case
            when completed_orders > 0
                then greatest({{ days_between('first_order_on', 'as_of_date') }}, {{ var('days_per_month') }}) / 365.25
        end as tenure_years,
        {{ days_between('last_order_on', 'as_of_date') }} as recency_days,
        {{ days_between('first_order_on', 'last_order_on') }} as lifespan_days,
        greatest(completed_orders - 1, 0) as repeat_orders,
        completed_orders >= 2 as is_repeat_customer
    from joined

),

final as (

    select
        customer_id,
        created_at,
        acquisition_channel,
        region,
        birth_year,
        is_loyalty_member,
        loyalty_joined_at,
        cohort_month,
        first_order_at,
        last_order_at,
        first_order_on,
        last_order_on,
        as_of_date,
        tenure_days,
        {{ days_to_months('tenure_days') }} as tenure_months,
        recency_days,
        lifespan_days,
        -- observed lifetime in months: first to last completed order, plus the first month (decision log)
        case when first_order_at is not null then {{ days_to_months('lifespan_days') }} + 1 end as lifetime_months,
        orders_placed,
        completed_orders,
        repeat_orders,
        cancelled_orders,
        fully_refunded_orders,
        is_repeat_customer,
        completed_orders > 0 as has_completed_order,
        gross_revenue,
        refunded_amount,
        net_revenue,
        gross_margin,
        margin_source,
        {{ safe_divide('gross_margin', 'net_revenue') }} as margin_rate,
        {{ safe_divide('net_revenue', 'completed_orders') }} as average_check,
        {{ safe_divide('completed_item_units', 'completed_orders_with_items') }} as items_per_order,
        active_months,
        {{ safe_divide('completed_orders', 'active_months') }} as orders_per_active_month,
        tenure_years,
        -- orders per year of tenure, with tenure floored at one month so new customers are not extrapolated
        {{ safe_divide('completed_orders', 'tenure_years') }} as orders_per_year
    from derived

)

select * from final
