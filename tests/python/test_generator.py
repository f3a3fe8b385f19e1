"""Tests of the synthetic data generator (clvlayer.generate): contract, invariants, determinism, truth."""

from __future__ import annotations

import json
import os
import re
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clvlayer.generate import CHANNELS, GAMMA_GAMMA, LOYALTY_RATE_MULTIPLIER, TABLES, _build, generate, write_sample_seeds

START = date(2023, 1, 1)
END = date(2025, 6, 30)
END_EXCL = pd.Timestamp(END + timedelta(days=1))
SMALL = 2_000

COLUMNS: dict[str, list[str]] = {
    "orders": ["order_id", "customer_id", "ordered_at", "amount", "status", "currency", "updated_at"],
    "customers": ["customer_id", "created_at", "acquisition_channel", "region", "birth_year",
                  "is_loyalty_member", "loyalty_joined_at"],
    "order_items": ["order_id", "product_id", "quantity", "unit_price", "discount_amount"],
    "products": ["product_id", "category", "unit_cost", "launched_at"],
    "refunds": ["refund_id", "order_id", "refunded_at", "amount"],
    "marketing_spend": ["spend_date", "channel", "amount"],
}
MONEY = {"amount", "unit_price", "discount_amount", "unit_cost"}


def _to_frame(table: pa.Table) -> pd.DataFrame:
    """pandas frame with money columns as integer cents."""
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if name in MONEY:
            cols[name] = np.rint(col.cast(pa.float64()).to_numpy() * 100).astype(np.int64)
        else:
            cols[name] = col.to_pandas()
    return pd.DataFrame(cols)


def load(out_dir: Path, fmt: str) -> dict[str, pd.DataFrame]:
    frames = {}
    for name in TABLES:
        path = out_dir / f"{name}.{fmt}"
        table = pq.read_table(path) if fmt == "parquet" else pacsv.read_csv(path)
        frames[name] = _to_frame(table)
    return frames


@pytest.fixture(scope="module")
def csv_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, pd.DataFrame]]:
    out = tmp_path_factory.mktemp("gen_csv")
    truth = generate(out, customers=SMALL, seed=7, fmt="csv")
    return out, truth, load(out, "csv")


@pytest.fixture(scope="module")
def parquet_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, dict[str, pd.DataFrame]]:
    out = tmp_path_factory.mktemp("gen_parquet")
    truth = generate(out, customers=SMALL, seed=7, fmt="parquet")
    return out, truth, load(out, "parquet")


@pytest.fixture(scope="module", params=["csv", "parquet"])
def run(request: pytest.FixtureRequest, csv_run, parquet_run) -> tuple[Path, dict, dict[str, pd.DataFrame]]:
    return csv_run if request.param == "csv" else parquet_run


# --- ground truth --------------------------------------------------------------------------------


def test_ground_truth_has_all_keys_and_parameters(run) -> None:
    out, truth, _ = run
    on_disk = json.loads((out / "ground_truth.json").read_text())
    assert on_disk == truth
    for key in ["seed", "start", "end", "n_customers", "row_counts", "bgnbd", "gamma_gamma", "channels",
                "loyalty", "loyalty_rate_multiplier", "categories", "status_shares", "refund_delay",
                "orders_without_items_share", "notes", "bgnbd_by_segment"]:
        assert key in truth, key
    assert truth["seed"] == 7 and truth["n_customers"] == SMALL
    assert truth["start"] == START.isoformat() and truth["end"] == END.isoformat()
    assert set(truth["bgnbd"]) >= {"r", "alpha", "a", "b", "time_unit"} and truth["bgnbd"]["time_unit"] == "day"
    assert set(truth["gamma_gamma"]) >= {"p", "q", "v"}
    assert set(truth["channels"]) == set(CHANNELS)
    for spec in truth["channels"].values():
        assert set(spec) >= {"true_cac", "rate_multiplier", "dropout_b_multiplier", "share"}
    assert truth["loyalty_rate_multiplier"] == LOYALTY_RATE_MULTIPLIER == truth["loyalty"]["rate_multiplier"]
    assert len(truth["categories"]) == 8 and all(0 < m < 1 for m in truth["categories"].values())
    assert truth["bgnbd_by_segment"]["organic|non_member"] == {k: truth["bgnbd"][k] for k in ("r", "alpha", "a", "b")}
    assert 0.01 <= truth["orders_without_items_share"]["realized"] <= 0.03


