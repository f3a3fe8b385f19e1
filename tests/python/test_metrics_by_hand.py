"""Every MetricFlow metric, pinned by hand on the hand-made fixture (tests/fixtures/handmade).

As of 2024-03-10. A buys 100 (items cost 70), 50 (cost 30) and 80 with a 20 refund (cost 40): net 210, margin 80, three
orders over 60 days. B's 200 order is refunded and its 40 order cancelled. C buys 60 (no cost: 30% margin) and 30 (no
items) on 02-01: net 90, margin 27. D buys 120 once on 03-01 (margin 36). E never orders. Spend: paid search 100 in
January and 50 in February, email 10 in January; A (January) and D (March) came by paid search, C (February) by
email.

The buyers' own lifetime pieces - months lived so far (observed_alive_months), expected and discounted lifetime -
come from a cure-Lomax fit on three buyers' gaps (issue 23), which is not a hand computation: they are read from
int_customers_lifetimes_projected (pinned by its unit tests, by hand, and by the pandas oracle, test_oracle), and the
metrics over them (LIFETIME_METRICS: sums and ratios, formulas A and B, discounted CLV) are pinned here. By hand:
A has lived at least its 1 + 60 days of lifespan, C at least its month, D (one order 9 days ago) about its month.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from clvlayer.cli import run_metricflow
from conftest import HANDMADE, build

DAYS_PER_MONTH = 30.4375
OBSERVED_LIFESPAN = 60 / DAYS_PER_MONTH + 1 + 1 + 1  # months of observed lifespan of A, C, D
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
    "average_observed_lifespan_months": OBSERVED_LIFESPAN / 3,
    # lifetime_exposure_months .. discounted_clv: LIFETIME_METRICS
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


def lifetime_metrics(alive: list[float], expected: list[float], discounted: list[float]) -> dict[str, float]:
    """The metrics on the buyers' months lived so far and expected / discounted lifetimes (A, C, D): exposure =
    Σ months lived so far; monthly rates per month of it; formula A = monthly revenue x mean expected lifetime."""
    exposure, lifetime, discounted_lifetime = sum(alive), sum(expected) / 3, sum(discounted) / 3
    return {
        "lifetime_exposure_months": exposure,
        "monthly_revenue_per_customer": 420 / exposure,
        "monthly_margin_per_customer": 143 / exposure,
        "orders_per_month": 6 / exposure,
        "expected_lifetime_months": lifetime,
        "discounted_lifetime_months": discounted_lifetime,
        "ltv_formula_a": 420 / exposure * lifetime,
        "ltv_formula_b": 70 * (6 / exposure) * lifetime * (143 / 420),
        "discounted_clv": 143 / exposure * discounted_lifetime,
    }


LIFETIME_METRICS = set(lifetime_metrics([1.0] * 3, [1.0] * 3, [1.0] * 3))
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


def buyers_lifetime_pieces(warehouse: Path) -> dict[str, list[float]]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows = con.execute("""
            select customer_id, observed_lifespan_months, observed_alive_months, expected_lifetime_months,
                discounted_lifetime_months
            from intermediate.int_customers_lifetimes_projected
            where as_of_date = (select max(as_of_date) from intermediate.int_customers_lifetimes_projected)
            order by customer_id""").fetchall()
    assert [row[0] for row in rows] == ["A", "C", "D"]
    lifespans = dict((row[0], row[1]) for row in rows)
    alive = dict((row[0], row[2]) for row in rows)
    assert lifespans == pytest.approx({"A": 1 + 60 / DAYS_PER_MONTH, "C": 1.0, "D": 1.0})
    # lived so far: at least the observed lifespan, at most the tenure (A 60 days, C 38, D 9) + the first month
    for customer, tenure in {"A": 60, "C": 38, "D": 9}.items():
        assert lifespans[customer] - 1e-12 <= alive[customer] <= 1 + tenure / DAYS_PER_MONTH + 1e-12, customer
    return {"alive": [row[2] for row in rows], "expected": [row[3] for row in rows],
            "discounted": [row[4] for row in rows]}


def test_every_metric_is_pinned_by_hand(lifetime_handmade: Path, tmp_path: Path) -> None:
    out = tmp_path / "all.csv"
    metrics = sorted(set(BY_HAND) | LIFETIME_METRICS)
    assert run_metricflow(["query", "--metrics", ",".join(metrics), "--csv", str(out)], lifetime_handmade) == 0
    # parsed by run_metricflow: every metric is here
    assert semantic_metrics() == set(BY_HAND) | LIFETIME_METRICS | CURVE_METRICS
    with out.open() as handle:
        [row] = list(csv.DictReader(handle))
    expected_values = {**BY_HAND, **lifetime_metrics(**buyers_lifetime_pieces(lifetime_handmade))}
    for name, expected in expected_values.items():
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
