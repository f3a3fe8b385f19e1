"""Oracle: an independent pandas implementation of each metric, compared with the SQL marts on generator data
(several seeds) to 1e-9 relative. Shares no code with the dbt models: only the definitions in docs/metrics.md."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest

from clvlayer.generate import generate
from conftest import build

DAYS_PER_MONTH = 30.4375
DEFAULT_MARGIN = 0.30
DISCOUNT, HORIZON = 0.01, 36


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
    c["lifetime"] = (c["last"] - c["first"]).dt.days / DAYS_PER_MONTH + 1
    c["aov"] = c["net"] / c["completed"].replace(0, np.nan)
    with_items = done[done["units"].notna()]
    c["items_per_order"] = (with_items.groupby("customer_id")["units"].sum()
                            / with_items.groupby("customer_id").size()).reindex(c.index)
    tenure_days = (as_of - c["first"]).dt.days
    c["orders_per_year"] = np.where(c["completed"] > 0,
                                    c["completed"] / (np.maximum(tenure_days, DAYS_PER_MONTH) / 365.25), np.nan)
    buyers = c["completed"] > 0
    average_lifetime = c.loc[buyers, "lifetime"].mean()
    c["monthly_revenue"] = np.where(buyers, c["net"] / c["lifetime"], np.nan)
    c["ltv_a"] = c["monthly_revenue"] * average_lifetime
    margin_rate = (c["margin"] / c["net"].replace(0, np.nan)).fillna(DEFAULT_MARGIN)
    c["ltv_b"] = c["aov"] * (c["completed"] / c["lifetime"]) * average_lifetime * margin_rate
    x = (1 - 1 / average_lifetime) / (1 + DISCOUNT)
    c["discounted"] = np.where(buyers, c["margin"] / c["lifetime"], np.nan) * sum(x ** t for t in range(1, HORIZON + 1))

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


@pytest.mark.parametrize("seed", [7, 2024])
def test_sql_matches_pandas_oracle(seed: int, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    generate(raw, customers=600, seed=seed, start=date(2023, 1, 1), end=date(2024, 12, 31), fmt="csv")
    warehouse = build(tmp_path, raw)
    expected = oracle(raw)
    with duckdb.connect(str(warehouse), read_only=True) as con:
        [(quarantined,)] = con.execute("select sum(quarantined_rows) from audit.audit_row_accounting").fetchall()
        assert quarantined == 0
        orders = con.execute("select order_id, cast(net_revenue as double) as net, is_completed, gross_margin "
                             "from marts.fct_orders").df().set_index("order_id")
        ltv = con.execute("select customer_id, completed_orders, cast(realised_ltv as double) as realised, "
                          "lifetime_months, ltv_formula_a, ltv_formula_b, discounted_clv from marts.fct_customer_ltv"
                          ).df().set_index("customer_id")
        dim = con.execute("select customer_id, average_check, items_per_order, orders_per_year "
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
    for sql_column, oracle_column in [("lifetime_months", "lifetime"), ("ltv_formula_a", "ltv_a"),
                                      ("ltv_formula_b", "ltv_b"), ("discounted_clv", "discounted")]:
        np.testing.assert_allclose(ltv[sql_column].astype(float), c[oracle_column].astype(float), rtol=1e-9,
                                   atol=1e-9, equal_nan=True, err_msg=sql_column)

    c = expected["customers"].loc[dim.index]
    for sql_column, oracle_column in [("average_check", "aov"), ("items_per_order", "items_per_order"),
                                      ("orders_per_year", "orders_per_year")]:
        np.testing.assert_allclose(dim[sql_column].astype(float), c[oracle_column].astype(float), rtol=1e-9,
                                   atol=1e-9, equal_nan=True, err_msg=sql_column)

    e = expected["cohorts"].sort_values(["cohort_month", "k"]).reset_index(drop=True)
    assert len(cohorts) == len(e)
    np.testing.assert_array_equal(cohorts["cohort_size"], e["size"])
    np.testing.assert_array_equal(cohorts["active_customers"], e["active"])
    np.testing.assert_allclose(cohorts["cumulative_net_revenue_per_customer"], e["cum_per_customer"], rtol=1e-9)
