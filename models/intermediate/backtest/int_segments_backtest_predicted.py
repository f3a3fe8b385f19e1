"""Per backtest as-of date x horizon x segment (every segment type): the margin the chosen count model and
Gamma-Gamma, fitted on the RFM summary as of that date, predict the segment's buyers make in the horizon, with the
80% interval of that sum (the library's segment sums: parameter and process uncertainty), the margin actually made
and whether the interval covers it. Horizons past the data's end: predictions without actuals, status
horizon_past_data_end. Logic: scripts/clvlayer/backtest.py (backtest_segment_predictions)."""


def model(dbt, session):
    dbt.config(materialized="table")
    from clvlayer.backtest import backtest_segment_predictions

    return backtest_segment_predictions(
        dbt.ref("int_customers_rfm_backtest").df(),
        dbt.ref("int_clv_settings_resolved").df(),
        dbt.ref("int_clv_model_selected").df(),
        max_buyers=int(dbt.config.get("max_buyers")),
    )
