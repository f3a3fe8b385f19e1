-- One row per acquisition channel x acquisition cohort (month of first completed order) x months since first order,
-- from 0 to the as-of month, months without orders included; with cumulative net revenue and margin. The one place
-- cohort curves are computed: fct_cohort_retention sums it over channels, fct_channel_economics reads it per channel.
-- The calendar is derived from the data: no hard-coded start. Definitions: docs/metrics.md ("Cohorts").
with

customers as (

    select * from {{ ref('int_customers_enriched') }}
    where is_current_as_of

),

orders as (

    select * from {{ ref('int_orders_enriched') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

calendar as (

    select * from {{ ref('int_calendar_months') }}

),

cohorts as (

    select
        acquisition_channel,
        cohort_month,
        count(*) as cohort_size
    from customers
    where cohort_month is not null
    group by acquisition_channel, cohort_month

),

cohort_months as (

    -- every month from the cohort's first to the as-of month
    select
        cohorts.acquisition_channel,
        cohorts.cohort_month,
        cohorts.cohort_size,
        {{ months_between_calendar('cohorts.cohort_month', 'calendar.calendar_month') }} as months_since_first_order,
        calendar.is_complete_month
    from cohorts
    inner join calendar on cohorts.cohort_month <= calendar.calendar_month

),

cohort_orders as (

    select
        customers.acquisition_channel,
        customers.cohort_month,
        {{ months_between_calendar('customers.cohort_month', 'orders.order_month') }} as months_since_first_order,
        orders.customer_id,
        orders.net_revenue,
        orders.gross_margin
    from orders
    inner join customers on orders.customer_id = customers.customer_id
    cross join as_of
    where {{ is_completed_by_as_of() }}

),

activity as (

    select
        acquisition_channel,
        cohort_month,
        months_since_first_order,
        count(distinct customer_id) as active_customers,
        count(*) as orders,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin
    from cohort_orders
    group by acquisition_channel, cohort_month, months_since_first_order

),

joined as (

    select
        cohort_months.acquisition_channel,
        cohort_months.cohort_month,
        cohort_months.months_since_first_order,
        cohort_months.is_complete_month,
        cohort_months.cohort_size,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(activity.orders, 0) as orders,
        coalesce(activity.net_revenue, 0) as net_revenue,
        coalesce(activity.gross_margin, 0) as gross_margin
    from cohort_months
    left join activity
        on
            cohort_months.acquisition_channel = activity.acquisition_channel
            and cohort_months.cohort_month = activity.cohort_month
            and cohort_months.months_since_first_order = activity.months_since_first_order

),

cumulated as (

    select
        *,
        sum(net_revenue) over (
            partition by acquisition_channel, cohort_month order by months_since_first_order rows unbounded preceding
        ) as cumulative_net_revenue,
        sum(gross_margin) over (
            partition by acquisition_channel, cohort_month order by months_since_first_order rows unbounded preceding
        ) as cumulative_gross_margin
    from joined

),

final as (

    select
        cumulated.acquisition_channel,
        cumulated.cohort_month,
        cumulated.months_since_first_order,
        cast({{ dbt.dateadd('month', 'cumulated.months_since_first_order', 'cumulated.cohort_month') }} as date)
            as activity_month,
        -- the activity month has fully elapsed by the as-of date (else the month's figures are partial)
        cumulated.is_complete_month,
        cumulated.cohort_size,
        cumulated.active_customers,
        cumulated.orders,
        cumulated.net_revenue,
        cumulated.gross_margin,
        cumulated.cumulative_net_revenue,
        cumulated.cumulative_gross_margin
    from cumulated

)

select * from final
