"""Segment marts on the hand-made fixture (tests/fixtures/handmade), worked by hand. As of 2024-03-10, buyers A (3
orders on 01-10, 02-10, 03-10, net 210, food 130 and toys 100 of items), C (two orders on 02-01, net 90, treats 60)
and D (one order on 03-01, net 120, no items); B (refunded and cancelled) and E (no orders) are non-buyers.
With n = 3 buyers, score = floor(5 x (rank - 1) / 3) + 1 -> ranks 1, 2, 3 score 1, 2, 4; deciles 1, 4, 7. Value tiers
by rank share of realised LTV, best first: A 1/3 (medium: above the 10% top and 30% high shares), D 2/3 and C 3/3
(low)."""

from __future__ import annotations

from pathlib import Path

import pytest


def test_segments_by_hand(handmade_warehouse: Path, query) -> None:
    rows = {r[0]: r[1:] for r in query(handmade_warehouse, """
        select customer_id, rfm_score, rfm_segment, ltv_decile, value_tier, cvm_stage, preferred_category,
               preferred_category_source
        from marts.fct_customer_segments""")}
    # recency C 38 / D 9 / A 0 days, orders D 1 / C 2 / A 3, net C 90 / D 120 / A 210
    assert rows["A"] == ("444", "champions", 7, "medium", "new", "food", "item_spend")  # tenure 60 = new boundary
    assert rows["C"] == ("121", "lost", 1, "low", "new", "treats", "item_spend")
    assert rows["D"] == ("212", "hibernating", 4, "low", "new", None, "no_item_data")
    assert rows["B"] == (None, "no_purchases", None, "no_purchases", "no_purchases", None, "no_purchases")
    assert rows["E"][1] == "no_purchases"


def test_next_purchase_by_hand(handmade_warehouse: Path, query) -> None:
    rows = {r[0]: r[1:] for r in query(handmade_warehouse, """
        select customer_id, interval_source, typical_interval_days, cast(expected_next_purchase_on as varchar),
               days_overdue, reorder_status, due_for_reorder
        from marts.fct_customer_next_purchase""")}
    # A: gaps 31 and 29 -> 30 days, due 04-09; C and D have one purchase day and segments with nobody else ->
    # the global median of the only own interval (A's 30)
    assert rows["A"] == ("own_repeat_orders", 30.0, "2024-04-09", -30, "not_yet_due", False)
    assert rows["C"] == ("global_median", 30.0, "2024-03-02", 8, "due", True)
    assert rows["D"] == ("global_median", 30.0, "2024-03-31", -21, "not_yet_due", False)
    assert rows["B"] == ("no_purchases", None, None, None, "no_interval", False)


def test_category_penetration_by_hand(handmade_warehouse: Path, query) -> None:
    rows = query(handmade_warehouse, """
        select category, cast(activity_month as varchar), active_customers, category_buyers, penetration_rate
        from marts.fct_category_penetration order by 1, 2""")
    assert rows == [
        ("food", "2024-01-01", 1, 1, 1.0), ("food", "2024-02-01", 2, 1, 0.5), ("food", "2024-03-01", 2, 0, 0.0),
        ("toys", "2024-01-01", 1, 1, 1.0), ("toys", "2024-02-01", 2, 0, 0.0), ("toys", "2024-03-01", 2, 1, 0.5),
        ("treats", "2024-01-01", 1, 0, 0.0), ("treats", "2024-02-01", 2, 1, 0.5), ("treats", "2024-03-01", 2, 0, 0.0),
    ]
    # every product was launched before the data starts (or has no date): no launches
    assert query(handmade_warehouse, "select count(*) from marts.fct_launch_penetration") == [(0,)]


def test_loyalty_comparison_by_hand(handmade_warehouse: Path, query) -> None:
    [(ltv, check, frequency, ltv_lift, check_lift, frequency_lift)] = query(handmade_warehouse, """
        select average_realised_ltv, average_check, orders_per_year, ltv_lift, average_check_lift,
               orders_per_year_lift
        from marts.fct_segment_comparison where segment_key = 'loyalty:member'""")
    # members A (210, 3 orders) and D (120, 1 order); the rest is C (90, 2 orders). Nobody has the 90 days of tenure
    # orders per year needs: no frequency and no frequency lift, rather than 60 or 9 days annualised.
    assert (ltv, check) == (pytest.approx(165.0), pytest.approx(82.5))
    assert ltv_lift == pytest.approx(165 / 90 - 1) and check_lift == pytest.approx(82.5 / 45 - 1)
    assert frequency is None and frequency_lift is None
