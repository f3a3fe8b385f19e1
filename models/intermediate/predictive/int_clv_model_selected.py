"""One row: the count model the predictive marts publish - var clv_model when set, else the model with the highest
holdout log-likelihood per customer among those whose calibration fit is usable (docs block
predictive_model_choice). Null chosen_model with the reason when no model is usable.
Logic: scripts/clvlayer/clv_models.py (select_model) -> clvlayer.btyd.selection.choose_model."""


def model(dbt, session):
    dbt.config(materialized="table")
    from clvlayer.clv_models import select_model

    return select_model(
        dbt.ref("int_customers_holdout_predicted").df(),
        dbt.ref("int_clv_settings_resolved").df(),
    )
