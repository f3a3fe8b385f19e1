"""Every metric on the hand-made fixture (tests/fixtures/handmade), with the answers worked out by hand.

Orders: A buys 100 (items cost 70), 50 (cost 30) and 80 with a 20 refund (cost 40); B's 200 order is fully
refunded and a 40 order cancelled; C buys 60 (product without cost -> default 30% margin) and 30 (no items) on the
same day; D buys 120 once (no currency -> USD, no items); E never orders. As-of date = last order = 2024-03-10.
"""

from __future__ import annotations

from pathlib import Path

import pytest

DAYS_PER_MONTH = 30.4375


def test_fct_orders_by_hand(handmade_warehouse: Path, query) -> None:
    rows = {r[0]: r[1:] for r in query(handmade_warehouse, """
        select order_id, net_revenue, is_completed, customer_order_number, gross_margin, has_addon_category
        from marts.fct_orders""")}
    assert rows["1"] == (100, True, 1, pytest.approx(30.0), True)
    assert rows["2"] == (50, True, 2, pytest.approx(20.0), False)
    assert rows["3"] == (60, True, 3, pytest.approx(30.0), False)
    assert rows["4"] == (0, False, None, 0.0, False)
    assert rows["5"] == (0, False, None, 0.0, False)
    assert rows["6"][:4] == (60, True, 1, pytest.approx(18.0))
    assert rows["7"][:4] == (30, True, 2, pytest.approx(9.0))
    assert rows["8"][:4] == (120, True, 1, pytest.approx(36.0))


def test_dim_customers_by_hand(handmade_warehouse: Path, query) -> None:
    rows = {r[0]: r[1:] for r in query(handmade_warehouse, """
        select customer_id, completed_orders, net_revenue, own_average_check, lifespan_days, observed_lifespan_months,
               tenure_days, recency_days, own_orders_per_year, own_orders_per_year_status, is_repeat_customer,
               cancelled_orders, fully_refunded_orders
        from marts.dim_customers""")}
    # A: 60 days of tenure is below the 90 days frequency needs: not annualised (it would read 18 orders a year)
    assert rows["A"][:9] == (3, 210, pytest.approx(70.0), 60, pytest.approx(60 / DAYS_PER_MONTH + 1), 60, 0, None,
                             "tenure_below_minimum")
    assert rows["B"][:3] == (0, 0, None) and rows["B"][-2:] == (1, 1) and rows["B"][8] == "no_purchases"
    # same-day repeat: the observed lifespan is the first month
    assert rows["C"][:10] == (2, 90, pytest.approx(45.0), 0, pytest.approx(1.0), 38, 38, None,
                              "tenure_below_minimum", True)
    # a new customer (9 days) is not annualised either (the old one-month floor read 12 orders a year)
    assert rows["D"][7:9] == (None, "tenure_below_minimum")
    assert rows["E"][:3] == (0, 0, None)


def test_ltv_family_by_hand(handmade_warehouse: Path, query) -> None:
    """With the default settings three buyers are too few for a survival curve: no expected lifetime and no formula
    A / B - null with the reason, never a made-up number. What is observed is there: the customer's own rates and
    the segment ratios, both per month lived so far (observed_alive_months: at least the observed lifespan, at most
    the first month + the tenure; its return probability is a fit, pinned by the oracle in test_oracle)."""
    rows = {r[0]: r[1:] for r in query(handmade_warehouse, """
        select customer_id, observed_lifespan_months, own_monthly_revenue, own_orders_per_month, lifetime_status,
               own_expected_lifetime_months, ltv_formula_a_own_lifetime, realised_ltv
        from marts.fct_customer_ltv""")}
    alive = dict(query(handmade_warehouse, "select customer_id, observed_alive_months from marts.fct_customer_ltv "
                                           "where has_completed_order"))
    a_lifespan = 60 / DAYS_PER_MONTH + 1
    # A ordered on the as-of date: lived so far = the observed lifespan
    assert alive["A"] == pytest.approx(a_lifespan)
    assert rows["A"][:4] == (pytest.approx(a_lifespan), pytest.approx(210 / a_lifespan),
                             pytest.approx(3 / a_lifespan), "curve_not_estimable")
    assert rows["A"][4:6] == (None, None)
    # D's one order was 9 days ago: lived so far 1 month + q x 9 days, above the observed month, so under 120 a month
    assert alive["D"] > 1.0
    assert rows["D"][:3] == (pytest.approx(1.0), pytest.approx(120.0 / alive["D"]), pytest.approx(1.0 / alive["D"]))
    assert rows["B"] == (None, None, None, "no_purchases", None, None, 0)
    [overall] = query(handmade_warehouse, """
        select customers, buyers, realised_ltv_total, average_check, orders_per_month, monthly_revenue_per_customer,
               ltv_margin_rate, expected_lifetime_status, expected_lifetime_months, ltv_formula_a, ltv_formula_b,
               orders_per_year, frequency_eligible_buyers
        from marts.fct_ltv_by_segment where segment_key = 'current|overall:all'""")
    for customer, lifespan, tenure in [("A", a_lifespan, 60), ("C", 1.0, 38), ("D", 1.0, 9)]:
        assert lifespan - 1e-12 <= alive[customer] <= 1 + tenure / DAYS_PER_MONTH + 1e-12, customer
    exposure = sum(alive.values())
    assert overall[:7] == (5, 3, 420, pytest.approx(70.0), pytest.approx(6 / exposure), pytest.approx(420 / exposure),
                           pytest.approx(143 / 420))
    assert overall[7:] == ("not_estimable", None, None, None, None, 0)
    # the previous period (3 months earlier) is before the first order: only the current snapshot
    assert query(handmade_warehouse, "select distinct as_of_snapshot from marts.fct_ltv_by_segment") == [("current",)]


def test_cac_by_hand(handmade_warehouse: Path, query) -> None:
    """Paid search: spend 100 (January, A acquired) + 50 (February, nobody) over the 1 customer of months with spend
    (D came in March, without spend) = 150. Email spent 10 in January and acquired C in February: no customer in a
    month with spend -> no CAC. Organic has no spend rows -> no CAC."""
    rows = {r[0]: r[1:] for r in query(handmade_warehouse, """
        select segment_value, cac, cac_status from marts.fct_ltv_by_segment
        where as_of_snapshot = 'current' and segment_type = 'acquisition_channel'""")}
    assert rows == {"paid_search": (150.0, "ok"), "email": (None, "no_new_customers"),
                    "organic": (None, "no_spend_recorded")}


def test_cohorts_by_hand(handmade_warehouse: Path, query) -> None:
    rows = query(handmade_warehouse, """
        select cast(cohort_month as varchar), months_since_first_order, cohort_size, active_customers, orders,
               net_revenue, cumulative_net_revenue_per_customer, retention_rate
        from marts.fct_cohort_retention order by 1, 2""")
    assert rows == [
        ("2024-01-01", 0, 1, 1, 1, 100, 100.0, 1.0),
        ("2024-01-01", 1, 1, 1, 1, 50, 150.0, 1.0),
        ("2024-01-01", 2, 1, 1, 1, 60, 210.0, 1.0),
        ("2024-02-01", 0, 1, 1, 2, 90, 90.0, 1.0),
        ("2024-02-01", 1, 1, 0, 0, 0, 90.0, 0.0),  # a month without orders is still a row
        ("2024-03-01", 0, 1, 1, 1, 120, 120.0, 1.0),
    ]
