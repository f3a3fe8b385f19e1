"""One chart definition per chart, used by the dashboard (interactive) and the static report (PNG).

Every chart is a Vega-Lite spec built with Altair from one loader of `clvlayer.dashboard.data`. `CHARTS` lists
them with their page, title, loader and empty state; pages and the report only ever go through it. Charts
display the mart columns as they are. They fold columns into long form, bin and format, but they never aggregate
a ratio.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import pandas as pd

from clvlayer.dashboard import data
from clvlayer.dashboard.data import Coverage, Filters

alt.data_transformers.disable_max_rows()  # loaders bound their rows (the CLV scatter is a 5,000-row sample)

WIDTH = 640
TIER_ORDER = ["top", "high", "medium", "low"]
TIER_COLORS = ["#1b7837", "#7fbf7b", "#f1a340", "#b2182b"]
SEGMENT_TYPE_LABELS = {"rfm_segment": "RFM segment", "cvm_stage": "CVM stage", "age_band": "age band",
                       "preferred_category": "preferred category", "value_tier": "value tier"}
Draw = Callable[[pd.DataFrame], alt.TopLevelMixin]
EmptyReason = Callable[[pd.DataFrame, Coverage], str | None]


def _month(field: str, title: str) -> alt.X:
    return alt.X(f"yearmonth({field}):T", title=title)


def revenue_trend(df: pd.DataFrame) -> alt.LayerChart:
    base = alt.Chart(df).encode(_month("order_month", "order month"))
    bars = base.mark_bar(color="#4c78a8", opacity=0.8).encode(
        alt.Y("net_revenue:Q", title="net revenue"),
        tooltip=[alt.Tooltip("yearmonth(order_month):T", title="month"),
                 alt.Tooltip("net_revenue:Q", format=",.0f"), alt.Tooltip("completed_orders:Q", format=",")])
    line = base.mark_line(color="#e45756", point=True).encode(alt.Y("completed_orders:Q", title="completed orders"))
    return alt.layer(bars, line).resolve_scale(y="independent").properties(
        width=WIDTH, height=260, title="Net revenue (bars) and completed orders (line) by month")


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


def _cohort_curves(df: pd.DataFrame, column: str, label: str) -> alt.Chart | alt.FacetChart:
    chart = alt.Chart(df).mark_line(strokeWidth=1.5).encode(
        alt.X("months_since_first_order:Q", title="months since first order"),
        alt.Y(f"{column}:Q", title=label),
        alt.Color("cohort_month:T", title="cohort", scale=alt.Scale(scheme="plasma"),
                  legend=alt.Legend(format="%Y-%m")),
        detail="cohort_month:T",
        tooltip=["acquisition_channel:N", alt.Tooltip("yearmonth(cohort_month):T", title="cohort"),
                 "months_since_first_order:Q", alt.Tooltip(f"{column}:Q", format=",.1f", title=label)])
    title = f"{label[0].upper()}{label[1:]} by cohort"
    if not _by_channel(df):
        return chart.properties(width=WIDTH, height=320, title=title)
    return chart.properties(width=WIDTH // 2 - 40, height=200).facet(
        row=alt.Row("acquisition_channel:N", title=None)).properties(title=f"{title} and acquisition channel")


def cumulative_revenue_curves(df: pd.DataFrame) -> alt.Chart | alt.FacetChart:
    return _cohort_curves(df, "cumulative_net_revenue_per_customer", "cumulative net revenue per customer")


def cumulative_margin_curves(df: pd.DataFrame) -> alt.Chart | alt.FacetChart:
    return _cohort_curves(df, "cumulative_gross_margin_per_customer", "cumulative gross margin per customer")


CHANNEL_COLOURS = ["#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6",
                   "#9d755d", "#bab0ac"]
COHORT_CURVE_MEASURES = {"cohort_ltv_curve": "cumulative net revenue per customer",
                         "cohort_margin_curve": "cumulative gross margin per customer",
                         "cohort_retention_rate": "retention (share buying in the month)"}


def channel_cohort_curves(df: pd.DataFrame) -> alt.FacetChart:
    """fct_cohort_curves: one line per channel and the all-channels curve (black, dashed), by age, per measure."""
    label_expr = " : ".join(f"datum.measure == '{key}' ? '{label}'" for key, label in
                            COHORT_CURVE_MEASURES.items()) + " : ''"
    channels = sorted(set(df["curve"]) - {"all_channels"})
    colours = alt.Scale(domain=["all_channels", *channels], range=["black", *CHANNEL_COLOURS[:len(channels)]])
    return alt.Chart(df).transform_fold(list(COHORT_CURVE_MEASURES), as_=["measure", "value"]).transform_calculate(
        panel=label_expr, pooled="datum.curve == 'all_channels' ? 'all channels' : 'one channel'").mark_line(
        point=alt.OverlayMarkDef(size=10)).encode(
        alt.X("months_since_first_order:Q", title="months since first order"),
        alt.Y("value:Q", title=None),
        alt.Color("curve:N", title="curve", scale=colours),
        alt.StrokeDash("pooled:N", legend=None, scale=alt.Scale(domain=["one channel", "all channels"],
                                                                range=[[1, 0], [6, 3]])),
        tooltip=["curve:N", "months_since_first_order:Q", alt.Tooltip("value:Q", format=",.3~f"),
                 alt.Tooltip("cohorts:Q", title="cohorts pooled"),
                 alt.Tooltip("cohort_customers:Q", format=",", title="customers pooled")],
    ).properties(width=250, height=240).facet(
        column=alt.Column("panel:N", title=None, sort=list(COHORT_CURVE_MEASURES.values()))).resolve_scale(
        y="independent").properties(
        title="Cohorts pooled by age, per acquisition channel (black, dashed: all channels); each age pools the "
        "cohorts that have completed it")


def cac_by_channel(df: pd.DataFrame) -> alt.LayerChart:
    paid = df[df["cac"].notna()]
    lines = alt.Chart(paid).mark_line(point=True).encode(
        _month("cohort_month", "cohort month"), alt.Y("cac:Q", title="CAC"), alt.Color("channel:N"),
        tooltip=["channel:N", alt.Tooltip("yearmonth(cohort_month):T", title="cohort"),
                 alt.Tooltip("new_customers:Q", format=","), alt.Tooltip("marketing_spend:Q", format=",.0f"),
                 alt.Tooltip("cac:Q", format=",.2f"), "cac_status:N"])
    blended = alt.Chart(df.drop_duplicates("cohort_month")).mark_line(color="black", strokeDash=[4, 3]).encode(
        _month("cohort_month", "cohort month"), alt.Y("blended_cac:Q"),
        tooltip=[alt.Tooltip("yearmonth(cohort_month):T", title="cohort"),
                 alt.Tooltip("blended_cac:Q", format=",.2f")])
    return alt.layer(lines, blended).properties(
        width=WIDTH, height=300, title="CAC by channel and cohort month (dashed: blended CAC, all channels)")


def ltv_to_cac_heatmap(df: pd.DataFrame) -> alt.FacetChart:
    columns = ["ltv_to_cac_3m", "ltv_to_cac_6m", "ltv_to_cac_12m", "ltv_to_cac_24m"]
    horizons = ["3 months", "6 months", "12 months", "24 months"]
    return alt.Chart(df[df["cac"].notna()]).transform_fold(columns, as_=["column", "ltv_to_cac"]).transform_filter(
        "isValid(datum.ltv_to_cac)").transform_calculate(
        horizon="replace(replace(datum.column, 'ltv_to_cac_', ''), 'm', ' months')").mark_rect().encode(
        alt.X("yearmonth(cohort_month):O", title="cohort month"),
        alt.Y("channel:N", title=None),
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


def channel_ltv_to_cac(df: pd.DataFrame) -> alt.LayerChart:
    """The current acquisition-channel rows of fct_ltv_by_segment with a CAC: LTV/CAC at each horizon."""
    rows = df[(df["months_before_current"] == 0) & (df["cac_status"] == "ok")]
    label_expr = " : ".join(f"datum.column == '{key}' ? '{label}'" for key, label in LTV_CAC_HORIZONS.items()) + " : ''"
    horizons = list(LTV_CAC_HORIZONS.values())
    bars = alt.Chart(rows).transform_fold(list(LTV_CAC_HORIZONS), as_=["column", "ltv_to_cac"]).transform_filter(
        "isValid(datum.ltv_to_cac)").transform_calculate(horizon=label_expr).mark_bar().encode(
        alt.X("channel:N", title=None, sort=alt.EncodingSortField("ltv_to_cac_12m", order="descending")),
        alt.Y("ltv_to_cac:Q", title="LTV/CAC"),
        alt.XOffset("horizon:N", sort=horizons),
        alt.Color("horizon:N", title="after", sort=horizons, scale=alt.Scale(scheme="blues")),
        tooltip=["channel:N", "horizon:N", alt.Tooltip("ltv_to_cac:Q", format=".2f"), alt.Tooltip("cac:Q", format=",.2f"),
                 alt.Tooltip("marketing_spend:Q", format=",.0f"), alt.Tooltip("cac_new_customers:Q", format=",")])
    breakeven = alt.Chart(pd.DataFrame({"ltv_to_cac": [1.0]})).mark_rule(color="#b2182b", strokeDash=[4, 3]).encode(
        alt.Y("ltv_to_cac:Q"))
    return alt.layer(bars, breakeven).properties(
        width=WIDTH, height=260, title="LTV/CAC by channel after 3, 6, 12 and 24 months, over each channel's mature "
        "paid cohorts (fct_ltv_by_segment; dashed: 1 = the spend paid back)")


def payback_heatmap(df: pd.DataFrame) -> alt.LayerChart:
    paid = df[df["payback_status"] != "no_cac"]
    base = alt.Chart(paid).encode(alt.X("yearmonth(cohort_month):O", title="cohort month"),
                                  alt.Y("channel:N", title=None))
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


def segment_sizes_and_value(df: pd.DataFrame) -> alt.LayerChart:
    title = _segment_label(df)
    base = alt.Chart(df).encode(alt.X("segment_value:N", sort="-y", title=title))
    bars = base.mark_bar(color="#9ecae9").encode(
        alt.Y("customers:Q", title="customers"),
        tooltip=["segment_value:N", alt.Tooltip("customers:Q", format=","), alt.Tooltip("buyers:Q", format=","),
                 alt.Tooltip("share_of_customers:Q", format=".1%"),
                 alt.Tooltip("average_realised_ltv:Q", format=",.1f"), alt.Tooltip("ltv_formula_a:Q", format=",.1f"),
                 alt.Tooltip("average_check:Q", format=",.2f"), alt.Tooltip("orders_per_year:Q", format=".2f"),
                 alt.Tooltip("average_predicted_clv:Q", format=",.1f")])
    value = base.mark_point(color="#d62728", filled=True, size=80).encode(
        alt.Y("average_realised_ltv:Q", title="average realised LTV (dots)"))
    return alt.layer(bars, value).resolve_scale(y="independent").properties(
        width=WIDTH, height=260, title=f"{title[0].upper()}{title[1:]}: customers (bars) and average realised LTV")


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
        alt.Y("lift:N", title=None, sort=list(LIFTS.values())),
        alt.Color("positive:N", legend=None, scale=alt.Scale(domain=[True, False], range=["#1b7837", "#b2182b"])),
        alt.YOffset("segment_value:N"),
        tooltip=["segment_value:N", "lift:N", alt.Tooltip("value:Q", format="+.1%")],
    ).properties(width=WIDTH, height=160, title=f"{shown}: realised LTV, average check and orders per year lift")


SEGMENT_MEASURES = {"average_realised_ltv": "realised LTV", "ltv_formula_a": "LTV formula A",
                    "ltv_formula_b": "LTV formula B", "average_check": "average check",
                    "orders_per_year": "orders per customer per year", "repeat_customer_rate": "repeat rate"}


def segment_values(df: pd.DataFrame) -> alt.FacetChart:
    title = _segment_label(df)
    label_expr = " : ".join(f"datum.measure == '{key}' ? '{label}'" for key, label in SEGMENT_MEASURES.items())
    return alt.Chart(df[df["buyers"] > 0]).transform_fold(list(SEGMENT_MEASURES), as_=["measure", "value"]) \
        .transform_calculate(panel=label_expr + " : ''").mark_bar().encode(
        alt.X("segment_value:N", title=None),
        alt.Y("value:Q", title=None),
        alt.Color("segment_value:N", legend=None),
        tooltip=["segment_value:N", "panel:N", alt.Tooltip("value:Q", format=",.3~f"),
                 alt.Tooltip("buyers:Q", format=",")],
    ).properties(width=250, height=160).facet(
        facet=alt.Facet("panel:N", title=None, sort=list(SEGMENT_MEASURES.values())), columns=3).resolve_scale(
        y="independent").properties(title=f"By {title} (fct_ltv_by_segment, current as-of date)")


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
        alt.Y("launch_key:N", title=None, sort=alt.EncodingSortField("launched_on", order="descending")),
        alt.Color("population:N", title=None, sort=populations),
        alt.YOffset("population:N", sort=populations),
        tooltip=["launch_key:N", "launched_on:T", "window_days:Q", "is_window_complete:N",
                 alt.Tooltip("penetration:Q", format=".1%"), alt.Tooltip("launch_buyers:Q", format=","),
                 alt.Tooltip("active_customers:Q", format=",")],
    ).properties(width=WIDTH, height=alt.Step(9), title="Launch penetration: all active customers and loyalty members")


def p_alive_vs_predicted_clv(df: pd.DataFrame) -> alt.Chart:
    return alt.Chart(df).transform_calculate(clv_plot="max(datum.predicted_clv, 0.01)").mark_circle(
        size=14, opacity=0.5).encode(
        alt.X("p_alive:Q", title="P(alive)", scale=alt.Scale(domain=[0, 1])),
        alt.Y("clv_plot:Q", title="predicted CLV (log scale)", scale=alt.Scale(type="log")),
        alt.Color("buyer_type:N", title=None, scale=alt.Scale(scheme="set1")),
        tooltip=["customer_id:N", "frequency:Q", alt.Tooltip("p_alive:Q", format=".2f"),
                 alt.Tooltip("predicted_clv:Q", format=",.1f"), "predicted_clv_tier:N"],
    ).properties(width=WIDTH, height=340,
                 title="P(alive) vs predicted CLV (customers with one purchase day have P(alive) = 1)")


def predicted_clv_distribution(df: pd.DataFrame) -> alt.Chart:
    return alt.Chart(df).transform_calculate(
        bin_label="datum.clv_from < 1 ? '< 1' : format(datum.clv_from, ',.3~s') + '–' + format(datum.clv_to, ',.3~s')"
    ).mark_bar().encode(
        alt.X("bin_label:O", title="predicted CLV (bins of equal width on a log scale)",
              sort=alt.EncodingSortField("clv_from", op="min")),
        alt.Y("sum(customers):Q", title="customers"),
        alt.Color("predicted_clv_tier:N", title="tier", sort=TIER_ORDER,
                  scale=alt.Scale(domain=TIER_ORDER, range=TIER_COLORS)),
        tooltip=["predicted_clv_tier:N", alt.Tooltip("clv_from:Q", format=",.1f"),
                 alt.Tooltip("clv_to:Q", format=",.1f"), alt.Tooltip("customers:Q", format=",")],
    ).properties(width=WIDTH, height=260, title="Predicted CLV distribution and tiers")


def holdout_predicted_vs_actual(df: pd.DataFrame) -> alt.Chart:
    measures = ["actual_purchases_per_customer", "predicted_purchases_per_customer"]
    order = df.sort_values("bucket_order")["frequency_bucket"].tolist()
    return alt.Chart(df).transform_fold(measures, as_=["column", "purchases"]).transform_calculate(
        series="datum.column == 'actual_purchases_per_customer' ? 'actual' : 'predicted'").mark_bar().encode(
        alt.X("frequency_bucket:N", title="repeat purchases before the holdout split", sort=order),
        alt.Y("purchases:Q", title="purchases per customer in the holdout"),
        alt.Color("series:N", title=None, sort=["actual", "predicted"]),
        alt.XOffset("series:N", sort=["actual", "predicted"]),
        tooltip=["frequency_bucket:N", "series:N", alt.Tooltip("purchases:Q", format=".2f"),
                 alt.Tooltip("customers:Q", format=","), alt.Tooltip("relative_error:Q", format="+.1%")],
    ).properties(width=WIDTH, height=260, title="Holdout: predicted vs actual purchases by calibration frequency")


def model_parameters(df: pd.DataFrame) -> alt.FacetChart:
    base = alt.Chart(df[df["estimate"].notna()]).transform_calculate(
        low="datum.estimate - 1.96 * datum.standard_error", high="datum.estimate + 1.96 * datum.standard_error")
    points = base.mark_point(filled=True, size=60).encode(
        alt.X("estimate:Q", title="estimate ± 1.96 standard errors"), alt.Y("fit_name:N", title=None),
        alt.Color("fit_name:N", legend=None),
        tooltip=["model:N", "parameter:N", "fit_name:N", alt.Tooltip("estimate:Q", format=".4f"),
                 alt.Tooltip("standard_error:Q", format=".4f"), "status:N"])
    bars = base.mark_rule().encode(alt.X("low:Q"), alt.X2("high:Q"), alt.Y("fit_name:N"),
                                   alt.Color("fit_name:N", legend=None))
    return alt.layer(bars, points).properties(width=WIDTH // 2 - 30, height=50).facet(
        facet=alt.Facet("parameter:N", title=None, sort=["r", "alpha", "a", "b", "p", "q", "v"]),
        columns=2).resolve_scale(x="independent").properties(
        title="Fitted BG/NBD (r, alpha, a, b) and Gamma-Gamma (p, q, v) parameters")


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
