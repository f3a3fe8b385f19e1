"""Acquisition: LTV/CAC by channel (fct_ltv_by_segment), then CAC, LTV/CAC and payback by channel and cohort month
(fct_channel_economics, with predicted LTV/CAC from fct_channel_predicted_ltv_to_cac)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clvlayer.dashboard import ui

CHANNEL_COLUMNS = ["channel", "customers", "buyers", "marketing_spend", "cac_new_customers", "cac", "cac_status",
                   "ltv_to_cac_3m", "ltv_to_cac_6m", "ltv_to_cac_12m", "ltv_to_cac_24m", "ltv_formula_b",
                   "ltv_to_cac", "discounted_clv", "discounted_ltv_to_cac"]


def show_rows(rows: pd.DataFrame, title: str, note: str, file_name: str, empty: str, currency: str) -> None:
    st.subheader(title)
    if rows.empty:
        ui.empty_state(empty)
        return
    st.caption(note)
    ui.table(ui.cac_shown(rows), currency)
    ui.download(rows, "Download CSV", file_name)


def channel_section(ctx: ui.Context) -> None:
    st.header("By channel")
    ui.filter_scope(ctx, {"channel": "channels shown"}, "each channel's row covers every cohort up to the as-of "
                    "date; the mart has no channel x region or channel x loyalty rows")
    ui.chart("channel_ltv_to_cac", ctx)
    rows = ui.load("channel_ltv_to_cac", ctx.warehouse, ctx.filters)
    show_rows(rows[rows["months_before_current"] == 0][CHANNEL_COLUMNS], "Each channel at the as-of date",
              "The channel rows of fct_ltv_by_segment. CAC is null with its status when no spend was recorded (e.g. "
              "organic) or the input has no spend table; the table shows why instead of a number. ltv_to_cac is "
              "LTV formula B / CAC; ltv_to_cac_{3,6,12,24}m use the margin the mature paid cohorts earned by each age.",
              "channel_ltv_to_cac.csv", "No acquisition channel in the selection.", ctx.coverage.currency)


def cohort_section(ctx: ui.Context) -> None:
    st.header("By channel and cohort month")
    ui.filter_scope(ctx, {"date range": "cohort months", "channel": "channels shown"},
                    "fct_channel_economics has one row per channel and cohort month")
    st.caption("One row of fct_channel_economics per acquisition channel x cohort month. CAC is null (with a "
               "status) when nobody was acquired or no spend was recorded; spend and blended CAC are null, never 0, "
               "when the input has no marketing_spend table.")
    ui.chart("cac_by_channel", ctx)
    ui.chart("ltv_to_cac_heatmap", ctx)
    ui.chart("payback_heatmap", ctx)
    show_rows(ui.load("channel_economics", ctx.warehouse, ctx.filters), "Channel x cohort month",
              "predicted_ltv_to_cac: fct_channel_predicted_ltv_to_cac (null where the predictive model was not "
              "fitted).", "channel_economics.csv", "No channel cohort in the selection.",
              ctx.coverage.currency)


def render(ctx: ui.Context) -> None:
    st.title("Acquisition")
    channel_section(ctx)
    cohort_section(ctx)


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Acquisition")


main()
