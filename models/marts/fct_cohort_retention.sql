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
        sum(cohort_size) as cohort_size,
        sum(active_customers) as active_customers,
        sum(orders) as orders,
        sum(net_revenue) as net_revenue,
        sum(gross_margin) as gross_margin,
        sum(cumulative_net_revenue) as cumulative_net_revenue,
        sum(cumulative_gross_margin) as cumulative_gross_margin
    from channel_cohorts
    group by cohort_month, months_since_first_order, activity_month

),

final as (

    select
        {{ dbt.concat(["cast(cohort_month as " ~ dbt.type_string() ~ ")", "'+'",
            "cast(months_since_first_order as " ~ dbt.type_string() ~ ")"]) }} as cohort_month_key,
        cohort_month,
        months_since_first_order,
        activity_month,
        cohort_size,
        active_customers,
        {{ safe_divide('active_customers', 'cohort_size') }} as retention_rate,
        orders,
        net_revenue,
        gross_margin,
        cumulative_net_revenue,
        cumulative_gross_margin,
        {{ safe_divide('cumulative_net_revenue', 'cohort_size') }} as cumulative_net_revenue_per_customer,
        {{ safe_divide('cumulative_gross_margin', 'cohort_size') }} as cumulative_gross_margin_per_customer
    from cohorts

)

select * from final
