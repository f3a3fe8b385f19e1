"""Every MetricFlow metric, pinned by hand on the hand-made fixture (tests/fixtures/handmade).

As of 2024-03-10. A buys 100 (items cost 70), 50 (cost 30) and 80 with a 20 refund (cost 40): net 210, margin 80, three
orders over 60 days. B's 200 order is refunded and its 40 order cancelled. C buys 60 (no cost: 30% margin) and 30 (no
items) on 02-01: net 90, margin 27. D buys 120 once on 03-01 (margin 36). E never orders. Spend: paid search 100 in
January and 50 in February, email 10 in January; A (January) and D (March) came by paid search, C (February) by
email.

To make the expected lifetime computable on five customers the build uses a 20-day lapse threshold and one buyer at
risk: C (38 days without an order) churned at its only purchase day; A (last order today) is censored at the last
day whose churn is observable, 60 - 20 - 1 = 39, D (9 days old) is not at risk yet. The survival curve is
S(0) = 1 - 1/2 = 1/2 and stays 1/2 (nobody else churns up to day 39, and the tail continues the flat hazard of days
0..39). Return probabilities (issue 23) from the resolved orders (more than 20 days old: A's 01-10 and 02-10, C's
two of 02-01), in one recency bucket: a first order followed by another on a later day 1/1 (A's; C's first is
followed the same day, never silent), a second 1/2 (A's yes, C's no), three or more pooled 2/3. So D (one order)
expects the whole 36-month horizon, A (three) 1 month + 60 days + 2/3 of the rest of the horizon, and C lived 1
month. Discounted at 1% a month: C's month is worth (1 - 1/1.01) / ln 1.01 months, D's 36 months
(1 - 1.01^-36) / ln 1.01, A's its first 1 + 60 days fully and 2/3 of the rest.
"""

from __future__ import annotations

import csv
import json
import math
import shutil
from pathlib import Path

import pytest

from clvlayer.cli import run_metricflow
from conftest import HANDMADE, build

DAYS_PER_MONTH = 30.4375
EXPOSURE = 60 / DAYS_PER_MONTH + 1 + 1 + 1  # months of observed lifespan of A, C, D
A_LIVED = 1 + 60 / DAYS_PER_MONTH  # months up to A's last order (the first month included)
EXPECTED_LIFETIME = (1 + 36 + A_LIVED + 2 / 3 * (36 - A_LIVED)) / 3
PV_ONE_MONTH = (1 - 1 / 1.01) / math.log(1.01)
PV_HORIZON = (1 - 1.01 ** -36) / math.log(1.01)
PV_A_LIVED = (1 - 1.01 ** -A_LIVED) / math.log(1.01)
DISCOUNTED_LIFETIME = (PV_ONE_MONTH + PV_HORIZON + PV_A_LIVED + 2 / 3 * (PV_HORIZON - PV_A_LIVED)) / 3
NONE = None  # null: nothing to compute (no mature cohort, no eligible buyer, no fit, no launch)

