-- Top customers by predicted CLV (discounted margin expected over var('clv_horizon_months')), with how likely
-- they are to still be active and what they have brought so far. Compile: `clv dbt -- compile --select
-- top_customers_by_predicted_clv`; the number of rows is var('analysis_top_n').
with

predictions as (

    select * from {{ ref('fct_customer_clv_predictions') }}

),

segments as (

    select * from {{ ref('fct_customer_segments') }}

),

ranked as (

    select
        predictions.customer_id,
        predictions.predicted_clv,
        predictions.predicted_clv_tier,
        predictions.p_alive,
        predictions.expected_purchases,
        predictions.expected_average_spend,
        segments.realised_ltv,
        segments.completed_orders,
        segments.recency_days,
        segments.rfm_segment,
        segments.cvm_stage,
        segments.recommended_action,
        predictions.acquisition_channel,
        predictions.region,
        predictions.is_loyalty_member,
        row_number() over (
            order by predictions.predicted_clv desc, predictions.customer_id asc
        ) as predicted_clv_rank
    from predictions
    inner join segments
        on predictions.customer_id = segments.customer_id
    where predictions.is_predicted

),

final as (

    select *
    from ranked
    where predicted_clv_rank <= {{ var('analysis_top_n') | int }}

)

select * from final
order by predicted_clv_rank
