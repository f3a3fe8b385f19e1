"""Cohorts: retention heatmap, cumulative revenue and margin per customer by cohort, and per channel."""

from __future__ import annotations

import streamlit as st

from clvlayer.dashboard import ui


def render(ctx: ui.Context) -> None:
    st.title("Cohorts")
    st.caption("Cohort = calendar month of the first completed order; the date range selects cohort months. "
               "The last month of each cohort is partial when the as-of date is not a month end.")
    if ctx.filters.channels:
        st.caption("The heatmap and curves are pooled over all channels (fct_cohort_retention has no channel "
                   "split); per channel, see the last chart (margin per customer after 3, 6, 12 and 24 months).")
    ui.not_filtered(ctx, "date range (cohort month)", ("region", "loyalty"))
    ui.chart("retention_heatmap", ctx)
    left, right = st.columns(2)
    with left:
        ui.chart("cumulative_revenue_curves", ctx)
    with right:
        ui.chart("cumulative_margin_curves", ctx)
    ui.chart("channel_cohort_margin", ctx, caption="Each point: gross margin the cohort's customers earned in "
             "their first N months / new customers (fct_channel_economics), shown once every customer of the "
             "cohort is N months old.")


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Cohorts")


main()
