"""Oracle: an independent pandas implementation of each metric, compared with the SQL marts on generator data
(several seeds) to 1e-9 relative. Shares no code with the dbt models: only the definitions in the docs blocks
(docs/metrics.md). The LTV layer's oracle (expected lifetime, segment ratios, cohort curves) is ltv_oracle.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from conftest import GENERATED_SEED

DAYS_PER_MONTH = 30.4375
DEFAULT_MARGIN = 0.30
MIN_TENURE_DAYS = 90


def oracle(raw: Path) -> dict[str, pd.DataFrame]:
    orders = pd.read_csv(raw / "orders.csv", parse_dates=["ordered_at"], dtype={"order_id": str, "customer_id": str})
    refunds = pd.read_csv(raw / "refunds.csv", dtype={"order_id": str})
    items = pd.read_csv(raw / "order_items.csv", dtype={"order_id": str, "product_id": str})
    products = pd.read_csv(raw / "products.csv", dtype={"product_id": str})
    customers = pd.read_csv(raw / "customers.csv", dtype={"customer_id": str})

    recorded = refunds.groupby("order_id")["amount"].sum()
    items = items.merge(products, on="product_id", how="left")
    items["line"] = items["quantity"] * items["unit_price"] - items["discount_amount"].fillna(0)
    items["cost"] = items["quantity"] * items["unit_cost"]
    per_order = items.groupby("order_id").agg(items_net=("line", "sum"), cost=("cost", "sum"),
                                              cost_known=("cost", lambda c: c.notna().all()),
                                              units=("quantity", "sum"))

    o = orders.set_index("order_id")
    o["recorded"] = recorded.reindex(o.index).fillna(0)
    cancelled = o["status"] == "cancelled"
    o["gross"] = np.where(cancelled, 0.0, o["amount"])
    o["refunded"] = np.where(cancelled, 0.0, np.where(o["status"] == "refunded", o["amount"],
                                                       np.minimum(o["recorded"], o["amount"])))
    o["net"] = o["gross"] - o["refunded"]
    o["completed"] = ~cancelled & ~((o["gross"] > 0) & (o["refunded"] >= o["gross"]))
    o = o.join(per_order)
    costed = o["cost_known"].fillna(False).astype(bool) & (o["items_net"] > 0)
    o["margin_rate"] = np.where(costed, 1 - o["cost"] / o["items_net"], DEFAULT_MARGIN)
    o["margin"] = o["net"] * o["margin_rate"]
    o["day"] = o["ordered_at"].dt.normalize()
    as_of = o["day"].max()

    done = o[o["completed"]]
    c = pd.DataFrame(index=pd.Index(sorted(set(customers["customer_id"]) | set(o["customer_id"])), name="customer_id"))
    c["completed"] = done.groupby("customer_id").size().reindex(c.index).fillna(0)
    c["net"] = o.groupby("customer_id")["net"].sum().reindex(c.index).fillna(0)
    c["margin"] = o.groupby("customer_id")["margin"].sum().reindex(c.index).fillna(0)
    c["first"] = done.groupby("customer_id")["day"].min().reindex(c.index)
    c["last"] = done.groupby("customer_id")["day"].max().reindex(c.index)
    c["observed_lifespan"] = (c["last"] - c["first"]).dt.days / DAYS_PER_MONTH + 1
    c["aov"] = c["net"] / c["completed"].replace(0, np.nan)
    with_items = done[done["units"].notna()]
    c["items_per_order"] = (with_items.groupby("customer_id")["units"].sum()
                            / with_items.groupby("customer_id").size()).reindex(c.index)
    tenure_days = (as_of - c["first"]).dt.days
    # annualised only from the minimum tenure on (null below: one order 41 days ago is not 8.9 a year)
    c["orders_per_year"] = np.where(tenure_days >= MIN_TENURE_DAYS, c["completed"] / (tenure_days / 365.25), np.nan)
    buyers = c["completed"] > 0

    cohort = c.loc[buyers, "first"].dt.to_period("M")
    d = done.assign(cohort=done["customer_id"].map(cohort))
    d["k"] = (d["day"].dt.to_period("M") - d["cohort"]).apply(lambda off: off.n)
    sizes = cohort.value_counts()
    rows = []
    for month, size in sizes.items():
        last_k = (as_of.to_period("M") - month).n
        part = d[d["cohort"] == month]
        cumulative = 0.0
        for k in range(last_k + 1):
            cumulative += part.loc[part["k"] == k, "net"].sum()
            rows.append((month.to_timestamp(), k, size, part.loc[part["k"] == k, "customer_id"].nunique(),
                         cumulative / size))
    cohorts = pd.DataFrame(rows, columns=["cohort_month", "k", "size", "active", "cum_per_customer"])
    return {"orders": o, "customers": c, "cohorts": cohorts}


@pytest.mark.parametrize("seed", [7, GENERATED_SEED])
def test_sql_matches_pandas_oracle(seed: int, oracle_data: Callable[[int], tuple[Path, Path]]) -> None:
    raw, warehouse = oracle_data(seed)  # 2023-2024, CSV (conftest.py; test_oracle_segments.py too)
    expected = oracle(raw)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(quarantined,)] = con.execute("select sum(quarantined_rows) from audit.audit_row_accounting").fetchall()
        assert quarantined == 0
        orders = con.execute("select order_id, cast(net_revenue as double) as net, is_completed, gross_margin "
                             "from marts.fct_orders").df().set_index("order_id")
        ltv = con.execute("select customer_id, completed_orders, cast(realised_ltv as double) as realised, "
                          "observed_lifespan_months from marts.fct_customer_ltv"
                          ).df().set_index("customer_id")
        dim = con.execute("select customer_id, own_average_check, own_items_per_order, own_orders_per_year "
                          "from marts.dim_customers").df().set_index("customer_id")
        cohorts = con.execute("select cast(cohort_month as timestamp) as cohort_month, months_since_first_order as k, "
                              "cohort_size, active_customers, cumulative_net_revenue_per_customer "
                              "from marts.fct_cohort_retention order by 1, 2").df()

    o = expected["orders"].loc[orders.index]
    np.testing.assert_allclose(orders["net"], o["net"], rtol=1e-9)
    assert (orders["is_completed"].to_numpy() == o["completed"].to_numpy()).all()
    np.testing.assert_allclose(orders["gross_margin"], o["margin"], rtol=1e-9, atol=1e-9)

    c = expected["customers"].loc[ltv.index]
    np.testing.assert_array_equal(ltv["completed_orders"], c["completed"])
    np.testing.assert_allclose(ltv["realised"], c["net"], rtol=1e-9)
    np.testing.assert_allclose(ltv["observed_lifespan_months"].astype(float), c["observed_lifespan"].astype(float),
                               rtol=1e-9, atol=1e-9, equal_nan=True)  # the own rates: assert_ltv_layer_matches_oracle

    c = expected["customers"].loc[dim.index]
    for sql_column, oracle_column in [("own_average_check", "aov"), ("own_items_per_order", "items_per_order"),
                                      ("own_orders_per_year", "orders_per_year")]:
        np.testing.assert_allclose(dim[sql_column].astype(float), c[oracle_column].astype(float), rtol=1e-9,
                                   atol=1e-9, equal_nan=True, err_msg=sql_column)
    assert dim["own_orders_per_year"].isna().sum() > 10  # recent buyers are not annualised

    e = expected["cohorts"].sort_values(["cohort_month", "k"]).reset_index(drop=True)
    assert len(cohorts) == len(e)
    np.testing.assert_array_equal(cohorts["cohort_size"], e["size"])
    np.testing.assert_array_equal(cohorts["active_customers"], e["active"])
    np.testing.assert_allclose(cohorts["cumulative_net_revenue_per_customer"], e["cum_per_customer"], rtol=1e-9)

    assert_ltv_layer_matches_oracle(raw, warehouse, expected["orders"])


def assert_ltv_layer_matches_oracle(raw: Path, warehouse: Path, orders: pd.DataFrame) -> None:
    """Expected lifetimes, own rates and own-lifetime LTV per customer, fct_ltv_by_segment (current and previous
    snapshot), cohort curves."""
    from ltv_oracle import Params, customers_as_of, lifetimes, pooled_cohort_curve, read_raw, segment_rows

    attributes, spend = read_raw(raw)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        own = con.execute("select customer_id, observed_alive_months, own_expected_lifetime_months, "
                          "own_discounted_lifetime_months, own_monthly_revenue, own_monthly_margin, "
                          "own_orders_per_month, ltv_formula_a_own_lifetime, ltv_formula_b_own_lifetime, "
                          "discounted_clv_own_lifetime, "
                          "lifetime_status, lifetime_curve from marts.fct_customer_ltv where has_completed_order"
                          ).df().set_index("customer_id").sort_index()
        snapshots = dict(con.execute("select as_of_snapshot, as_of_date from intermediate.int_as_of_snapshots "
                                     "where is_published").fetchall())  # not the backtest's dates
        segments = con.execute("select * from marts.fct_ltv_by_segment").df()
        curve = con.execute("select months_since_first_order as age, cohorts, cohort_customers, cohort_ltv_curve "
                            "from marts.fct_cohort_curves where curve = 'all_channels' order by 1").df().set_index("age")
    as_of = pd.Timestamp(snapshots["current"])
    params = Params()
    customers = customers_as_of(orders, attributes, as_of, True, params)
    expected_own = lifetimes(customers, params, orders).loc[own.index]
    assert (own["lifetime_status"] == expected_own["status"]).all()
    assert (own["lifetime_curve"] == expected_own["curve"]).all()
    for sql_column, oracle_column in [("observed_alive_months", "alive"),
                                      ("own_expected_lifetime_months", "expected"),
                                      ("own_discounted_lifetime_months", "discounted")]:
        np.testing.assert_allclose(own[sql_column].astype(float), expected_own[oracle_column].astype(float),
                                   rtol=1e-9, equal_nan=True, err_msg=sql_column)
    assert own["own_expected_lifetime_months"].notna().all()
    assert_own_lifetime_values(own, customers.loc[own.index], expected_own)

    columns = ["customers", "buyers", "realised_ltv_total", "orders_to_date", "lifetime_exposure_months",
               "average_check", "orders_per_month",
               "monthly_revenue_per_customer", "ltv_margin_rate", "monthly_margin_per_customer",
               "expected_lifetime_months", "discounted_lifetime_months", "orders_per_year", "ltv_formula_a",
               "ltv_formula_b", "discounted_clv", "realised_ltv_6m", "realised_ltv_12m", "realised_ltv_24m"]
    channel_columns = ["cac", "ltv_to_cac", "ltv_to_cac_3m", "ltv_to_cac_6m", "ltv_to_cac_12m", "ltv_to_cac_24m"]
    for snapshot, as_of_date in snapshots.items():
        expected = segment_rows(orders, attributes, spend, pd.Timestamp(as_of_date), snapshot == "current")
        got = (segments[segments["as_of_snapshot"] == snapshot].set_index(["segment_type", "segment_value"])
               .loc[expected.index])
        for column in columns:
            np.testing.assert_allclose(got[column].astype(float), expected[column].astype(float), rtol=1e-9,
                                       atol=1e-9, equal_nan=True, err_msg=f"{snapshot} {column}")
        channels = expected.loc["acquisition_channel"].index
        for column in channel_columns:
            np.testing.assert_allclose(got.loc["acquisition_channel"].loc[channels, column].astype(float),
                                       expected.loc["acquisition_channel", column].astype(float), rtol=1e-9,
                                       atol=1e-9, equal_nan=True, err_msg=f"{snapshot} {column}")
    assert set(snapshots) == {"current", "previous_3m"}

    pooled = pooled_cohort_curve(orders, customers, as_of)
    assert list(curve.index) == list(pooled.index)
    np.testing.assert_array_equal(curve["cohorts"], pooled["cohorts"])
    np.testing.assert_allclose(curve["cohort_ltv_curve"], pooled["curve"], rtol=1e-9)


def assert_own_lifetime_values(own: pd.DataFrame, c: pd.DataFrame, life: pd.DataFrame) -> None:
    """The customer's own rates per month of lifetime lived so far (the segment rates' exposure, summed) and formulas
    A, B and discounted CLV on their own expected lifetime."""
    expected = pd.DataFrame({"own_monthly_revenue": c["net"] / life["alive"],
                             "own_monthly_margin": c["margin"] / life["alive"],
                             "own_orders_per_month": c["completed"] / life["alive"]})
    margin_rate = (c["margin"] / c["net"]).where(c["net"] != 0, DEFAULT_MARGIN)
    expected["ltv_formula_a_own_lifetime"] = expected["own_monthly_revenue"] * life["expected"]
    expected["ltv_formula_b_own_lifetime"] = (c["net"] / c["completed"] * expected["own_orders_per_month"]
                                              * life["expected"] * margin_rate)
    expected["discounted_clv_own_lifetime"] = expected["own_monthly_margin"] * life["discounted"]
    for column in expected:
        np.testing.assert_allclose(own[column].astype(float), expected[column].astype(float), rtol=1e-9, atol=1e-9,
                                   equal_nan=True, err_msg=column)
