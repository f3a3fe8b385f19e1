"""Optional input column orders.discount_code (docs/input_contract.md): where given, a code on a customer's first
order makes it `discounted` in segment type first_order_discount (int_customers_first_purchases); absent, nothing
changes. Two small builds of the sample's tables as CSV files (only int_customers_first_purchases and its parents):
one with a discount_code column, one without; the one without gives the sample warehouse's labels. The code is part
of an order row's content: two copies of an order that differ only in their code are conflicting duplicates, not an
exact copy whose second code is dropped."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from clvlayer.build import build_warehouse
from clvlayer.project import PROJECT_ROOT

TABLES = ("orders", "customers", "order_items", "products", "refunds", "marketing_spend")
NODES = ["--select", "+int_customers_first_purchases", "--exclude", "resource_type:unit_test", "resource_type:test"]
LABELS = "select customer_id, first_order_id, first_order_discount from intermediate.int_customers_first_purchases"


def labels(warehouse: Path) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(LABELS).df().set_index("customer_id").sort_index()


def recoded_copy(orders: pd.DataFrame) -> pd.DataFrame:
    """A second copy of a coded customer's last order (not their first: their label stays), with another code."""
    coded = orders[orders["customer_id"].str.endswith("3")]
    repeat = coded.groupby("customer_id")["order_id"].transform("size") > 1
    copy = coded[repeat].sort_values(["customer_id", "ordered_at"]).tail(1).copy()
    copy["discount_code"] = "SPRING5"
    return copy


def built(folder: Path, with_codes: bool) -> Path:
    raw = folder / "raw"
    raw.mkdir(parents=True)
    for table in TABLES:
        frame = pd.read_csv(PROJECT_ROOT / "seeds" / f"raw_{table}.csv", dtype=str, keep_default_na=False)
        if table == "orders" and with_codes:
            # every order of the customers whose id ends in 3 carries a code; "" (no code) elsewhere
            frame["discount_code"] = frame["customer_id"].str.endswith("3").map({True: "WELCOME10", False: ""})
            frame = pd.concat([frame, recoded_copy(frame)], ignore_index=True)
        frame.to_csv(raw / f"{table}.csv", index=False)
    record = build_warehouse(folder / "warehouse.duckdb", raw, dbt_args=NODES, target_path=folder / "target")
    assert record.published, record.failures
    return folder / "warehouse.duckdb"


@pytest.fixture(scope="module")
def warehouses(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: built(tmp_path_factory.mktemp(name), name == "present") for name in ("present", "absent")}


@pytest.fixture(scope="module")
def builds(warehouses: dict[str, Path]) -> dict[str, pd.DataFrame]:
    return {name: labels(warehouse) for name, warehouse in warehouses.items()}


def test_absent_column_changes_nothing(builds: dict[str, pd.DataFrame], sample_warehouse: Path) -> None:
    pd.testing.assert_frame_equal(builds["absent"], labels(sample_warehouse))


def test_a_code_on_the_first_order_makes_it_discounted(builds: dict[str, pd.DataFrame]) -> None:
    present, absent = builds["present"], builds["absent"]
    coded = present.index.str.endswith("3")
    assert coded.sum() > 100
    assert (present.loc[coded, "first_order_discount"] == "discounted").all()
    # the other customers keep the line-discount label; the coded ones changed only where it was not discounted
    pd.testing.assert_frame_equal(present.loc[~coded], absent.loc[~coded])
    changed = present["first_order_discount"] != absent["first_order_discount"]
    assert changed.sum() > 0 and (changed == (coded & (absent["first_order_discount"] != "discounted"))).all()


def test_copies_that_differ_only_in_their_code_are_conflicting_duplicates(warehouses: dict[str, Path]) -> None:
    orders = pd.read_csv(PROJECT_ROOT / "seeds" / "raw_orders.csv", dtype=str, keep_default_na=False)
    order_id = recoded_copy(orders.assign(discount_code="WELCOME10"))["order_id"].item()
    with duckdb.connect(str(warehouses["present"]), read_only=True) as connection:
        reasons = connection.execute("select discount_code, quarantine_reason from staging.base_shop__orders "
                                     "where order_id = ? order by discount_code", [order_id]).fetchall()
    assert [code for code, _ in reasons] == ["SPRING5", "WELCOME10"], reasons
    assert all(str(reason).startswith("conflicting_duplicate") for _, reason in reasons), reasons
