"""Per customer of int_customers_rfm_summarised: P(alive), expected purchases and expected average spend over the
horizon, and discounted predicted CLV, from the 'full' fit in int_clv_models_fitted. Null with the reason in
prediction_status when a fit is unusable. Logic: scripts/clvlayer/clv_models.py (score_customers)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from clvlayer.clv_models import assert_finite, score_customers

    predictions = score_customers(
        dbt.ref("int_customers_rfm_summarised").df(),
        dbt.ref("int_clv_models_fitted").df(),
        dbt.ref("int_clv_settings_resolved").df(),
    )
    assert_finite(predictions, ["p_alive", "expected_purchases", "expected_average_spend", "predicted_clv"])
    return predictions
