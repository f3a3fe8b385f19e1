"""Campaigns with a known true effect, and campaign contacts from a published build (issue 25, the CVM loop).

* `simulate(folder, ...)` writes an input folder (orders.csv, campaign_contacts.csv) of `campaigns` waves of the
  audience `sim_effect`, whose treated customers buy with a probability `effect` higher than its held-out ones in
  the lift window, and as many waves of `sim_null`, where treatment changes nothing. Each wave has its own
  customers (a first order before the contact), a held-out share drawn at random, a baseline purchase probability
  per customer uniform on [0.05, 0.45], 1 + Poisson(0.5) orders when a customer buys, and log-normal order values
  (mean `order_value`). It returns the true lift per customer of each fct_audience_lift metric, so a test can count
  the waves whose 95% interval holds it.
* `contacts_from_warehouse(warehouse, out)` writes the audiences a build published (fct_audience_members) as
  campaign_contacts rows: treated customers contacted at the as-of date, held-out ones recorded with it. That is
  how the embedded sample's seeds/raw_campaign_contacts.csv was made (see README, "The CVM loop").
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

from clvlayer import settings

AUDIENCES = {"sim_effect": True, "sim_null": False}
CONTACTED_AT = datetime(2024, 3, 1, 9, 0, 0)
EXTRA_ORDERS_MEAN = 0.5  # a buyer places 1 + Poisson(0.5) orders in the window
ORDER_VALUE_SIGMA = 0.6  # log-normal shape of an order's value
CONTACT_COLUMNS = ["customer_id", "audience", "wave", "contacted_at", "channel", "assignment"]


@dataclass(frozen=True)
class TrueLift:
    """The true lift per customer in the window (treated minus held out), for each fct_audience_lift metric."""

    repurchase_rate: float
    orders_per_customer: float
    revenue_per_customer: float
    margin_per_customer: float


def true_lift(effect: float, order_value: float) -> TrueLift:
    orders = effect * (1 + EXTRA_ORDERS_MEAN)
    revenue = orders * order_value
    return TrueLift(effect, orders, revenue, revenue * float(settings.default("gross_margin_rate")))


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _wave_rows(rng: np.random.Generator, audience: str, wave: int, customers: int, held_out_share: float,
               effect: float, order_value: float, window_days: int) -> tuple[list[list[str]], list[list[str]]]:
    """The orders and contacts of one wave: its own customers, each with a first order before the contact."""
    ids = [f"{audience[4:]}_{wave:03d}_{i:04d}" for i in range(customers)]
    held = np.zeros(customers, dtype=bool)
    held[rng.choice(customers, round(customers * held_out_share), replace=False)] = True
    contacted = CONTACTED_AT + timedelta(minutes=wave)
    bought = rng.random(customers) < rng.uniform(0.05, 0.45, customers) + np.where(held, 0.0, effect)
    extra = np.where(bought, 1 + rng.poisson(EXTRA_ORDERS_MEAN, customers), 0)
    mu = np.log(order_value) - ORDER_VALUE_SIGMA ** 2 / 2
    orders, contacts = [], []
    for index, customer in enumerate(ids):
        first = contacted - timedelta(days=float(rng.uniform(10, 300)))
        orders.append([f"{customer}_0", customer, _stamp(first), f"{rng.lognormal(mu, ORDER_VALUE_SIGMA):.2f}"])
        for number in range(1, extra[index] + 1):
            # strictly inside (contacted_at, contacted_at + window]: an hour after the contact at the earliest
            when = contacted + timedelta(hours=float(rng.uniform(1, window_days * 24 - 1)))
            value = rng.lognormal(mu, ORDER_VALUE_SIGMA)
            orders.append([f"{customer}_{number}", customer, _stamp(when), f"{value:.2f}"])
        contacts.append([customer, audience, f"w{wave:03d}", _stamp(contacted), "email",
                         "held_out" if held[index] else "treated"])
    return orders, contacts


def simulate(folder: Path, *, campaigns: int = 100, customers: int = 400, held_out_share: float = 0.5,
             effect: float = 0.10, order_value: float = 80.0, seed: int = 25) -> dict[str, object]:
    """Write orders.csv and campaign_contacts.csv of simulated campaigns into `folder`; return the truth."""
    window_days = int(settings.default("lift_window_days"))
    rng = np.random.default_rng(seed)
    orders: list[list[str]] = []
    contacts: list[list[str]] = []
    for audience, has_effect in AUDIENCES.items():
        for wave in range(campaigns):
            wave_orders, wave_contacts = _wave_rows(rng, audience, wave, customers, held_out_share,
                                                    effect if has_effect else 0.0, order_value, window_days)
            orders += wave_orders
            contacts += wave_contacts
    # one later order so the as-of date (the last order) closes every wave's window
    orders.append(["anchor_0", "anchor", _stamp(CONTACTED_AT + timedelta(days=window_days + 30)), "10.00"])
    folder.mkdir(parents=True, exist_ok=True)
    _write(folder / "orders.csv", ["order_id", "customer_id", "ordered_at", "amount"], orders)
    _write(folder / "campaign_contacts.csv", CONTACT_COLUMNS, contacts)
    truth = {"campaigns": campaigns, "customers_per_campaign": customers, "held_out_share": held_out_share,
             "window_days": window_days, "seed": seed,
             "true_lift": {audience: asdict(true_lift(effect if has_effect else 0.0, order_value))
                           for audience, has_effect in AUDIENCES.items()}}
    (folder / "campaign_truth.json").write_text(json.dumps(truth, indent=2))
    return truth


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)


def contacts_from_warehouse(warehouse: Path, out: Path, channel: str = "email") -> int:
    """Write the audiences a build published (marts.fct_audience_members) as campaign_contacts rows to `out`:
    contacted (or, when held out, recorded) at 10:00 of the day after the as-of date. Returns the rows written."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as connection:
        rows = connection.execute("""
            select customer_id, audience, wave,
                strftime(cast(as_of_date as timestamp) + interval 34 hour, '%Y-%m-%d %H:%M:%S') as contacted_at,
                ? as channel, assignment
            from marts.fct_audience_members
            order by audience, customer_id
        """, [channel]).fetchall()
    _write(out, CONTACT_COLUMNS, [list(row) for row in rows])
    return len(rows)
