-- One row per as-of snapshot x survival curve x day of lifespan (0 .. the horizon): the Kaplan-Meier survival of the
-- customer lifespan (days from the first to the last completed order), with right-censoring, continued past the
-- data by a constant hazard. Curves: 'all_channels', and one per acquisition channel with at least
-- var('lifetime_min_curve_buyers') buyers.
--   event     a lapsed buyer (no completed order for more than var cvm_lapsed_days) churned at their last order:
--             lifespan observed
--   censored  any other buyer, at the last lifespan day whose churn is observable (tenure - the lapse threshold
--             - 1; they survived it: their lifespan is longer). Not at their current lifespan: a buyer who stopped
--             at it is not lapsed yet, so counting the days up to it as survived counts the survivors of those days
--             and not yet their churners (young customers of a growing shop read as long-lived). A buyer younger
--             than the lapse threshold tells nothing yet and is not at risk
--   survival  S(d) = P(lifespan > d) = product over days k <= d of (1 - churned_k / at_risk_k)
--   observed  up to the last day at which churn is observable (the oldest buyer's tenure minus the lapse
--             threshold) and at least var('lifetime_min_at_risk') buyers are at risk; later days continue S with the
--             constant daily hazard of the last var('lifetime_tail_fit_months') observed months
-- The suffix sums turn the curve into each customer's expected (and discounted) lifetime, see
-- int_customers_lifetimes_projected. Definitions: docs block "expected_lifetime" (docs/metrics.md).
{%- set days_per_month = var('days_per_month') | float %}
{%- set span_cap_days = (var('clv_horizon_months') | float - 1) * days_per_month %}
{%- set last_day = span_cap_days | round(0, 'floor') | int %}
{%- set tail_days = (var('lifetime_tail_fit_months') | float * days_per_month) | round | int %}
with

customers as (

    select * from {{ ref('int_customers_enriched') }}

),

buyers as (

    select
        as_of_date,
        acquisition_channel,
        lifespan_days,
        tenure_days,
        is_lapsed
    from customers
    where has_completed_order

),

channel_sizes as (

    select
        as_of_date,
        acquisition_channel,
        count(*) as channel_buyers
    from buyers
    group by as_of_date, acquisition_channel

),

observable_buyers as (

    -- the last lifespan day each buyer is at risk on: a lapsed buyer's lifespan (their churn), else censored
    select
        *,
        case
            when is_lapsed then lifespan_days else tenure_days - {{ var('cvm_lapsed_days') }} - 1
        end as at_risk_until_day
    from buyers

),

curve_buyers as (

    select
        as_of_date,
        'all_channels' as curve,
        lifespan_days,
        tenure_days,
        is_lapsed,
        at_risk_until_day
    from observable_buyers

    union all

    select
        buyers.as_of_date,
        buyers.acquisition_channel as curve,
        buyers.lifespan_days,
        buyers.tenure_days,
        buyers.is_lapsed,
        buyers.at_risk_until_day
    from observable_buyers as buyers
    inner join channel_sizes
        on
            buyers.as_of_date = channel_sizes.as_of_date
            and buyers.acquisition_channel = channel_sizes.acquisition_channel
    where channel_sizes.channel_buyers >= {{ var('lifetime_min_curve_buyers') }}

),

curves as (

    select
        as_of_date,
        curve,
        count(*) as curve_buyers,
        sum(case when at_risk_until_day >= 0 then 1 else 0 end) as observable_buyers,
        -- churn at lifespan d is observable only for buyers with tenure > d + the lapse threshold
        max(tenure_days) - {{ var('cvm_lapsed_days') }} - 1 as churn_observable_until_day
    from curve_buyers
    group by as_of_date, curve

),

lifespans as (

    -- buyers leaving the risk set after each lifespan day (spans past the grid leave after its last day)
    select
        as_of_date,
        curve,
        least(at_risk_until_day, {{ last_day + 1 }}) as lifespan_day,
        count(*) as leaving,
        sum(case when is_lapsed and lifespan_days <= {{ last_day }} then 1 else 0 end) as churned
    from curve_buyers
    where at_risk_until_day >= 0
    group by as_of_date, curve, least(at_risk_until_day, {{ last_day + 1 }})

),

