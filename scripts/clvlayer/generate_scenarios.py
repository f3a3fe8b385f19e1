"""Scenario harness on top of the generator (clvlayer.generate): shops that are steady, grow, shrink, are seasonal,
young, mostly one-time or whose channels keep customers for different lengths of time - each with its ground truth.

Every scenario is the generator's BG/NBD + Gamma-Gamma shop with a few of its parameters changed (acquisition growth
and seasonality, the window, the purchase and dropout parameters, the channels' dropout multipliers), so the data
are the same six tables a user exports. Beside them, ``scenario_truth.parquet`` holds per buyer:

- ``true_lifetime_months``: 1 month + first order to the true dropout (the last purchase, simulated on past the end),
  restricted to 36 months: E[min(1 month + L, 36)] is what the warehouse's expected lifetime estimates;
- ``revenue_first_36m``: the customer's revenue in their first 36 months from the first order (past orders of the
  export plus the purchases simulated on past its end): what formula A estimates per customer;
- ``discounted_revenue_first_36m``: the same discounted from the first order at the layer's monthly rate
  (x a margin rate = what discounted CLV estimates);
- ``revenue_next_12m`` / ``_24m`` / ``_36m`` and ``discounted_revenue_next_36m``: revenue after the as-of date (the
  export's end), discounted from it (x a margin rate = what predicted CLV estimates).

Revenue is the generated order amount x NET_SHARE, the expected share of an order's amount that is neither
cancelled nor refunded (the generator's status shares), for the past and the simulated purchases alike.
The purchases after the end are simulated from the generator's own latents: a customer alive at the end makes
``repeats_after_end`` more repeat purchases, the last one at ``true_dropout_at`` (the generator's continuation), the
others uniform in between (a Poisson process given its R-th arrival), each of value Gamma(p, 1) / nu.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.csv as pacsv

from clvlayer import generate as gen

HORIZON_MONTHS = 36
MONTHLY_DISCOUNT_RATE = 0.01  # the layer's default var clv_monthly_discount_rate
NET_SHARE = 1.0 - gen.STATUS_SHARES["cancelled"] - gen.STATUS_SHARES["refunded"] \
    - gen.STATUS_SHARES["partially_refunded"] * sum(gen.PARTIAL_RANGE) / 2
FORWARD_MONTHS = (12, 24, 36)
TRUTH_FILE = "scenario_truth.parquet"


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start: date = date(2023, 1, 1)
    end: date = date(2025, 6, 30)
    growth: float = 1.0  # acquisition intensity on the last day / on the first
    month_weights: dict[int, float] = field(default_factory=dict)
    bgnbd: dict[str, float] = field(default_factory=dict)  # overrides of gen.BGNBD
    dropout_b_multipliers: dict[str, float] = field(default_factory=dict)  # channel -> Beta b multiplier


SCENARIOS: dict[str, Scenario] = {s.name: s for s in (
    Scenario("steady", "30 months, flat acquisition"),
    Scenario("growing", "30 months, acquisition x20 over the window: ~3/4 of customers acquired in the last year",
             growth=20.0),
    Scenario("shrinking", "30 months, acquisition falls to 1/5 over the window", growth=0.2),
    Scenario("seasonal", "30 months, acquisition x4 in November-December, x0.5 in summer",
             month_weights={11: 4.0, 12: 4.0, 6: 0.5, 7: 0.5, 8: 0.5}),
    Scenario("short_history", "9 months of data (2024-10 to 2025-06), flat acquisition", start=date(2024, 10, 1)),
    Scenario("one_time_buyers", "slow repeaters who mostly drop after their first repeat: most buy once in the data",
             bgnbd={"alpha": 80.0, "a": 2.0, "b": 2.0}),
    Scenario("channel_lifetimes_2x", "paid_social and affiliate customers drop out ~2x faster than referral/email",
             dropout_b_multipliers={"paid_social": 0.45, "affiliate": 0.45, "email": 1.8, "referral": 1.8}),
)}


@contextmanager
def _patched(scenario: Scenario) -> Iterator[None]:
    """The generator's module parameters set to the scenario's for the duration (restored after)."""
    saved = (gen.ACQUISITION_GROWTH, gen.ACQUISITION_MONTH_WEIGHTS, gen.BGNBD, gen.CHANNELS)
    try:
        gen.ACQUISITION_GROWTH = scenario.growth
        gen.ACQUISITION_MONTH_WEIGHTS = dict(scenario.month_weights)
        gen.BGNBD = {**gen.BGNBD, **scenario.bgnbd}
        gen.CHANNELS = {name: gen.Channel(c.share, c.true_cac, c.rate_multiplier,
                                          scenario.dropout_b_multipliers.get(name, c.dropout_b_multiplier))
                        for name, c in gen.CHANNELS.items()}
        yield
    finally:
        gen.ACQUISITION_GROWTH, gen.ACQUISITION_MONTH_WEIGHTS, gen.BGNBD, gen.CHANNELS = saved


def generate_scenario(out_dir: Path, scenario: Scenario | str, *, customers: int, seed: int = 7) -> pd.DataFrame:
    """The scenario's tables (CSV) and scenario_truth.parquet in out_dir; returns the per-buyer truth."""
    scenario = SCENARIOS[scenario] if isinstance(scenario, str) else scenario
    out_dir = Path(out_dir)
    with _patched(scenario):
        gen.generate(out_dir, customers=customers, seed=seed, start=scenario.start, end=scenario.end, fmt="csv")
    truth = scenario_truth(out_dir, scenario, seed)
    truth.to_parquet(out_dir / TRUTH_FILE, index=False)
    return truth


