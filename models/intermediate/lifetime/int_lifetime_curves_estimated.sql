-- One row per as-of snapshot x survival curve x day of lifespan (0 .. the horizon): the Kaplan-Meier survival of the
-- customer lifespan (days from the first to the last completed order), continued past the data by a fitted
-- heavy-tailed law. Curves: 'all_channels', and one per acquisition channel with at least
-- var('lifetime_min_curve_buyers') buyers.
--   q         each buyer's return probability (int_return_rates_estimated: P(another order | silent for their
--             recency after their n-th order)) - whether their lifespan has ended is never certain, so each buyer
--             counts as two weighted parts (no fixed churn threshold):
--   event     weight 1 - q: churned at their last order (lifespan observed)
--   censored  weight q: they order again, after the as-of date, so their lifespan exceeds their tenure (first
--             order to the as-of date): at risk up to the tenure
--   survival  S(d) = P(lifespan > d) = product over days k <= d of (1 - churned_k / at_risk_k), weighted sums
--   observed  up to the oldest buyer's tenure while at least var('lifetime_min_at_risk') (weighted) buyers are at
--             risk; later days continue S by the cure-Lomax law fitted to the observed curve (macro cure_lomax_fit,
--             every var lifetime_fit_step_days-th day, weighted by the number at risk), scaled to meet it:
--             S(d) = S(end) x F(d) / F(end). A population of buyers with different dropout rates has a decreasing
--             hazard; a constant hazard continued from the last months cut short histories' lifetimes by a third
-- The suffix sums turn the curve into each customer's expected (and discounted) lifetime, see
-- int_customers_lifetimes_projected. Definitions: docs block "expected_lifetime" (docs/metrics.md).
{%- set span_cap_days = lifespan_cap_days() %}
{%- set last_day = lifespan_last_day() %}
{#- weights are sums of probabilities: equal up to float rounding #}
{%- set weight_tolerance = 1e-9 %}
with

customers as (

    select * from {{ ref('int_customers_enriched') }}

),

return_rates as (

    select * from {{ ref('int_return_rates_estimated') }}

),

buyers as (

    select
        customers.as_of_date,
        customers.acquisition_channel,
        customers.lifespan_days,
        customers.tenure_days,
        return_rates.return_probability
    from customers
    inner join return_rates on {{ return_rate_of_buyer('return_rates', 'customers') }}
    where customers.has_completed_order

),

channel_sizes as (

    select
        as_of_date,
        acquisition_channel,
        count(*) as channel_buyers
    from buyers
    group by as_of_date, acquisition_channel

),

buyer_parts as (

    -- each buyer as two weighted parts: churned at the lifespan (1 - q), at risk up to the tenure (q)
    select
        as_of_date,
        acquisition_channel,
        tenure_days,
        lifespan_days as at_risk_until_day,
        1 - return_probability as weight,
        1 - return_probability as churn_weight
    from buyers
    union all
    select
        as_of_date,
        acquisition_channel,
        tenure_days,
        tenure_days as at_risk_until_day,
        return_probability as weight,
        0 as churn_weight
    from buyers

),

curve_buyers as (

    select
        as_of_date,
        'all_channels' as curve,
        tenure_days,
        at_risk_until_day,
        weight,
        churn_weight
    from buyer_parts

    union all

    select
        buyer_parts.as_of_date,
        buyer_parts.acquisition_channel as curve,
        buyer_parts.tenure_days,
        buyer_parts.at_risk_until_day,
        buyer_parts.weight,
        buyer_parts.churn_weight
    from buyer_parts
    inner join channel_sizes
        on
            buyer_parts.as_of_date = channel_sizes.as_of_date
            and buyer_parts.acquisition_channel = channel_sizes.acquisition_channel
    where channel_sizes.channel_buyers >= {{ var('lifetime_min_curve_buyers') }}

),

curves as (

    select
        as_of_date,
        curve,
        sum(weight) as curve_buyers,
        sum(churn_weight) as churn_weight,
        -- the lifespan is observed up to the oldest buyer's tenure
        max(tenure_days) as churn_observable_until_day
    from curve_buyers
    group by as_of_date, curve

),

lifespans as (

    -- weight leaving the risk set after each lifespan day (spans past the grid leave after its last day)
    select
        as_of_date,
        curve,
        least(at_risk_until_day, {{ last_day + 1 }}) as lifespan_day,
        sum(weight) as leaving,
        sum(case when at_risk_until_day <= {{ last_day }} then churn_weight else 0 end) as churned
    from curve_buyers
    group by as_of_date, curve, least(at_risk_until_day, {{ last_day + 1 }})

),

grid as (

    select
        curves.as_of_date,
        curves.curve,
        curves.curve_buyers,
        curves.churn_weight,
        curves.churn_observable_until_day,
        day_offsets.n as lifespan_day,
        coalesce(lifespans.leaving, 0) as leaving,
        coalesce(lifespans.churned, 0) as churned
    from curves
    cross join {{ integer_series(last_day + 1) }} as day_offsets
    left join lifespans
        on
            curves.as_of_date = lifespans.as_of_date
            and curves.curve = lifespans.curve
            and day_offsets.n = lifespans.lifespan_day

),

at_risk as (

    -- the weights left at risk; a remainder below the weight tolerance times the curve's total weight is nobody (the
    -- float sum's last bits depend on the order DuckDB adds in and grow with the total: ~1e5 buyers' weights leave
    -- 1e-9 where nobody is left, so an absolute tolerance read an empty day as 1.6e-9 or 0 at random)
    select
        *,
        case when remaining < {{ weight_tolerance }} * curve_buyers then 0 else remaining end as at_risk
    from (
        select
            *,
            {{ kaplan_meier_at_risk('curve_buyers', 'leaving', 'as_of_date, curve', 'lifespan_day') }} as remaining
        from grid
    ) as remainders

),

