-- One row per customer (from the customers table, plus any customer seen only in orders), with order facts as of
-- the as-of date: the current snapshot of int_customers_enriched, where every formula lives. Definitions:
-- docs/metrics.md ("Customers").
-- A view (the filter is cheap; a copy would cost a full write).
{{ config(materialized='view') }}
with

customers as (

    select * from {{ ref('int_customers_enriched') }}

),

final as (

    select
        as_of_date,
        customer_id,
        created_at,
        acquisition_channel,
        region,
        birth_year,
        age_band,
        is_loyalty_member,
        loyalty_joined_at,
        customer_attributes_status,
        cohort_month,
        first_order_at,
        last_order_at,
        first_order_on,
        last_order_on,
        tenure_days,
        tenure_months,
        recency_days,
        lifespan_days,
        observed_lifespan_months,
        is_lapsed,
        orders_placed,
        completed_orders,
        repeat_orders,
        cancelled_orders,
        fully_refunded_orders,
        is_repeat_customer,
        has_completed_order,
        gross_revenue,
        refunded_amount,
        net_revenue,
        gross_margin,
        margin_source,
        own_margin_rate,
        own_average_check,
        own_items_per_order,
        active_months,
        orders_per_active_month,
        tenure_years,
        is_frequency_eligible,
        own_orders_per_year,
        own_orders_per_year_status
    from customers
    where is_current_as_of

)

select * from final
