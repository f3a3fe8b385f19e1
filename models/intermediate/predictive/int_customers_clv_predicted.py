"""Per customer of int_customers_rfm_summarised and count model: P(alive), expected purchases and expected average
spend over the horizon, discounted predicted CLV and the model's expected lifetime from the 'full' fits, and for the
chosen model (int_clv_model_selected) the per-customer intervals. Null with the reason in prediction_status when a
fit is unusable. Logic: scripts/clvlayer/clv_models.py (prediction_batches, score_customers).

Returned as an Arrow stream scored a chunk of customers at a time (clv_models.SCORE_CHUNK_CUSTOMERS), so the dbt
process holds one chunk's frames, not every customer's; the summary is read with the columns the scoring uses only,
in customer order."""


def model(dbt, session):
    dbt.config(materialized="table")
    from clvlayer.clv_models import prediction_batches

    return prediction_batches(
        dbt.ref("int_customers_rfm_summarised")
        .project("customer_id, frequency, recency, T, monetary_value, acquisition_channel")
        .order("customer_id")
        .df(),
        dbt.ref("int_clv_models_fitted").df(),
        dbt.ref("int_clv_settings_resolved").df(),
        dbt.ref("int_clv_model_selected").df(),
    )
