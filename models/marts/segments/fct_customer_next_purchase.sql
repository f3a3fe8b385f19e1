-- One row per customer: typical inter-purchase interval, expected next purchase date and whether a reorder reminder
-- is due as of int_as_of_dates.as_of_date (the CRM reminder list is `where due_for_reorder`).
-- Interval = median gap in days between the customer's purchase days (distinct dates with a completed order); a
-- customer with one purchase day borrows the median of the per-customer medians of their acquisition channel x
-- loyalty segment, else the global one. Definitions and limits: docs/metrics.md ("Segments and next purchase").
with

customers as (

    select * from {{ ref('dim_customers') }}

),

segments as (

    select * from {{ ref('fct_customer_segments') }}

),

purchase_days_all as (

    select * from {{ ref('int_orders_merged_to_purchase_days') }}

),

as_of as (

    select * from {{ ref('int_as_of_dates') }}

),

purchase_days as (

    -- a gap is measured between consecutive purchase days; the days up to the as-of date are a prefix of each
    -- customer's days, so their gaps are the ones computed over all days
    select
        purchase_days_all.customer_id,
        purchase_days_all.days_since_previous_purchase as gap_days
    from purchase_days_all
    cross join as_of
    where purchase_days_all.purchased_on <= as_of.as_of_date

),

own_intervals as (

    select
        customer_id,
        count(*) as purchase_days,
        count(gap_days) as repeat_gaps,
        {{ median_of('gap_days') }} as own_interval_days
    from purchase_days
    group by customer_id

),

customer_intervals as (

    select
        customers.customer_id,
        customers.acquisition_channel,
        customers.is_loyalty_member,
        customers.has_completed_order,
        customers.last_order_on,
        customers.as_of_date,
        coalesce(own_intervals.purchase_days, 0) as purchase_days,
        coalesce(own_intervals.repeat_gaps, 0) as repeat_gaps,
        own_intervals.own_interval_days
    from customers
    left join own_intervals on customers.customer_id = own_intervals.customer_id

),

segment_intervals as (

    select
        acquisition_channel,
        is_loyalty_member,
        count(own_interval_days) as customers_with_interval,
        {{ median_of('own_interval_days') }} as segment_interval_days
    from customer_intervals
    group by acquisition_channel, is_loyalty_member

),

global_interval as (

    select
        count(own_interval_days) as customers_with_interval,
        {{ median_of('own_interval_days') }} as global_interval_days
    from customer_intervals

),

sourced as (

    select
        customer_intervals.*,
        case
            when not customer_intervals.has_completed_order then 'no_purchases'
            when customer_intervals.own_interval_days is not null then 'own_repeat_orders'
            when
                segment_intervals.customers_with_interval >= {{ var('next_purchase_min_segment_customers') }}
                then 'segment_median'
            when global_interval.global_interval_days is not null then 'global_median'
            else 'no_repeat_data'
        end as interval_source,
        segment_intervals.segment_interval_days,
        global_interval.global_interval_days
    from customer_intervals
    cross join global_interval
    left join segment_intervals
        on
            customer_intervals.acquisition_channel = segment_intervals.acquisition_channel
            and customer_intervals.is_loyalty_member = segment_intervals.is_loyalty_member

),

intervals as (

    select
        *,
        case interval_source
            when 'own_repeat_orders' then own_interval_days
            when 'segment_median' then segment_interval_days
            when 'global_median' then global_interval_days
        end as typical_interval_days
    from sourced

),

expected as (

    select
        *,
        -- a fractional median (even number of gaps) is rounded up to a whole day
        {{ add_days('last_order_on', 'cast(ceil(typical_interval_days) as integer)') }} as expected_next_purchase_on
    from intervals

),

overdue as (

    select
        *,
        {{ days_between('expected_next_purchase_on', 'as_of_date') }} as days_overdue
    from expected

),

statused as (

    select
        *,
        -- due from reorder_lead_days before the expected date to reorder_grace_days after it
        case
            when typical_interval_days is null then 'no_interval'
            when days_overdue < -{{ var('reorder_lead_days') }} then 'not_yet_due'
            when days_overdue <= {{ var('reorder_grace_days') }} then 'due'
            else 'past_due'
        end as reorder_status
    from overdue

),

final as (

    select
        statused.customer_id,
        statused.as_of_date,
        statused.acquisition_channel,
        statused.is_loyalty_member,
        segments.cvm_stage,
        segments.preferred_category,
        statused.purchase_days,
        statused.repeat_gaps,
        statused.last_order_on,
        statused.own_interval_days,
        statused.interval_source,
        statused.typical_interval_days,
        statused.expected_next_purchase_on,
        statused.days_overdue,
        statused.reorder_status,
        statused.reorder_status = 'due' as due_for_reorder
    from statused
    inner join segments on statused.customer_id = segments.customer_id

)

select * from final
