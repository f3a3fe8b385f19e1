-- Calibration of the churn risk (P(no purchase in the next N days), N = var churn_risk_days) on the holdout: each
-- count model's calibration fit predicted, as of the holdout split date, every calibration customer's probability of
-- no purchase day in the first churn_window_days days after it (N, or the holdout length when shorter); per churn
-- risk band (macro churn_risk_band on that prediction) and overall, the mean prediction against the observed share of
-- those customers with no purchase day in the window, with counts. One row per model x band ('low', 'medium',
-- 'high', 'total'); is_chosen_model marks the model fct_customer_clv_predictions publishes. The holdout rows change
-- only when the models are refitted (as in fct_clv_holdout_validation): the dates and the window are the last fit's.
with

predictions as (

    select * from {{ ref('int_customers_holdout_predicted') }}

),

settings as (

    select * from {{ ref('int_clv_settings_resolved') }}

),

-- one row per model: the chosen flag and the last fit's dates, as the holdout validation publishes them
models as (

    select
        model,
        is_chosen_model,
        holdout_split_date,
        as_of_date
    from {{ ref('fct_clv_holdout_validation') }}
    where frequency_bucket = 'total'

),

bands as (

    select
        listed.churn_risk_band,
        listed.band_order
    from (values ('low', 1), ('medium', 2), ('high', 3), ('total', 99)) as listed (churn_risk_band, band_order)

),

model_status as (

    select
        model,
        max(case when holdout_churn_risk is not null then churn_window_days end) as churn_window_days,
        max(prediction_status) as prediction_status
    from predictions
    group by model

),

-- the customers with a holdout churn prediction (none from an unusable fit)
customers as (

    select
        model,
        customer_id,
        holdout_churn_risk,
        {{ churn_risk_band('holdout_churn_risk') }} as churn_risk_band,
        case when churn_window_purchases = 0 then 1 else 0 end as made_no_purchase
    from predictions
    where holdout_churn_risk is not null

),

-- every customer counts in its band and in 'total'
banded as (

    select * from customers
    union all
    select
        model,
        customer_id,
        holdout_churn_risk,
        'total' as churn_risk_band,
        made_no_purchase
    from customers

),

aggregated as (

    select
        models.model,
        bands.churn_risk_band,
        bands.band_order,
        count(banded.customer_id) as customers,
        sum(banded.holdout_churn_risk) as expected_no_purchase_customers,
        sum(banded.holdout_churn_risk * (1 - banded.holdout_churn_risk)) as expected_variance,
        cast(coalesce(sum(banded.made_no_purchase), 0) as bigint) as no_purchase_customers
    from models
    cross join bands
    left join banded
        on
            models.model = banded.model
            and bands.churn_risk_band = banded.churn_risk_band
    group by models.model, bands.churn_risk_band, bands.band_order

),

final as (

    select
        aggregated.model || '+' || aggregated.churn_risk_band as model_band_key,
        aggregated.model,
        models.is_chosen_model,
        aggregated.churn_risk_band,
        aggregated.band_order,
        models.holdout_split_date,
        models.as_of_date,
        settings.churn_risk_days,
        model_status.churn_window_days,
        case
            when model_status.churn_window_days is null
                then 'no holdout churn predictions (no customers, an unusable fit, or a fit before churn risk)'
            when model_status.churn_window_days = settings.churn_risk_days then 'ok'
            when model_status.churn_window_days < settings.churn_risk_days
                and model_status.churn_window_days
                = {{ days_between('models.holdout_split_date', 'models.as_of_date') }}
                then 'holdout_shorter_than_churn_risk_days'
            else 'window_of_the_last_fit'
        end as window_status,
        aggregated.customers,
        {{ safe_divide('aggregated.expected_no_purchase_customers', 'aggregated.customers') }}
            as mean_predicted_churn_risk,
        aggregated.no_purchase_customers,
        {{ safe_divide('aggregated.no_purchase_customers', 'aggregated.customers') }} as observed_no_purchase_share,
        {{ safe_divide('aggregated.no_purchase_customers - aggregated.expected_no_purchase_customers',
            'aggregated.customers') }} as calibration_error,
        aggregated.expected_no_purchase_customers,
        -- (observed - expected) / its standard deviation if the predictions were exact (independent customers)
        {{ safe_divide('aggregated.no_purchase_customers - aggregated.expected_no_purchase_customers',
            'sqrt(aggregated.expected_variance)') }} as calibration_z,
        model_status.prediction_status
    from aggregated
    inner join models on aggregated.model = models.model
    left join model_status on aggregated.model = model_status.model
    cross join settings

)

select * from final
