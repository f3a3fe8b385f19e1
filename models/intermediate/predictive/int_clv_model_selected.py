"""One row: the count model the predictive marts publish - var clv_model when set, else the model with the highest
holdout log-likelihood per customer among those whose calibration fit is usable (docs block
predictive_model_choice). Null chosen_model with the reason when no model is usable. The per-model scores are
aggregated in DuckDB (the holdout rows never become a DataFrame); the holdout rows change only with a refit, so the
choice does too. Logic: scripts/clvlayer/clv_models.py (select_from_scores) -> clvlayer.btyd.selection.choose_model."""


def model(dbt, session):
    dbt.config(materialized="table")
    from clvlayer.clv_models import HOLDOUT_SCORES_SQL, select_from_scores

    scores = dbt.ref("int_customers_holdout_predicted").query("holdout", HOLDOUT_SCORES_SQL).df()
    reasons = sorted({str(reason) for listed in scores["reasons"] for reason in listed})
    return select_from_scores(scores.set_index("model"), reasons, dbt.ref("int_clv_settings_resolved").df())