BY_HAND: dict[str, float | None] = {
    # orders of the period (all time here)
    "orders": 6,                          # A 3, C 2, D 1
    "net_revenue": 420,                   # 210 + 90 + 120 (B's refund and cancellation earn nothing)
    "gross_revenue": 640,                 # 230 + 200 (B's refunded order) + 90 + 120
    "refunds": 220,                       # A's 20 + B's 200
    "gross_margin": 143,                  # 80 + 27 + 36
    "gross_margin_rate": 143 / 420,
    "new_customers": 3,
    "active_customers": 3,
    "returning_customers": 2,             # A and C placed a repeat order
    "aov": 70.0,                          # 420 / 6
    "repeat_rate": 2 / 3,
    "item_units": 11,                     # 3 + 1 + 4 + C's 3 treats
    "orders_with_items": 4,
    "orders_with_addon": 1,               # A's first order: food and toys
    "items_per_order": 11 / 4,
    "addon_penetration": 1 / 4,
    "cumulative_net_revenue": 420,
    "cumulative_new_customers": 3,
    # customers as of the as-of date
    "customers": 5,
    "buyers": 3,
    "repeat_buyers": 2,
    "repeat_customer_rate": 2 / 3,
    "realised_ltv_total": 420,
    "realised_margin_ltv_total": 143,
    "average_realised_ltv": 140.0,
    "orders_to_date": 6,
    "average_check": 70.0,
    "ltv_margin_rate": 143 / 420,
    "lifetime_exposure_months": EXPOSURE,
    "average_observed_lifespan_months": EXPOSURE / 3,
    "monthly_revenue_per_customer": 420 / EXPOSURE,
    "monthly_margin_per_customer": 143 / EXPOSURE,
    "orders_per_month": 6 / EXPOSURE,
    "expected_lifetime_months": EXPECTED_LIFETIME,
    "discounted_lifetime_months": DISCOUNTED_LIFETIME,
    "ltv_formula_a": 420 / EXPOSURE * EXPECTED_LIFETIME,
    "ltv_formula_b": 70 * (6 / EXPOSURE) * EXPECTED_LIFETIME * (143 / 420),
    "discounted_clv": 143 / EXPOSURE * DISCOUNTED_LIFETIME,
    "tenure_years": (60 + 38 + 9) / 365.25,
    "orders_per_year": NONE,              # nobody has the 90 days of tenure frequency needs
    "average_recency_days": (0 + 38 + 9) / 3,
    "realised_ltv_6m": NONE, "realised_ltv_12m": NONE, "realised_ltv_24m": NONE,  # no cohort is 6 months old
    "realised_margin_ltv_6m": NONE, "realised_margin_ltv_12m": NONE, "realised_margin_ltv_24m": NONE,
    # predictions: five customers are too few for a fit (clv_min_customers = 100)
    "predicted_customers": 0,
    "expected_alive_customers": NONE,
    "average_p_alive": NONE,
    "average_churn_risk": NONE,
    "expected_purchases": NONE,
    "expected_purchases_per_customer": NONE,
    "predicted_clv_total": NONE,
    "predicted_clv_segment_lower": NONE, "predicted_clv_segment_upper": NONE,  # no fit: no interval
    "average_predicted_clv": NONE,
    "model_expected_lifetime_months": NONE,
    # acquisition
    "marketing_spend": 160,
    "acquired_customers": 3,
    "cac": 160.0,                         # spend / the 1 customer (A) acquired in a channel-month with spend
    "blended_cac": 160 / 3,
    "cohort_margin_3m": NONE, "cohort_margin_6m": NONE, "cohort_margin_12m": NONE, "cohort_margin_24m": NONE,
    "ltv_to_cac_3m": NONE, "ltv_to_cac_6m": NONE, "ltv_to_cac_12m": NONE, "ltv_to_cac_24m": NONE,
    "ltv_to_cac_margin_gain_3m": NONE, "ltv_to_cac_margin_gain_6m": NONE,
    "ltv_to_cac_margin_gain_12m": NONE, "ltv_to_cac_margin_gain_24m": NONE,
    "ltv_to_cac_spend_3m": NONE, "ltv_to_cac_spend_6m": NONE,
    "ltv_to_cac_spend_12m": NONE, "ltv_to_cac_spend_24m": NONE,
    # cohorts (elapsed months only: January months 0 and 1, February month 0)
    "cohort_customers": 3,
    "cohort_active_customers": 3,
    "cohort_retention_rate": 1.0,
    # next purchase (test_handmade_segments: A, C and D have an interval of 30 days; C is due)
    "customers_due_for_reorder": 1,
    "customers_with_reorder_interval": 3,
    "due_for_reorder_rate": 1 / 3,
    "average_typical_interval_days": 30.0,
    # category penetration: active customers 1, 2, 2 in January to March, for each of 3 categories
    "category_active_customers": 15,
    "category_buyers": 5,                 # food 2, toys 2, treats 1 customer-months
    "category_penetration": 5 / 15,
    # launches: every product was launched before the data starts
    "launch_window_active_customers": NONE, "launch_window_buyers": NONE, "launch_penetration": NONE,
    "launch_window_active_members": NONE, "launch_window_member_buyers": NONE,
    "loyalty_member_launch_penetration": NONE,
}
# non-additive metrics: one value per curve and age (query grouped by both)
CURVES_BY_HAND = {
    # all channels: age 0 pools January (A 100) and February (C 90): 190 / 2; age 1 only January: + 50
    ("all_channels", 0): (95.0, 28.5), ("all_channels", 1): (145.0, 48.5),
    ("paid_search", 0): (100.0, 30.0), ("paid_search", 1): (150.0, 50.0),
    ("email", 0): (90.0, 27.0),
}
CURVE_METRICS = {"cohort_ltv_curve", "cohort_margin_curve"}


