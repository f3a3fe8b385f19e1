-- Holdout validation of the BG/NBD model: fitted on purchases up to the holdout split date ('calibration' fit),
-- its expected purchases in the holdout period (split date, as-of date] against the purchase days customers
-- actually made there. One row per calibration-frequency bucket ('0' .. '6', '7+') plus 'total'.
{%- set holdout_aggregates %}
        count(*) as customers,
        coalesce(sum(actual_purchases), 0) as actual_purchases,
        sum(predicted_purchases) as predicted_purchases,
        avg(abs(predicted_purchases - actual_purchases)) as mean_absolute_error,
        sqrt(avg((predicted_purchases - actual_purchases) * (predicted_purchases - actual_purchases)))
            as root_mean_squared_error,
        max(prediction_status) as prediction_status
{%- endset %}
with

calibrated as (

    select * from {{ ref('int_customers_rfm_calibrated') }}

),

predictions as (

    select * from {{ ref('int_customers_holdout_predicted') }}

),

settings as (

    select * from {{ ref('int_clv_settings_resolved') }}

),

customers as (

    select
        calibrated.customer_id,
        case when calibrated.frequency >= 7 then '7+' else cast(calibrated.frequency as {{ dbt.type_string() }}) end
            as frequency_bucket,
        least(calibrated.frequency, 7) as bucket_order,
        cast(calibrated.holdout_purchases as double) as actual_purchases,
        predictions.predicted_holdout_purchases as predicted_purchases,
        predictions.prediction_status
    from calibrated
    inner join predictions on calibrated.customer_id = predictions.customer_id

),

by_bucket as (

    select
        frequency_bucket,
        bucket_order,
        {{ holdout_aggregates }}
    from customers
    group by frequency_bucket, bucket_order

),

overall as (

    select
        'total' as frequency_bucket,
        99 as bucket_order,
        {{ holdout_aggregates }}
    from customers

),

bucketed as (

    select * from by_bucket
    union all
    select * from overall

),

final as (

    select
        bucketed.frequency_bucket,
        bucketed.bucket_order,
        settings.holdout_split_date,
        settings.as_of_date,
        settings.time_unit,
        settings.holdout_length,
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
        bucketed.prediction_status
    from bucketed
    cross join settings

)

select * from final
