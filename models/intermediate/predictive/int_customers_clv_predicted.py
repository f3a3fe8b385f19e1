"""Per customer of int_customers_rfm_summarised and count model: P(alive), expected purchases and expected average
spend over the horizon, discounted predicted CLV and the model's expected lifetime from the 'full' fits, and for the
chosen model (int_clv_model_selected) the per-customer intervals. Null with the reason in prediction_status when a
fit is unusable. Logic: scripts/clvlayer/clv_models.py (score_customers)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from clvlayer.clv_models import assert_finite, score_customers

    predictions = score_customers(
        dbt.ref("int_customers_rfm_summarised").df(),
        dbt.ref("int_clv_models_fitted").df(),
        dbt.ref("int_clv_settings_resolved").df(),
        dbt.ref("int_clv_model_selected").df(),
    )
    assert_finite(predictions, ["p_alive", "expected_purchases", "expected_average_spend", "predicted_clv",
                                "predicted_clv_lower", "model_expected_lifetime_months"])
    return predictions
