-- One row per customer (as dim_customers): the RFM summary as of the predictive-CLV as-of date and the BG/NBD +
-- Gamma-Gamma predictions: P(alive), expected purchases and average spend over the horizon, discounted predicted
-- CLV and its tier. Customers without a completed order up to the as-of date have null predictions and say so.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

summaries as (

    select * from {{ ref('int_customers_rfm_summarised') }}

),

predictions as (

    select * from {{ ref('int_customers_clv_predicted') }}

),

settings as (

    select * from {{ ref('int_clv_settings_resolved') }}

),

joined as (

    select
        customers.customer_id,
        customers.acquisition_channel,
        customers.is_loyalty_member,
        customers.region,
        summaries.first_purchased_on,
        summaries.last_purchased_on,
        summaries.frequency,
        summaries.recency,
        summaries.T,  -- noqa: CP02
        summaries.monetary_value,
        summaries.total_margin as realised_margin,
        predictions.p_alive,
        predictions.expected_purchases,
        predictions.expected_average_spend,
        predictions.predicted_clv,
        coalesce(
            predictions.prediction_status, 'no completed order up to the as-of date'
        ) as prediction_status
    from customers
    left join summaries on customers.customer_id = summaries.customer_id
    left join predictions on customers.customer_id = predictions.customer_id

),

ranked as (

    select
        *,
        -- rank share among scored customers, best first; tied values share the rank of their first position (as
        -- the segment scores do), so equal predictions always get the same tier
        case when predicted_clv is not null then
            {{ safe_divide(
                'rank() over (partition by predicted_clv is null order by predicted_clv desc)',
                'count(*) over (partition by predicted_clv is null)') }}
        end as predicted_clv_rank_share
    from joined

),

final as (

    select
        ranked.customer_id,
        ranked.acquisition_channel,
        ranked.is_loyalty_member,
        ranked.region,
        settings.as_of_date,
        settings.time_unit,
        settings.horizon_months,
        ranked.first_purchased_on,
        ranked.last_purchased_on,
        ranked.frequency,
        ranked.recency,
        ranked.T,  -- noqa: CP02
        ranked.monetary_value,
        ranked.realised_margin,
        ranked.p_alive,
        ranked.expected_purchases,
        ranked.expected_average_spend,
        ranked.predicted_clv,
        ranked.predicted_clv_rank_share,
        case
            when ranked.predicted_clv_rank_share is null then null
            when ranked.predicted_clv_rank_share <= {{ var('clv_tier_top_share') }} then 'top'
            when ranked.predicted_clv_rank_share <= {{ var('clv_tier_high_share') }} then 'high'
            when ranked.predicted_clv_rank_share <= {{ var('clv_tier_medium_share') }} then 'medium'
            else 'low'
        end as predicted_clv_tier,
        ranked.prediction_status,
        ranked.prediction_status = 'ok' as is_predicted
    from ranked
    cross join settings

)

select * from final