grid as (

    select
        curves.as_of_date,
        curves.curve,
        curves.curve_buyers,
        curves.observable_buyers,
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

    select
        *,
        observable_buyers - coalesce(sum(leaving) over (
            partition by as_of_date, curve order by lifespan_day rows between unbounded preceding and 1 preceding
        ), 0) as at_risk
    from grid

),

kaplan_meier as (

    select
        *,
        {{ safe_divide('churned', 'at_risk') }} as hazard,
        -- S(d) as a running product, summed in logs; a day on which everyone at risk churns makes S zero
        sum(case when churned > 0 and churned = at_risk then 1 else 0 end) over (
            partition by as_of_date, curve order by lifespan_day rows unbounded preceding
        ) as days_all_churned,
        sum(case when churned > 0 and churned < at_risk then ln(1 - cast(churned as double) / at_risk) else 0 end)
            over (partition by as_of_date, curve order by lifespan_day rows unbounded preceding) as log_survival
    from at_risk

),

observed as (

    select
        *,
        case when days_all_churned > 0 then 0 else exp(log_survival) end as observed_survival
    from kaplan_meier

),

horizons as (

    -- the last day the curve is read from the data, and the start of the tail-fit window
    select
        as_of_date,
        curve,
        max(churn_observable_until_day) as churn_observable_until_day,
        least(
            {{ last_day }},
            max(churn_observable_until_day),
            coalesce(max(case when at_risk >= {{ var('lifetime_min_at_risk') }} then lifespan_day end), -1)
        ) as observed_until_day
    from observed
    group by as_of_date, curve

),

tails as (

    select
        horizons.as_of_date,
        horizons.curve,
        horizons.churn_observable_until_day,
        horizons.observed_until_day,
        greatest(horizons.observed_until_day - {{ tail_days }}, 0) as tail_fit_from_day,
        tail_end.observed_survival as survival_at_observed_end,
        tail_start.observed_survival as survival_at_tail_start
    from horizons
    left join observed as tail_end
        on
            horizons.as_of_date = tail_end.as_of_date
            and horizons.curve = tail_end.curve
            and horizons.observed_until_day = tail_end.lifespan_day
    left join observed as tail_start
        on
            horizons.as_of_date = tail_start.as_of_date
            and horizons.curve = tail_start.curve
            and greatest(horizons.observed_until_day - {{ tail_days }}, 0) = tail_start.lifespan_day

),

tail_hazards as (

    select
        *,
        case
            when churn_observable_until_day < 0 then 'no_churn_observable'
            when observed_until_day < 0 then 'too_few_at_risk'
            when observed_until_day = {{ last_day }} or survival_at_observed_end = 0 then 'estimated'
            when observed_until_day = tail_fit_from_day then 'tail_not_estimable'
            else 'estimated'
        end as curve_status,
        -- constant daily hazard of the tail-fit window: ln(S(start) / S(end)) / days
        case
            when survival_at_observed_end > 0 and observed_until_day > tail_fit_from_day
                then ln(survival_at_tail_start / survival_at_observed_end) / (observed_until_day - tail_fit_from_day)
        end as tail_daily_hazard
    from tails

),

curve_values as (

    select
        observed.as_of_date,
        observed.curve,
        observed.curve_buyers,
        tail_hazards.curve_status,
        tail_hazards.observed_until_day,
        tail_hazards.tail_daily_hazard,
        observed.lifespan_day,
        observed.at_risk,
        observed.churned,
        observed.hazard,
        observed.lifespan_day <= tail_hazards.observed_until_day as is_observed,
        case
            when tail_hazards.curve_status <> 'estimated' then null
            when observed.lifespan_day <= tail_hazards.observed_until_day then observed.observed_survival
            when tail_hazards.survival_at_observed_end = 0 then 0
            else tail_hazards.survival_at_observed_end
                * exp(-tail_hazards.tail_daily_hazard * (observed.lifespan_day - tail_hazards.observed_until_day))
        end as survival,
        -- the share of the day inside the horizon (the last day is partial: the horizon is not a whole day)
        case
            when observed.lifespan_day < {{ last_day }} then 1.0 else {{ span_cap_days - last_day }}
        end as day_weight
    from observed
    inner join tail_hazards
        on observed.as_of_date = tail_hazards.as_of_date and observed.curve = tail_hazards.curve

),

final as (

    select
        as_of_date,
        curve,
        curve_buyers,
        curve_status,
        observed_until_day,
        tail_daily_hazard,
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
