"""Predictive CLV: P(alive) vs predicted CLV, distribution and tiers, holdout, fitted parameters."""

from __future__ import annotations

import streamlit as st

from clvlayer.dashboard import ui


def render(ctx: ui.Context) -> None:
    st.title("Predictive CLV")
    coverage = ctx.coverage
    st.caption("BG/NBD, MBG/NBD and Pareto/NBD (purchases) + Gamma-Gamma (spend) fitted inside the build; the model "
               "with the best holdout log-likelihood is published (var clv_model forces one). Predicted CLV = "
               "discounted margin expected over the horizon (var clv_horizon_months), not revenue to date.")
    if coverage.predictive_status != "ok":
        ui.empty_state(f"Model fit status: {coverage.predictive_status}. {coverage.predictive_reason}")
    customers = "customers shown"
    ui.filter_scope(ctx, {"channel": customers, "region": customers, "loyalty": customers},
                    "predictions are as of the model's as-of date; the holdout and the fitted parameters below are "
                    "model-wide")
    ui.chart("p_alive_vs_clv", ctx, caption="A sample of at most 5,000 customers. Under BG/NBD customers with a "
             "single purchase day have P(alive) = 1 (they cannot drop out before a repeat purchase): the column at the "
             "right edge; MBG/NBD and Pareto/NBD let it fall with the time since their purchase.")
    ui.chart("clv_distribution", ctx)
    tiers = ui.load("clv_tiers", ctx.warehouse, ctx.filters)
    ui.table(tiers, coverage.currency)
    ui.chart("holdout", ctx)
    holdout = ui.load("holdout_validation", ctx.warehouse)
    if not holdout.empty:
        st.caption("Every model side by side; the published one has the highest holdout log-likelihood per "
                        "customer. interval_coverage: calibration of the per-customer "
                        f"{holdout['interval_level'].iloc[0]:.0%} interval on holdout purchases (right = the level).")
        ui.table(holdout.drop(columns=["bucket_order"]), coverage.currency)
    ui.chart("model_parameters", ctx)
    ui.table(ui.load("model_parameters", ctx.warehouse), coverage.currency)


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Predictive CLV")


main()
