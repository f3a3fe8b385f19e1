-- One row per as-of snapshot (int_as_of_snapshots) x customer known by that date (in the customers table with a
-- signup up to the date, or with an order up to it; every customer at the current as-of date): order facts up to
-- the date, the observed lifespan, tenure, recency and whether the customer is lapsed, frequency with its minimum
-- tenure, and the age band at the date. dim_customers is its current snapshot. Definitions: docs/metrics.md
-- ("Customers"). The order facts come from the additive per-customer state int_customers_aggregated_to_snapshots
-- (incremental); everything as-of dependent is derived here in one pass per customer and snapshot.
with

-- customers and order_facts are read twice (the customer ids, the join): inlined where read, not materialized whole
-- (docs/benchmarks.md, "The customer x snapshot state at 100M")
customers as {{ not_materialized() }} (

    select * from {{ ref('stg_shop__customers') }}

),

snapshots as (

    select * from {{ ref('int_as_of_snapshots') }}

),

order_facts as {{ not_materialized() }} (

    select * from {{ ref('int_customers_aggregated_to_snapshots') }}

),

customer_ids as (

    select customer_id from customers
    union
    select customer_id from order_facts

),

joined as (

    select
        snapshots.as_of_date,
        snapshots.is_current as is_current_as_of,
        customer_ids.customer_id,
        customers.created_at,
        coalesce(customers.acquisition_channel, 'unknown') as acquisition_channel,
        coalesce(customers.region, 'unknown') as region,
        customers.birth_year,
        customers.is_loyalty_member,
        customers.loyalty_joined_at,
        {{ customer_attributes_status('customers.customer_id') }} as customer_attributes_status,
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
        order_facts.margin_source
    from customer_ids
    cross join snapshots
    left join customers on customer_ids.customer_id = customers.customer_id
    left join order_facts
        on
            customer_ids.customer_id = order_facts.customer_id
            and snapshots.as_of_snapshot = order_facts.as_of_snapshot
    -- an earlier snapshot holds the customers that existed then: signed up, or ordered, by its date
    where
        snapshots.is_current
        or order_facts.orders_placed > 0
        or cast(customers.created_at as date) <= snapshots.as_of_date

),

derived as (

    select
        *,
        completed_orders > 0 as has_completed_order,
        cast({{ dbt.date_trunc('month', 'first_order_at') }} as date) as cohort_month,
        {{ days_between('first_order_on', 'as_of_date') }} as tenure_days,
        {{ days_between('last_order_on', 'as_of_date') }} as recency_days,
        {{ days_between('first_order_on', 'last_order_on') }} as lifespan_days,
        coalesce({{ safe_divide('gross_margin', 'net_revenue') }}, cast({{ var('gross_margin_rate') }} as double))
            as margin_rate_or_default,
        greatest(completed_orders - 1, 0) as repeat_orders,
        completed_orders >= 2 as is_repeat_customer
    from joined

),

frequency as (

    select
        *,
        -- years of tenure (the denominator of orders per year); annualised only from the minimum tenure on
        cast(tenure_days as double) / 365.25 as tenure_years,
        tenure_days >= {{ var('frequency_min_tenure_days') }} as is_frequency_eligible,
        case
            when not has_completed_order then 'no_purchases'
            when tenure_days < {{ var('frequency_min_tenure_days') }} then 'tenure_below_minimum'
            else 'ok'
        end as own_orders_per_year_status
    from derived

),

final as (

    select
        as_of_date,
        is_current_as_of,
        customer_id,
        created_at,
        acquisition_channel,
        region,
        birth_year,
        {{ age_band('birth_year', 'as_of_date') }} as age_band,
        is_loyalty_member,
        loyalty_joined_at,
        customer_attributes_status,
        cohort_month,
        first_order_at,
        last_order_at,
        first_order_on,
        last_order_on,
        tenure_days,
        {{ days_to_months('tenure_days') }} as tenure_months,
        recency_days,
        lifespan_days,
        -- observed lifespan: first to last completed order, plus the first month (the purchase counts a month)
        case when has_completed_order then {{ days_to_months('lifespan_days') }} + 1 end as observed_lifespan_months,
        -- lapsed = churned for the expected lifetime: no completed order for more than var cvm_lapsed_days
        has_completed_order and recency_days > {{ var('cvm_lapsed_days') }} as is_lapsed,
        orders_placed,
        completed_orders,
        repeat_orders,
        cancelled_orders,
        fully_refunded_orders,
        is_repeat_customer,
        has_completed_order,
        gross_revenue,
        refunded_amount,
        net_revenue,
        gross_margin,
        case when has_completed_order then margin_source end as margin_source,
        case when has_completed_order then margin_rate_or_default end as own_margin_rate,
        {{ safe_divide('net_revenue', 'completed_orders') }} as own_average_check,
        {{ safe_divide('completed_item_units', 'completed_orders_with_items') }} as own_items_per_order,
        active_months,
        {{ safe_divide('completed_orders', 'active_months') }} as orders_per_active_month,
        case when has_completed_order then tenure_years end as tenure_years,
        is_frequency_eligible,
        case when own_orders_per_year_status = 'ok' then {{ safe_divide('completed_orders', 'tenure_years') }} end
            as own_orders_per_year,
        own_orders_per_year_status
    from frequency

)

select * from final
