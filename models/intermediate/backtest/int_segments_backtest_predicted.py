"""Per backtest as-of date x horizon x segment (every segment type): the margin the chosen count model and
Gamma-Gamma, fitted on the RFM summary as of that date, predict the segment's sampled buyers make in the horizon,
with the interval of that sum (the library's segment sums: parameter and process uncertainty). Nothing after the
date is read: the actual margin and the coverage are joined by int_segments_backtest_scored.

Incremental: a date's rows are stored with the fingerprint of what they read (the date's rows of
int_customers_rfm_backtest as count + sum of hash() computed in SQL, the chosen model, the horizons, the sample cap
and the settings), and a run recomputes only the dates whose fingerprint changed (reused_this_run false); the
post-hook deletes the dates no longer in the backtest. `--full-refresh` recomputes every date.
Logic: scripts/clvlayer/backtest_reuse.py (predictions_reusing) and backtest.py (backtest_segment_predictions).
"""


def model(dbt, session):
    dbt.config(materialized="incremental", incremental_strategy="delete+insert", unique_key="as_of_date",
               on_schema_change="sync_all_columns")
    from clvlayer.backtest import backtest_horizons, segmented_frame
    from clvlayer.backtest_reuse import fingerprint_sql, predictions_reusing

    inputs = dbt.ref("int_customers_rfm_backtest")
    fingerprint = fingerprint_sql("backtest_inputs", inputs.columns, inputs.types)
    fingerprints = inputs.query("backtest_inputs", fingerprint).df()

    def load(dates):
        wanted = ", ".join(f"date '{day:%Y-%m-%d}'" for day in dates)
        return segmented_frame(inputs.filter(f"as_of_date in ({wanted})"), "as_of_date, customer_id")

    previous = session.sql(f"select * from {dbt.this}").df() if dbt.is_incremental else None
    return predictions_reusing(
        fingerprints, load,
        dbt.ref("int_clv_settings_resolved").df(),
        dbt.ref("int_clv_model_selected").df(),
        previous,
        horizons=backtest_horizons(dbt.config.get("horizons")),
        max_buyers=int(dbt.config.get("max_buyers")),
    )
