"""BG/NBD, MBG/NBD, Pareto/NBD and Gamma-Gamma fitted by maximum likelihood (model library clvlayer.btyd), twice: on
the RFM summary as of the as-of date (fit_name = 'full', used for predictions) and on the summary as of the holdout
split date (fit_name = 'calibration', used for holdout validation and the model choice). One row per
fit x model x parameter, with standard errors and the log-parameter covariance the intervals draw from.

A dbt Python model: dbt-duckdb runs it in the dbt process, so numpy/scipy and the clvlayer package come from the
project's environment (requirements.txt + `pip install -e .`). Logic: scripts/clvlayer/clv_models.py (fit_models).
"""

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from clvlayer.clv_models import fit_models

    settings = dbt.ref("int_clv_settings_resolved").df()
    full = dbt.ref("int_customers_rfm_summarised").df()
    calibration = dbt.ref("int_customers_rfm_calibrated").df()
    return pd.concat(
        [fit_models(full, settings, "full"), fit_models(calibration, settings, "calibration")],
        ignore_index=True,
    )
