"""Cohorts: retention heatmap and cumulative revenue / margin per customer by cohort (pooled, or per selected
channel), and the pooled cohort curves of every channel."""

from __future__ import annotations

import streamlit as st

from clvlayer.dashboard import ui


def render(ctx: ui.Context) -> None:
    st.title("Cohorts")
    st.caption("Cohort = calendar month of the first completed order. The last month of each cohort is partial when "
               "the as-of date is not a month end.")
    st.header("By cohort month")
    ui.filter_scope(ctx, {"date range": "cohort months",
                          "channel": "one panel per selected channel from fct_cohort_retention_by_channel; "
                                     "all channels pooled (fct_cohort_retention) when none is selected"},
                    "the cohort marts have no region or loyalty split")
    ui.chart("retention_heatmap", ctx)
    left, right = st.columns(2)
    with left:
        ui.chart("cumulative_revenue_curves", ctx)
    with right:
        ui.chart("cumulative_margin_curves", ctx)
    st.header("By acquisition channel")
    ui.filter_scope(ctx, {"channel": "which channel curves are drawn"},
                    "fct_cohort_curves pools every cohort up to the as-of date and has no region or loyalty split")
    ui.chart("channel_cohort_curves", ctx, caption="fct_cohort_curves: at each age, the cohorts that have completed "
             "that month are pooled, and the cumulative curves chain the pooled increments, so they never fall.")


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Cohorts")


main()
