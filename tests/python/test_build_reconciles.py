"""The sample builds end to end, and fct_orders / dim_customers reconcile with the raw seed files."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd

from clvlayer.project import PROJECT_ROOT

SEEDS = PROJECT_ROOT / "seeds"


def _raw(table: str) -> pd.DataFrame:
    return pd.read_csv(SEEDS / f"raw_{table}.csv", dtype=str)


def _cents(values: pd.Series) -> int:
    return sum(int(Decimal(v) * 100) for v in values)


def test_fct_orders_reconciles_with_raw_orders(sample_warehouse: Path, query) -> None:
    raw = _raw("orders")
    [(rows, amount_cents, cancelled_cents)] = query(sample_warehouse, """
        select count(*), cast(sum(order_amount) * 100 as bigint),
               cast(sum(case when is_cancelled then order_amount else 0 end) * 100 as bigint)
        from marts.fct_orders""")
    assert rows == len(raw) == raw["order_id"].nunique()
    assert amount_cents == _cents(raw["amount"])
    assert cancelled_cents == _cents(raw.loc[raw["status"] == "cancelled", "amount"])


def test_refunds_reconcile_and_net_is_gross_minus_refunds(sample_warehouse: Path, query) -> None:
    refunds = _raw("refunds")
    [(recorded, gross, refunded, net)] = query(sample_warehouse, """
        select cast(sum(refund_amount_recorded) * 100 as bigint), cast(sum(gross_revenue) * 100 as bigint),
               cast(sum(refunded_amount) * 100 as bigint), cast(sum(net_revenue) * 100 as bigint)
        from marts.fct_orders""")
    assert recorded == _cents(refunds["amount"])
    assert net == gross - refunded
    # the generator writes refund rows for every refunded order: nothing above the order amount
    [(excess,)] = query(sample_warehouse, "select sum(excess_refund_amount) from marts.fct_orders")
    assert excess == 0


def test_customers_reconcile_with_orders(sample_warehouse: Path, query) -> None:
    [(customer_net, order_net, customers)] = query(sample_warehouse, """
        select (select sum(net_revenue) from marts.dim_customers),
               (select sum(net_revenue) from marts.fct_orders),
               (select count(*) from marts.dim_customers)""")
    assert customer_net == order_net  # as-of date defaults to the last order: every order counts
    assert customers == len(_raw("customers"))


def test_every_raw_row_is_accounted_for(sample_warehouse: Path, query) -> None:
    rows = query(sample_warehouse, "select source_table, raw_rows, clean_rows, quarantined_rows "
                                   "from audit.audit_row_accounting")
    assert {r[0] for r in rows} == {"orders", "customers", "order_items", "products", "refunds", "marketing_spend",
                                    "campaign_contacts"}
    for table, raw_rows, clean, quarantined in rows:
        assert raw_rows == len(_raw(table)), table
        assert raw_rows == clean + quarantined, table


def test_cohort_grid_is_complete(sample_warehouse: Path, query) -> None:
    [(rows, expected)] = query(sample_warehouse, """
        select (select count(*) from marts.fct_cohort_retention),
               (select sum(date_diff('month', cohort_month, as_of_month) + 1) from (
                    select distinct cohort_month, date_trunc('month', as_of_date) as as_of_month
                    from marts.dim_customers where cohort_month is not null))""")
    assert rows == expected
