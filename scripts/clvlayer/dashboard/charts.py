"""One chart definition per chart, used by the dashboard (interactive) and the static report (PNG).

Every chart is a Vega-Lite spec built with Altair from one loader of `clvlayer.dashboard.data`. `CHARTS` lists
them with their page, title, loader and empty state; pages and the report only ever go through it. Charts
display the mart columns as they are. They fold columns into long form, bin and format, but they never aggregate
a ratio.

Every chart says what it shows in words (titles never name a table), every axis has a title, money axes and
tooltips carry the reporting currency (the `currency` argument of the charts that show money) and rates are shown
as percentages.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd

from clvlayer.dashboard import data
from clvlayer.dashboard.currency import money_title
from clvlayer.dashboard.data import Coverage, Filters

alt.data_transformers.disable_max_rows()  # loaders bound their rows (the CLV scatter is a 5,000-row sample)

WIDTH = 640
TIER_ORDER = ["top", "high", "medium", "low"]
TIER_COLORS = ["#1b7837", "#7fbf7b", "#f1a340", "#b2182b"]
SEGMENT_TYPE_LABELS = {"rfm_segment": "RFM segment", "cvm_stage": "CVM stage", "age_band": "age band",
                       "preferred_category": "preferred category", "value_tier": "value tier",
                       "first_category": "first order's category", "first_product": "first order's product",
                       "first_order_discount": "first order discounted", "first_order_value_band": "first order value"}
#: the first-purchase segment types of fct_ltv_by_segment (int_customers_first_purchases), each a chart
FIRST_PURCHASE_TYPES = ("first_category", "first_product", "first_order_discount", "first_order_value_band")
Draw = Callable[..., alt.TopLevelMixin]  # (frame) or, for a chart of money, (frame, currency)
EmptyReason = Callable[[pd.DataFrame, Coverage], str | None]


def _month(field: str, title: str) -> alt.X:
    return alt.X(f"yearmonth({field}):T", title=title)


def revenue_trend(df: pd.DataFrame, currency: str) -> alt.LayerChart:
    base = alt.Chart(df).encode(_month("order_month", "order month"))
    revenue = money_title("net revenue", currency)
    bars = base.mark_bar(color="#4c78a8", opacity=0.8).encode(
        alt.Y("net_revenue:Q", title=f"{revenue}, bars"),
        tooltip=[alt.Tooltip("yearmonth(order_month):T", title="month"),
                 alt.Tooltip("net_revenue:Q", format=",.0f", title=revenue),
                 alt.Tooltip("completed_orders:Q", format=",", title="completed orders")])
    line = base.mark_line(color="#e45756", point=True).encode(
        alt.Y("completed_orders:Q", title="completed orders, line"))
    return alt.layer(bars, line).resolve_scale(y="independent").properties(
        width=WIDTH, height=260, title=f"Net revenue in {currency} (bars) and completed orders (line) by month")


def _by_channel(df: pd.DataFrame) -> bool:
    """Whether the cohort frame holds per-channel rows (a channel filter) rather than the pooled cohorts."""
    return bool(len(df)) and set(df["acquisition_channel"]) != {"all channels"}


def retention_heatmap(df: pd.DataFrame) -> alt.Chart | alt.FacetChart:
    # month 0 is 100% by definition and would flatten the colour scale
    chart = alt.Chart(df[df["months_since_first_order"] > 0]).mark_rect().encode(
        alt.X("months_since_first_order:O", title="months since first order"),
        alt.Y("yearmonth(cohort_month):O", title="cohort (month of first order)"),
        alt.Color("retention_rate:Q", title="retention", scale=alt.Scale(scheme="viridis"),
                  legend=alt.Legend(format=".0%")),
        tooltip=["acquisition_channel:N", alt.Tooltip("yearmonth(cohort_month):T", title="cohort"),
                 "months_since_first_order:O", alt.Tooltip("cohort_size:Q", format=","),
                 alt.Tooltip("active_customers:Q", format=","), alt.Tooltip("retention_rate:Q", format=".1%")])
    title = "Monthly retention by cohort (share of the cohort buying; month 0 = 100%)"
    if not _by_channel(df):
        return chart.properties(width=WIDTH, height=420, title=title)
    return chart.properties(width=WIDTH, height=300).facet(
        row=alt.Row("acquisition_channel:N", title=None)).properties(title=f"{title}, by acquisition channel")


def _cohort_curves(df: pd.DataFrame, column: str, label: str, currency: str) -> alt.Chart | alt.FacetChart:
    axis = money_title(label, currency)
    chart = alt.Chart(df).mark_line(strokeWidth=1.5).encode(
        alt.X("months_since_first_order:Q", title="months since first order"),
        alt.Y(f"{column}:Q", title=axis),
        alt.Color("cohort_month:T", title="cohort", scale=alt.Scale(scheme="plasma"),
                  legend=alt.Legend(format="%Y-%m")),
        detail="cohort_month:T",
        tooltip=["acquisition_channel:N", alt.Tooltip("yearmonth(cohort_month):T", title="cohort"),
                 "months_since_first_order:Q", alt.Tooltip(f"{column}:Q", format=",.1f", title=axis)])
    title = f"{label[0].upper()}{label[1:]} in {currency} by cohort"
    if not _by_channel(df):
        return chart.properties(width=WIDTH, height=320, title=title)
    return chart.properties(width=WIDTH // 2 - 40, height=200).facet(
        row=alt.Row("acquisition_channel:N", title=None)).properties(title=f"{title} and acquisition channel")


def cumulative_revenue_curves(df: pd.DataFrame, currency: str) -> alt.Chart | alt.FacetChart:
    return _cohort_curves(df, "cumulative_net_revenue_per_customer", "cumulative net revenue per customer", currency)


def cumulative_margin_curves(df: pd.DataFrame, currency: str) -> alt.Chart | alt.FacetChart:
    return _cohort_curves(df, "cumulative_gross_margin_per_customer", "cumulative gross margin per customer",
                          currency)


CHANNEL_COLOURS = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6",
                   "#9d755d", "#bab0ac"]
# column -> (panel and axis title, is money, is a rate)
COHORT_CURVE_MEASURES = {"cohort_ltv_curve": ("cumulative net revenue per customer", True, False),
                         "cohort_margin_curve": ("cumulative gross margin per customer", True, False),
                         "cohort_retention_rate": ("retention (share buying in the month)", False, True)}


def _measure_title(label: str, money: bool, currency: str) -> str:
    return money_title(label, currency) if money else label


def channel_cohort_curves(df: pd.DataFrame, currency: str) -> alt.HConcatChart:
    """fct_cohort_curves: one line per channel and the all-channels curve (black, dashed), by age, one panel per
    measure (each with its own axis: money in the currency, retention in %)."""
    channels = sorted(set(df["curve"]) - {"all_channels"})
    colours = alt.Scale(domain=["all_channels", *channels], range=["black", *CHANNEL_COLOURS[:len(channels)]])
    panels = []
    for column, (label, money, rate) in COHORT_CURVE_MEASURES.items():
        title = _measure_title(label, money, currency)
        panels.append(alt.Chart(df).transform_calculate(
            pooled="datum.curve == 'all_channels' ? 'all channels' : 'one channel'").mark_line(
            point=alt.OverlayMarkDef(size=10)).encode(
            alt.X("months_since_first_order:Q", title="months since first order"),
            alt.Y(f"{column}:Q", title=title, axis=alt.Axis(format="%") if rate else alt.Axis(format=",.0f")),
            alt.Color("curve:N", title="curve", scale=colours),
            alt.StrokeDash("pooled:N", legend=None, scale=alt.Scale(domain=["one channel", "all channels"],
                                                                    range=[[1, 0], [6, 3]])),
            tooltip=["curve:N", alt.Tooltip("months_since_first_order:Q", title="months since first order"),
                     alt.Tooltip(f"{column}:Q", format=".1%" if rate else ",.2f", title=title),
                     alt.Tooltip("cohorts:Q", title="cohorts pooled"),
                     alt.Tooltip("cohort_customers:Q", format=",", title="customers pooled")],
        ).properties(width=250, height=240, title=label))
    return alt.hconcat(*panels).properties(
        title="Cohorts pooled by age, per acquisition channel (black, dashed: all channels); each age pools the "
        "cohorts that have completed it")


def cac_by_channel(df: pd.DataFrame, currency: str) -> alt.LayerChart:
    paid = df[df["cac"].notna()]
    cac = money_title("CAC", currency)
    lines = alt.Chart(paid).mark_line(point=True).encode(
        _month("cohort_month", "cohort month"), alt.Y("cac:Q", title=cac), alt.Color("channel:N", title="channel"),
        tooltip=["channel:N", alt.Tooltip("yearmonth(cohort_month):T", title="cohort"),
                 alt.Tooltip("new_customers:Q", format=",", title="new customers"),
                 alt.Tooltip("marketing_spend:Q", format=",.0f", title=money_title("marketing spend", currency)),
                 alt.Tooltip("cac:Q", format=",.2f", title=cac), "cac_status:N"])
    blended = alt.Chart(df.drop_duplicates("cohort_month")).mark_line(color="black", strokeDash=[4, 3]).encode(
        _month("cohort_month", "cohort month"), alt.Y("blended_cac:Q", title=cac),
        tooltip=[alt.Tooltip("yearmonth(cohort_month):T", title="cohort"),
                 alt.Tooltip("blended_cac:Q", format=",.2f", title=money_title("blended CAC", currency))])
    return alt.layer(lines, blended).properties(
        width=WIDTH, height=300, title=f"CAC in {currency} by channel and cohort month (dashed: blended CAC, all "
        "channels)")


def ltv_to_cac_heatmap(df: pd.DataFrame) -> alt.FacetChart:
    columns = ["ltv_to_cac_3m", "ltv_to_cac_6m", "ltv_to_cac_12m", "ltv_to_cac_24m"]
    horizons = ["3 months", "6 months", "12 months", "24 months"]
    return alt.Chart(df[df["cac"].notna()]).transform_fold(columns, as_=["column", "ltv_to_cac"]).transform_filter(
        "isValid(datum.ltv_to_cac)").transform_calculate(
        horizon="replace(replace(datum.column, 'ltv_to_cac_', ''), 'm', ' months')").mark_rect().encode(
        alt.X("yearmonth(cohort_month):O", title="cohort month"),
        alt.Y("channel:N", title="channel"),
        alt.Color("ltv_to_cac:Q", title="LTV/CAC",
                  scale=alt.Scale(scheme="redyellowgreen", domain=[0, 8], domainMid=1, clamp=True)),
        tooltip=["channel:N", alt.Tooltip("yearmonth(cohort_month):T", title="cohort"), "horizon:N",
                 alt.Tooltip("ltv_to_cac:Q", format=".2f")],
    ).properties(width=WIDTH, height=110).facet(
        row=alt.Row("horizon:N", title=None, sort=horizons)).properties(
        title="LTV/CAC (margin in the first 3/6/12/24 months / CAC) by channel and cohort; mature cohorts only "
        "(colour capped at 8)")


LTV_CAC_HORIZONS = {"ltv_to_cac_3m": "3 months", "ltv_to_cac_6m": "6 months", "ltv_to_cac_12m": "12 months",
                    "ltv_to_cac_24m": "24 months"}


def channel_ltv_to_cac(df: pd.DataFrame, currency: str) -> alt.LayerChart:
    """The current acquisition-channel rows of fct_ltv_by_segment with a CAC: LTV/CAC at each horizon."""
    rows = df[(df["months_before_current"] == 0) & (df["cac_status"] == "ok")]
    label_expr = " : ".join(f"datum.column == '{key}' ? '{label}'" for key, label in LTV_CAC_HORIZONS.items()) + " : ''"
    horizons = list(LTV_CAC_HORIZONS.values())
    bars = alt.Chart(rows).transform_fold(list(LTV_CAC_HORIZONS), as_=["column", "ltv_to_cac"]).transform_filter(
        "isValid(datum.ltv_to_cac)").transform_calculate(horizon=label_expr).mark_bar().encode(
        alt.X("channel:N", title="acquisition channel",
              sort=alt.EncodingSortField("ltv_to_cac_12m", order="descending")),
        alt.Y("ltv_to_cac:Q", title="LTV/CAC (margin / CAC)"),
        alt.XOffset("horizon:N", sort=horizons),
        alt.Color("horizon:N", title="after", sort=horizons, scale=alt.Scale(scheme="blues")),
        tooltip=["channel:N", "horizon:N", alt.Tooltip("ltv_to_cac:Q", format=".2f", title="LTV/CAC"),
                 alt.Tooltip("cac:Q", format=",.2f", title=money_title("CAC", currency)),
                 alt.Tooltip("marketing_spend:Q", format=",.0f", title=money_title("marketing spend", currency)),
                 alt.Tooltip("cac_new_customers:Q", format=",", title="new customers with a CAC")])
    breakeven = alt.Chart(pd.DataFrame({"ltv_to_cac": [1.0]})).mark_rule(color="#b2182b", strokeDash=[4, 3]).encode(
        alt.Y("ltv_to_cac:Q", title="LTV/CAC (margin / CAC)"))
    return alt.layer(bars, breakeven).properties(
        width=WIDTH, height=260, title="LTV/CAC by channel after 3, 6, 12 and 24 months, over each channel's mature "
        "paid cohorts, at the as-of date (dashed: 1 = the spend paid back)")


def payback_heatmap(df: pd.DataFrame) -> alt.LayerChart:
    paid = df[df["payback_status"] != "no_cac"]
    base = alt.Chart(paid).encode(alt.X("yearmonth(cohort_month):O", title="cohort month"),
                                  alt.Y("channel:N", title="channel"))
    cells = base.mark_rect().encode(
        alt.Color("payback_months:Q", title="payback (months)", scale=alt.Scale(scheme="blues")),
        tooltip=["channel:N", alt.Tooltip("yearmonth(cohort_month):T", title="cohort"), "payback_months:Q",
                 "payback_status:N"])
    unpaid = base.mark_text(text="…", color="#999").transform_filter("datum.payback_status == 'not_yet_paid_back'")
    labels = base.mark_text(fontSize=9).encode(text="payback_months:Q").transform_filter("isValid(datum.payback_months)")
    return alt.layer(cells, unpaid, labels).properties(
        width=WIDTH, height=200, title="CAC payback month by channel and cohort (… = not yet paid back)")


def _segment_label(df: pd.DataFrame) -> str:
    kind = str(df["segment_type"].iloc[0]) if len(df) else "segment"
    return SEGMENT_TYPE_LABELS.get(kind, kind.replace("_", " "))


def segment_sizes_and_value(df: pd.DataFrame, currency: str) -> alt.LayerChart:
    title = _segment_label(df)
    base = alt.Chart(df).encode(alt.X("segment_value:N", sort="-y", title=title))
    bars = base.mark_bar(color="#9ecae9").encode(
        alt.Y("customers:Q", title="customers (bars)"),
        tooltip=["segment_value:N", alt.Tooltip("customers:Q", format=","), alt.Tooltip("buyers:Q", format=","),
                 alt.Tooltip("share_of_customers:Q", format=".1%", title="share of customers"),
                 alt.Tooltip("average_realised_ltv:Q", format=",.1f",
                             title=money_title("average realised LTV", currency)),
                 alt.Tooltip("ltv_formula_a:Q", format=",.1f", title=money_title("LTV formula A", currency)),
                 alt.Tooltip("average_check:Q", format=",.2f", title=money_title("average check", currency)),
                 alt.Tooltip("orders_per_year:Q", format=".2f", title="orders per year"),
                 alt.Tooltip("average_predicted_clv:Q", format=",.1f",
                             title=money_title("average predicted CLV", currency))])
    value = base.mark_point(color="#d62728", filled=True, size=80).encode(
        alt.Y("average_realised_ltv:Q", title=money_title("average realised LTV", currency) + ", dots"))
    return alt.layer(bars, value).resolve_scale(y="independent").properties(
        width=WIDTH, height=260,
        title=f"{title[0].upper()}{title[1:]}: customers (bars) and average realised LTV in {currency} (dots)")


LIFTS = {"ltv_lift": "realised LTV", "average_check_lift": "average check", "orders_per_year_lift": "orders per year"}


def segment_lifts(df: pd.DataFrame) -> alt.Chart:
    """Lift of each loyalty segment shown over the rest (fct_segment_comparison): members over non-members, and
    non-members over members when only they are selected."""
    rows = df[df["ltv_lift"].notna()]
    if "member" in set(rows["segment_value"]):
        rows = rows[rows["segment_value"] == "member"]
    shown = "Loyalty members vs non-members" if set(rows["segment_value"]) == {"member"} else \
        "Non-members vs loyalty members"
    label_expr = " : ".join(f"datum.column == '{key}' ? '{label}'" for key, label in LIFTS.items()) + " : ''"
    return alt.Chart(rows).transform_fold(list(LIFTS), as_=["column", "value"]).transform_calculate(
        positive="datum.value >= 0", lift=label_expr).mark_bar().encode(
        alt.X("value:Q", title="relative lift vs the rest", axis=alt.Axis(format="%")),
        alt.Y("lift:N", title="measure", sort=list(LIFTS.values())),
        alt.Color("positive:N", legend=None, scale=alt.Scale(domain=[True, False], range=["#1b7837", "#b2182b"])),
        alt.YOffset("segment_value:N"),
        tooltip=["segment_value:N", "lift:N", alt.Tooltip("value:Q", format="+.1%")],
    ).properties(width=WIDTH, height=160, title=f"{shown}: realised LTV, average check and orders per year lift")


# column -> (panel and axis title, is money, is a rate)
SEGMENT_MEASURES = {"average_realised_ltv": ("realised LTV", True, False),
                    "ltv_formula_a": ("LTV formula A", True, False),
                    "ltv_formula_b": ("LTV formula B", True, False),
                    "average_check": ("average check", True, False),
                    "orders_per_year": ("orders per customer per year", False, False),
                    "repeat_customer_rate": ("repeat rate", False, True)}


def segment_values(df: pd.DataFrame, currency: str) -> alt.ConcatChart:
    """One panel per segment measure, each with its own axis (money in the currency, the repeat rate in %)."""
    title = _segment_label(df)
    rows = df[df["buyers"] > 0]
    panels = []
    for column, (label, money, rate) in SEGMENT_MEASURES.items():
        axis = _measure_title(label, money, currency)
        panels.append(alt.Chart(rows).mark_bar().encode(
            alt.X("segment_value:N", title=title),
            alt.Y(f"{column}:Q", title=axis, axis=alt.Axis(format="%") if rate else alt.Axis(format=",.3~f")),
            alt.Color("segment_value:N", legend=None),
            tooltip=[alt.Tooltip("segment_value:N", title=title),
                     alt.Tooltip(f"{column}:Q", format=".1%" if rate else ",.2f", title=axis),
                     alt.Tooltip("buyers:Q", format=",", title="buyers")],
        ).properties(width=250, height=160, title=label))
    return alt.concat(*panels, columns=3).properties(title=f"By {title}, at the current as-of date")


def category_penetration(df: pd.DataFrame) -> alt.Chart:
    return alt.Chart(df).mark_line().encode(
        _month("activity_month", "month"),
        alt.Y("penetration_rate:Q", title="share of active customers buying the category",
              axis=alt.Axis(format="%")),
        alt.Color("category:N"),
        strokeDash=alt.StrokeDash("is_partial_month:N", title="partial month"),
        tooltip=["category:N", alt.Tooltip("yearmonth(activity_month):T", title="month"),
                 alt.Tooltip("penetration_rate:Q", format=".1%"), alt.Tooltip("category_buyers:Q", format=","),
                 alt.Tooltip("active_customers:Q", format=",")],
    ).properties(width=WIDTH, height=300, title="Category penetration by month")


def launch_penetration(df: pd.DataFrame) -> alt.Chart:
    measures = ["launch_penetration", "loyalty_member_launch_penetration"]
    populations = ["all active customers", "active loyalty members"]
    return alt.Chart(df).transform_fold(measures, as_=["column", "penetration"]).transform_calculate(
        population=f"datum.column == '{measures[0]}' ? '{populations[0]}' : '{populations[1]}'").mark_bar().encode(
        alt.X("penetration:Q", title="share of active customers buying it in its first window",
              axis=alt.Axis(format="%")),
        alt.Y("launch_key:N", title="launch", sort=alt.EncodingSortField("launched_on", order="descending")),
        alt.Color("population:N", title=None, sort=populations),
        alt.YOffset("population:N", sort=populations),
        tooltip=["launch_key:N", "launched_on:T", "window_days:Q", "is_window_complete:N",
                 alt.Tooltip("penetration:Q", format=".1%"), alt.Tooltip("launch_buyers:Q", format=","),
                 alt.Tooltip("active_customers:Q", format=",")],
    ).properties(width=WIDTH, height=alt.Step(9), title="Launch penetration: all active customers and loyalty members")


def p_alive_vs_predicted_clv(df: pd.DataFrame, currency: str) -> alt.Chart:
    clv = money_title("predicted CLV", currency)
    return alt.Chart(df).transform_calculate(clv_plot="max(datum.predicted_clv, 0.01)").mark_circle(
        size=14, opacity=0.5).encode(
        alt.X("p_alive:Q", title="P(alive): probability the customer is still active", scale=alt.Scale(domain=[0, 1]),
              axis=alt.Axis(format="%")),
        alt.Y("clv_plot:Q", title=f"{clv}, log scale", scale=alt.Scale(type="log")),
        alt.Color("buyer_type:N", title=None, scale=alt.Scale(scheme="set1")),
        tooltip=["customer_id:N", "frequency:Q", alt.Tooltip("p_alive:Q", format=".1%", title="P(alive)"),
                 alt.Tooltip("predicted_clv:Q", format=",.1f", title=clv), "predicted_clv_tier:N"],
    ).properties(width=WIDTH, height=340,
                 title=f"P(alive) vs predicted CLV in {currency}")


def predicted_clv_distribution(df: pd.DataFrame, currency: str) -> alt.Chart:
    clv = money_title("predicted CLV", currency)
    return alt.Chart(df).transform_calculate(
        bin_label="datum.clv_from < 1 ? '< 1' : format(datum.clv_from, ',.3~s') + '–' + format(datum.clv_to, ',.3~s')"
    ).mark_bar().encode(
        alt.X("bin_label:O", title=f"{clv}, bins of equal width on a log scale",
              sort=alt.EncodingSortField("clv_from", op="min")),
        alt.Y("sum(customers):Q", title="customers"),
        alt.Color("predicted_clv_tier:N", title="tier", sort=TIER_ORDER,
                  scale=alt.Scale(domain=TIER_ORDER, range=TIER_COLORS)),
        tooltip=["predicted_clv_tier:N", alt.Tooltip("clv_from:Q", format=",.1f", title=f"{clv} from"),
                 alt.Tooltip("clv_to:Q", format=",.1f", title=f"{clv} to"), alt.Tooltip("customers:Q", format=",")],
    ).properties(width=WIDTH, height=260, title=f"Predicted CLV in {currency}: distribution and tiers")


def holdout_predicted_vs_actual(df: pd.DataFrame) -> alt.Chart:
    """Actual purchases per customer and each model's prediction ('<model> (published)' for the chosen one)."""
    label = df["model"] + np.where(df["is_chosen_model"], " (published)", "")
    first = df[df["model"] == df["model"].iloc[0]] if len(df) else df
    actual = first.assign(series="actual", purchases=first["actual_purchases_per_customer"])
    predicted = df.assign(series="predicted: " + label, purchases=df["predicted_purchases_per_customer"])
    long = pd.concat([actual, predicted], ignore_index=True)
    series = ["actual", *dict.fromkeys(predicted["series"])]
    order = list(dict.fromkeys(df.sort_values("bucket_order")["frequency_bucket"]))
    return alt.Chart(long).mark_bar().encode(
        alt.X("frequency_bucket:N", title="repeat purchases before the holdout split", sort=order),
        alt.Y("purchases:Q", title="purchases per customer in the holdout"),
        alt.Color("series:N", title=None, sort=series),
        alt.XOffset("series:N", sort=series),
        tooltip=["frequency_bucket:N", "series:N", alt.Tooltip("purchases:Q", format=".2f"),
                 alt.Tooltip("customers:Q", format=","), alt.Tooltip("relative_error:Q", format="+.1%")],
    ).properties(width=WIDTH, height=260, title="Holdout: predicted vs actual purchases by calibration frequency")