def test_row_counts_and_columns_match_files(run) -> None:
    out, truth, frames = run
    assert set(truth["row_counts"]) == set(TABLES)
    for name in TABLES:
        assert list(frames[name].columns) == COLUMNS[name], name
        assert len(frames[name]) == truth["row_counts"][name], name
    assert truth["row_counts"]["customers"] == SMALL
    ct = pq.read_table(out / "customers_truth.parquet").to_pandas()
    assert {"customer_id", "lambda", "p_dropout", "nu", "is_alive_at_end", "channel", "is_loyalty_member",
            "true_expected_spend"} <= set(ct.columns)
    assert len(ct) == SMALL and ct["n_orders"].sum() == truth["row_counts"]["orders"]


# --- invariants ----------------------------------------------------------------------------------


def check_invariants(frames: dict[str, pd.DataFrame], start: date, end: date) -> None:
    orders, items, refunds = frames["orders"], frames["order_items"], frames["refunds"]
    customers, products, spend = frames["customers"], frames["products"], frames["marketing_spend"]
    end_excl = pd.Timestamp(end + timedelta(days=1))

    # keys
    assert orders["order_id"].is_unique and customers["customer_id"].is_unique
    assert products["product_id"].is_unique and refunds["refund_id"].is_unique
    assert not items.duplicated(["order_id", "product_id"]).any()
    assert orders["customer_id"].isin(customers["customer_id"]).all()
    assert items["order_id"].isin(orders["order_id"]).all() and items["product_id"].isin(products["product_id"]).all()
    assert refunds["order_id"].isin(orders["order_id"]).all()

    # orders
    assert (orders["amount"] > 0).all() and (orders["currency"] == "USD").all()
    assert set(orders["status"]) <= {"completed", "cancelled", "refunded", "partially_refunded"}
    assert (orders["ordered_at"] >= pd.Timestamp(start)).all() and (orders["ordered_at"] < end_excl).all()
    assert (orders["updated_at"] >= orders["ordered_at"]).all() and (orders["updated_at"] < end_excl).all()

    # items total == amount to the cent (orders with items)
    assert (items["quantity"] >= 1).all() and (items["unit_price"] > 0).all() and (items["discount_amount"] >= 0).all()
    line = items["quantity"].astype(np.int64) * items["unit_price"] - items["discount_amount"]
    totals = line.groupby(items["order_id"]).sum()
    amounts = orders.set_index("order_id")["amount"]
    assert (totals == amounts.loc[totals.index]).all()

    # refunds
    assert (refunds["amount"] > 0).all()
    r = refunds.merge(orders[["order_id", "ordered_at", "amount", "status", "updated_at"]], on="order_id",
                      suffixes=("", "_order"))
    assert (r["refunded_at"] > r["ordered_at"]).all() and (r["refunded_at"] < end_excl).all()
    assert (r["amount"] <= r["amount_order"]).all()
    refunded = refunds.groupby("order_id")["amount"].sum()
    last_refund = refunds.groupby("order_id")["refunded_at"].max()
    o = orders.set_index("order_id")
    full = o[o["status"] == "refunded"]
    part = o[o["status"] == "partially_refunded"]
    assert (refunded.reindex(full.index) == full["amount"]).all()
    pr = refunded.reindex(part.index)
    assert (pr > 0).all() and (pr < part["amount"]).all()
    assert o.loc[refunded.index, "status"].isin(["refunded", "partially_refunded"]).all()
    assert (o.loc[last_refund.index, "updated_at"] == last_refund).all()
    untouched = o[o["status"] == "completed"]
    assert (untouched["updated_at"] == untouched["ordered_at"]).all()

    # customers
    first = orders.groupby("customer_id")["ordered_at"].min()
    c = customers.set_index("customer_id")
    assert (c.loc[first.index, "created_at"] <= first).all()
    assert (c["created_at"] >= pd.Timestamp(start)).all() and (c["created_at"] < end_excl).all()
    members = c[c["is_loyalty_member"]]
    assert members["loyalty_joined_at"].notna().all() and c.loc[~c["is_loyalty_member"], "loyalty_joined_at"].isna().all()
    assert (members["loyalty_joined_at"] > members["created_at"]).all() and (members["loyalty_joined_at"] < end_excl).all()
    assert set(c["acquisition_channel"]) <= set(CHANNELS)

    # products never sold before launch
    sold = items.merge(orders[["order_id", "ordered_at"]], on="order_id").merge(products, on="product_id")
    assert (sold["ordered_at"].dt.normalize() >= pd.to_datetime(sold["launched_at"])).all()
    assert (products["unit_cost"] > 0).all()

    # marketing spend: one row per day x paid channel
    paid = {name for name, ch in CHANNELS.items() if ch.true_cac > 0}
    n_days = (end - start).days + 1
    assert len(spend) == n_days * len(paid) and set(spend["channel"]) == paid
    assert not spend.duplicated(["spend_date", "channel"]).any() and (spend["amount"] >= 0).all()
    dates = pd.to_datetime(spend["spend_date"])
    assert dates.min() == pd.Timestamp(start) and dates.max() == pd.Timestamp(end)


