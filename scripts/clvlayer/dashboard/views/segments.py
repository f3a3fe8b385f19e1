"""Segments: RFM / CVM / value-tier sizes and value, loyalty lift, channel, region, age band and preferred
category (fct_ltv_by_segment with fct_segment_comparison's shares and lifts), LTV by first purchase (category,
product, discount, value band), category and launch penetration."""

from __future__ import annotations

import streamlit as st

from clvlayer.dashboard import charts, ui


def render(ctx: ui.Context) -> None:
    st.title("Segments")
    st.caption(f"Segments as of {ctx.coverage.as_of_date}: the current rows of fct_ltv_by_segment, with the share "
               "of customers and the lift over the rest of the segment type from fct_segment_comparison.")
    st.header("Customer segments")
    ui.filter_scope(ctx, {"channel": "values of the acquisition-channel chart", "region": "values of the region "
                          "chart", "loyalty": "the loyalty row shown"},
                    "the segment mart has one row per segment, not per combination: RFM, CVM, value tier, age band "
                    "and preferred category are always over all customers; the as-of date, not the date range")
    for key in ("rfm_segments", "cvm_stages", "value_tiers", "loyalty_lift", "channel_values", "region_values",
                "age_band_values", "preferred_category_values"):
        ui.chart(key, ctx)
    st.header("LTV by first purchase")
    st.caption("Customers split by what their first completed order was: its main category, the product leading it "
               "(the `first_product_top_n` most frequent keep their id, the rest read other), whether it was "
               "discounted and its value band (`first_order_value_bands`). Realised and forward values per "
               "segment, over all customers.")
    for segment_type in charts.FIRST_PURCHASE_TYPES:
        ui.chart(f"{segment_type}_values", ctx)
    st.header("Penetration")
    ui.filter_scope(ctx, {"date range": "months and launch days"},
                    "penetration is over all active customers (and active loyalty members for launches)")
    ui.chart("category_penetration", ctx)
    ui.chart("launch_penetration", ctx, caption="Launch window: the launch day and the next "
             "`launch_penetration_window_days` - 1 days, cut at the as-of date.")


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Segments")


main()