def model_parameters(df: pd.DataFrame) -> alt.FacetChart:
    shown = df[df["estimate"].notna()].assign(
        model_parameter=lambda d: d["model"] + ": " + d["parameter"],
        published=lambda d: np.where(d["is_chosen_model"], "published", "not published"))
    base = alt.Chart(shown).transform_calculate(
        low="datum.estimate - 1.96 * datum.standard_error", high="datum.estimate + 1.96 * datum.standard_error")
    points = base.mark_point(filled=True, size=60).encode(
        alt.X("estimate:Q", title="estimate ± 1.96 standard errors"), alt.Y("fit_name:N", title="fit"),
        alt.Color("fit_name:N", legend=None), alt.Shape("published:N", title=None),
        tooltip=["model:N", "parameter:N", "fit_name:N", alt.Tooltip("estimate:Q", format=".4f"),
                 alt.Tooltip("standard_error:Q", format=".4f"), "status:N", "published:N"])
    bars = base.mark_rule().encode(alt.X("low:Q", title="estimate ± 1.96 standard errors"), alt.X2("high:Q"),
                                   alt.Y("fit_name:N", title="fit"),
                                   alt.Color("fit_name:N", legend=None))
    order = [f"{m}: {p}" for m, names in (("bgnbd", "r alpha a b"), ("mbgnbd", "r alpha a b"),
                                          ("paretonbd", "r alpha s beta"), ("gamma_gamma", "p q v"))
             for p in names.split()]
    return alt.layer(bars, points).properties(width=WIDTH // 2 - 30, height=50).facet(
        facet=alt.Facet("model_parameter:N", title=None, sort=order),
        columns=2).resolve_scale(x="independent").properties(
        title="Fitted BG/NBD, MBG/NBD (r, alpha, a, b), Pareto/NBD (r, alpha, s, beta) and Gamma-Gamma (p, q, v)")