def test_invariants(run) -> None:
    check_invariants(run[2], START, END)


def test_shares_are_plausible(csv_run) -> None:
    _, truth, frames = csv_run
    orders, customers, items, refunds = frames["orders"], frames["customers"], frames["order_items"], frames["refunds"]
    shares = orders["status"].value_counts(normalize=True)
    assert 0.015 <= shares["cancelled"] <= 0.035
    assert 0.015 <= shares["refunded"] <= 0.035
    assert 0.007 <= shares["partially_refunded"] <= 0.025
    no_items = 1 - orders["order_id"].isin(items["order_id"]).mean()
    assert no_items == pytest.approx(truth["orders_without_items_share"]["realized"], abs=1e-6)
    never = 1 - customers["customer_id"].isin(orders["customer_id"]).mean()
    assert 0.03 <= never <= 0.07
    assert 0.25 <= customers["is_loyalty_member"].mean() <= 0.35
    assert 0.01 <= customers["birth_year"].isna().mean() <= 0.05
    assert (items["discount_amount"] == 0).mean() > 0.9
    delay = refunds.merge(orders, on="order_id")
    late = (delay["refunded_at"] - delay["ordered_at"]) >= pd.Timedelta(days=20)
    assert 0.08 <= late.mean() <= 0.35
    assert refunds.groupby("order_id").size().max() == 2  # a few orders with two partial refunds
    sauces = frames["products"].query("category == 'sauces'")
    assert (pd.to_datetime(sauces["launched_at"]) > pd.Timestamp(START)).all()


def test_csv_formats(csv_run) -> None:
    out = csv_run[0]
    header, first = (out / "orders.csv").read_text().splitlines()[:2]
    assert header == ",".join(COLUMNS["orders"])
    assert re.fullmatch(r"O\d{8},C\d{7},\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+\.\d\d,[a-z_]+,USD,"
                        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", first), first
    spend_row = (out / "marketing_spend.csv").read_text().splitlines()[1]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d,[a-z_]+,\d+\.\d\d", spend_row), spend_row
    assert re.fullmatch(r"P\d{4},[a-z_]+,\d+\.\d\d,\d{4}-\d\d-\d\d", (out / "products.csv").read_text().splitlines()[1])


def _normalised(frame: pd.DataFrame) -> pd.DataFrame:
    out = {}
    for name, col in frame.items():
        if name.endswith(("_at", "_date")):
            out[name] = pd.to_datetime(col).astype("datetime64[s]")
        elif pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            out[name] = col.astype("float64")
        else:
            out[name] = col.astype(object)
    return pd.DataFrame(out)


def test_csv_and_parquet_hold_the_same_data(csv_run, parquet_run) -> None:
    assert csv_run[1]["row_counts"] == parquet_run[1]["row_counts"]
    for name in TABLES:
        pd.testing.assert_frame_equal(_normalised(csv_run[2][name]), _normalised(parquet_run[2][name]), obj=name)


# --- determinism ---------------------------------------------------------------------------------


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path: Path, csv_run) -> None:
    out, truth, _ = csv_run
    again = tmp_path / "again"
    truth2 = generate(again, customers=SMALL, seed=7, fmt="csv")
    assert truth2 == truth
    for name in TABLES:
        assert (again / f"{name}.csv").read_bytes() == (out / f"{name}.csv").read_bytes(), name
    assert (again / "ground_truth.json").read_bytes() == (out / "ground_truth.json").read_bytes()
    other = tmp_path / "other"
    generate(other, customers=SMALL, seed=8, fmt="csv")
    assert (other / "orders.csv").read_bytes() != (out / "orders.csv").read_bytes()


