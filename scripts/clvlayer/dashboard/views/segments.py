"""Segments: RFM / CVM sizes and value, loyalty lift, region and age band, preferred category, penetration."""

from __future__ import annotations

import streamlit as st

from clvlayer.dashboard import ui


def render(ctx: ui.Context) -> None:
    st.title("Segments")
    st.caption(f"Segments as of {ctx.coverage.as_of_date} (fct_segment_comparison): averages are over each "
               "segment's buyers, lifts compare a segment with the rest of its type.")
    ui.not_filtered(ctx, "date range (penetration months and launches)", ("channel", "region", "loyalty"))
    for key in ("rfm_segments", "cvm_stages", "loyalty_lift", "region_values", "age_band_values",
                "preferred_category_values", "category_penetration"):
        ui.chart(key, ctx)
    ui.chart("launch_penetration", ctx, caption="Launch window: the launch day and the next "
             "`launch_penetration_window_days` - 1 days, cut at the as-of date.")


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Segments")


main()
