-- One row per customer (as dim_customers): the RFM summary as of the predictive-CLV as-of date and the predictions of
-- the chosen count model (int_clv_model_selected: var clv_model, else the best holdout log-likelihood) + Gamma-Gamma:
-- P(alive), churn risk (P(no purchase in the next churn_risk_days days)) and its band, expected purchases and average
-- spend over the horizon, discounted predicted CLV and its tier, per-customer intervals on purchases and CLV, and the
-- model's expected lifetime. Customers without a completed order up to the
-- as-of date have null predictions and say so.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

summaries as (

    select * from {{ ref('int_customers_rfm_summarised') }}

),

selection as (

    select * from {{ ref('int_clv_model_selected') }}

),

predictions as (

    select model_predictions.*
    from {{ ref('int_customers_clv_predicted') }} as model_predictions
    inner join selection on model_predictions.model = selection.chosen_model

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
        predictions.churn_risk,
        predictions.expected_purchases,
        predictions.expected_purchases_lower,
        predictions.expected_purchases_upper,
        predictions.expected_average_spend,
        predictions.predicted_clv,
        predictions.predicted_clv_lower,
        predictions.predicted_clv_upper,
        predictions.model_expected_lifetime_months as own_model_expected_lifetime_months,
        case
            when summaries.customer_id is null then 'no completed order up to the as-of date'
            when selection.chosen_model is null then selection.selection_status
            else predictions.prediction_status
        end as prediction_status
    from customers
    left join summaries on customers.customer_id = summaries.customer_id
    left join predictions on customers.customer_id = predictions.customer_id
    cross join selection

),

final as (

    select
        joined.customer_id,
        joined.acquisition_channel,
        joined.is_loyalty_member,
        joined.region,
        settings.as_of_date,
        settings.time_unit,
        settings.horizon_months,
        selection.chosen_model as model,  -- noqa: RF04
        settings.interval_level,
        joined.first_purchased_on,
        joined.last_purchased_on,
        joined.frequency,
        joined.recency,
        joined.T,  -- noqa: CP02
        joined.monetary_value,
        joined.realised_margin,
        joined.p_alive,
        settings.churn_risk_days,
        joined.churn_risk,
        {{ churn_risk_band('joined.churn_risk') }} as churn_risk_band,
        joined.expected_purchases,
        joined.expected_purchases_lower,
        joined.expected_purchases_upper,
        joined.expected_average_spend,
        joined.predicted_clv,
        joined.predicted_clv_lower,
        joined.predicted_clv_upper,
        -- the one tiering rule (macro value_tier), among the scored customers
        case when joined.predicted_clv is not null then
                {{ value_tier('joined.predicted_clv', 'joined.predicted_clv is null') }}
        end as predicted_clv_tier,
        joined.own_model_expected_lifetime_months,
        joined.prediction_status,
        joined.prediction_status = 'ok' as is_predicted
    from joined
    cross join settings
    cross join selection

)

select * from final
