-- One row per curve (all channels, and each acquisition channel) x months since the first order: cohorts pooled by
-- age, each age from the cohorts that have completed that month (a month still running is left out).
--   cohort_retention_rate  active customers / customers of those cohorts
--   cohort_ltv_curve       the sum over ages j <= k of (net revenue at age j / customers of the cohorts that
--                          completed age j): average revenue per customer added at each age, accumulated. It never
--                          falls (revenue is never negative), unlike the plain pooled average, whose mix of cohorts
--                          changes with age (fewer, older cohorts at high ages)
--   cohort_margin_curve    the same for gross margin
-- Definitions: docs/metrics.md ("Cohorts").
with

channel_cohorts as (

    select * from {{ ref('int_channel_cohorts_accumulated') }}

),

as_of as (

    select as_of_date from {{ ref('int_as_of_dates') }}

),

complete_months as (

    select
        'all_channels' as curve,
        channel_cohorts.*
    from channel_cohorts
    where channel_cohorts.is_complete_month

    union all

    select
        channel_cohorts.acquisition_channel as curve,
        channel_cohorts.*
    from channel_cohorts
    where channel_cohorts.is_complete_month

),

ages as (

    select
        curve,
        months_since_first_order,
        count(distinct cohort_month) as cohorts,
        sum(cohort_size) as cohort_customers,
        sum(active_customers) as active_customers,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin
    from complete_months
    group by curve, months_since_first_order

),

increments as (

    select
        *,
        {{ safe_divide('net_revenue', 'cohort_customers') }} as revenue_increment_per_customer,
        {{ safe_divide('gross_margin', 'cohort_customers') }} as margin_increment_per_customer
    from ages

),

final as (

    select
        {{ dbt.concat(["curve", "'+'", "cast(months_since_first_order as " ~ dbt.type_string() ~ ")"]) }}
            as curve_age_key,
        curve,
        months_since_first_order,
        (select as_of.as_of_date from as_of) as as_of_date,
        cohorts,
        cohort_customers,
        active_customers,
        {{ safe_divide('active_customers', 'cohort_customers') }} as cohort_retention_rate,
        net_revenue,
        gross_margin,
        revenue_increment_per_customer,
        margin_increment_per_customer,
        sum(revenue_increment_per_customer) over (
            partition by curve order by months_since_first_order rows unbounded preceding
        ) as cohort_ltv_curve,
        sum(margin_increment_per_customer) over (
            partition by curve order by months_since_first_order rows unbounded preceding
        ) as cohort_margin_curve
    from increments

)

select * from final