# --- behavioural truth ---------------------------------------------------------------------------


def _orders_per_customer_year(frames: dict[str, pd.DataFrame]) -> pd.Series:
    orders, customers = frames["orders"], frames["customers"]
    per = orders.groupby("customer_id").agg(n=("order_id", "size"), first=("ordered_at", "min"))
    per["years"] = (END_EXCL - per["first"]).dt.total_seconds() / (365.25 * 86_400)
    per = per.join(customers.set_index("customer_id")["is_loyalty_member"])
    grouped = per.groupby("is_loyalty_member")[["n", "years"]].sum()
    return grouped["n"] / grouped["years"]


def test_loyalty_members_buy_more_often(csv_run) -> None:
    rate = _orders_per_customer_year(csv_run[2])
    assert rate[True] > rate[False]


def test_progress_callback_and_bad_arguments(tmp_path: Path) -> None:
    messages: list[str] = []
    generate(tmp_path / "p", customers=50, seed=1, progress=messages.append)
    assert messages and messages[-1] == "done"
    with pytest.raises(ValueError):
        generate(tmp_path / "x", customers=0)
    with pytest.raises(ValueError):
        generate(tmp_path / "y", customers=10, start=date(2024, 1, 2), end=date(2024, 1, 1))
    with pytest.raises(ValueError):
        generate(tmp_path / "z", customers=10, fmt="json")  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def large_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, pd.DataFrame, pd.DataFrame]:
    out = tmp_path_factory.mktemp("gen_large")
    truth = generate(out, customers=20_000, seed=11, fmt="parquet")
    orders = pq.read_table(out / "orders.parquet", columns=["customer_id", "ordered_at", "amount"])
    return truth, _to_frame(orders), pq.read_table(out / "customers_truth.parquet").to_pandas()


def test_mean_order_value_matches_gamma_gamma(large_run) -> None:
    truth, orders, _ = large_run
    gg = truth["gamma_gamma"]
    theory = gg["p"] * gg["v"] / (gg["q"] - 1)
    assert theory == pytest.approx(GAMMA_GAMMA["p"] * GAMMA_GAMMA["v"] / (GAMMA_GAMMA["q"] - 1))
    assert 40 <= theory <= 60
    assert orders["amount"].mean() / 100 == pytest.approx(theory, rel=0.04)


def test_latent_truth_matches_parameters(large_run) -> None:
    truth, orders, latent = large_run
    base = latent[(latent["channel"] == "organic") & ~latent["is_loyalty_member"]]
    bg = truth["bgnbd"]
    assert base["lambda"].mean() == pytest.approx(bg["r"] / bg["alpha"], rel=0.06)
    assert base["p_dropout"].mean() == pytest.approx(bg["a"] / (bg["a"] + bg["b"]), rel=0.06)
    gg = truth["gamma_gamma"]
    assert latent["nu"].mean() == pytest.approx(gg["q"] / gg["v"], rel=0.03)
    organic = latent[latent["channel"] == "organic"]
    ratio = organic.groupby("is_loyalty_member")["lambda"].mean()
    assert ratio[True] / ratio[False] == pytest.approx(LOYALTY_RATE_MULTIPLIER, rel=0.12)
    assert not latent.loc[~latent["has_orders"], "is_alive_at_end"].any()
    assert 0.2 < latent.loc[latent["has_orders"], "is_alive_at_end"].mean() < 0.8
    assert (latent["n_orders"].sum()) == len(orders)


