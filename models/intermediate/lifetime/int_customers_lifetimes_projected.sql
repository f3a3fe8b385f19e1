-- One row per as-of snapshot x buyer: the buyer's own expected lifetime, restricted to var('clv_horizon_months'),
-- and its discounted value, from the survival curve of their acquisition channel (the all-channel curve when the
-- channel has no curve of its own or its curve is not estimable; int_lifetime_curves_estimated). Lifetime = the
-- first month + the lifespan (first to last completed order), the same measure as the observed lifespan
-- (int_customers_enriched). With s = the lifespan so
-- far, T = the tenure (first order to the as-of date), C = the lifespan cap and q = P(they order again | silent for
-- their recency after their n-th order) (int_return_rates_estimated):
--   s >= C            C
--   T >= C            s + q x (C - s)
--   otherwise         s + q x (T - s + sum over k >= T of S(k) / S(T))
-- since a buyer who orders again does so after the as-of date: their lifespan exceeds T, and past it follows the
-- curve given survival to T. No buyer is certainly churned (a long silence makes q small, not 0): a fixed 180-day
-- threshold counted the slow buyers who come back after it as churned (lifetimes 25-30% short).
-- The mean over a segment's buyers is the segment's restricted mean lifetime. observed_alive_months is the part of
-- it already lived by the as-of date, 1 month + s + q x (T - s) (uncapped, as the revenue to date): the exposure
-- the monthly rates of formulas A and B divide by, so they are per month of the same lifetime (issue 23).
-- Definitions: docs block "expected_lifetime" (docs/metrics.md).
{%- set days_per_month = var('days_per_month') | float %}
{%- set span_cap_days = lifespan_cap_days() %}
{%- set last_day = lifespan_last_day() %}
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
        customers.tenure_days,
        return_rates.return_probability,
        coalesce(channel_curves.curve, 'all_channels') as lifetime_curve
    from customers
    inner join return_rates on {{ return_rate_of_buyer('return_rates', 'customers') }}
    left join curve_list as channel_curves
        on
            customers.as_of_date = channel_curves.as_of_date
            and customers.acquisition_channel = channel_curves.curve
            and channel_curves.curve_status = 'estimated'
    where customers.has_completed_order

),

joined as (

    -- the curve at the buyer's tenure (the day they are known to have reached if they order again)
    select
        buyers.*,
        curve_list.curve_status,
        curves.survival,
        curves.survival_days_from,
        curves.discounted_survival_days_from
    from buyers
    inner join curve_list
        on buyers.as_of_date = curve_list.as_of_date and buyers.lifetime_curve = curve_list.curve
    left join curves
        on
            buyers.as_of_date = curves.as_of_date
            and buyers.lifetime_curve = curves.curve
            and least(buyers.tenure_days, {{ last_day }}) = curves.lifespan_day

),

statused as (

    select
        *,
        case
            when lifespan_days >= {{ span_cap_days }} then 'at_horizon'
            when curve_status <> 'estimated' then 'curve_not_estimable'
            when return_probability = 0 then 'churned'
            else 'projected'
        end as lifetime_status
    from joined

),

pieces as (

    -- present values (days, from the first order) of the first month plus the lifespan, the tenure and the cap; the
    -- curve's expected days lived from the tenure on, given survival to it (plain and discounted)
    select
        *,
        {{ discounted_days(days_per_month ~ ' + lifespan_days') }} as lifespan_present_days,
        {{ discounted_days(days_per_month ~ ' + tenure_days') }} as tenure_present_days,
        {{ discounted_days(days_per_month + span_cap_days) }} as cap_present_days,
        coalesce({{ safe_divide('survival_days_from', 'survival') }}, 0) as days_after_tenure,
        {{ discount_factor(days_per_month) }}
        * coalesce({{ safe_divide('discounted_survival_days_from', 'survival') }}, 0) as present_days_after_tenure
    from statused

),

projected as (

    -- expected and discounted lifespan in days, restricted to the horizon (the first month comes on top)
    select
        *,
        case
            when lifetime_status = 'at_horizon' then {{ span_cap_days }}
            when lifetime_status = 'curve_not_estimable' then null
            when tenure_days >= {{ span_cap_days }}
                then lifespan_days + return_probability * ({{ span_cap_days }} - lifespan_days)
            else lifespan_days + return_probability * (tenure_days - lifespan_days + days_after_tenure)
        end as expected_lifespan_days,
        case
            when lifetime_status = 'at_horizon' then cap_present_days
            when lifetime_status = 'curve_not_estimable' then null
            when tenure_days >= {{ span_cap_days }}
                then lifespan_present_days + return_probability * (cap_present_days - lifespan_present_days)
            else lifespan_present_days
                + return_probability * (tenure_present_days - lifespan_present_days + present_days_after_tenure)
        end as discounted_lifetime_days
    from pieces

),

final as (

    select
        as_of_date,
        customer_id,
        acquisition_channel,
        lifetime_curve,
        lifetime_status,
        lifespan_days,
        case when lifetime_status in ('projected', 'churned') then return_probability end as return_probability,
        {{ days_to_months('lifespan_days') }} + 1 as observed_lifespan_months,
        -- the months lived so far under the same return probability (the exposure of the monthly rates): the
        -- first month + the lifespan + q x the silence since the last order (a returning buyer is alive up to the
        -- as-of date)
        1 + {{ days_to_months('lifespan_days + return_probability * (tenure_days - lifespan_days)') }}
            as observed_alive_months,
        1 + {{ days_to_months('expected_lifespan_days') }} as expected_lifetime_months,
        {{ days_to_months('expected_lifespan_days - least(lifespan_days, ' ~ span_cap_days ~ ')') }}
            as expected_remaining_lifetime_months,
        {{ days_to_months('discounted_lifetime_days') }} as discounted_lifetime_months
    from projected

)

select * from final
