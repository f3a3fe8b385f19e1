"""Per segment (every segment type, current as-of date): the published predicted CLV (chosen model, 'full' fits,
var clv_horizon_months, discount and margin) summed over the segment's customers, with the 80% interval of that sum
(clv_interval_level; the library's segment sums: parameter and process uncertainty, customers independent given the
parameters), widened by the relative model error per segment type the 'calibration' fits make on the holdout
(int_customers_rfm_calibrated, the value tier at the split from int_customers_holdout_tiered;
clvlayer.interval_calibration, relative_model_error).
Logic: scripts/clvlayer/backtest.py (current_segment_intervals)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from clvlayer.backtest import current_segment_intervals, segmented_frame

    return current_segment_intervals(
        segmented_frame(dbt.ref("int_customers_rfm_labelled")),  # segment columns as Categoricals
        dbt.ref("int_clv_models_fitted").df(),
        dbt.ref("int_clv_settings_resolved").df(),
        dbt.ref("int_clv_model_selected").df(),
        dbt.ref("int_customers_rfm_calibrated").df(),
        dbt.ref("int_customers_holdout_tiered").df(),
    )
