-- One row per acquisition channel x cohort month of fct_channel_economics: predicted LTV per cohort customer
-- (gross margin up to the predictive as-of date + predicted CLV after it; one as-of date, never counted twice) and
-- its ratio to the cohort's CAC. It lives with the predictive marts, so a fit that fails holds back only this mart,
-- never CAC. Null when a cohort customer has no prediction. Definitions: docs/metrics.md ("Acquisition economics").
with

channel_economics as (

    select * from {{ ref('fct_channel_economics') }}

),

customers as (

    select * from {{ ref('dim_customers') }}

),

predictions as (

    select * from {{ ref('fct_customer_clv_predictions') }}

),

cohort_values as (

    select
        customers.acquisition_channel as channel,
        customers.cohort_month,
        count(*) as cohort_customers,
        count(predictions.predicted_clv) as predicted_customers,
        sum(predictions.realised_margin + predictions.predicted_clv) as predicted_ltv_total
    from customers
    left join predictions on customers.customer_id = predictions.customer_id
    where customers.has_completed_order
    group by customers.acquisition_channel, customers.cohort_month

),

final as (

    select
        channel_economics.channel_cohort_key,
        channel_economics.channel,
        channel_economics.cohort_month,
        channel_economics.new_customers,
        channel_economics.cac,
        channel_economics.cac_status,
        coalesce(cohort_values.predicted_customers, 0) as predicted_customers,
        case
            when cohort_values.predicted_customers = cohort_values.cohort_customers
                then {{ safe_divide('cohort_values.predicted_ltv_total', 'cohort_values.cohort_customers') }}
        end as predicted_ltv_per_customer,
        case
            when cohort_values.predicted_customers = cohort_values.cohort_customers
                then {{ safe_divide(safe_divide('cohort_values.predicted_ltv_total', 'cohort_values.cohort_customers'),
                    'channel_economics.cac') }}
        end as predicted_ltv_to_cac
    from channel_economics
    left join cohort_values
        on
            channel_economics.channel = cohort_values.channel
            and channel_economics.cohort_month = cohort_values.cohort_month

)

select * from final