# --- the catalog: what every page and the report draws ----------------------------------------------------------

@dataclass(frozen=True)
class ChartSpec:
    """One chart: where it is shown, the data.py loader it reads, how it is drawn and when it is empty."""

    key: str
    page: str
    title: str
    dataset: str
    draw: Draw
    empty: EmptyReason
    args: tuple = ()
    filtered: bool = True  # the loader takes the sidebar filters

    def load(self, warehouse: Path, filters: Filters) -> pd.DataFrame:
        loader = getattr(data, self.dataset)
        return loader(warehouse, filters, *self.args) if self.filtered else loader(warehouse, *self.args)

    @property
    def money(self) -> bool:
        """The chart shows money: it is drawn with the reporting currency."""
        return "currency" in inspect.signature(self.draw).parameters

    def figure(self, frame: pd.DataFrame, currency: str) -> alt.TopLevelMixin:
        """The chart of `frame`, money labelled in `currency`."""
        return self.draw(frame, currency) if self.money else self.draw(frame)


def _no_rows(what: str) -> EmptyReason:
    return lambda df, coverage: None if len(df) else f"No rows: {what}."


def _cac_missing(df: pd.DataFrame, coverage: Coverage) -> str | None:
    if not coverage.has_marketing_spend:
        return "No marketing spend in the input: CAC, LTV/CAC and payback are unavailable (add marketing_spend)."
    if not df["cac"].notna().any():
        return "No channel-month in the selection has a CAC (spend and new customers in the same month)."
    return None


