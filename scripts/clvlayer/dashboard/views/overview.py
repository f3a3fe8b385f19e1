"""Overview: KPI tiles for the period ending at the date range's end vs the period before, and the revenue trend."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clvlayer.dashboard import kpis, ui
from clvlayer.dashboard.data import comparison_periods


def show_tiles(tiles: list[kpis.Tile], per_row: int, with_change: bool) -> None:
    for start in range(0, len(tiles), per_row):
        for column, tile in zip(st.columns(per_row), tiles[start:start + per_row]):
            column.metric(tile.label, tile.text, tile.change if with_change else None, border=True,
                          help=tile.help or None)


def render(ctx: ui.Context) -> None:
    st.title("Overview")
    coverage = ctx.coverage
    st.caption(f"Published warehouse as of **{coverage.as_of_date}**; orders from {coverage.first_order_on}. "
               "Money in the reporting currency (dbt var `reporting_currency`).")
    if coverage.missing:
        st.info("The input lacks some optional tables, so parts of the dashboard are empty:\n\n"
                + "\n".join(f"- {note}" for note in coverage.missing), icon=":material/info:")
    if ctx.filters.date_to is None:
        ui.empty_state("No completed order in the warehouse: nothing to show.")
        return
    choice = st.segmented_control("Compare", list(kpis.PERIOD_MONTHS), default="Quarter", key="overview_period")
    current, previous = comparison_periods(ctx.filters.date_to, kpis.PERIOD_MONTHS[choice or "Quarter"])
    st.subheader(f"{current.start} to {current.end} vs {previous.start} to {previous.end}")
    show_tiles(kpis.flow_tiles(ui.load("period_kpis", ctx.warehouse, ctx.filters, current, previous)), 5, True)
    st.subheader(f"Customer value as of {coverage.as_of_date}")
    ratios = ui.load("blended_ltv_to_cac", ctx.warehouse, ctx.filters)
    value = kpis.value_tiles(ui.load("customer_value_kpis", ctx.warehouse, ctx.filters), ratios)
    show_tiles(value, 4, False)
    if pd.isna(value[-1].value):
        ui.empty_state(next((note for note in coverage.missing if "marketing spend" in note), None)
                       or "LTV/CAC at 12 months: no paid cohort of the selection is 12 months old yet.")
    ui.chart("revenue_trend", ctx)


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Overview")


main()
