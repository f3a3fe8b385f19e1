"""Overview: the period's flows vs the period before, customer value of one segment of fct_ltv_by_segment at the
as-of date vs an earlier as-of snapshot, LTV/CAC by channel, and the revenue trend."""

from __future__ import annotations

import streamlit as st

from clvlayer.dashboard import kpis, ui
from clvlayer.dashboard.data import OVERALL, Snapshot, comparison_periods, selected_segments


def show_tiles(tiles: list[kpis.Tile], per_row: int) -> None:
    for start in range(0, len(tiles), per_row):
        for column, tile in zip(st.columns(per_row), tiles[start:start + per_row]):
            column.metric(tile.label, tile.text, tile.change, border=True, help=tile.help or None,
                          delta_color="off" if tile.flat else "normal")


def segment_label(segment: tuple[str, str]) -> str:
    return "all customers" if segment == OVERALL else f"{segment[0].replace('_', ' ')}: {segment[1]}"


def flows_section(ctx: ui.Context) -> None:
    choice = st.segmented_control("Compare", list(kpis.PERIOD_MONTHS), default="Quarter", key="overview_period")
    current, previous = comparison_periods(ctx.filters.date_to, kpis.PERIOD_MONTHS[choice or "Quarter"])
    st.subheader(f"{current.start} to {current.end} vs {previous.start} to {previous.end}")
    everyone = "customers counted"
    ui.filter_scope(ctx, {"date range": "its end picks the period", "channel": everyone, "region": everyone,
                          "loyalty": everyone})
    st.caption("Sums over the orders of the selected customers (fct_orders, dim_customers).")
    show_tiles(kpis.flow_tiles(ui.load("period_flows", ctx.warehouse, ctx.filters, current, previous),
                               currency=ctx.coverage.currency), 4)


def choose_segment(ctx: ui.Context) -> tuple[str, str]:
    """The segment the value tiles show: the one the filters select, or a choice among several (or none)."""
    selected = selected_segments(ctx.filters)
    if not selected:
        return OVERALL
    options = [OVERALL, *selected]
    segment = st.selectbox("Customer value of", options, index=1 if len(selected) == 1 else 0,
                           format_func=segment_label, key="overview_segment")
    if len(selected) > 1:
        st.caption("fct_ltv_by_segment has one row per segment (a channel, a region or a loyalty group), not per "
                   "combination of them: the tiles show one selected segment at a time.")
    return segment or OVERALL


def choose_snapshot(ctx: ui.Context) -> Snapshot | None:
    snapshots = ctx.coverage.previous_snapshots
    if len(snapshots) <= 1:
        return snapshots[0] if snapshots else None
    return st.segmented_control("Change vs", snapshots, default=snapshots[0], format_func=lambda s: s.label,
                                key="overview_snapshot") or snapshots[0]


def value_section(ctx: ui.Context) -> tuple[tuple[str, str], Snapshot | None]:
    """The value tiles; returns the segment shown and the snapshot compared with."""
    st.subheader(f"Customer value as of {ctx.coverage.as_of_date}")
    segment = choose_segment(ctx)
    previous = choose_snapshot(ctx)
    change = f"change vs {previous.label}" if previous else "no earlier as-of snapshot: no change"
    choose = "picks the one segment shown"
    ui.filter_scope(ctx, {"channel": choose, "region": choose, "loyalty": choose},
                    "the mart is computed at the as-of date and at each earlier snapshot "
                    "(var ltv_previous_periods_months)")
    rows = ui.load("segment_kpis", ctx.warehouse, *segment)
    source = "fct_ltv_by_segment"
    if segment == OVERALL:
        rows, source = ui.with_service_values(rows, ctx.warehouse)
    st.caption(f"{segment_label(segment)}: current values from {source}; {change}.")
    tiles = kpis.value_tiles(rows, previous, currency=ctx.coverage.currency)
    if not tiles:
        ui.empty_state(f"No row for {segment_label(segment)} in fct_ltv_by_segment (nobody in this segment).")
    else:
        show_tiles(tiles, 5)
    return segment, previous


def ltv_to_cac_section(ctx: ui.Context, segment: tuple[str, str], previous: Snapshot | None) -> None:
    st.subheader("LTV/CAC at 12 months by channel")
    ui.filter_scope(ctx, {"channel": "channels shown; the all-channels tile only without a channel filter"},
                    "channel rows cover every cohort to the as-of date")
    st.caption("fct_ltv_by_segment: its overall row (every paid channel pooled, mature paid cohorts) and its "
               "acquisition-channel rows.")
    channels = ui.load("channel_ltv_to_cac", ctx.warehouse, ctx.filters)
    if segment[0] == "acquisition_channel":  # the tiles above show one channel: its ratio only
        channels = channels[channels["channel"] == segment[1]]
    currency = ctx.coverage.currency
    pooled = [] if ctx.filters.channels else kpis.pooled_ltv_to_cac_tiles(ui.load("pooled_ltv_to_cac", ctx.warehouse),
                                                                          previous, currency=currency)
    tiles = pooled + kpis.ltv_to_cac_tiles(channels, previous, currency=currency)
    if tiles:
        show_tiles(tiles, 6 if pooled else 5)
        return
    ui.empty_state(next((note for note in ctx.coverage.missing if "marketing spend" in note), None)
                   or "No selected channel has marketing spend recorded: no CAC, no LTV/CAC.")


def render(ctx: ui.Context) -> None:
    st.title("Overview")
    coverage = ctx.coverage
    st.caption(f"Published warehouse as of **{coverage.as_of_date}**; orders from {coverage.first_order_on}. "
               f"Money in **{coverage.currency}** (dbt var `reporting_currency`).")
    if coverage.missing:
        st.info("The input lacks some optional tables, so parts of the dashboard are empty:\n\n"
                + "\n".join(f"- {note}" for note in coverage.missing), icon=":material/info:")
    if ctx.filters.date_to is None:
        ui.empty_state("No completed order in the warehouse: nothing to show.")
        return
    flows_section(ctx)
    segment, previous = value_section(ctx)
    ltv_to_cac_section(ctx, segment, previous)
    st.header("Trend")
    everyone = "customers counted"
    ui.filter_scope(ctx, {"date range": "order months", "channel": everyone, "region": everyone,
                          "loyalty": everyone})
    ui.chart("revenue_trend", ctx)


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Overview")


main()