def test_true_dropout_is_the_last_purchase_or_after_the_window(large_run) -> None:
    """Customers who dropped out inside the window did so right after their last order; the others drop out after
    the end of the window (their lifetime was simulated on)."""
    truth, orders, latent = large_run
    buyers = latent[latent["has_orders"]].set_index("customer_id")
    last = orders.groupby("customer_id")["ordered_at"].max()
    dead = buyers[~buyers["is_alive_at_end"]]
    gap = (dead["true_dropout_at"] - last.reindex(dead.index)).dt.total_seconds()
    assert len(dead) > 1000 and gap.abs().max() <= 1.0  # seconds: the dropout timestamp is floored
    alive = buyers[buyers["is_alive_at_end"]]
    assert (alive["true_dropout_at"] >= END_EXCL).all()
    first = orders.groupby("customer_id")["ordered_at"].min().reindex(buyers.index)
    lifetime = (buyers["true_dropout_at"] - first).dt.total_seconds() / 86_400
    np.testing.assert_allclose(lifetime, buyers["true_lifetime_days"], atol=1 / 86_400)
    assert latent.loc[~latent["has_orders"], "true_lifetime_days"].isna().all()


def test_true_lifetime_follows_the_bgnbd_law(large_run) -> None:
    """Given lambda and p, the time to the K-th repeat purchase (K ~ Geometric(p)) is Exponential(lambda x p): the
    mean of min(L, cap) over customers equals the mean of (1 - exp(-lambda p cap)) / (lambda p) within sampling
    error, and the summary in ground_truth.json is that mean, overall and per channel."""
    truth, _, latent = large_run
    buyers = latent[latent["has_orders"]]
    cap = truth["lifetime"]["cap_months"] * truth["lifetime"]["days_per_month"]
    rate = buyers["lambda"] * buyers["p_dropout"]
    expected = (-np.expm1(-rate * cap) / rate).mean()
    observed = np.minimum(buyers["true_lifetime_days"], cap)
    assert observed.mean() == pytest.approx(expected, abs=4 * observed.std() / np.sqrt(len(observed)))
    months = truth["lifetime"]["days_per_month"]
    assert truth["lifetime"]["overall"]["restricted_mean_lifetime_months"] == pytest.approx(observed.mean() / months,
                                                                                           abs=1e-6)
    for channel, part in buyers.groupby("channel"):
        summary = truth["lifetime"]["by_channel"][channel]
        assert summary["customers"] == len(part)
        assert summary["restricted_mean_lifetime_months_first_month_counted"] == pytest.approx(
            np.minimum(part["true_lifetime_days"] + months, cap).mean() / months, abs=1e-6)


def test_spend_per_new_customer_is_true_cac(tmp_path: Path, large_run) -> None:
    truth = large_run[0]
    tables, _, _ = _build(20_000, 11, START, END, lambda _m: None)
    spend = _to_frame(tables["marketing_spend"])
    orders = _to_frame(tables["orders"])
    customers = _to_frame(tables["customers"])
    first = orders.groupby("customer_id")["ordered_at"].min().rename("first").reset_index()
    new = first.merge(customers[["customer_id", "acquisition_channel"]], on="customer_id")
    n_new = new.groupby("acquisition_channel").size()
    total = spend.groupby("channel")["amount"].sum() / 100
    for name, spec in truth["channels"].items():
        if spec["true_cac"] > 0:
            assert total[name] / n_new[name] == pytest.approx(spec["true_cac"], rel=0.03), name
        else:
            assert name not in total.index


# --- property test: invariants hold for tiny and odd inputs ---------------------------------------


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(customers=st.integers(1, 400), seed=st.integers(0, 2**32 - 1), days=st.integers(0, 400))
def test_invariants_hold_for_any_small_input(customers: int, seed: int, days: int) -> None:
    start = date(2024, 1, 1)
    end = start + timedelta(days=days)
    tables, latent, truth = _build(customers, seed, start, end, lambda _m: None)
    frames = {name: _to_frame(t) for name, t in tables.items()}
    check_invariants(frames, start, end)
    assert {k: len(v) for k, v in frames.items()} == truth["row_counts"]


# --- sample seeds ----------------------------------------------------------------------------------


def test_write_sample_seeds(tmp_path: Path) -> None:
    truth = write_sample_seeds(tmp_path)
    for name in TABLES:
        path = tmp_path / f"raw_{name}.csv"
        assert path.exists()
        assert sum(1 for _ in path.open()) - 1 == truth["row_counts"][name]
    assert json.loads((tmp_path / "sample_ground_truth.json").read_text()) == truth
    assert 25_000 <= truth["row_counts"]["orders"] <= 40_000
    assert sum((tmp_path / f"raw_{n}.csv").stat().st_size for n in TABLES) < 6_000_000


# --- chunked mode (data sets larger than memory) ---------------------------------------------------


