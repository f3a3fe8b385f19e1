"""Per customer of int_customers_rfm_calibrated and count model: the purchases the 'calibration' fit expects in the
holdout period (holdout_length time units after the split date), the log of its probability of the count actually
made, and the interval on the holdout count with its coverage of the actual count, with the calibration frequency
and actual holdout purchases they were made on. Null with the reason in prediction_status when a fit is unusable.

Incremental: recomputed only on a run that refits (int_clv_models_fitted.reused_this_run false); a run that reuses
the stored parameters keeps the rows of the last fit (delete+insert per model replaces them all on a refit).
Logic: scripts/clvlayer/clv_models.py (predict_holdout)."""


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key="model",
               on_schema_change="sync_all_columns")
    from clvlayer.clv_models import HOLDOUT_COLUMNS, assert_finite, empty_frame, predict_holdout

    fitted = dbt.ref("int_clv_models_fitted")
    reused = fitted.query("fitted", "select coalesce(bool_or(reused_this_run), false) from fitted").fetchall()[0][0]
    if dbt.is_incremental and reused:
        return empty_frame(HOLDOUT_COLUMNS)  # nothing to replace: the last fit's rows stay
    predictions = predict_holdout(
        dbt.ref("int_customers_rfm_calibrated").order("customer_id").df(),
        fitted.df(),
        dbt.ref("int_clv_settings_resolved").df(),
    )
    assert_finite(predictions, ["predicted_holdout_purchases", "holdout_log_likelihood", "holdout_interval_coverage"])
    if dbt.is_incremental and predictions.empty:
        session.execute(f"delete from {dbt.this}")  # a refit without calibration customers keeps no old rows
    return predictions