def _ltv_cac_missing(df: pd.DataFrame, coverage: Coverage) -> str | None:
    reason = _cac_missing(df, coverage)
    if reason:
        return reason
    columns = ["ltv_to_cac_3m", "ltv_to_cac_6m", "ltv_to_cac_12m", "ltv_to_cac_24m"]
    return None if df[columns].notna().any().any() else "No cohort in the selection is 3 months old yet."


def _payback_missing(df: pd.DataFrame, coverage: Coverage) -> str | None:
    reason = _cac_missing(df, coverage)
    return reason or (None if (df["payback_status"] != "no_cac").any() else "No cohort with a CAC to pay back.")


def _channel_ltv_to_cac_missing(df: pd.DataFrame, coverage: Coverage) -> str | None:
    if not coverage.has_marketing_spend:
        return "No marketing spend in the input: CAC, LTV/CAC and payback are unavailable (add marketing_spend)."
    paid = df[(df["months_before_current"] == 0) & (df["cac_status"] == "ok")]
    if not len(paid):
        return "No selected channel has marketing spend recorded: no CAC, no LTV/CAC."
    columns = list(LTV_CAC_HORIZONS)
    return None if paid[columns].notna().any().any() else "No paid cohort of the selection is 3 months old yet."


def _segment_missing(label: str, needs: str, present: Callable[[Coverage], bool] = lambda coverage: False
                     ) -> EmptyReason:
    def reason(df: pd.DataFrame, coverage: Coverage) -> str | None:
        placeholders = ("unknown", "no_item_data", "no_purchases")
        known = df[~df["segment_value"].isin(placeholders) & (df["buyers"] > 0)] if len(df) else df
        if len(known):
            return None
        if present(coverage) and len(df) == 0:
            return f"No buyer in the selected {label} values."
        return f"No {label} in the input ({needs}): this split is unavailable."

    return reason


