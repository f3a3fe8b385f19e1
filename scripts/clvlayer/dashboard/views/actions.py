"""Actions: today's reorder reminders and the at-risk high-value list, downloadable as CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clvlayer.dashboard import ui

TIERS = ("top", "high", "medium", "low")


def show_list(rows: pd.DataFrame, label: str, file_name: str, empty: str, currency: str) -> None:
    if rows.empty:
        ui.empty_state(empty)
        return
    st.metric(label, f"{len(rows):,}")
    ui.table(rows, currency)
    ui.download(rows, f"Download {file_name}", file_name)


def reorder_section(ctx: ui.Context) -> None:
    st.subheader("Due for a reorder reminder")
    rows = ui.load("reorder_list", ctx.warehouse, ctx.filters)
    st.caption("fct_customer_next_purchase.due_for_reorder: from `reorder_lead_days` before the expected next "
               "purchase to `reorder_grace_days` after it, with the CVM stage and preferred category for the offer.")
    show_list(rows, "Customers due", "reorder_list.csv",
              "No customer of the selection is due for a reorder reminder today.", ctx.coverage.currency)


def at_risk_section(ctx: ui.Context) -> None:
    st.subheader("At-risk high-value customers")
    if ctx.coverage.predictive_status != "ok":
        ui.empty_state(f"Predictive CLV not available ({ctx.coverage.predictive_status}: "
                       f"{ctx.coverage.predictive_reason}): no at-risk list.")
        return
    left, right = st.columns(2)
    threshold = left.slider("P(alive) below", 0.05, 0.95, 0.5, 0.05, key="at_risk_p_alive")
    tiers = right.multiselect("Predicted-CLV tiers", TIERS, default=["top", "high"], key="at_risk_tiers")
    rows = ui.load("at_risk_high_value", ctx.warehouse, ctx.filters, max_p_alive=threshold,
                   tiers=tuple(tiers))
    show_list(rows, "Customers at risk", "at_risk_high_value.csv",
              "No predicted customer of the selection matches (choose a tier or raise the threshold).",
              ctx.coverage.currency)


def render(ctx: ui.Context) -> None:
    st.title("Actions")
    st.caption(f"Lists as of {ctx.coverage.as_of_date}.")
    customers = "customers listed"
    ui.filter_scope(ctx, {"channel": customers, "region": customers, "loyalty": customers},
                    "the lists are as of the as-of date")
    reorder_section(ctx)
    at_risk_section(ctx)


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Actions")


main()
