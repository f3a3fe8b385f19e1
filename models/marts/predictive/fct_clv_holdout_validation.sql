-- Holdout validation of every count model (BG/NBD, MBG/NBD, Pareto/NBD), side by side: each fitted on purchases up
-- to the holdout split date ('calibration' fits), its expected purchases in the holdout period (split date, as-of
-- date] against the purchase days customers actually made there, its holdout log-likelihood (the score the model
-- choice uses) and the coverage of its per-customer intervals. One row per model x calibration-frequency bucket
-- ('0' .. '6', '7+') plus 'total'; is_chosen_model marks the model fct_customer_clv_predictions publishes. The holdout
-- rows change only when the models are refitted: the split and as-of dates are those of the last fit.
{%- set holdout_aggregates %}
        count(customer_id) as customers,
        coalesce(sum(actual_purchases), 0) as actual_purchases,
        sum(predicted_purchases) as predicted_purchases,
        avg(abs(predicted_purchases - actual_purchases)) as mean_absolute_error,
        sqrt(avg((predicted_purchases - actual_purchases) * (predicted_purchases - actual_purchases)))
            as root_mean_squared_error,
        sum(holdout_log_likelihood) as holdout_log_likelihood,
        avg(holdout_log_likelihood) as holdout_log_likelihood_per_customer,
        avg(holdout_interval_coverage) as interval_coverage,
        avg(case
            when holdout_purchases_lower is not null
                then cast(actual_purchases between holdout_purchases_lower and holdout_purchases_upper as integer)
        end) as interval_covered_share,
        max(prediction_status) as prediction_status
{%- endset %}
with

predictions as (

    select * from {{ ref('int_customers_holdout_predicted') }}

),

selection as (

    select * from {{ ref('int_clv_model_selected') }}

),

settings as (

    select * from {{ ref('int_clv_settings_resolved') }}

),

last_fit as (

    select
        cast(max(fitted_holdout_split_date) as date) as holdout_split_date,
        cast(max(fitted_as_of_date) as date) as as_of_date
    from {{ ref('int_clv_models_fitted') }}
    where fit_name = 'calibration'

),

models as (

    select registered.model from (values ('bgnbd'), ('mbgnbd'), ('paretonbd')) as registered (model)

),

customers as (

    select
        predictions.model,
        predictions.customer_id,
        case
            when predictions.frequency >= 7 then '7+' else cast(predictions.frequency as {{ dbt.type_string() }})
        end as frequency_bucket,
        least(predictions.frequency, 7) as bucket_order,
        cast(predictions.holdout_purchases as double) as actual_purchases,
        predictions.predicted_holdout_purchases as predicted_purchases,
        predictions.holdout_log_likelihood,
        predictions.holdout_purchases_lower,
        predictions.holdout_purchases_upper,
        predictions.holdout_interval_coverage,
        predictions.prediction_status
    from predictions

),

by_bucket as (

    select
        model,
        frequency_bucket,
        bucket_order,
        {{ holdout_aggregates }}
    from customers
    group by model, frequency_bucket, bucket_order

),

overall as (

    -- every model has a total row, also without calibration customers
    select
        models.model,
        'total' as frequency_bucket,
        99 as bucket_order,
        {{ holdout_aggregates }}
    from models
    left join customers on models.model = customers.model
    group by models.model

),

bucketed as (

    select * from by_bucket
    union all
    select * from overall

),

final as (

    select
        bucketed.model || '+' || bucketed.frequency_bucket as model_bucket_key,
        bucketed.model,
        coalesce(bucketed.model = selection.chosen_model, false) as is_chosen_model,
        bucketed.frequency_bucket,
        bucketed.bucket_order,
        last_fit.holdout_split_date,
        last_fit.as_of_date,
        settings.time_unit,
        cast({{ days_between('last_fit.holdout_split_date', 'last_fit.as_of_date') }} as double)
        / settings.days_per_time_unit as holdout_length,
        bucketed.customers,
        bucketed.actual_purchases,
        bucketed.predicted_purchases,
        {{ safe_divide('bucketed.actual_purchases', 'bucketed.customers') }} as actual_purchases_per_customer,
        {{ safe_divide('bucketed.predicted_purchases', 'bucketed.customers') }} as predicted_purchases_per_customer,
        bucketed.predicted_purchases - bucketed.actual_purchases as error,
        {{ safe_divide('bucketed.predicted_purchases - bucketed.actual_purchases', 'bucketed.actual_purchases') }}
            as relative_error,
        bucketed.mean_absolute_error,
        bucketed.root_mean_squared_error,
        bucketed.holdout_log_likelihood,
        bucketed.holdout_log_likelihood_per_customer,
        settings.interval_level,
        bucketed.interval_coverage,
        bucketed.interval_covered_share,
        bucketed.prediction_status
    from bucketed
    cross join settings
    cross join selection
    cross join last_fit

)

select * from final
