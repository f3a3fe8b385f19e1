-- One row per customer (buyers and non-buyers) as of the as-of date: the customer-level LTV inputs and the
-- customer's own-lifetime LTV, with the segments the segment-level metrics group by. The current snapshot of
-- int_customers_valued, where every per-customer formula lives; segment-level values (formula A and B, discounted
-- CLV, ...) are fct_ltv_by_segment and the MetricFlow metrics on this mart, never averages of these columns.
-- Definitions: docs/metrics.md ("LTV").
-- A view (the filter is cheap; a copy would cost a full write).
{{ config(materialized='view') }}
{%- set horizons = ltv_realised_horizons_months() %}
with

customers as (

    select * from {{ ref('int_customers_valued') }}

),

final as (

    select
        customer_id,
        as_of_date,
        acquisition_channel,
        cohort_month,
        first_order_on,
        region,
        age_band,
        is_loyalty_member,
        rfm_segment,
        cvm_stage,
        value_tier,
        preferred_category,
        has_completed_order,
        is_repeat_customer,
        is_lapsed,
        recency_days,
        completed_orders,
        realised_ltv,
        realised_margin_ltv,
        margin_source,
        own_margin_rate,
        own_average_check,
        own_orders_per_month,
        own_monthly_revenue,
        own_monthly_margin,
        tenure_years,
        is_frequency_eligible,
        own_orders_per_year,
        {%- for h in horizons %}
            revenue_first_{{ h }}m,
            margin_first_{{ h }}m,
            is_cohort_mature_{{ h }}m,
        {%- endfor %}
        observed_lifespan_months,
        observed_alive_months,
        lifetime_curve,
        lifetime_status,
        own_expected_lifetime_months,
        expected_remaining_lifetime_months,
        own_discounted_lifetime_months,
        ltv_formula_a_own_lifetime,
        ltv_formula_b_own_lifetime,
        discounted_clv_own_lifetime
    from customers
    where is_current_as_of

)

select * from final
