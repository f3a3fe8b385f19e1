"""Predictive CLV: P(alive) vs predicted CLV, distribution and tiers, holdout, fitted parameters."""

from __future__ import annotations

import streamlit as st

from clvlayer.dashboard import ui


def render(ctx: ui.Context) -> None:
    st.title("Predictive CLV")
    coverage = ctx.coverage
    st.caption("BG/NBD (purchases) + Gamma-Gamma (spend) fitted inside the build. Predicted CLV = discounted "
               "margin expected over the horizon (var clv_horizon_months), not revenue to date.")
    if coverage.predictive_status != "ok":
        ui.empty_state(f"Model fit status: {coverage.predictive_status}. {coverage.predictive_reason}")
    customers = "customers shown"
    ui.filter_scope(ctx, {"channel": customers, "region": customers, "loyalty": customers},
                    "predictions are as of the model's as-of date; the holdout and the fitted parameters below are "
                    "model-wide")
    ui.chart("p_alive_vs_clv", ctx, caption="A sample of at most 5,000 customers. Customers with a single purchase "
             "day have P(alive) = 1 (the model has no evidence they left): the column at the right edge.")
    ui.chart("clv_distribution", ctx)
    tiers = ui.load("clv_tiers", ctx.warehouse, ctx.filters)
    ui.table(tiers)
    ui.chart("holdout", ctx)
    holdout = ui.load("holdout_validation", ctx.warehouse)
    if not holdout.empty:
        ui.table(holdout.drop(columns=["bucket_order"]))
    ui.chart("model_parameters", ctx)
    ui.table(ui.load("model_parameters", ctx.warehouse))


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Predictive CLV")


main()
