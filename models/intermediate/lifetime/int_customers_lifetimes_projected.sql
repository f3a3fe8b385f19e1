-- One row per as-of snapshot x buyer: the buyer's own expected lifetime, restricted to var('clv_horizon_months'),
-- and its discounted value, from the survival curve of their acquisition channel (the all-channel curve when the
-- channel is too small; int_lifetime_curves_estimated). Lifetime = the first month + the lifespan (first to last
-- completed order), the same measure as the observed lifespan (int_customers_enriched).
--   lapsed (churned)  observed: 1 month + lifespan
--   otherwise         1 month + d + q x E[min(lifespan, cap) - d | lifespan > d] under the curve
--                     = 1 month + d + q x sum over k >= d of S(k) / S(d), d = current lifespan in days, where
--                     q = P(they order again | silent for their recency after their n-th order): the buyer's
--                     return probability (int_return_rates_estimated). Without q every buyer not yet lapsed was
--                     projected as certainly alive, though most of a shop's one-order buyers never come back: the
--                     recently acquired (a growing shop's, a young cohort) read 2-3x their lifetime.
-- The mean over a segment's buyers is the segment's restricted mean lifetime. Definitions: docs block
-- "expected_lifetime" (docs/metrics.md).
{%- set days_per_month = var('days_per_month') | float %}
{%- set span_cap_days = (var('clv_horizon_months') | float - 1) * days_per_month %}
{%- set last_day = span_cap_days | round(0, 'floor') | int %}
{%- set bucket_days = var('lifetime_return_recency_bucket_days') | int %}
with

customers as (

    select * from {{ ref('int_customers_enriched') }}

),

curves as (

    select * from {{ ref('int_lifetime_curves_estimated') }}

),

return_rates as (

    select * from {{ ref('int_return_rates_estimated') }}

),

curve_list as (

    select distinct
        as_of_date,
        curve,
        curve_status
    from curves

),

buyers as (

    select
        customers.as_of_date,
        customers.customer_id,
        customers.acquisition_channel,
        customers.lifespan_days,
        customers.is_lapsed,
        least(customers.completed_orders, {{ var('lifetime_return_max_order_bucket') }}) as order_bucket,
        least(
            floor(customers.recency_days / {{ bucket_days }}) * {{ bucket_days }},
            {{ (var('cvm_lapsed_days') | int // bucket_days) * bucket_days }}
        ) as recency_from,
        coalesce(channel_curves.curve, 'all_channels') as lifetime_curve
    from customers
    left join curve_list as channel_curves
        on
            customers.as_of_date = channel_curves.as_of_date
            and customers.acquisition_channel = channel_curves.curve
    where customers.has_completed_order

),

joined as (

    select
        buyers.*,
        curve_list.curve_status,
        curves.survival,
        curves.survival_days_from,
        curves.discounted_survival_days_from,
        return_rates.return_probability
    from buyers
    inner join curve_list
        on buyers.as_of_date = curve_list.as_of_date and buyers.lifetime_curve = curve_list.curve
    left join curves
        on
            buyers.as_of_date = curves.as_of_date
            and buyers.lifetime_curve = curves.curve
            and buyers.lifespan_days = curves.lifespan_day
    left join return_rates
        on
            buyers.as_of_date = return_rates.as_of_date
            and buyers.order_bucket = return_rates.order_bucket
            and buyers.recency_from = return_rates.recency_from

),

statused as (

    select
        *,
        case
            when curve_status <> 'estimated' then 'curve_not_estimable'
            when is_lapsed then 'churned'
            when lifespan_days >= {{ span_cap_days }} then 'at_horizon'
            else 'projected'
        end as lifetime_status
    from joined

),

projected as (

    -- expected and discounted lifespan in days, restricted to the horizon (the first month comes on top)
    select
        *,
        case lifetime_status
            when 'churned' then least(lifespan_days, {{ span_cap_days }})
            when 'at_horizon' then {{ span_cap_days }}
            when 'projected'
                then lifespan_days + return_probability * {{ safe_divide('survival_days_from', 'survival') }}
        end as expected_lifespan_days,
        case lifetime_status
            when 'churned' then {{ discounted_days(days_per_month ~ ' + least(lifespan_days, ' ~ span_cap_days ~ ')') }}
            when 'at_horizon' then {{ discounted_days(days_per_month + span_cap_days) }}
            when 'projected' then {{ discounted_days(days_per_month ~ ' + lifespan_days') }}
                + return_probability * {{ discount_factor(days_per_month) }}
                * {{ safe_divide('discounted_survival_days_from', 'survival') }}
        end as discounted_lifetime_days
    from statused

),

final as (

    select
        as_of_date,
        customer_id,
        acquisition_channel,
        lifetime_curve,
        lifetime_status,
        lifespan_days,
        case when lifetime_status = 'projected' then return_probability end as return_probability,
        {{ days_to_months('lifespan_days') }} + 1 as observed_lifespan_months,
        1 + {{ days_to_months('expected_lifespan_days') }} as expected_lifetime_months,
        {{ days_to_months('expected_lifespan_days - least(lifespan_days, ' ~ span_cap_days ~ ')') }}
            as expected_remaining_lifetime_months,
        {{ days_to_months('discounted_lifetime_days') }} as discounted_lifetime_months
    from projected

)

select * from final
