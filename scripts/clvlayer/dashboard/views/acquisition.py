"""Acquisition: CAC, LTV/CAC at 3/6/12/24 months and payback by channel and cohort month."""

from __future__ import annotations

import streamlit as st

from clvlayer.dashboard import ui


def render(ctx: ui.Context) -> None:
    st.title("Acquisition")
    st.caption("One row of fct_channel_economics per acquisition channel x cohort month; the date range selects "
               "cohort months. CAC is null (with a status) when nobody was acquired or no spend was recorded.")
    ui.not_filtered(ctx, "channel, date range (cohort month)", ("region", "loyalty"))
    ui.chart("cac_by_channel", ctx)
    ui.chart("ltv_to_cac_heatmap", ctx)
    ui.chart("payback_heatmap", ctx)
    rows = ui.load("channel_economics", ctx.warehouse, ctx.filters)
    st.subheader("Channel x cohort month")
    if rows.empty:
        ui.empty_state("No channel cohort in the selection.")
        return
    ui.table(rows)
    ui.download(rows, "Download CSV", "channel_economics.csv")


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Acquisition")


main()