def test_chunked_mode_same_contract_and_distribution(tmp_path: Path) -> None:
    """Three chunks appended to the files: the same columns, keys and invariants, realised shares within sampling
    error of a single pass, exact truth counts, deterministic for a seed; the single pass itself is unchanged."""
    chunked, single = tmp_path / "chunked", tmp_path / "single"
    truth = generate(chunked, customers=6_000, seed=3, fmt="parquet", chunk_customers=2_500)
    reference = generate(single, customers=6_000, seed=3, fmt="parquet", chunk_customers=6_000)  # one chunk
    assert reference == generate(tmp_path / "plain", customers=6_000, seed=3, fmt="parquet")
    frames = load(chunked, "parquet")
    for name in TABLES:
        assert list(frames[name].columns) == COLUMNS[name], name
        assert len(frames[name]) == truth["row_counts"][name], name
    check_invariants(frames, START, END)
    assert truth["chunks"]["chunks"] == 3 and truth["n_customers"] == 6_000
    assert truth["row_counts"]["customers"] == 6_000
    ct = pq.read_table(chunked / "customers_truth.parquet").to_pandas()
    assert ct["customer_id"].is_unique and set(ct["customer_id"]) == set(frames["customers"]["customer_id"])
    assert ct["n_orders"].sum() == truth["row_counts"]["orders"]
    buyers = ct[ct["has_orders"]]
    assert truth["lifetime"]["overall"]["customers"] == len(buyers)
    cap = truth["lifetime"]["cap_months"] * truth["lifetime"]["days_per_month"]
    assert truth["lifetime"]["overall"]["restricted_mean_lifetime_months"] == pytest.approx(
        np.minimum(buyers["true_lifetime_days"], cap).mean() / truth["lifetime"]["days_per_month"], abs=1e-5)
    statuses = frames["orders"]["status"].value_counts(normalize=True)
    for status, value in truth["status_shares"]["realized"].items():
        assert statuses.get(status, 0.0) == pytest.approx(value, abs=1e-6)
    orders_per_customer = [truth["row_counts"]["orders"] / 6_000, reference["row_counts"]["orders"] / 6_000]
    assert orders_per_customer[0] == pytest.approx(orders_per_customer[1], rel=0.08)
    assert truth["loyalty"]["realized_share"] == pytest.approx(0.30, abs=0.03)
    single_spend = load(single, "parquet")["marketing_spend"]["amount"].sum()
    assert frames["marketing_spend"]["amount"].sum() == pytest.approx(single_spend, rel=0.1)
    again = generate(tmp_path / "again", customers=6_000, seed=3, fmt="parquet", chunk_customers=2_500)
    assert again == truth
    assert (tmp_path / "again" / "orders.parquet").read_bytes() == (chunked / "orders.parquet").read_bytes()


# --- nightly exports (clvlayer.generate_nightly) ------------------------------------------------------------------


