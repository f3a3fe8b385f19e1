"""Actions: the audiences of the CVM loop (sizes, holdouts, measured lift with 95% intervals), churn-risk band sizes
and their holdout calibration, today's reorder reminders and the at-risk high-value list, downloadable as CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from clvlayer.dashboard import ui

TIERS = ("top", "high", "medium", "low")
LIFT_METRICS = {"repurchase_rate": "repurchase rate", "orders_per_customer": "orders per customer",
                "revenue_per_customer": "net revenue per customer", "margin_per_customer": "margin per customer"}
LIFT_STATUS = {"window_open": "window still open (partial)", "not_contacted": "no contacts recorded yet",
               "no_campaign_contacts_table": "no campaign_contacts table in the input",
               "too_few_treated": "under 2 treated", "too_few_held_out": "under 2 held out"}


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


def no_predictions(ctx: ui.Context, what: str) -> bool:
    """Whether predictive CLV is unavailable (then said, with why, in place of ``what``)."""
    if ctx.coverage.predictive_status == "ok":
        return False
    ui.empty_state(f"Predictive CLV not available ({ctx.coverage.predictive_status}: "
                   f"{ctx.coverage.predictive_reason}): no {what}.")
    return True


def at_risk_section(ctx: ui.Context) -> None:
    st.subheader("At-risk high-value customers")
    if no_predictions(ctx, "at-risk list"):
        return
    left, right = st.columns(2)
    threshold = left.slider("P(alive) below", 0.05, 0.95, 0.5, 0.05, key="at_risk_p_alive")
    tiers = right.multiselect("Predicted-CLV tiers", TIERS, default=["top", "high"], key="at_risk_tiers")
    rows = ui.load("at_risk_high_value", ctx.warehouse, ctx.filters, max_p_alive=threshold,
                   tiers=tuple(tiers))
    show_list(rows, "Customers at risk", "at_risk_high_value.csv",
              "No predicted customer of the selection matches (choose a tier or raise the threshold).",
              ctx.coverage.currency)


def audiences_section(ctx: ui.Context) -> None:
    st.subheader("Audiences")
    rows = ui.load("audiences", ctx.warehouse)
    st.caption("Declared as code in settings.yml (vars `audiences`, `custom_audiences`), each a filter over the "
               "customer marts; a share (`audience_holdout_share`) of each value tier is held out by a hash of "
               "customer, audience and wave (fct_audiences, fct_audience_members).")
    if rows.empty:
        ui.empty_state("No audience is declared (vars audiences and custom_audiences are empty).")
        return
    ui.table(rows, ctx.coverage.currency)
    names = rows["audience"].tolist()
    chosen = st.selectbox("Audience to download", names, key="audience_download")
    members = ui.load("audience_members", ctx.warehouse, audience=chosen)
    ui.download(members, f"Download {chosen}.csv ({len(members):,} rows, with assignment)", f"{chosen}.csv")


def lift_long(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per audience x wave x metric: treated, held out, difference and its 95% interval (mart columns)."""
    parts = []
    for metric, label in LIFT_METRICS.items():
        part = rows[["audience", "wave", "treated_customers", "held_out_customers"]].copy()
        part["metric"] = label
        part["treated"], part["held_out"] = rows[f"{metric}_treated"], rows[f"{metric}_held_out"]
        part["difference"] = rows[f"{metric}_lift"]
        part["ci95_low"], part["ci95_high"] = rows[f"{metric}_lift_lower"], rows[f"{metric}_lift_upper"]
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def lift_section(ctx: ui.Context) -> None:
    st.subheader("Measured lift (treated vs held out)")
    rows = ui.load("audience_lift", ctx.warehouse)
    st.caption("fct_audience_lift: customers of the input campaign_contacts followed for `lift_window_days` after "
               "their contact; difference in means with its 95% interval (Welch). An interval that excludes 0 is a "
               "measured effect; incremental revenue = revenue lift x treated customers.")
    measured = rows[rows["wave"].notna()]
    waiting = rows[rows["lift_status"] != "ok"]
    if not waiting.empty:
        st.caption("Not measured: " + "; ".join(
            f"{a} ({LIFT_STATUS.get(s, s)})" for a, s in zip(waiting["audience"], waiting["lift_status"])))
    if measured.empty:
        ui.empty_state("No campaign contacts to measure: record who was contacted and who was held out in "
                       "campaign_contacts (docs/input_contract.md) and rebuild.")
        return
    totals = measured[["audience", "wave", "lift_status", "treated_customers", "held_out_customers",
                       "held_out_share", "incremental_revenue", "incremental_revenue_lower",
                       "incremental_revenue_upper"]]
    ui.table(totals, ctx.coverage.currency)
    st.dataframe(lift_long(measured), hide_index=True, width="stretch",
                 column_config={c: st.column_config.NumberColumn(format="%.3f")
                                for c in ("treated", "held_out", "difference", "ci95_low", "ci95_high")})


def churn_risk_section(ctx: ui.Context) -> None:
    st.subheader("Churn risk (no purchase in the next N days)")
    if no_predictions(ctx, "churn risk"):
        return
    bands = ui.load("churn_risk_bands", ctx.warehouse, ctx.filters)
    st.caption("fct_customer_clv_predictions.churn_risk: P(no purchase day in the next `churn_risk_days` days) from "
               "the published count model; bands high from `churn_risk_high_from`, medium from "
               "`churn_risk_medium_from` (fct_audience_members carries both per member).")
    ui.table(bands, ctx.coverage.currency)
    calibration = ui.load("churn_risk_calibration", ctx.warehouse)
    st.caption("Calibration on the holdout (fct_churn_risk_calibration): the calibration fit's mean predicted "
               "P(no purchase in the window after the split date) vs the observed share of those customers who did "
               "not buy, per band; |calibration_z| above 3 is a gap beyond chance.")
    ui.table(calibration, ctx.coverage.currency)


def render(ctx: ui.Context) -> None:
    st.title("Actions")
    st.caption(f"Lists as of {ctx.coverage.as_of_date}.")
    customers = "reorder and at-risk lists; audiences and their lift are whole, as a campaign sends them"
    ui.filter_scope(ctx, {"channel": customers, "region": customers, "loyalty": customers},
                    "the lists are as of the as-of date")
    audiences_section(ctx)
    lift_section(ctx)
    churn_risk_section(ctx)
    reorder_section(ctx)
    at_risk_section(ctx)


def main() -> None:
    ctx = ui.context()
    render(ctx)
    ui.footer(ctx, "Actions")


main()