observed as (

    -- S(d): the Kaplan-Meier survival of the weighted lifespans (a day on which everyone at risk churns makes it
    -- zero)
    select
        *,
        {{ safe_divide('churned', 'at_risk') }} as hazard,
        {{ kaplan_meier_survival('churned', 'at_risk', 'as_of_date, curve', 'lifespan_day',
            weight_tolerance ~ ' * curve_buyers') }}
            as observed_survival
    from at_risk

),

horizons as (

    -- the last day the curve is read from the data
    select
        as_of_date,
        curve,
        max(churn_weight) as churn_weight,
        max(churn_observable_until_day) as churn_observable_until_day,
        least(
            {{ last_day }},
            max(churn_observable_until_day),
            coalesce(max(case when at_risk >= {{ var('lifetime_min_at_risk') }} then lifespan_day end), -1)
        ) as observed_until_day
    from observed
    group by as_of_date, curve

),

tail_points as (

    select
        observed.as_of_date,
        observed.curve,
        observed.lifespan_day as fit_day,
        observed.observed_survival as survival,
        observed.at_risk as weight
    from observed
    inner join horizons
        on observed.as_of_date = horizons.as_of_date and observed.curve = horizons.curve
    where
        observed.lifespan_day <= horizons.observed_until_day
        and observed.at_risk >= {{ var('lifetime_min_at_risk') }}
        and mod(observed.lifespan_day, {{ var('lifetime_fit_step_days') }}) = 0

),

tail_fits as (

    {{ cure_lomax_fit('tail_points', ['as_of_date', 'curve']) }}

),

tail_laws as (

    select
        horizons.as_of_date,
        horizons.curve,
        horizons.churn_observable_until_day,
        horizons.observed_until_day,
        tail_end.observed_survival as survival_at_observed_end,
        tail_fits.shape as tail_shape,
        tail_fits.scale as tail_scale_days,
        tail_fits.cure as tail_cure,
        case
            when horizons.churn_weight = 0 then 'no_churn_observable'
            when horizons.observed_until_day < 0 then 'too_few_at_risk'
            when horizons.observed_until_day = {{ last_day }} or tail_end.observed_survival = 0 then 'estimated'
            when tail_fits.fit_points is null or tail_fits.fit_points < 3 then 'tail_not_estimable'
            else 'estimated'
        end as curve_status
    from horizons
    left join observed as tail_end
        on
            horizons.as_of_date = tail_end.as_of_date
            and horizons.curve = tail_end.curve
            and horizons.observed_until_day = tail_end.lifespan_day
    left join tail_fits
        on horizons.as_of_date = tail_fits.as_of_date and horizons.curve = tail_fits.curve

),

curve_values as (

    select
        observed.as_of_date,
        observed.curve,
        observed.curve_buyers,
        tail_laws.curve_status,
        tail_laws.observed_until_day,
        tail_laws.tail_shape,
        tail_laws.tail_scale_days,
        tail_laws.tail_cure,
        observed.lifespan_day,
        observed.at_risk,
        observed.churned,
        observed.hazard,
        observed.lifespan_day <= tail_laws.observed_until_day as is_observed,
        case
            when tail_laws.curve_status <> 'estimated' then null
            when observed.lifespan_day <= tail_laws.observed_until_day then observed.observed_survival
            when tail_laws.survival_at_observed_end = 0 then 0
            else tail_laws.survival_at_observed_end
                * {{ cure_lomax_survival('observed.lifespan_day', 'tail_laws.tail_shape', 'tail_laws.tail_scale_days',
                    'tail_laws.tail_cure') }}
                / {{ cure_lomax_survival('tail_laws.observed_until_day', 'tail_laws.tail_shape',
                    'tail_laws.tail_scale_days', 'tail_laws.tail_cure') }}
        end as survival,
        -- the share of the day inside the horizon (the last day is partial: the horizon is not a whole day)
        case
            when observed.lifespan_day < {{ last_day }} then 1.0 else {{ span_cap_days - last_day }}
        end as day_weight
    from observed
    inner join tail_laws
        on observed.as_of_date = tail_laws.as_of_date and observed.curve = tail_laws.curve

),

final as (

    select
        as_of_date,
        curve,
        curve_buyers,
        curve_status,
        observed_until_day,
        tail_shape,
        tail_scale_days,
        tail_cure,
        lifespan_day,
        at_risk,
        churned,
        hazard,
        is_observed,
        survival,
        -- sums over days k >= this day up to the horizon: of S(k) (restricted lifespan) and of S(k) discounted
        -- from the first purchase (its present value per day lived)
        sum(survival * day_weight) over (
            partition by as_of_date, curve order by lifespan_day desc rows unbounded preceding
        ) as survival_days_from,
        sum(survival * {{ discount_factor('lifespan_day') }} * {{ discounted_days('day_weight') }}) over (
            partition by as_of_date, curve order by lifespan_day desc rows unbounded preceding
        ) as discounted_survival_days_from
    from curve_values

)

select * from final
