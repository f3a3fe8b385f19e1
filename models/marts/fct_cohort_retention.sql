-- One row per acquisition cohort (month of first completed order) x months since first order, from 0 to the as-of
-- month, months without orders included: int_channel_cohorts_accumulated summed over acquisition channels
-- (channels partition the customers, so sizes, active customers and cumulative sums add up).
-- Definitions: docs/metrics.md ("Cohorts").
with

channel_cohorts as (

    select * from {{ ref('int_channel_cohorts_accumulated') }}

),

cohorts as (

    select
        cohort_month,
        months_since_first_order,
        activity_month,
        is_complete_month,
        sum(cohort_size) as cohort_size,
        sum(active_customers) as active_customers,
        sum(orders) as orders,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin,
        sum(cumulative_net_revenue) as cumulative_net_revenue,
        sum(cumulative_gross_margin) as cumulative_gross_margin
    from channel_cohorts
    group by cohort_month, months_since_first_order, activity_month, is_complete_month

),

final as (

    select
        {{ dbt.concat(["cast(cohort_month as " ~ dbt.type_string() ~ ")", "'+'",
            "cast(months_since_first_order as " ~ dbt.type_string() ~ ")"]) }} as cohort_month_key,
        cohort_month,
        months_since_first_order,
        activity_month,
        is_complete_month,
        cohort_size,
        active_customers,
        {{ cohort_rates() }}
    from cohorts

)

select * from final