def _loyalty_missing(df: pd.DataFrame, coverage: Coverage) -> str | None:
    if not coverage.has_loyalty_members:
        return "No loyalty members in the input (customers.is_loyalty_member): loyalty lift is unavailable."
    return None if df["ltv_lift"].notna().any() else "Loyalty lift needs both members and non-members who bought."


def _items_missing(what: str) -> EmptyReason:
    def reason(df: pd.DataFrame, coverage: Coverage) -> str | None:
        if not coverage.has_order_items:
            return f"No order items in the input: {what} is unavailable (add order_items and products)."
        return None if len(df) else f"No {what} rows in the selected date range."

    return reason


def _prediction_missing(df: pd.DataFrame, coverage: Coverage) -> str | None:
    if coverage.predictive_status != "ok" and not len(df):
        return f"Predictive CLV was not fitted ({coverage.predictive_status}: {coverage.predictive_reason})."
    return None if len(df) else "No customer with a prediction in the selection."


def _parameters_missing(df: pd.DataFrame, coverage: Coverage) -> str | None:
    if len(df) and df["estimate"].notna().any():
        return None
    reasons = "; ".join(sorted(set(df["status_reason"].dropna()))) if len(df) else ""
    return f"No fitted parameters ({reasons or 'not fitted'})."


