"""Per customer of int_customers_rfm_calibrated and count model: the purchases the 'calibration' fit expects in the
holdout period (holdout_length time units after the split date), the log of its probability of the count actually
made, and the interval on the holdout count with its coverage of the actual count. Null with the reason in
prediction_status when a fit is unusable. Logic: scripts/clvlayer/clv_models.py (predict_holdout)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from clvlayer.clv_models import assert_finite, predict_holdout

    predictions = predict_holdout(
        dbt.ref("int_customers_rfm_calibrated").df(),
        dbt.ref("int_clv_models_fitted").df(),
        dbt.ref("int_clv_settings_resolved").df(),
    )
    assert_finite(predictions, ["predicted_holdout_purchases", "holdout_log_likelihood", "holdout_interval_coverage"])
    return predictions