@pytest.fixture(scope="module")
def lifetime_handmade(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("handmade_lifetime")
    warehouse = build(tmp, HANDMADE, ["--vars", json.dumps({"cvm_lapsed_days": 20, "lifetime_min_at_risk": 1})])
    copy = tmp / "mf" / "warehouse.duckdb"  # mf opens the file read-write: use a copy
    copy.parent.mkdir()
    shutil.copyfile(warehouse, copy)
    return copy


def semantic_metrics() -> set[str]:
    from clvlayer.project import PROJECT_ROOT

    manifest = json.loads((PROJECT_ROOT / "target" / "semantic_manifest.json").read_text())
    return {metric["name"] for metric in manifest["metrics"]}


def test_every_metric_is_pinned_by_hand(lifetime_handmade: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.csv"
    metrics = sorted(BY_HAND)
    assert run_metricflow(["query", "--metrics", ",".join(metrics), "--csv", str(out)], lifetime_handmade) == 0
    assert semantic_metrics() == set(BY_HAND) | CURVE_METRICS  # parsed by run_metricflow: every metric is here
    with out.open() as handle:
        [row] = list(csv.DictReader(handle))
    for name, expected in BY_HAND.items():
        got = row[name]
        if expected is None:
            assert got == "", (name, got)
        else:
            assert float(got) == pytest.approx(expected, rel=1e-9, abs=1e-12), name


def test_cohort_curves_by_hand(lifetime_handmade: Path, tmp_path: Path) -> None:
    out = tmp_path / "curves.csv"
    assert run_metricflow(["query", "--metrics", "cohort_ltv_curve,cohort_margin_curve", "--group-by",
                           "cohort_curve__curve,cohort_curve__months_since_first_order", "--csv", str(out)],
                          lifetime_handmade) == 0
    with out.open() as handle:
        rows = {(r["cohort_curve__curve"], int(r["cohort_curve__months_since_first_order"])):
                (float(r["cohort_ltv_curve"]), float(r["cohort_margin_curve"])) for r in csv.DictReader(handle)}
    assert rows.keys() == CURVES_BY_HAND.keys()
    for key, (revenue, margin) in CURVES_BY_HAND.items():
        assert rows[key] == (pytest.approx(revenue), pytest.approx(margin)), key


def test_overall_row_pools_every_channel_by_hand(lifetime_handmade: Path) -> None:
    """fct_ltv_by_segment's overall row carries the unsegmented cac: 160 of spend (paid search 150, email 10) over the
    1 customer acquired in a channel-month with spend (A); no cohort is mature, so no LTV/CAC; no expected-lifetime
    LTV/CAC either (the overall LTV counts customers whom paid CAC does not)."""
    import duckdb

    with duckdb.connect(str(lifetime_handmade), read_only=True) as con:
        row = con.execute("""
            select marketing_spend, cac_new_customers, cac, cac_status, ltv_to_cac, discounted_ltv_to_cac,
                ltv_to_cac_3m, ltv_to_cac_24m
            from marts.fct_ltv_by_segment where segment_key = 'current|overall:all'""").fetchone()
    assert row == (160, 1, pytest.approx(BY_HAND["cac"]), "ok", None, None, None, None)
