"""Backtest: which forward-looking value to trust for which question, from fct_ltv_backtest_verdicts, and the
overall segment's backtest cells from fct_ltv_backtest (docs/backtest.md)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clvlayer.dashboard import ui

QUESTIONS = {
    "compare_channels": "Compare channels (ranking)",
    "forecast_cohort": "Forecast a cohort",
    "cac_ceiling": "Set a CAC ceiling (margin)",
    "forward_value": "Best forward-value estimate (fct_predicted_clv_by_segment)",
}


def render(ctx: ui.Context) -> None:
    st.title("Backtest")
    st.caption("Every forward-looking value recomputed as of earlier dates (var ltv_backtest_months_before) by the "
               "build's own models, against what the same buyers spent in the following months (var "
               "ltv_backtest_horizons_months). Formula A is compared with revenue, formula B and predicted CLV with "
               "margin; relative errors make them comparable.")
    ui.filter_scope(ctx, {}, "the backtest is over all customers of each segment, as of each backtest date")
    st.header("Which value to trust")
    verdicts = ui.load("backtest_verdicts", ctx.warehouse)
    if verdicts.empty:
        ui.empty_state("No backtest cell has an actual yet: the data is shorter than the shortest backtest date "
                       "plus horizon.")
    else:
        chosen = verdicts[verdicts["is_verdict"]]
        for row in chosen.itertuples():
            ranking = "" if pd.isna(row.rank_correlation) else f", rank correlation {row.rank_correlation:.2f}"
            st.markdown(f"**{QUESTIONS.get(row.question, row.question)}**: {row.estimator} "
                        f"(mean relative error {row.mean_relative_absolute_error:.0%}{ranking})")
        ui.table(verdicts, ctx.coverage.currency)
    st.header("Overall: estimate vs actual per buyer")
    cells = ui.load("backtest_overall", ctx.warehouse)
    st.caption("Horizons that reach past the data's end have no actual yet (status horizon_past_data_end), never 0. "
               "interval_lower / interval_upper: predicted CLV's 80% interval of the segment sum, per buyer.")
    ui.table(cells, ctx.coverage.currency)


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Backtest")


main()