@pytest.fixture(scope="module")
def nightly(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """A small shop's day 0 and 3 next days in both shapes (CSV), night 3 with the changed and vanished files."""
    from clvlayer.generate_nightly import generate_nightly

    out = tmp_path_factory.mktemp("nightly")
    generate(out / "shop", customers=SMALL, seed=5, start=date(2024, 1, 1), end=date(2024, 12, 31), fmt="csv")
    manifest = generate_nightly(out / "shop", out / "exports", days=3, seed=5, faults={"changed": 3, "vanished": 3})
    return out / "exports", manifest


def _latest_versions(folder: Path) -> pd.DataFrame:
    """Each order's latest version (greatest updated_at) over the batch files of an orders folder."""
    frame = pd.concat([pd.read_csv(part, dtype=str, keep_default_na=False) for part in sorted(folder.iterdir())])
    return frame.sort_values(["order_id", "updated_at"]).drop_duplicates("order_id", keep="last") \
        .sort_values("order_id").reset_index(drop=True)


def _csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_nightly_adds_orders_and_changes_statuses_customers_and_spend(nightly) -> None:
    exports, manifest = nightly
    for k in (1, 2, 3):
        before, after = (_csv(exports / "snapshot" / f"day{d}" / "orders.csv") for d in (k - 1, k))
        night = manifest["days"][k]
        assert len(night["new_orders"]) == round(0.001 * len(before)) and len(after) == len(before) + len(
            night["new_orders"])
        assert len(night["status_changes"]) == round(0.0005 * len(before))
        merged = before.merge(after, on="order_id", suffixes=("_before", "_after"))
        changed = merged[(merged["status_before"] != merged["status_after"])
                         | (merged["updated_at_before"] != merged["updated_at_after"])]
        assert dict(zip(changed["order_id"], changed["status_after"])) == night["status_changes"]
        assert (changed["status_before"] == "completed").all()
        assert (changed["updated_at_after"].str[:10] == night["day"]).all()
        refunds = [_csv(exports / "snapshot" / f"day{d}" / "refunds.csv") for d in (k - 1, k)]
        refunded = {o for o, kind in night["status_changes"].items() if kind != "cancelled"}
        assert set(refunds[1]["order_id"].iloc[len(refunds[0]):]) == refunded
        customers = [_csv(exports / "snapshot" / f"day{d}" / "customers.csv").set_index("customer_id")
                     for d in (k - 1, k)]
        assert set(customers[1].index) - set(customers[0].index) == set(night["new_customers"])
        old = customers[1].loc[customers[0].index]
        assert list(old.index[(old != customers[0]).any(axis=1)]) == [night["changed_customer"]]
        spend = _csv(exports / "snapshot" / f"day{k}" / "marketing_spend.csv")
        assert (spend["spend_date"] == night["day"]).sum() == 5  # one row per paid channel


def test_nightly_batch_folder_holds_the_snapshot_and_faults(nightly) -> None:
    exports, manifest = nightly
    for k in (0, 1, 2):
        snapshot = _csv(exports / "snapshot" / f"day{k}" / "orders.csv").sort_values("order_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(_latest_versions(exports / "batch" / f"day{k}" / "orders"), snapshot)
        assert not (exports / "batch" / f"day{k}" / "orders.csv").exists()
    night = manifest["days"][3]
    day2, day3 = exports / "batch" / "day2", exports / "batch" / "day3"
    assert not (day3 / night["vanished_file"]).exists()
    assert (day2 / night["vanished_file"]).exists()
    changed = _csv(day3 / night["changed_file"]).set_index("order_id")
    assert set(changed.index[changed["status"] != _csv(day2 / night["changed_file"]).set_index("order_id")[
        "status"]]) == set(night["cancelled_in_changed_file"])
    untouched = sorted(set(os.listdir(day2 / "orders")) - {Path(night["changed_file"]).name,
                                                           Path(night["vanished_file"]).name})
    assert all(os.path.samefile(day2 / "orders" / name, day3 / "orders" / name) for name in untouched)  # links
    assert sorted(os.listdir(day3 / "orders"))[-1] == f"{night['day']}.csv"


def test_nightly_is_deterministic_by_seed(tmp_path: Path, nightly) -> None:
    from clvlayer.generate_nightly import generate_nightly

    exports, manifest = nightly
    shop = exports.parent / "shop"
    again = generate_nightly(shop, tmp_path / "again", days=1, seed=5, shapes=["snapshot"])
    assert again["days"][1] == {key: value for key, value in manifest["days"][1].items() if key != "files"}
    assert (tmp_path / "again" / "snapshot" / "day1" / "orders.csv").read_bytes() == \
        (exports / "snapshot" / "day1" / "orders.csv").read_bytes()
    other = generate_nightly(shop, tmp_path / "other", days=1, seed=6, shapes=["snapshot"])
    assert other["days"][1]["status_changes"] != manifest["days"][1]["status_changes"]


def test_nightly_bad_arguments(tmp_path: Path, nightly) -> None:
    from clvlayer.generate_nightly import generate_nightly

    shop = nightly[0].parent / "shop"
    with pytest.raises(ValueError, match="unknown shape 'tall'"):
        generate_nightly(shop, tmp_path, shapes=["tall"])
    with pytest.raises(ValueError, match="'customers' cannot be a batch table"):
        generate_nightly(shop, tmp_path, batch_tables=["customers"])
    with pytest.raises(ValueError, match="fault 'vanished' on day 5"):
        generate_nightly(shop, tmp_path, days=2, faults={"vanished": 5})
    with pytest.raises(FileNotFoundError, match="no orders.parquet or orders.csv"):
        generate_nightly(tmp_path, tmp_path / "out")