def _holdout_missing(df: pd.DataFrame, coverage: Coverage) -> str | None:
    if not len(df) or not df["predicted_purchases"].notna().any():
        status = "; ".join(sorted(set(df["prediction_status"].dropna()))) if len(df) else "no rows"
        return f"No holdout prediction ({status})."
    return None


def _segments(key: str, title: str, segment_type: str, draw: Draw, empty: EmptyReason) -> ChartSpec:
    return ChartSpec(key, "segments", title, "segment_values", draw, empty, args=(segment_type,))


CHARTS: dict[str, ChartSpec] = {spec.key: spec for spec in [
    ChartSpec("revenue_trend", "overview", "Net revenue and orders by month", "revenue_by_month", revenue_trend,
              _no_rows("no orders of the selected customers in the date range")),
    ChartSpec("retention_heatmap", "cohorts", "Retention heatmap", "cohort_retention", retention_heatmap,
              _no_rows("no cohort starts in the date range")),
    ChartSpec("cumulative_revenue_curves", "cohorts", "Cumulative net revenue per customer", "cohort_retention",
              cumulative_revenue_curves, _no_rows("no cohort starts in the date range")),
    ChartSpec("cumulative_margin_curves", "cohorts", "Cumulative gross margin per customer", "cohort_retention",
              cumulative_margin_curves, _no_rows("no cohort starts in the date range")),
    ChartSpec("channel_cohort_curves", "cohorts", "Cohort curves by channel", "cohort_curves",
              channel_cohort_curves, _no_rows("no cohort has completed its first month")),
    ChartSpec("channel_ltv_to_cac", "acquisition", "LTV/CAC by channel", "channel_ltv_to_cac", channel_ltv_to_cac,
              _channel_ltv_to_cac_missing),
    ChartSpec("cac_by_channel", "acquisition", "CAC by channel and cohort month", "channel_economics",
              cac_by_channel, _cac_missing),
    ChartSpec("ltv_to_cac_heatmap", "acquisition", "LTV/CAC at 3, 6, 12 and 24 months", "channel_economics",
              ltv_to_cac_heatmap, _ltv_cac_missing),
    ChartSpec("payback_heatmap", "acquisition", "CAC payback", "channel_economics", payback_heatmap,
              _payback_missing),
    _segments("rfm_segments", "RFM segments", "rfm_segment", segment_sizes_and_value,
              _segment_missing("buyers", "no completed orders")),
    _segments("cvm_stages", "CVM stages", "cvm_stage", segment_sizes_and_value,
              _segment_missing("buyers", "no completed orders")),
    _segments("value_tiers", "Value tiers", "value_tier", segment_sizes_and_value,
              _segment_missing("buyers", "no completed orders")),
    _segments("loyalty_lift", "Loyalty lift", "loyalty", segment_lifts, _loyalty_missing),
    _segments("channel_values", "By acquisition channel", "acquisition_channel", segment_values,
              _segment_missing("acquisition channel", "customers.acquisition_channel",
                               lambda coverage: coverage.has_channels)),
    _segments("region_values", "By region", "region", segment_values,
              _segment_missing("customer region", "customers.region", lambda coverage: coverage.has_regions)),
    _segments("age_band_values", "By age band", "age_band", segment_values,
              _segment_missing("birth year", "customers.birth_year")),
    _segments("preferred_category_values", "By preferred category", "preferred_category", segment_values,
              _segment_missing("order items", "order_items and products")),
    *(_segments(f"{segment_type}_values", f"By {SEGMENT_TYPE_LABELS[segment_type]}", segment_type, segment_values,
                _segment_missing("order items", "order_items and products") if segment_type != "first_order_value_band"
                else _segment_missing("buyers", "no completed orders"))
      for segment_type in FIRST_PURCHASE_TYPES),
    ChartSpec("category_penetration", "segments", "Category penetration", "category_penetration",
              category_penetration, _items_missing("category penetration")),
    ChartSpec("launch_penetration", "segments", "Launch penetration", "launch_penetration", launch_penetration,
              _items_missing("launch penetration")),
    ChartSpec("p_alive_vs_clv", "predictive", "P(alive) vs predicted CLV", "clv_predictions_sample",
              p_alive_vs_predicted_clv, _prediction_missing),
    ChartSpec("clv_distribution", "predictive", "Predicted CLV distribution", "clv_distribution",
              predicted_clv_distribution, _prediction_missing),
    ChartSpec("holdout", "predictive", "Holdout: predicted vs actual", "holdout_validation",
              holdout_predicted_vs_actual, _holdout_missing, filtered=False),
    ChartSpec("model_parameters", "predictive", "Fitted parameters", "model_parameters", model_parameters,
              _parameters_missing, filtered=False),
]}


def charts_of(page: str) -> list[ChartSpec]:
    return [spec for spec in CHARTS.values() if spec.page == page]
