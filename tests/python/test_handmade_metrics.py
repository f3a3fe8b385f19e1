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
        select customer_id, completed_orders, net_revenue, average_check, lifespan_days, lifetime_months,
               tenure_days, recency_days, orders_per_year, is_repeat_customer, cancelled_orders, fully_refunded_orders
        from marts.dim_customers""")}
    assert rows["A"][:8] == (3, 210, pytest.approx(70.0), 60, pytest.approx(60 / DAYS_PER_MONTH + 1), 60, 0,
                             pytest.approx(3 / (60 / 365.25)))
    assert rows["B"][:3] == (0, 0, None) and rows["B"][-2:] == (1, 1)
    # same-day repeat: lifetime is one month, frequency over a one-month floor of tenure (38 days here)
    assert rows["C"][:9] == (2, 90, pytest.approx(45.0), 0, pytest.approx(1.0), 38, 38,
                             pytest.approx(2 / (38 / 365.25)), True)
    # a new customer (9 days of tenure) is not extrapolated: tenure is floored at one month -> 12 orders a year
    assert rows["D"][7] == pytest.approx(12.0)
    assert rows["E"][:3] == (0, 0, None)


def test_ltv_family_by_hand(handmade_warehouse: Path, query) -> None:
    average_lifetime = (60 / DAYS_PER_MONTH + 1 + 1 + 1) / 3
    rows = {r[0]: r[1:] for r in query(handmade_warehouse, """
        select customer_id, average_lifetime_months, ltv_formula_a, ltv_formula_b, realised_ltv, discounted_clv
        from marts.fct_customer_ltv""")}
    assert rows["D"][0] == pytest.approx(average_lifetime, rel=1e-12)
    assert rows["D"][1] == pytest.approx(120 * average_lifetime, rel=1e-12)
    assert rows["D"][2] == pytest.approx(120 * 1 * average_lifetime * 0.3, rel=1e-12)
    a_lifetime = 60 / DAYS_PER_MONTH + 1
    assert rows["A"][1] == pytest.approx(210 / a_lifetime * average_lifetime, rel=1e-12)
    assert rows["A"][2] == pytest.approx(210 / a_lifetime * average_lifetime * (80 / 210), rel=1e-12)
    retention = 1 - 1 / average_lifetime
    x = retention / 1.01
    expected_d = 36 * sum(x ** t for t in range(1, 37))
    assert rows["D"][4] == pytest.approx(expected_d, rel=1e-12)
    assert rows["B"][1:] == (None, None, 0, None)


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
