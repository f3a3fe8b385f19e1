"""The semantic layer validates, and every metric answered by `mf query` equals the mart that computes it, for every
segment (fct_ltv_by_segment, fct_predicted_clv_by_segment) or row (the other marts) - one name, one number. The
`mf query` examples of README.md and docs/ run.

The comparison loops over every metric of the semantic manifest and fails when a metric has no mart to be checked
against: a new metric needs its place here."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from clvlayer.cli import run_metricflow
from clvlayer.project import PROJECT_ROOT
from mf_batch import query_many

# fct_ltv_by_segment segment type -> the MetricFlow group-by that makes the same segments
SEGMENT_GROUP_BY = {
    "overall": None,
    "acquisition_channel": "customer__acquisition_channel",
    "cohort_month": "customer__first_order_on__month",
    "region": "customer__region",
    "age_band": "customer__age_band",
    "loyalty": "customer__is_loyalty_member",
    "rfm_segment": "customer__rfm_segment",
    "cvm_stage": "customer__cvm_stage",
    "value_tier": "customer__value_tier",
    "preferred_category": "customer__preferred_category",
}
# metrics that are columns of fct_ltv_by_segment under their own name (customer grain, as of the as-of date), and the
# predicted ones, columns of fct_predicted_clv_by_segment (the same segment keys)
PREDICTED_SEGMENT_METRICS = ["predicted_customers", "average_predicted_clv", "average_p_alive",
                             "model_expected_lifetime_months"]
SEGMENT_METRICS = [
    "customers", "buyers", "repeat_buyers", "repeat_customer_rate", "realised_ltv_total", "realised_margin_ltv_total",
    "average_realised_ltv", "orders_to_date", "average_check", "ltv_margin_rate", "lifetime_exposure_months",
    "average_observed_lifespan_months", "monthly_revenue_per_customer", "monthly_margin_per_customer",
    "orders_per_month", "expected_lifetime_months", "discounted_lifetime_months", "ltv_formula_a", "ltv_formula_b",
    "discounted_clv", "tenure_years", "orders_per_year", "average_recency_days", "realised_ltv_6m", "realised_ltv_12m",
    "realised_ltv_24m", "realised_margin_ltv_6m", "realised_margin_ltv_12m", "realised_margin_ltv_24m",
    *PREDICTED_SEGMENT_METRICS,
]
# order-grain metrics equal a segment column when the period covers every order up to the as-of date (the default)
ORDER_METRICS_AS_SEGMENT = {"net_revenue": "realised_ltv_total", "orders": "orders_to_date",
                            "gross_margin": "realised_margin_ltv_total", "aov": "average_check",
                            "gross_margin_rate": "ltv_margin_rate"}
CHANNEL_METRICS = ["cac", "ltv_to_cac_3m", "ltv_to_cac_6m", "ltv_to_cac_12m", "ltv_to_cac_24m"]
# the terms of ltv_to_cac_<h>m (macro ltv_to_cac): per horizon, the margin gained and the spend of the paid cohorts
# mature at it
LTV_TO_CAC_TERMS = ["ltv_to_cac_margin_gain_3m", "ltv_to_cac_margin_gain_6m", "ltv_to_cac_margin_gain_12m",
                    "ltv_to_cac_margin_gain_24m", "ltv_to_cac_spend_3m", "ltv_to_cac_spend_6m", "ltv_to_cac_spend_12m",
                    "ltv_to_cac_spend_24m"]


@pytest.fixture(scope="module")
def warehouse(sample_warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("mf") / "warehouse.duckdb"  # mf opens the file read-write: use a copy
    shutil.copyfile(sample_warehouse, copy)
    return copy


def sql(warehouse: Path, query: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(query).df()


def segment_label(segment_type: str, value: object) -> str:
    if segment_type == "overall":
        return "all"
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "no_purchases"
    if segment_type == "loyalty":
        return "member" if str(value).lower() == "true" else "non_member"
    if segment_type == "cohort_month":
        return str(value)[:10]
    return str(value)


def assert_equal(got: pd.Series, expected: pd.Series, what: str) -> None:
    np.testing.assert_allclose(got.astype(float).to_numpy(), expected.astype(float).to_numpy(), rtol=1e-9,
                               atol=1e-9, equal_nan=True, err_msg=what)


def test_mf_validate_configs(warehouse: Path) -> None:
    assert run_metricflow(["validate-configs"], warehouse) == 0


def test_every_metric_equals_its_mart(warehouse: Path) -> None:
    """Every metric, through the MetricFlow engine, against the mart that computes it."""
    requests, checks = [], []

    # 1. customer-grain metrics (and order-grain ones that coincide) by every segment type of fct_ltv_by_segment
    segments = sql(warehouse, f"""
        select l.*, {', '.join(f'p.{m}' for m in PREDICTED_SEGMENT_METRICS)}
        from marts.fct_ltv_by_segment as l
        left join marts.fct_predicted_clv_by_segment as p on l.segment_key = p.segment_key
        where l.as_of_snapshot = 'current'""")
    for segment_type, group_by in SEGMENT_GROUP_BY.items():
        requests.append((SEGMENT_METRICS + list(ORDER_METRICS_AS_SEGMENT), [group_by] if group_by else [], []))
        checks.append(("segment", segment_type, group_by))
    # 2. channel CAC and pooled LTV/CAC by channel (fct_ltv_by_segment channel rows)
    requests.append((CHANNEL_METRICS + ["blended_cac", "marketing_spend", "acquired_customers"],
                     ["channel_cohort__channel"], []))
    checks.append(("channel", None, "channel_cohort__channel"))
    # ... and unsegmented: every channel pooled (fct_ltv_by_segment's overall row)
    requests.append((CHANNEL_METRICS, [], []))
    checks.append(("channels_pooled", None, None))
    # 3. the same acquisition metrics per channel x cohort month (fct_channel_economics rows)
    requests.append((CHANNEL_METRICS + ["marketing_spend", "acquired_customers", "blended_cac"]
                     + [f"cohort_margin_{h}m" for h in (3, 6, 12, 24)] + LTV_TO_CAC_TERMS,
                     ["channel_cohort__channel", "channel_cohort__cohort_month__month"], []))
    checks.append(("channel_cohort", None, None))
    # 4. cohorts: retention by channel x age and by age (fct_cohort_curves), curves at their grain
    requests.append((["cohort_retention_rate", "cohort_customers", "cohort_active_customers"],
                     ["channel_cohort_month__acquisition_channel", "channel_cohort_month__months_since_first_order"],
                     []))
    checks.append(("cohort_channel", None, None))
    requests.append((["cohort_retention_rate", "cohort_customers", "cohort_active_customers"],
                     ["channel_cohort_month__months_since_first_order"], []))
    checks.append(("cohort_all", None, None))
    requests.append((["cohort_ltv_curve", "cohort_margin_curve"],
                     ["cohort_curve__curve", "cohort_curve__months_since_first_order"], []))
    checks.append(("curves", None, None))
    # 5. orders of a period (fct_orders) by order month
    order_period = ["orders", "net_revenue", "gross_revenue", "refunds", "gross_margin", "gross_margin_rate", "aov",
                    "new_customers", "active_customers", "returning_customers", "repeat_rate", "item_units",
                    "orders_with_items", "orders_with_addon", "items_per_order", "addon_penetration",
                    "cumulative_net_revenue", "cumulative_new_customers"]
    requests.append((order_period, ["metric_time__month"], []))
    checks.append(("orders_month", None, None))
    # 6. the reorder list by CVM stage, penetration by category, launches by type (their marts)
    requests.append((["customers_due_for_reorder", "customers_with_reorder_interval", "due_for_reorder_rate",
                      "average_typical_interval_days"], ["customer__cvm_stage"], []))
    checks.append(("next_purchase", None, None))
    requests.append((["category_penetration", "category_buyers", "category_active_customers"],
                     ["category_month__category"], []))
    checks.append(("category", None, None))
    requests.append((["launch_penetration", "launch_window_active_customers", "launch_window_buyers",
                      "loyalty_member_launch_penetration", "launch_window_active_members",
                      "launch_window_member_buyers", "expected_alive_customers", "expected_purchases",
                      "expected_purchases_per_customer", "predicted_clv_total", "average_churn_risk"], [], []))
    checks.append(("totals", None, None))
    requests.append((["predicted_clv_segment_lower", "predicted_clv_segment_upper"],
                     ["predicted_clv_segment"], []))
    checks.append(("predicted_clv_segments", None, None))

    asked = {metric for metrics, _, _ in requests for metric in metrics}
    manifest = json.loads((PROJECT_ROOT / "target" / "semantic_manifest.json").read_text())
    assert {metric["name"] for metric in manifest["metrics"]} - asked == set(), "a metric without a mart check"

    results = query_many(warehouse, requests)
    for (kind, segment_type, group_by), frame in zip(checks, results):
        CHECKERS[kind](warehouse, frame, segments, segment_type, group_by)


def check_segment(warehouse: Path, frame: pd.DataFrame, segments: pd.DataFrame, segment_type: str,
                  group_by: str | None) -> None:
    mart = segments[segments["segment_type"] == segment_type].set_index("segment_value")
    frame.index = [segment_label(segment_type, v) for v in frame[group_by]] if group_by else ["all"]
    assert sorted(frame.index) == sorted(mart.index), segment_type
    frame = frame.loc[mart.index]
    for metric in SEGMENT_METRICS:
        assert_equal(frame[metric], mart[metric], f"{metric} by {segment_type}")
    for metric, column in ORDER_METRICS_AS_SEGMENT.items():
        # non-buyers have no orders: MetricFlow has no row for them where the mart has a null
        assert_equal(frame[metric].where(mart["buyers"] > 0), mart[column], f"{metric} by {segment_type}")


def check_channel(warehouse: Path, frame: pd.DataFrame, segments: pd.DataFrame, *_: object) -> None:
    mart = segments[segments["segment_type"] == "acquisition_channel"].set_index("segment_value")
    frame = frame.set_index("channel_cohort__channel").loc[mart.index]
    for metric in CHANNEL_METRICS:
        assert_equal(frame[metric], mart[metric], f"{metric} by channel")
    assert mart.loc["organic", "cac_status"] == "no_spend_recorded" and np.isnan(frame.loc["organic", "cac"])
    economics = sql(warehouse, "select channel, sum(marketing_spend) as spend, sum(new_customers) as new "
                               "from marts.fct_channel_economics group by channel").set_index("channel")
    assert_equal(frame["marketing_spend"], economics.loc[frame.index, "spend"], "marketing_spend")
    assert_equal(frame["acquired_customers"], economics.loc[frame.index, "new"], "acquired_customers")
    assert_equal(frame["blended_cac"], economics.loc[frame.index, "spend"] / economics.loc[frame.index, "new"],
                 "blended_cac")


def check_channels_pooled(warehouse: Path, frame: pd.DataFrame, segments: pd.DataFrame, *_: object) -> None:
    overall = segments[segments["segment_type"] == "overall"]
    assert len(overall) == 1 and len(frame) == 1 and overall["cac_status"].iloc[0] == "ok"
    for metric in CHANNEL_METRICS:
        assert_equal(frame[metric].reset_index(drop=True), overall[metric].reset_index(drop=True),
                     f"{metric}, every channel pooled")


def check_channel_cohort(warehouse: Path, frame: pd.DataFrame, *_: object) -> None:
    mart = sql(warehouse, "select * from marts.fct_channel_economics")
    mart["key"] = mart["channel"] + "|" + mart["cohort_month"].astype(str).str[:10]
    mart = mart.set_index("key")
    frame.index = frame["channel_cohort__channel"] + "|" + frame["channel_cohort__cohort_month__month"].astype(str).str[:10]
    frame = frame.loc[mart.index]
    for metric in CHANNEL_METRICS:
        assert_equal(frame[metric], mart[metric], f"{metric} by channel x cohort")
    for h in (3, 6, 12, 24):
        assert_equal(frame[f"cohort_margin_{h}m"], mart[f"margin_per_customer_{h}m"] * mart["new_customers"],
                     f"cohort_margin_{h}m")
    paid, previous = mart["cac_status"] == "ok", None
    for h in (3, 6, 12, 24):
        mature = paid & mart[f"is_mature_{h}m"].astype(bool)
        gain = mart[f"margin_per_customer_{h}m"] - (mart[f"margin_per_customer_{previous}m"] if previous else 0)
        assert_equal(frame[f"ltv_to_cac_margin_gain_{h}m"], (gain * mart["new_customers"]).where(mature),
                     f"ltv_to_cac_margin_gain_{h}m")
        assert_equal(frame[f"ltv_to_cac_spend_{h}m"], mart["marketing_spend"].astype(float).where(mature),
                     f"ltv_to_cac_spend_{h}m")
        previous = h
    assert_equal(frame["marketing_spend"], mart["marketing_spend"], "marketing_spend")
    assert_equal(frame["acquired_customers"], mart["new_customers"], "acquired_customers")
    assert_equal(frame["blended_cac"], (mart["marketing_spend"] / mart["new_customers"].replace(0, np.nan)),
                 "blended_cac per row")


def check_cohorts(warehouse: Path, frame: pd.DataFrame, curve_filter: str, group: list[str]) -> None:
    mart = sql(warehouse, f"select * from marts.fct_cohort_curves where {curve_filter}")
    mart.index = [tuple(r) for r in mart[["curve", "months_since_first_order"]].itertuples(index=False)] \
        if len(group) == 2 else list(mart["months_since_first_order"])
    frame.index = [tuple(r) for r in frame[group].itertuples(index=False)] if len(group) == 2 else list(frame[group[0]])
    frame = frame.loc[mart.index]
    assert_equal(frame["cohort_retention_rate"], mart["cohort_retention_rate"], "cohort_retention_rate")
    assert_equal(frame["cohort_customers"], mart["cohort_customers"], "cohort_customers")
    assert_equal(frame["cohort_active_customers"], mart["active_customers"], "cohort_active_customers")


def check_cohort_channel(warehouse: Path, frame: pd.DataFrame, *_: object) -> None:
    frame = frame[frame["cohort_customers"] > 0]  # ages no cohort has completed yet are not in the curves mart
    check_cohorts(warehouse, frame, "curve <> 'all_channels'",
                  ["channel_cohort_month__acquisition_channel", "channel_cohort_month__months_since_first_order"])


def check_cohort_all(warehouse: Path, frame: pd.DataFrame, *_: object) -> None:
    frame = frame[frame["cohort_customers"] > 0]
    check_cohorts(warehouse, frame, "curve = 'all_channels'", ["channel_cohort_month__months_since_first_order"])


def check_curves(warehouse: Path, frame: pd.DataFrame, *_: object) -> None:
    mart = sql(warehouse, "select curve, months_since_first_order, cohort_ltv_curve, cohort_margin_curve "
                          "from marts.fct_cohort_curves").set_index(["curve", "months_since_first_order"]).sort_index()
    frame = frame.set_index(["cohort_curve__curve", "cohort_curve__months_since_first_order"]).sort_index()
    assert list(frame.index) == list(mart.index)
    assert_equal(frame["cohort_ltv_curve"], mart["cohort_ltv_curve"], "cohort_ltv_curve")
    assert_equal(frame["cohort_margin_curve"], mart["cohort_margin_curve"], "cohort_margin_curve")


def check_orders_month(warehouse: Path, frame: pd.DataFrame, *_: object) -> None:
    mart = sql(warehouse, """
        select order_month,
               sum(case when is_completed then 1 else 0 end) as orders, sum(net_revenue) as net_revenue,
               sum(gross_revenue) as gross_revenue, sum(refunded_amount) as refunds, sum(gross_margin) as gross_margin,
               sum(gross_margin) / sum(net_revenue) as gross_margin_rate,
               sum(net_revenue) / sum(case when is_completed then 1 else 0 end) as aov,
               sum(case when is_first_order then 1 else 0 end) as new_customers,
               count(distinct case when is_completed then customer_id end) as active_customers,
               count(distinct case when is_repeat_order then customer_id end) as returning_customers,
               sum(case when is_completed then item_units else 0 end) as item_units,
               sum(case when is_completed and has_items then 1 else 0 end) as orders_with_items,
               sum(case when is_completed and has_addon_category then 1 else 0 end) as orders_with_addon
        from marts.fct_orders group by order_month order by order_month""").set_index("order_month")
    mart["repeat_rate"] = mart["returning_customers"] / mart["active_customers"]
    mart["items_per_order"] = mart["item_units"] / mart["orders_with_items"]
    mart["addon_penetration"] = mart["orders_with_addon"] / mart["orders_with_items"]
    # cumulative metrics: the running total at the end of the month, ending where the data ends
    mart["cumulative_net_revenue"] = mart["net_revenue"].cumsum()
    mart["cumulative_new_customers"] = mart["new_customers"].cumsum()
    frame = frame.set_index(pd.to_datetime(frame["metric_time__month"]).dt.date).sort_index()
    assert list(frame.index) == list(pd.to_datetime(mart.index).date)
    for metric in mart.columns:
        assert_equal(frame[metric], mart[metric], f"{metric} by month")


def check_next_purchase(warehouse: Path, frame: pd.DataFrame, *_: object) -> None:
    mart = sql(warehouse, """
        select s.cvm_stage, sum(case when n.due_for_reorder then 1 else 0 end) as due,
               count(n.typical_interval_days) as with_interval, avg(n.typical_interval_days) as average_interval
        from marts.fct_customer_next_purchase n join marts.fct_customer_segments s using (customer_id)
        group by 1""").set_index("cvm_stage")
    frame = frame.set_index("customer__cvm_stage").loc[mart.index]
    assert_equal(frame["customers_due_for_reorder"], mart["due"], "customers_due_for_reorder")
    assert_equal(frame["customers_with_reorder_interval"], mart["with_interval"], "customers_with_reorder_interval")
    assert_equal(frame["due_for_reorder_rate"], mart["due"] / mart["with_interval"].replace(0, np.nan),
                 "due_for_reorder_rate")
    assert_equal(frame["average_typical_interval_days"], mart["average_interval"], "average_typical_interval_days")


def check_category(warehouse: Path, frame: pd.DataFrame, *_: object) -> None:
    mart = sql(warehouse, "select category, sum(category_buyers) as buyers, sum(active_customers) as active "
                          "from marts.fct_category_penetration group by 1").set_index("category")
    frame = frame.set_index("category_month__category").loc[mart.index]
    assert_equal(frame["category_buyers"], mart["buyers"], "category_buyers")
    assert_equal(frame["category_active_customers"], mart["active"], "category_active_customers")
    assert_equal(frame["category_penetration"], mart["buyers"] / mart["active"], "category_penetration")


def check_totals(warehouse: Path, frame: pd.DataFrame, *_: object) -> None:
    [launch] = sql(warehouse, """
        select sum(launch_buyers) / sum(active_customers), sum(active_customers), sum(launch_buyers),
               sum(loyalty_member_buyers) / sum(active_loyalty_members), sum(active_loyalty_members),
               sum(loyalty_member_buyers)
        from marts.fct_launch_penetration""").itertuples(index=False)
    names = ["launch_penetration", "launch_window_active_customers", "launch_window_buyers",
             "loyalty_member_launch_penetration", "launch_window_active_members", "launch_window_member_buyers"]
    for name, value in zip(names, launch):
        assert float(frame[name].iloc[0]) == pytest.approx(float(value), rel=1e-9), name
    [predicted] = sql(warehouse, """
        select sum(p_alive), sum(expected_purchases), avg(expected_purchases), sum(predicted_clv), avg(churn_risk)
        from marts.fct_customer_clv_predictions where is_predicted""").itertuples(index=False)
    for name, value in zip(["expected_alive_customers", "expected_purchases", "expected_purchases_per_customer",
                            "predicted_clv_total", "average_churn_risk"], predicted):
        assert float(frame[name].iloc[0]) == pytest.approx(float(value), rel=1e-9), name


def check_predicted_clv_segments(warehouse: Path, frame: pd.DataFrame, *_: object) -> None:
    mart = sql(warehouse, "select segment_key, predicted_clv_lower, predicted_clv_upper "
                          "from marts.fct_predicted_clv_by_segment").set_index("segment_key")
    frame = frame.set_index("predicted_clv_segment").loc[mart.index]
    assert_equal(frame["predicted_clv_segment_lower"], mart["predicted_clv_lower"], "predicted_clv_segment_lower")
    assert_equal(frame["predicted_clv_segment_upper"], mart["predicted_clv_upper"], "predicted_clv_segment_upper")


CHECKERS = {"segment": check_segment, "channel": check_channel, "channels_pooled": check_channels_pooled,
            "channel_cohort": check_channel_cohort,
            "cohort_channel": check_cohort_channel, "cohort_all": check_cohort_all, "curves": check_curves,
            "orders_month": check_orders_month, "next_purchase": check_next_purchase, "category": check_category,
            "totals": check_totals, "predicted_clv_segments": check_predicted_clv_segments}


def readme_mf_examples() -> list[list[str]]:
    """Every `clv mf -- query ...` of README.md and the docs pages (docs/*.md) - command lines in code blocks and
    inline examples - as arguments."""
    pages = [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]
    text = "\n".join(page.read_text() for page in pages)
    lines = re.findall(r"^\.venv/bin/clv mf -- (query [^#\n]*?)\s*(?:#.*)?$", text, flags=re.MULTILINE)
    inline = re.findall(r"`(?:\.venv/bin/)?clv mf -- (query [^`]*)`", text)
    # saved-query examples name a placeholder (<name>); the exports test runs every saved query
    return [line.split() for line in lines + inline if "--saved-query" not in line]


def test_readme_mf_examples_run(warehouse: Path) -> None:
    examples = readme_mf_examples()
    assert len(examples) >= 10
    requests = []
    for args in examples:
        assert args[0] == "query"
        metrics = args[args.index("--metrics") + 1].split(",")
        group_by = args[args.index("--group-by") + 1].split(",") if "--group-by" in args else []
        where = [args[args.index("--where") + 1]] if "--where" in args else []
        requests.append((metrics, group_by, where))
    for (metrics, _, _), frame in zip(requests, query_many(warehouse, requests)):
        assert len(frame) > 0 and frame[metrics].notna().any().all(), metrics


def test_mf_cli_answers_like_the_engine(warehouse: Path, tmp_path: Path) -> None:
    """The `clv mf` command line gives what the batch helper gives (the README's users run the CLI)."""
    out = tmp_path / "a.csv"
    assert run_metricflow(["query", "--metrics", "ltv_formula_a,expected_lifetime_months", "--group-by",
                           "customer__acquisition_channel", "--csv", str(out)], warehouse) == 0
    cli = pd.read_csv(out).set_index("customer__acquisition_channel").sort_index()
    [engine] = query_many(warehouse, [(["ltv_formula_a", "expected_lifetime_months"],
                                       ["customer__acquisition_channel"], [])])
    engine = engine.set_index("customer__acquisition_channel").sort_index()
    assert_equal(cli["ltv_formula_a"], engine["ltv_formula_a"], "cli vs engine")
