-- One row per calibration customer of the current holdout (int_customers_rfm_calibrated): the customer's value tier
-- at the holdout split (macro value_tier on the spend up to the split, among every buyer by then), the tier the
-- build would have labelled then. The published segment intervals (int_segments_clv_intervals) label the value
-- tier's holdout cells with it, as the backtest does with int_customers_rfm_backtest.calibration_value_tier
-- (clvlayer.interval_calibration).
with

calibrated as (

    select * from {{ ref('int_customers_rfm_calibrated') }}

),

final as (

    select
        customer_id,
        {{ value_tier('total_spend') }} as calibration_value_tier
    from calibrated

)

select * from final
