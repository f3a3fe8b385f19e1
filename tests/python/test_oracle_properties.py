"""Property-based oracle (hypothesis): random small orders-only inputs with the edge cases the definitions care
about (cancelled-only and fully refunded customers, same-day repeats, one-order customers), built by dbt and
compared with an independent pandas computation to 1e-9 relative."""

from __future__ import annotations

import tempfile
from datetime import date, timedelta
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st

from conftest import build

STATUSES = ["completed", "completed", "completed", "cancelled", "refunded", "partially_refunded"]
order = st.tuples(st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(0, 400), st.integers(0, 50_000),
                  st.sampled_from(STATUSES))


def expected_customers(orders: pd.DataFrame) -> pd.DataFrame:
    # completed = not cancelled and not fully refunded (a refunded order of amount 0 refunds nothing)
    completed = (orders["status"] != "cancelled") & ~((orders["status"] == "refunded") & (orders["amount"] > 0))
    orders = orders.assign(net=np.where(orders["status"].isin(["cancelled", "refunded"]), 0.0, orders["amount"]),
                           completed=completed)
    done = orders[orders["completed"]]
    result = pd.DataFrame(index=sorted(orders["customer_id"].unique()))
    result["completed"] = done.groupby("customer_id").size().reindex(result.index).fillna(0).astype(int)
    result["net"] = orders.groupby("customer_id")["net"].sum().reindex(result.index)
    span = (done.groupby("customer_id")["day"].max() - done.groupby("customer_id")["day"].min()).dt.days
    result["lifetime"] = (span / 30.4375 + 1).reindex(result.index)
    return result


# the assertions read fct_customer_ltv only: the build makes it, its parents and their tests (23 of the 61 models)
LTV_ONLY = ["--select", "+fct_customer_ltv", "--indirect-selection", "cautious"]
EXAMPLES = 3  # generated examples besides the explicit one (which pins the edge cases), as before


# Hypothesis draws the examples (the explicit one, then EXAMPLES generated, no shrinking), each its own input; one
# dbt build (~8 s) reads them all, each example's customers and orders under a prefix of their own, and each is
# compared with the oracle on its own. The customers the asserted columns describe are computed customer by customer,
# and 4 examples of 5 customers at most stay under the 30 at risk a survival curve needs.
@settings(max_examples=EXAMPLES, deadline=None, phases=[Phase.explicit, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow], database=None)
@example([("a", 0, 1000, "cancelled"), ("b", 3, 2000, "refunded"), ("c", 5, 1500, "completed"),
          ("c", 5, 500, "completed"), ("d", 9, 0, "completed"), ("d", 300, 700, "partially_refunded")])
@given(st.lists(order, min_size=1, max_size=25))
def _draw(rows: list[tuple[str, int, int, str]]) -> None:
    DRAWN.append(rows)


DRAWN: list[list[tuple[str, int, int, str]]] = []


def examples() -> list[pd.DataFrame]:
    """The examples' orders, example i's customer and order ids prefixed with e<i>_."""
    DRAWN.clear()
    _draw()
    start = date(2024, 1, 1)
    return [pd.DataFrame([
        {"order_id": f"e{n}_{i}", "customer_id": f"e{n}_{c}", "ordered_at": f"{start + timedelta(days=d)} 12:00:00",
         "amount": cents / 100, "status": s} for i, (c, d, cents, s) in enumerate(rows)]) for n, rows in enumerate(DRAWN)]


def test_random_orders_match_oracle() -> None:
    drawn = examples()
    assert len(drawn) == EXAMPLES + 1, len(drawn)  # the explicit example and every generated one
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw"
        raw.mkdir()
        # partially refunded orders without refund rows count as not refunded (flagged), see docs/metrics.md
        pd.concat(drawn).to_csv(raw / "orders.csv", index=False, float_format="%.2f")
        warehouse = build(Path(tmp), raw, LTV_ONLY)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            built = con.execute("select customer_id, completed_orders, cast(realised_ltv as double) as net, "
                                "observed_lifespan_months, observed_alive_months, own_monthly_revenue, "
                                "lifetime_status, own_expected_lifetime_months from marts.fct_customer_ltv").df()
    for n, orders in enumerate(drawn):
        sql = built[built["customer_id"].str.startswith(f"e{n}_")]
        assert set(sql["customer_id"]) == set(orders["customer_id"]), f"example {n}"
        assert_matches_oracle(sql, orders, f"example {n}: {DRAWN[n]}")


def assert_matches_oracle(sql: pd.DataFrame, orders: pd.DataFrame, example_: str) -> None:
    orders["day"] = pd.to_datetime(orders["ordered_at"]).dt.normalize()
    expected = expected_customers(orders).loc[sql["customer_id"]]
    np.testing.assert_array_equal(sql["completed_orders"], expected["completed"], err_msg=example_)
    np.testing.assert_allclose(sql["net"], expected["net"], rtol=1e-9, atol=1e-9, err_msg=example_)
    np.testing.assert_allclose(sql["observed_lifespan_months"].astype(float), expected["lifetime"].astype(float),
                               rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=f"observed_lifespan_months {example_}")
    # the own monthly revenue is per month lived so far: at least the observed lifespan (its return probability is a
    # fit of the whole build's gaps, pinned by the oracle in test_oracle)
    alive = sql["observed_alive_months"].astype(float).to_numpy()
    assert (np.isnan(alive) == expected["lifetime"].isna().to_numpy()).all(), example_
    assert (alive[~np.isnan(alive)] >= expected["lifetime"].dropna().to_numpy() - 1e-12).all(), example_
    np.testing.assert_allclose(sql["own_monthly_revenue"].astype(float), expected["net"].to_numpy() / alive,
                               rtol=1e-9, atol=1e-9, equal_nan=True, err_msg=f"own_monthly_revenue {example_}")
    # five customers at most: never the 30 at risk a survival curve needs, so no expected lifetime is made up
    buyers = sql[sql["completed_orders"] > 0]
    assert (buyers["lifetime_status"] == "curve_not_estimable").all(), example_
    assert buyers["own_expected_lifetime_months"].isna().all(), example_