def _days(timestamps: pd.Series, origin: pd.Timestamp) -> np.ndarray:
    return ((timestamps - origin).dt.total_seconds() / gen.SECONDS_PER_DAY).to_numpy(float)


def _forward_purchases(latent: pd.DataFrame, end_day: float, rng: np.random.Generator) -> pd.DataFrame:
    """(customer_id, day) of every purchase after the end up to HORIZON_MONTHS after it (days since the start)."""
    alive = latent[latent["repeats_after_end"] > 0]
    last = alive["dropout_day"].to_numpy(float)
    window_end = end_day + HORIZON_MONTHS * gen.DAYS_PER_MONTH
    inside = np.clip((window_end - end_day) / np.maximum(last - end_day, 1e-9), 0.0, 1.0)
    # the R - 1 purchases before the last are uniform on (end, last): those before window_end are Binomial
    middle = rng.binomial(alive["repeats_after_end"].to_numpy(np.int64) - 1, inside)
    upper = np.minimum(last, window_end)
    owner = np.repeat(np.arange(len(alive)), middle)
    days = end_day + rng.random(owner.size) * (upper[owner] - end_day)
    ids = alive["customer_id"].to_numpy()
    frames = [pd.DataFrame({"customer_id": ids[owner], "day": days}),
              pd.DataFrame({"customer_id": ids, "day": last})]
    out = pd.concat(frames, ignore_index=True)
    return out[out["day"] <= window_end]


def scenario_truth(out_dir: Path, scenario: Scenario, seed: int) -> pd.DataFrame:
    """Per buyer: true restricted lifetime, first-36-month and forward revenue (see the module docstring)."""
    origin = pd.Timestamp(scenario.start)
    end_day = float((scenario.end - scenario.start).days + 1)
    latent = pd.read_parquet(out_dir / "customers_truth.parquet")
    latent = latent[latent["has_orders"]].copy()
    latent["first_day"] = _days(latent["first_order_at"], origin)
    latent["dropout_day"] = latent["first_day"] + latent["true_lifetime_days"]
    orders = pacsv.read_csv(out_dir / "orders.csv").to_pandas()[["customer_id", "ordered_at", "amount"]]
    orders["day"] = _days(pd.to_datetime(orders["ordered_at"]), origin)
    orders["amount"] = orders["amount"].astype(float)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0x5CE]))
    future = _forward_purchases(latent, end_day, rng)
    nu = latent.set_index("customer_id")["nu"]
    future["amount"] = np.maximum(np.round(rng.gamma(gen.GAMMA_GAMMA["p"], 1.0, len(future))
                                           / nu.reindex(future["customer_id"]).to_numpy() * 100) / 100, 1.0)
    purchases = pd.concat([orders[["customer_id", "day", "amount"]], future], ignore_index=True)
    purchases["revenue"] = purchases["amount"] * NET_SHARE
    purchases = purchases.merge(latent[["customer_id", "first_day"]], on="customer_id")
    return _per_buyer(latent, purchases, end_day)


def _per_buyer(latent: pd.DataFrame, purchases: pd.DataFrame, end_day: float) -> pd.DataFrame:
    month = gen.DAYS_PER_MONTH
    delta = math.log1p(MONTHLY_DISCOUNT_RATE) / month
    age = purchases["day"] - purchases["first_day"]
    after = purchases["day"] - end_day
    first = age < HORIZON_MONTHS * month
    columns = {
        "revenue_first_36m": purchases["revenue"].where(first, 0.0),
        "discounted_revenue_first_36m": (purchases["revenue"] * np.exp(-delta * age)).where(first, 0.0),
        "discounted_revenue_next_36m": (purchases["revenue"] * np.exp(-delta * after)).where(
            (after > 0) & (after <= HORIZON_MONTHS * month), 0.0),
    }
    for months in FORWARD_MONTHS:
        columns[f"revenue_next_{months}m"] = purchases["revenue"].where((after > 0) & (after <= months * month), 0.0)
    sums = pd.DataFrame(columns).groupby(purchases["customer_id"]).sum()
    out = latent[["customer_id", "channel", "first_order_at", "true_lifetime_days"]].set_index("customer_id")
    out["true_lifetime_months"] = np.minimum(1 + out["true_lifetime_days"] / month, HORIZON_MONTHS)
    out = out.join(sums).fillna({c: 0.0 for c in columns})
    return out.reset_index()
