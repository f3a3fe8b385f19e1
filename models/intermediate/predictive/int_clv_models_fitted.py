"""BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma fitted by maximum likelihood (model library clvlayer.btyd), twice: on
the RFM summary as of the as-of date (fit_name = 'full', used for predictions) and on the summary as of the holdout
split date (fit_name = 'calibration', used for holdout validation and the model choice). Each count model is fitted
on every customer (stratum = 'pooled') and on each acquisition channel large enough (stratum = the channel); the
likelihood-ratio test of the calibration fits says which scores (stratification, lr_*; clvlayer.clv_strata).
Gamma-Gamma is pooled. One row per fit x model x stratum x parameter, with standard errors and the log-parameter
covariance the intervals draw from.

Incremental: the table keeps the last fit, and a run refits only when the refit rule says so (first fit, on demand,
settings changed, clv_refit_every_days passed, too many new customers, holdout error grown; clvlayer.clv_refit),
else it keeps the stored parameters and marks them reused_this_run. Every run writes every row of every fit x model
(the delete+insert key): a channel no longer fitted leaves no stale rows. var clv_parameters_from loads the parameters from a file instead.

A dbt Python model: dbt-duckdb runs it in the dbt process, so numpy/scipy and the clvlayer package come from the
project's environment (requirements.txt + `pip install -e .`). Logic: scripts/clvlayer/clv_models.py (fit_or_reuse).
"""


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert",
               unique_key=["fit_name", "model"], on_schema_change="sync_all_columns")
    from clvlayer.clv_models import fit_or_reuse

    previous = session.sql(f"select * from {dbt.this}").df() if dbt.is_incremental else None
    return fit_or_reuse(
        dbt.ref("int_customers_rfm_summarised").order("customer_id").df(),
        dbt.ref("int_customers_rfm_calibrated").order("customer_id").df(),
        dbt.ref("int_clv_settings_resolved").df(),
        previous,
        lambda path: session.sql("select * from " + "'" + path.replace("'", "''") + "'").df(),
    )
