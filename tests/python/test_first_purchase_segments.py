"""LTV by first purchase (int_customers_first_purchases, the first_* segment types of fct_ltv_by_segment) on the
embedded sample, against an independent computation: the first completed order of each customer from fct_orders,
its lines from the raw order_items file (pandas), the leading product, the top products, the discount and the
value band recomputed here; every first-purchase segment's customers, buyers and realised LTV must match, and each
type partitions the overall row."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from clvlayer.inputs import project_vars
from clvlayer.project import PROJECT_ROOT

TYPES = ("first_category", "first_product", "first_order_discount", "first_order_value_band")


def _band(value: float, bounds: list[float]) -> str:
    for index, bound in enumerate(bounds):
        if value < bound:
            return f"under_{bound}" if index == 0 else f"{bounds[index - 1]}_to_{bound}"
    return f"{bounds[-1]}_and_over"


def _expected(warehouse: Path) -> pd.DataFrame:
    """One row per buyer with its four first-purchase labels and realised LTV, computed without the model."""
    settings = project_vars()
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        first = connection.execute("""
            select o.customer_id, o.order_id, o.gross_revenue, o.main_category, o.has_items, c.net_revenue
            from marts.fct_orders as o inner join marts.dim_customers as c on o.customer_id = c.customer_id
            where o.is_first_order""").df()
    lines = pd.read_csv(PROJECT_ROOT / "seeds" / "raw_order_items.csv", dtype={"order_id": str, "product_id": str})
    lines["line_amount"] = (lines["quantity"] * lines["unit_price"] - lines["discount_amount"]).round(2)
    lines = lines[lines["order_id"].isin(first["order_id"])]
    leading = (lines.sort_values(["order_id", "line_amount", "product_id"], ascending=[True, False, True])
               .drop_duplicates("order_id").set_index("order_id")["product_id"])
    top = (leading.value_counts().rename_axis("product_id").reset_index(name="n")
           .sort_values(["n", "product_id"], ascending=[False, True]).head(int(settings["first_product_top_n"])))
    discount = lines.groupby("order_id")["discount_amount"].sum()
    first["first_category"] = first["main_category"].where(first["has_items"], "no_item_data")
    first["first_product"] = first["order_id"].map(leading).map(
        lambda p: p if p in set(top["product_id"]) else ("other" if isinstance(p, str) else "no_item_data"))
    first["first_order_discount"] = first["order_id"].map(discount).map(
        lambda d: "no_item_data" if pd.isna(d) else ("discounted" if d > 0 else "full_price"))
    bounds = settings["first_order_value_bands"]
    first["first_order_value_band"] = first["gross_revenue"].map(lambda v: _band(float(v), bounds))
    return first


@pytest.mark.parametrize("segment_type", TYPES)
def test_first_purchase_segments_match_an_independent_computation(sample_warehouse: Path,
                                                                  segment_type: str) -> None:
    expected = _expected(sample_warehouse)
    want = expected.groupby(segment_type).agg(buyers=("customer_id", "count"), ltv=("net_revenue", "sum"))
    with duckdb.connect(str(sample_warehouse), read_only=True) as connection:
        got = connection.execute("""
            select segment_value, customers, buyers, realised_ltv_total
            from marts.fct_ltv_by_segment
            where as_of_snapshot = 'current' and segment_type = ?""", [segment_type]).df().set_index("segment_value")
        overall = connection.execute("""select customers, realised_ltv_total from marts.fct_ltv_by_segment
            where as_of_snapshot = 'current' and segment_type = 'overall'""").fetchone()
    buyers = got.drop(index="no_purchases")
    assert len(buyers) >= 2, got
    assert dict(buyers["buyers"].astype(int)) == dict(want["buyers"])
    assert (buyers["customers"] == buyers["buyers"]).all()  # a first-purchase segment holds buyers only
    for value, row in want.iterrows():
        assert float(buyers.loc[value, "realised_ltv_total"]) == pytest.approx(float(row["ltv"]), abs=0.01), value
    assert int(got["customers"].sum()) == overall[0]
    assert float(got["realised_ltv_total"].sum()) == pytest.approx(float(overall[1]), abs=0.01)
    if segment_type == "first_product":
        assert "other" in buyers.index and len(buyers) == int(project_vars()["first_product_top_n"]) + 2
