"""Deterministic, vectorised generator of realistic e-commerce data with a known ground truth.

The data describe a pet-supplies web shop between ``start`` and ``end`` (both dates inclusive; the
observation window is ``[start 00:00:00, end + 1 day 00:00:00)``, and every table is a snapshot
taken at the end of that window).

Model
-----
Customers
    Every customer gets an acquisition channel (organic, paid_search, paid_social, email, referral,
    affiliate), a region, a birth year (about 3% unknown) and, with probability 30%, a loyalty
    membership (joined 1 minute to 45 days after signup). About 5% of customers sign up and never
    order. For the others the acquisition moment is their *first order*: acquisition days are drawn
    over the window with mild exponential growth (the last day is ~1.6x as busy as the first), a
    November/December bump, a weekday effect and a diurnal time-of-day profile. The signup
    (``created_at``) happens at or before the first order (usually within the same session).

Purchases: BG/NBD (Fader, Hardie & Lee 2005), time unit = one day
    lambda ~ Gamma(shape=r, rate=alpha)    purchase rate per day while alive
    p      ~ Beta(a, b)                    probability to drop out after each *repeat* purchase
    Repeat purchases follow a Poisson process with rate lambda starting at the first order; after
    each repeat purchase the customer becomes inactive with probability p. The first order is the
    "birth" of the customer (no dropout after it), exactly as in the BG/NBD likelihood used by
    ``lifetimes``. Number of repeat purchases until dropout K ~ Geometric(p); the generator draws
    min(K, enough) exponential gaps per customer in one array, cumsums them within customers and
    keeps the times before the end of the window (with a top-up loop for the very rare customers
    who need more draws).

    Segment effects keep every segment an exact BG/NBD population:
    * a channel's ``rate_multiplier`` m and the loyalty multiplier (1.25) scale lambda, i.e. the
      segment's lambda ~ Gamma(r, alpha / m);
    * a channel's ``dropout_b_multiplier`` k scales the Beta ``b``: p ~ Beta(a, b * k)
      (k > 1 = customers stay longer, k < 1 = they churn faster).
    The base parameters (r, alpha, a, b) are those of *organic, non-loyalty* customers (all
    multipliers = 1). The pooled population is a mixture of segments, so a model fitted on all
    customers will not recover the base parameters; fit the organic non-loyalty subset for that
    (``bgnbd_by_segment`` in the ground truth lists the exact parameters of every segment).

Spend per order: Gamma-Gamma (Fader, Hardie & Lee 2005, ``lifetimes`` naming p, q, v)
    nu ~ Gamma(shape=q, rate=v) per customer; order value z ~ Gamma(shape=p, rate=nu).
    The customer's true mean order value is p / nu and the population mean is p * v / (q - 1).
    Spend is independent of purchase frequency, channel and loyalty (the Gamma-Gamma assumption).
    Order amounts are z rounded to the cent with a floor of 1.00.

Orders, items, products
    Every generated purchase is an order (including the ones later cancelled or refunded). ~2% of
    orders are "legacy" orders without any order_items rows. Otherwise an order has 1 + Poisson
    lines (more for bigger baskets), one row per distinct product. The order amount is split over
    the lines with random budgets; each line picks an affordable product (popularity weighted,
    launched on or before the order date), a quantity close to budget / list price, and the line
    prices are the list prices scaled by one per-order factor (so realized category margins stay
    close to the configured ones). All money is handled in integer cents: the rounding difference
    goes to a quantity-1 line of the order, or, if every line has quantity > 1, to the first line
    at the nearest multiple of its quantity with the order amount moving by at most quantity/2
    cents. Hence sum(quantity * unit_price - discount_amount) == orders.amount exactly for every
    order with items. ~8% of orders have a promotional discount (10-25%) on one line. Products
    belong to 8 categories with different margin rates; the "sauces" line is launched at 55% of
    the window and ~10% of the other products are launched during the window.

Status, refunds
    2.5% of orders are cancelled (within hours), 2.5% fully refunded (one refund = order amount),
    1.5% partially refunded (10-60% of the amount; 15% of those in two refunds). Refund delays are
    1-14 days, or 20-60 days for 20% of refunds ("late refunds"). A cancellation or refund that would
    happen after the end of the window is not (yet) in the snapshot: it is not written and the
    order keeps its earlier status. ``updated_at`` is the time of the last status change.

Marketing spend
    One row per day and paid channel (every channel with a positive true CAC; organic has none).
    The cost of a channel's new customers (true_cac x customers whose first order is that day) is
    spread evenly over a centred 7-day window (truncated at the window edges, preserving the
    total) and multiplied by mean-one lognormal noise (sigma 0.25). Hence spend / new customers
    per month ~= true CAC, where "new customers" are counted by first-order date (any status).

True lifetime
    A customer's true lifetime is first order -> BG/NBD dropout (right after the K-th repeat purchase).
    Customers still alive at the end of the window are simulated on to their dropout (memoryless: the remaining
    repeat purchases take Gamma(K - repeats so far, 1/lambda) days after the window). ``customers_truth.parquet``
    has ``true_dropout_at`` and ``true_lifetime_days``; ``ground_truth.json`` ("lifetime") the restricted mean
    lifetime to a cap (an unrestricted mean is infinite when r <= 1: E[1/lambda] diverges), overall and per
    channel, which the warehouse's expected lifetime is checked against.

Determinism: one ``numpy.random.Generator(PCG64(seed))`` drives everything (the lifetime continuation uses a child
stream of the same seed, so adding it left the tables unchanged) and nothing depends on
the wall clock, so the same arguments give byte-identical CSV files.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

__all__ = ["generate", "write_sample_seeds", "SAMPLE_CUSTOMERS", "SAMPLE_SEED", "TABLES"]

GENERATOR_VERSION = "1.1"

# ----------------------------------------------------------------------------------------------
# Parameters (the ground truth)
# ----------------------------------------------------------------------------------------------

#: BG/NBD parameters of the base segment (organic, non-loyalty), time unit = day.
BGNBD: dict[str, float] = {"r": 0.9, "alpha": 20.0, "a": 0.8, "b": 4.0}
#: Gamma-Gamma parameters (lifetimes naming): z ~ Gamma(p, nu), nu ~ Gamma(q, v) (rates).
GAMMA_GAMMA: dict[str, float] = {"p": 6.0, "q": 3.5, "v": 20.0}
MIN_ORDER_CENTS = 100

LOYALTY_SHARE = 0.30
LOYALTY_RATE_MULTIPLIER = 1.25
LOYALTY_JOIN_MAX_DAYS = 45.0
NEVER_ORDER_SHARE = 0.05
BIRTH_YEAR_NULL_SHARE = 0.03
ACQUISITION_GROWTH = 1.6  # acquisition intensity on the last day relative to the first day
ACQUISITION_MONTH_WEIGHTS: dict[int, float] = {11: 1.25, 12: 1.35}  # calendar month -> acquisition multiplier


@dataclass(frozen=True)
class Channel:
    share: float
    true_cac: float
    rate_multiplier: float
    dropout_b_multiplier: float


CHANNELS: dict[str, Channel] = {
    "organic": Channel(0.30, 0.0, 1.00, 1.00),
    "paid_search": Channel(0.22, 35.0, 1.00, 1.00),
    "paid_social": Channel(0.16, 45.0, 0.85, 0.60),
    "email": Channel(0.10, 10.0, 1.20, 1.40),
    "referral": Channel(0.10, 15.0, 1.30, 1.60),
    "affiliate": Channel(0.12, 30.0, 0.90, 0.80),
}
SPEND_NOISE_SIGMA = 0.25
SPEND_SPREAD_DAYS = 7  # centred window (odd)

REGIONS: dict[str, float] = {"north": 0.22, "south": 0.20, "east": 0.20, "west": 0.18, "central": 0.20}


@dataclass(frozen=True)
class Category:
    margin_rate: float
    n_products: int
    price_low: float
    price_high: float
    weight: float  # share of order lines (before affordability / launch constraints)


CATEGORIES: dict[str, Category] = {
    "dog_food": Category(0.25, 24, 18.0, 75.0, 0.24),
    "cat_food": Category(0.25, 20, 12.0, 55.0, 0.18),
    "treats": Category(0.40, 18, 3.0, 15.0, 0.16),
    "toys": Category(0.50, 16, 5.0, 30.0, 0.10),
    "accessories": Category(0.55, 14, 10.0, 70.0, 0.08),
    "health": Category(0.45, 12, 8.0, 45.0, 0.10),
    "grooming": Category(0.48, 10, 6.0, 35.0, 0.07),
    "sauces": Category(0.60, 6, 3.0, 9.0, 0.07),
}
NEW_LINE_CATEGORY = "sauces"
NEW_LINE_LAUNCH_FRACTION = 0.55  # position of the sauces launch within the window
MID_PERIOD_LAUNCH_SHARE = 0.10  # share of the other products launched during the window

LEGACY_NO_ITEMS_SHARE = 0.02
MAX_LINES = 10
MAX_QUANTITY = 12
PROMO_SHARE = 0.08
PROMO_RANGE = (0.10, 0.25)

STATUS_SHARES: dict[str, float] = {"cancelled": 0.025, "refunded": 0.025, "partially_refunded": 0.015}
CANCEL_DELAY_MEAN_HOURS = 6.0
REFUND_NORMAL_DAYS = (1.0, 14.0)
REFUND_LATE_DAYS = (20.0, 60.0)
REFUND_LATE_SHARE = 0.20
PARTIAL_RANGE = (0.10, 0.60)
PARTIAL_TWO_REFUNDS_SHARE = 0.15
SECOND_REFUND_EXTRA_DAYS = (1.0, 20.0)

TABLES: tuple[str, ...] = ("orders", "customers", "order_items", "products", "refunds", "marketing_spend")
STATUS_NAMES: list[str] = ["completed", "cancelled", "refunded", "partially_refunded"]
#: Ground-truth lifetime summary: cap and month length (the project's defaults, vars clv_horizon_months and
#: days_per_month); the per-customer true lifetime is in customers_truth.parquet for any other cap.
LIFETIME_CAP_MONTHS = 36
DAYS_PER_MONTH = 30.4375
SAMPLE_CUSTOMERS = 4_000
SAMPLE_SEED = 42
SAMPLE_START = date(2023, 1, 1)
SAMPLE_END = date(2025, 6, 30)

SECONDS_PER_DAY = 86_400
_EPOCH = date(1970, 1, 1)
_DECIMAL = pa.decimal128(14, 2)
_TIMESTAMP = pa.timestamp("s")

Progress = Callable[[str], None]


# ----------------------------------------------------------------------------------------------
# Small vectorised helpers
# ----------------------------------------------------------------------------------------------


def _format_ids(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """Fixed-width ids like ``O00000001`` built as raw bytes (no Python loop per row)."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n = int(numbers.size)
    if n:
        width = max(width, len(str(int(numbers.max()))))
    head = len(prefix)
    row = head + width
    mat = np.empty((n, row), dtype=np.uint8)
    mat[:, :head] = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    rest = numbers.copy()
    for k in range(width - 1, -1, -1):
        mat[:, head + k] = (rest % 10 + 48).astype(np.uint8)
        rest //= 10
    if n * row < 2**31 - 1:
        offsets = np.arange(n + 1, dtype=np.int32) * np.int32(row)
        return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(mat))
    offsets64 = np.arange(n + 1, dtype=np.int64) * row
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets64), pa.py_buffer(mat)).cast(pa.string())


def _decimal(cents: np.ndarray) -> pa.Array:
    """Exact decimal(14, 2) array from integer cents (unscaled 128-bit little-endian values)."""
    c = np.ascontiguousarray(cents, dtype=np.int64)
    buf = np.empty((c.size, 2), dtype=np.int64)
    buf[:, 0] = c
    buf[:, 1] = c >> 63
    return pa.Array.from_buffers(_DECIMAL, int(c.size), [None, pa.py_buffer(buf)])


LAST_TIMESTAMP_SEC = (2**63 - 1) // 1000  # the last second a Parquet timestamp (int64 milliseconds) holds


def _timestamps(epoch_seconds: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    values = np.ascontiguousarray(epoch_seconds, dtype=np.int64)
    return pa.array(values, type=_TIMESTAMP, mask=mask)


def _labels(names: list[str], codes: np.ndarray) -> pa.Array:
    return pa.array(names, type=pa.string()).take(pa.array(np.asarray(codes, dtype=np.int32)))


def _group_starts(counts: np.ndarray) -> np.ndarray:
    """Start offset of every group in the flattened (np.repeat-ed) array."""
    return np.cumsum(counts) - counts


def _choice(rng: np.random.Generator, weights: np.ndarray, size: int) -> np.ndarray:
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    idx = np.searchsorted(cum, rng.random(size) * cum[-1], side="right")
    return np.minimum(idx, len(cum) - 1)


def _lognormal_mean_one(rng: np.random.Generator, sigma: float, size: int) -> np.ndarray:
    return np.exp(rng.normal(-0.5 * sigma * sigma, sigma, size))


# ----------------------------------------------------------------------------------------------
# Generation
# ----------------------------------------------------------------------------------------------


@dataclass
class _Window:
    start: date
    end: date
    n_days: int  # days in [start, end]
    start_epoch: int  # epoch seconds of start 00:00:00
    horizon: float  # window length in days (end of window, exclusive)

    @classmethod
    def of(cls, start: date, end: date) -> "_Window":
        if end < start:
            raise ValueError(f"end ({end}) is before start ({start})")
        n_days = (end - start).days + 1
        return cls(start, end, n_days, (start - _EPOCH).days * SECONDS_PER_DAY, float(n_days))

    def epoch(self, days: np.ndarray) -> np.ndarray:
        """Float days since start -> integer epoch seconds (floored to the second)."""
        return self.start_epoch + np.floor(np.asarray(days) * SECONDS_PER_DAY).astype(np.int64)


def _acquisition_days(rng: np.random.Generator, win: _Window, size: int) -> np.ndarray:
    """Float days since start: growth + Nov/Dec bump + weekday effect + diurnal profile."""
    d = np.arange(win.n_days)
    dates = np.datetime64(win.start.isoformat(), "D") + d
    months = (dates.astype("datetime64[M]").astype(np.int64) % 12) + 1
    weekday = (dates.astype(np.int64) + 3) % 7  # 0 = Monday
    weights = np.exp(math.log(ACQUISITION_GROWTH) * d / max(win.n_days - 1, 1))
    weights *= np.array([ACQUISITION_MONTH_WEIGHTS.get(m, 1.0) for m in range(13)])[months]
    weights *= np.where(weekday >= 5, 0.9, 1.0) * np.where(weekday == 0, 1.08, 1.0)
    day = _choice(rng, weights, size)
    hour_w = np.array([2, 1, 1, 1, 1, 2, 4, 6, 7, 7, 7, 7, 8, 8, 7, 7, 7, 8, 9, 10, 10, 9, 7, 4], float)
    hour = _choice(rng, hour_w, size)
    t = day + (hour + rng.random(size)) / 24.0
    return np.minimum(t, win.horizon - 1.0 / 24.0)  # keep room for a loyalty join before the end


def _repeat_purchases(
    rng: np.random.Generator, lam: np.ndarray, p: np.ndarray, t0: np.ndarray, horizon: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD repeat purchases of the given customers.

    Returns (customer index, purchase time in days) of every repeat purchase before ``horizon``,
    grouped by customer with increasing times, a per-customer alive-at-horizon flag and the number K of
    repeat purchases each customer makes before dropping out (inside the window or not).
    """
    n = lam.size
    k_left = rng.geometric(np.clip(p, 1e-12, 1.0)).astype(np.int64)  # repeats until dropout
    k_total = k_left.copy()
    current = t0.astype(np.float64).copy()
    alive = np.ones(n, dtype=bool)
    pending = np.arange(n)
    out_idx: list[np.ndarray] = []
    out_t: list[np.ndarray] = []
    while pending.size:
        mean = lam[pending] * np.maximum(horizon - current[pending], 0.0)
        cap = np.ceil(mean + 5.0 * np.sqrt(mean) + 5.0).astype(np.int64)
        draws = np.minimum(k_left[pending], cap)
        rep = np.repeat(pending, draws)
        # a gap longer than the window ends the customer's window anyway; clipping keeps the
        # global cumsum small so within-customer times stay exact to well below a second
        gaps = np.minimum(rng.standard_exponential(rep.size) / lam[rep], 2.0 * horizon)
        csum = np.cumsum(gaps)
        starts = _group_starts(draws)
        before = np.concatenate(([0.0], csum))[starts]
        times = current[rep] + csum - np.repeat(before, draws)
        keep = times < horizon
        out_idx.append(rep[keep])
        out_t.append(times[keep])
        last = times[starts + draws - 1]
        k_left[pending] -= draws
        # dropped out: made the K-th repeat purchase inside the window
        died = (k_left[pending] == 0) & (last < horizon)
        alive[pending[died]] = False
        more = (last < horizon) & (k_left[pending] > 0)
        current[pending] = last
        pending = pending[more]
    idx = np.concatenate(out_idx) if out_idx else np.empty(0, np.int64)
    tt = np.concatenate(out_t) if out_t else np.empty(0, np.float64)
    order = np.argsort(idx, kind="stable")  # group by customer (times already increase within)
    return idx[order], tt[order], alive, k_total


@dataclass
class _Catalog:
    names: list[str]
    category: np.ndarray  # category code per product
    price: np.ndarray  # list price, cents
    cost: np.ndarray  # unit cost, cents
    launch_day: np.ndarray  # days since start (negative = before the window)
    fallback: np.ndarray  # product always available to use instead (launched before start)


def _catalog(rng: np.random.Generator, win: _Window) -> _Catalog:
    names = list(CATEGORIES)
    cats, prices, costs, launches = [], [], [], []
    new_line_day = int(round(NEW_LINE_LAUNCH_FRACTION * (win.n_days - 1)))
    for code, name in enumerate(names):
        spec = CATEGORIES[name]
        k = spec.n_products
        price = np.exp(rng.uniform(math.log(spec.price_low), math.log(spec.price_high), k))
        price_cents = np.sort(np.maximum(np.round(price) * 100 - 1, 99).astype(np.int64))
        cost = price_cents * (1.0 - spec.margin_rate) * np.exp(rng.normal(0.0, 0.05, k))
        cost_cents = np.minimum(np.round(cost).astype(np.int64), price_cents - 1)
        if name == NEW_LINE_CATEGORY:
            launch = np.full(k, new_line_day, dtype=np.int64) + rng.integers(0, 30, k) * (np.arange(k) > 1)
            launch = np.minimum(launch, win.n_days - 1)
        else:
            launch = -rng.integers(30, 1500, k)
            mid = rng.random(k) < MID_PERIOD_LAUNCH_SHARE
            mid[0] = False  # the cheapest product of every established category is always available
            launch = np.where(mid, rng.integers(int(0.1 * win.n_days), max(int(0.9 * win.n_days), 1) + 1, k), launch)
        cats.append(np.full(k, code))
        prices.append(price_cents)
        costs.append(cost_cents)
        launches.append(launch.astype(np.int64))
    category = np.concatenate(cats)
    price = np.concatenate(prices)
    launch_day = np.concatenate(launches)
    fallback = np.empty(category.size, dtype=np.int64)
    always = launch_day < 0
    cheapest_always = int(np.flatnonzero(always)[np.argmin(price[always])])
    for code in range(len(names)):
        members = np.flatnonzero((category == code) & always)
        fallback[category == code] = members[np.argmin(price[members])] if members.size else cheapest_always
    return _Catalog(names, category, price, np.concatenate(costs), launch_day, fallback)


def _pick_products(
    rng: np.random.Generator, cat: _Catalog, budget: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """Popularity-weighted product per line, launched on or before the line's day.

    Candidates are the products of a drawn category whose list price lies in
    [budget / (MAX_QUANTITY + 0.5), budget], so that a quantity of round(budget / price)
    reproduces the budget closely (the three dearest affordable products when none qualifies).
    A category without any affordable product is redrawn (a few times), as is a product that is
    not launched yet; lines still unresolved at the end get an always-available product.
    """
    n_cat = len(cat.names)
    weights = np.array([CATEGORIES[c].weight for c in cat.names])
    per_cat = []
    for code in range(n_cat):
        members = np.flatnonzero(cat.category == code)  # sorted by price within the category
        pop = 1.0 / np.sqrt(1.0 + rng.permutation(members.size))  # Zipf-like popularity
        per_cat.append((members, cat.price[members].astype(np.float64), np.concatenate(([0.0], np.cumsum(pop)))))
    product = np.full(budget.size, -1, dtype=np.int64)
    todo = np.arange(budget.size)
    for attempt in range(10):
        need_affordable = attempt < 5
        codes = _choice(rng, weights, todo.size)
        u = rng.random(todo.size)
        for code in range(n_cat):
            sel = codes == code
            if not sel.any():
                continue
            members, price, cum = per_cat[code]
            lines = todo[sel]
            b = budget[lines]
            hi = np.maximum(np.searchsorted(price, b, side="right"), 1)
            lo = np.searchsorted(price, b / (MAX_QUANTITY + 0.5), side="left")
            lo = np.where(lo >= hi, np.maximum(hi - 3, 0), lo)
            x = cum[lo] + u[sel] * (cum[hi] - cum[lo])
            j = np.clip(np.searchsorted(cum, x, side="right") - 1, lo, hi - 1)
            product[lines] = members[j]
        ok = cat.launch_day[product[todo]] <= day[todo]
        if need_affordable:
            ok &= cat.price[product[todo]] <= 1.1 * budget[todo]
        todo = todo[~ok]
        if not todo.size:
            break
    if todo.size:
        product[todo] = cat.fallback[product[todo]]
    return product


@dataclass
class _Customers:
    """Latent and observed attributes of every customer, in customer-id (signup) order."""

    n: int
    channel: np.ndarray
    region: np.ndarray
    loyal: np.ndarray
    never: np.ndarray  # signed up, never ordered
    lam: np.ndarray  # BG/NBD purchase rate per day
    p_drop: np.ndarray  # BG/NBD dropout probability after each repeat purchase
    nu: np.ndarray  # Gamma-Gamma spend rate
    birth_year: np.ndarray
    birth_null: np.ndarray
    t0: np.ndarray  # first order (days since start; signup for never-ordering customers)
    created: np.ndarray  # epoch seconds
    first_order_sec: np.ndarray  # epoch seconds
    joined: np.ndarray  # loyalty join, epoch seconds


@dataclass
class _Purchases:
    """Every purchase (= order) of the window and each buyer's position in the BG/NBD process."""

    buyers: np.ndarray  # customer index of every customer with orders
    o_cust: np.ndarray  # customer index per order, orders sorted by time
    o_sec: np.ndarray  # order time, epoch seconds
    o_day: np.ndarray  # order day since start
    per_customer: np.ndarray  # orders per customer (all customers)
    alive: np.ndarray  # still alive at the end of the window (all customers)
    repeats_until_dropout: np.ndarray  # K per buyer (Geometric(p)); the K-th repeat purchase is the last
    rep_local: np.ndarray  # buyer position of every repeat purchase in the window
    rep_t: np.ndarray  # its time in days since start


@dataclass
class _Items:
    l_order: np.ndarray
    product: np.ndarray
    qty: np.ndarray
    unit: np.ndarray  # cents
    disc: np.ndarray  # cents
    has_items: np.ndarray  # per order


@dataclass
class _Statuses:
    status: np.ndarray  # 0 completed, 1 cancelled, 2 refunded, 3 partially_refunded
    updated: np.ndarray
    r_order: np.ndarray
    r_at: np.ndarray
    r_amt: np.ndarray
    late_share: float


@dataclass
class _IdBlock:
    """Where a chunk's ids start (the ids before it) and their digits (from the whole data set, so every chunk
    writes ids of the same width)."""

    customers: int = 0
    orders: int = 0
    refunds: int = 0
    customer_width: int = 7
    order_width: int = 8
    refund_width: int = 7


@dataclass
class _Spend:
    paid: list[int]
    cents: np.ndarray
    day: np.ndarray
    channel: np.ndarray


def _draw_customers(rng: np.random.Generator, win: _Window, n: int) -> _Customers:
    """Channel, region, loyalty, BG/NBD and Gamma-Gamma latents, birth year, signup and first order."""
    channels = list(CHANNELS.values())
    channel = _choice(rng, np.array([c.share for c in channels]), n)
    region = _choice(rng, np.array(list(REGIONS.values())), n)
    loyal = rng.random(n) < LOYALTY_SHARE
    never = rng.random(n) < NEVER_ORDER_SHARE
    rate_mult = np.array([c.rate_multiplier for c in channels])[channel] * np.where(loyal, LOYALTY_RATE_MULTIPLIER, 1.0)
    b_mult = np.array([c.dropout_b_multiplier for c in channels])[channel]
    lam = rng.gamma(BGNBD["r"], 1.0 / BGNBD["alpha"], n) * rate_mult
    lam = np.maximum(lam, 1e-12)
    p_drop = rng.beta(BGNBD["a"], BGNBD["b"] * b_mult)
    nu = rng.gamma(GAMMA_GAMMA["q"], 1.0 / GAMMA_GAMMA["v"], n)
    birth_year = np.clip(np.round(rng.normal(1984.0, 12.0, n)), 1935, win.start.year - 18).astype(np.int32)
    birth_null = rng.random(n) < BIRTH_YEAR_NULL_SHARE

    t0 = _acquisition_days(rng, win, n)  # first order (or signup for never-ordering customers)
    same_session = rng.random(n) < 0.6
    lead = np.where(same_session, rng.uniform(1.0 / 1440, 30.0 / 1440, n), rng.exponential(10.0, n))
    lead = np.where(lead > t0, rng.random(n) * t0, lead)  # signups stay inside the window
    lead = np.where(never, 0.0, lead)
    created = win.epoch(t0 - lead)
    first_order_sec = win.epoch(t0)
    created = np.minimum(created, first_order_sec)
    join_room = (win.start_epoch + int(win.horizon * SECONDS_PER_DAY) - 1 - created).astype(np.float64)
    join_span = np.maximum(np.minimum(LOYALTY_JOIN_MAX_DAYS * SECONDS_PER_DAY, join_room) - 60.0, 0.0)
    join_delay = 60.0 + rng.random(n) * join_span  # 1 minute .. 45 days, never past the window
    joined = created + np.maximum(np.floor(join_delay).astype(np.int64), 1)

    # customer ids follow signup order
    perm = np.lexsort((np.arange(n), created))
    return _Customers(
        n=n, channel=channel[perm], region=region[perm], loyal=loyal[perm], never=never[perm], lam=lam[perm],
        p_drop=p_drop[perm], nu=nu[perm], birth_year=birth_year[perm], birth_null=birth_null[perm], t0=t0[perm],
        created=created[perm], first_order_sec=first_order_sec[perm], joined=joined[perm],
    )


def _purchase_process(rng: np.random.Generator, win: _Window, cust: _Customers) -> _Purchases:
    """BG/NBD orders: the first order of every buyer plus its repeat purchases inside the window."""
    buyers = np.flatnonzero(~cust.never)
    rep_local, rep_t, alive_b, repeats = _repeat_purchases(
        rng, cust.lam[buyers], cust.p_drop[buyers], cust.t0[buyers], win.horizon
    )
    alive = np.zeros(cust.n, dtype=bool)
    alive[buyers] = alive_b
    o_cust = np.concatenate((buyers, buyers[rep_local]))
    o_sec = win.epoch(np.concatenate((cust.t0[buyers], rep_t)))
    sort = np.lexsort((o_cust, o_sec))
    o_cust, o_sec = o_cust[sort], o_sec[sort]
    return _Purchases(
        buyers=buyers, o_cust=o_cust, o_sec=o_sec, o_day=(o_sec - win.start_epoch) // SECONDS_PER_DAY,
        per_customer=np.bincount(o_cust, minlength=cust.n), alive=alive, repeats_until_dropout=repeats,
        rep_local=rep_local, rep_t=rep_t,
    )


def _order_amounts(rng: np.random.Generator, cust: _Customers, buys: _Purchases) -> np.ndarray:
    """Gamma-Gamma order values in cents (floor MIN_ORDER_CENTS)."""
    z = rng.gamma(GAMMA_GAMMA["p"], 1.0, buys.o_cust.size) / cust.nu[buys.o_cust]
    return np.maximum(np.round(z * 100.0).astype(np.int64), MIN_ORDER_CENTS)


def _order_items(
    rng: np.random.Generator, cat: _Catalog, o_day: np.ndarray, amount: np.ndarray
) -> tuple[_Items, np.ndarray]:
    """Order lines whose amounts add up to the order amount to the cent; returns (items, final order amounts)."""
    n_orders = amount.size
    has_items = rng.random(n_orders) >= LEGACY_NO_ITEMS_SHARE
    mu = 0.25 + 0.6 * amount / 5000.0
    n_lines = np.where(has_items, 1 + np.minimum(rng.poisson(mu), MAX_LINES - 1), 0).astype(np.int64)
    del mu
    l_order = np.repeat(np.arange(n_orders), n_lines)
    l_start = _group_starts(n_lines)
    l_pos = np.arange(l_order.size) - l_start[l_order]
    w = rng.standard_exponential(l_order.size)
    budget = amount[l_order] * w / np.bincount(l_order, weights=w, minlength=n_orders)[l_order]
    del w
    product = _pick_products(rng, cat, budget, o_day[l_order])
    # one row per (order, product): drop later duplicates of a product within the same order
    dup = np.zeros(l_order.size, dtype=bool)
    for k in range(1, MAX_LINES):
        same = np.zeros(l_order.size, dtype=bool)
        same[k:] = (product[k:] == product[:-k]) & (l_pos[k:] >= k)
        dup |= same
    keep = ~dup
    l_order, product, budget = l_order[keep], product[keep], budget[keep]
    del dup, keep, l_pos
    list_price = cat.price[product]
    qty = np.clip(np.rint(budget / list_price), 1, MAX_QUANTITY).astype(np.int64)
    del budget
    n_lines = np.bincount(l_order, minlength=n_orders)
    l_start = _group_starts(n_lines)
    # promotional discount on one random line of ~8% of orders
    promo = has_items & (rng.random(n_orders) < PROMO_SHARE)
    promo_frac = np.where(promo, rng.uniform(*PROMO_RANGE, n_orders), 0.0)
    promo_line = l_start + np.minimum((rng.random(n_orders) * n_lines).astype(np.int64), np.maximum(n_lines - 1, 0))
    natural = (qty * list_price).astype(np.float64)
    gross = np.bincount(l_order, weights=natural, minlength=n_orders)
    promo_natural = np.zeros(n_orders)
    promo_natural[promo] = natural[promo_line[promo]]
    # one price factor per order maps list prices onto the Gamma-Gamma order value
    scale = amount / np.maximum(gross - promo_frac * promo_natural, 1.0)
    unit = np.maximum(np.rint(list_price * scale[l_order]), 1).astype(np.int64)
    disc = np.zeros(l_order.size, dtype=np.int64)
    pl = promo_line[promo]
    disc[pl] = np.rint(promo_frac[promo] * qty[pl] * unit[pl]).astype(np.int64)
    diff = amount - np.bincount(l_order, weights=qty * unit - disc, minlength=n_orders).astype(np.int64)
    # the rounding difference goes to the first quantity-1 line (exact), else to the first line
    # (nearest multiple of its quantity; the order amount then moves by at most quantity/2 cents)
    absorber = l_start.copy()
    ones = np.flatnonzero(qty == 1)
    if ones.size:
        first_one = np.ones(ones.size, dtype=bool)
        first_one[1:] = l_order[ones[1:]] != l_order[ones[:-1]]
        absorber[l_order[ones[first_one]]] = ones[first_one]
    io = np.flatnonzero(has_items)
    ab = absorber[io]
    unit[ab] += np.rint(diff[io] / qty[ab]).astype(np.int64)
    bad = np.zeros(n_orders, dtype=bool)
    bad[io] = (unit[ab] <= 0) | (qty[ab] * unit[ab] - disc[ab] <= 0)
    if bad.any():  # tiny baskets where rounding does not fit: a single line at the full amount
        fix = absorber[bad]
        qty[fix], unit[fix], disc[fix] = 1, amount[bad], 0
        keep = ~bad[l_order]
        keep[fix] = True
        l_order, product, qty, unit, disc = l_order[keep], product[keep], qty[keep], unit[keep], disc[keep]
    item_total = np.bincount(l_order, weights=qty * unit - disc, minlength=n_orders).astype(np.int64)
    amount = np.where(has_items, item_total, amount)
    assert (amount > 0).all() and (unit > 0).all() and (disc >= 0).all() and (qty >= 1).all()
    assert (qty * unit - disc > 0).all()
    return _Items(l_order, product, qty, unit, disc, has_items), amount


def _statuses_and_refunds(rng: np.random.Generator, win: _Window, o_sec: np.ndarray, amount: np.ndarray) -> _Statuses:
    """Cancellations and full / partial refunds, as far as they happened before the end of the window."""
    n_orders = amount.size
    end_sec = win.start_epoch + int(win.horizon * SECONDS_PER_DAY)  # first second after the window
    u = rng.random(n_orders)
    c_cut = STATUS_SHARES["cancelled"]
    r_cut = c_cut + STATUS_SHARES["refunded"]
    p_cut = r_cut + STATUS_SHARES["partially_refunded"]
    is_cancel, is_full, is_part = u < c_cut, (u >= c_cut) & (u < r_cut), (u >= r_cut) & (u < p_cut)
    del u
    status = np.zeros(n_orders, dtype=np.int8)  # 0 completed, 1 cancelled, 2 refunded, 3 partially_refunded
    updated = o_sec.copy()
    ci = np.flatnonzero(is_cancel)
    cancel_delay = np.floor(rng.exponential(CANCEL_DELAY_MEAN_HOURS * 3600.0, ci.size))
    cancel_at = o_sec[ci] + np.maximum(cancel_delay, 60).astype(np.int64)
    seen = cancel_at < end_sec
    status[ci[seen]] = 1
    updated[ci[seen]] = cancel_at[seen]

    def refund_delay_sec(size: int) -> np.ndarray:
        late = rng.random(size) < REFUND_LATE_SHARE
        days = np.where(late, rng.uniform(*REFUND_LATE_DAYS, size), rng.uniform(*REFUND_NORMAL_DAYS, size))
        return np.floor(days * SECONDS_PER_DAY).astype(np.int64)

    fi = np.flatnonzero(is_full)
    f_delay = refund_delay_sec(fi.size)
    pi = np.flatnonzero(is_part)
    p_delay = refund_delay_sec(pi.size)
    p_total = np.clip(np.rint(rng.uniform(*PARTIAL_RANGE, pi.size) * amount[pi]), 1, amount[pi] - 1).astype(np.int64)
    two = (rng.random(pi.size) < PARTIAL_TWO_REFUNDS_SHARE) & (p_total >= 2)
    split = np.clip(np.rint(rng.uniform(0.3, 0.7, pi.size) * p_total), 1, np.maximum(p_total - 1, 1))
    first_amt = np.where(two, split, p_total).astype(np.int64)
    extra_days = rng.uniform(*SECOND_REFUND_EXTRA_DAYS, pi.size)
    second_delay = p_delay + np.floor(extra_days * SECONDS_PER_DAY).astype(np.int64)
    r_order = np.concatenate((fi, pi, pi[two]))
    r_at = np.concatenate((o_sec[fi] + f_delay, o_sec[pi] + p_delay, o_sec[pi[two]] + second_delay[two]))
    r_amt = np.concatenate((amount[fi], first_amt, (p_total - first_amt)[two]))
    r_kind = np.concatenate((np.full(fi.size, 2, np.int8), np.full(pi.size + int(two.sum()), 3, np.int8)))
    seen = r_at < end_sec
    r_order, r_at, r_amt, r_kind = r_order[seen], r_at[seen], r_amt[seen], r_kind[seen]
    status[r_order] = r_kind
    np.maximum.at(updated, r_order, r_at)
    r_sort = np.lexsort((r_order, r_at))
    r_order, r_at, r_amt = r_order[r_sort], r_at[r_sort], r_amt[r_sort]
    late_delay = (r_at - o_sec[r_order]) >= REFUND_LATE_DAYS[0] * SECONDS_PER_DAY
    late_share = float(late_delay.mean()) if r_order.size else 0.0
    return _Statuses(status, updated, r_order, r_at, r_amt, late_share)


def _marketing_spend(rng: np.random.Generator, win: _Window, cust: _Customers, buyers: np.ndarray) -> _Spend:
    """Daily spend per paid channel: true CAC x new customers, spread over a centred window, with noise."""
    return _spend_from_counts(rng, win, _new_customer_counts(win, cust, buyers))


def _new_customer_counts(win: _Window, cust: _Customers, buyers: np.ndarray) -> np.ndarray:
    """New customers per day (rows) and channel (columns), by first-order date."""
    first_day = (cust.first_order_sec[buyers] - win.start_epoch) // SECONDS_PER_DAY
    new_counts = np.zeros((win.n_days, len(CHANNELS)), dtype=np.int64)
    np.add.at(new_counts, (first_day, cust.channel[buyers]), 1)
    return new_counts


def _spend_from_counts(rng: np.random.Generator, win: _Window, new_counts: np.ndarray) -> _Spend:
    channels = list(CHANNELS.values())
    paid = [i for i, c in enumerate(channels) if c.true_cac > 0]
    half = SPEND_SPREAD_DAYS // 2
    kernel = np.ones(SPEND_SPREAD_DAYS)
    coverage = np.convolve(np.ones(win.n_days), kernel, mode="full")[half : half + win.n_days]
    spend_cols = []
    for i in paid:
        mass = channels[i].true_cac * 100.0 * new_counts[:, i] / coverage
        spread = np.convolve(mass, kernel, mode="full")[half : half + win.n_days]
        spend_cols.append(np.rint(spread * _lognormal_mean_one(rng, SPEND_NOISE_SIGMA, win.n_days)).astype(np.int64))
    cents = np.stack(spend_cols, axis=1).reshape(-1) if spend_cols else np.empty(0, np.int64)
    return _Spend(paid, cents, np.repeat(np.arange(win.n_days), len(paid)), np.tile(np.array(paid), win.n_days))


def _true_lifetimes(seed: int | list[int], win: _Window, cust: _Customers, buys: _Purchases) -> np.ndarray:
    """Days from each buyer's first purchase to their true BG/NBD dropout (NaN for never-ordering customers).

    A customer drops out right after their K-th repeat purchase. For customers who dropped out inside the window
    that is their last repeat purchase; for customers still alive at the end of the window the process is
    continued: by memorylessness the remaining K - (repeats so far) purchases take a Gamma(K - repeats, 1/lambda)
    time from the end of the window. The continuation uses its own random stream (a child of ``seed``), so the
    observable tables are identical to what they were before the truth was added.
    """
    continuation = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    b = buys.buyers
    repeats_in_window = np.bincount(buys.rep_local, minlength=b.size)
    last_repeat = np.full(b.size, -np.inf)
    np.maximum.at(last_repeat, buys.rep_local, buys.rep_t)
    still_alive = buys.alive[b]
    remaining = np.maximum(buys.repeats_until_dropout - repeats_in_window, 1)
    continued = win.horizon + continuation.gamma(remaining, 1.0 / cust.lam[b])
    dropout = np.where(still_alive, continued, last_repeat)
    lifetime = np.full(cust.n, np.nan)
    lifetime[b] = dropout - cust.t0[b]
    return lifetime


def _restricted_mean_lifetimes(cust: _Customers, lifetime_days: np.ndarray) -> dict[str, Any]:
    """Ground-truth restricted mean lifetime (months) overall and per channel, in the warehouse's definition."""
    cap_days = LIFETIME_CAP_MONTHS * DAYS_PER_MONTH
    buyer = ~cust.never

    def means(mask: np.ndarray) -> dict[str, float]:
        days = lifetime_days[mask & buyer]
        if not days.size:
            return {"customers": 0}
        return {
            "customers": int(days.size),
            "restricted_mean_lifetime_months": round(float(np.minimum(days, cap_days).mean()) / DAYS_PER_MONTH, 6),
            # the warehouse's lifetime credits the first month: min(1 month + L, cap)
            "restricted_mean_lifetime_months_first_month_counted": round(
                float(np.minimum(days + DAYS_PER_MONTH, cap_days).mean()) / DAYS_PER_MONTH, 6
            ),
        }

    return {
        "definition": (
            "L = true dropout time - first purchase (BG/NBD: dropout right after the K-th repeat purchase; customers "
            "alive at the end of the data are simulated on to their dropout). Restricted mean = mean of min(L, cap) "
            "over customers with orders, in months of days_per_month days; the '_first_month_counted' variant is "
            "mean of min(1 month + L, cap), the warehouse's lifetime definition (first purchase counts a month)."
        ),
        "cap_months": LIFETIME_CAP_MONTHS,
        "days_per_month": DAYS_PER_MONTH,
        "overall": means(np.ones(cust.n, dtype=bool)),
        "by_channel": {name: means(cust.channel == i) for i, name in enumerate(CHANNELS)},
    }


def _tables(
    win: _Window, cat: _Catalog, cust: _Customers, buys: _Purchases, amount: np.ndarray, items: _Items,
    st: _Statuses, spend: _Spend, ids: _IdBlock | None = None,
) -> dict[str, pa.Table]:
    """The six observable tables as Arrow tables (ids numbered from `ids`: a chunk's block of ids)."""
    ids = ids or _IdBlock()
    n_orders = buys.o_cust.size
    ch_names = list(CHANNELS)
    cust_ids = _format_ids("C", ids.customers + np.arange(1, cust.n + 1), ids.customer_width)
    order_ids = _format_ids("O", ids.orders + np.arange(1, n_orders + 1), ids.order_width)
    launch_dates = np.datetime64(win.start.isoformat(), "D") + cat.launch_day
    start_days = (win.start - _EPOCH).days
    return {
        "orders": pa.table({
            "order_id": order_ids,
            "customer_id": cust_ids.take(pa.array(buys.o_cust)),
            "ordered_at": _timestamps(buys.o_sec),
            "amount": _decimal(amount),
            "status": _labels(STATUS_NAMES, st.status),
            "currency": _labels(["USD"], np.zeros(n_orders, np.int32)),
            "updated_at": _timestamps(st.updated),
        }),
        "customers": pa.table({
            "customer_id": cust_ids,
            "created_at": _timestamps(cust.created),
            "acquisition_channel": _labels(ch_names, cust.channel),
            "region": _labels(list(REGIONS), cust.region),
            "birth_year": pa.array(cust.birth_year, type=pa.int32(), mask=cust.birth_null),
            "is_loyalty_member": pa.array(cust.loyal, type=pa.bool_()),
            "loyalty_joined_at": _timestamps(cust.joined, mask=~cust.loyal),
        }),
        "order_items": pa.table({
            "order_id": order_ids.take(pa.array(items.l_order)),
            "product_id": _format_ids("P", items.product + 1, 4),
            "quantity": pa.array(items.qty.astype(np.int32)),
            "unit_price": _decimal(items.unit),
            "discount_amount": _decimal(items.disc),
        }),
        "products": pa.table({
            "product_id": _format_ids("P", np.arange(1, cat.category.size + 1), 4),
            "category": _labels(cat.names, cat.category),
            "unit_cost": _decimal(cat.cost),
            "launched_at": pa.array(launch_dates.astype(np.int64).astype(np.int32), type=pa.date32()),
        }),
        "refunds": pa.table({
            "refund_id": _format_ids("R", ids.refunds + np.arange(1, st.r_order.size + 1), ids.refund_width),
            "order_id": order_ids.take(pa.array(st.r_order)),
            "refunded_at": _timestamps(st.r_at),
            "amount": _decimal(st.r_amt),
        }),
        "marketing_spend": pa.table({
            "spend_date": pa.array((start_days + spend.day).astype(np.int32), type=pa.date32()),
            "channel": _labels(ch_names, spend.channel),
            "amount": _decimal(spend.cents),
        }),
    }


def _truth_table(win: _Window, cust: _Customers, buys: _Purchases, lifetime_days: np.ndarray,
                 ids: _IdBlock | None = None) -> pa.Table:
    """Per-customer latent truth (customers_truth.parquet)."""
    ids = ids or _IdBlock()
    true_mov = GAMMA_GAMMA["p"] / cust.nu
    # E[purchases in the next 365 days | alive, lambda, p] = (1 - exp(-lambda * p * t)) / p
    exp_next = np.where(buys.alive, -np.expm1(-cust.lam * cust.p_drop * 365.0) / np.maximum(cust.p_drop, 1e-300), 0.0)
    # a near-zero dropout probability can draw a lifetime of hundreds of millions of years, past what a Parquet
    # timestamp holds: such a dropout is written as the last timestamp it holds (true_lifetime_days keeps the draw)
    seconds_left = (LAST_TIMESTAMP_SEC - cust.first_order_sec).astype(np.float64)
    lived = np.floor(np.minimum(np.nan_to_num(lifetime_days) * SECONDS_PER_DAY, seconds_left)).astype(np.int64)
    dropout_sec = np.minimum(cust.first_order_sec + lived, LAST_TIMESTAMP_SEC)  # in integers: no float rounding up
    return pa.table({
        "customer_id": _format_ids("C", ids.customers + np.arange(1, cust.n + 1), ids.customer_width),
        "channel": _labels(list(CHANNELS), cust.channel),
        "is_loyalty_member": pa.array(cust.loyal, type=pa.bool_()),
        "has_orders": pa.array(~cust.never, type=pa.bool_()),
        "lambda": pa.array(cust.lam),
        "p_dropout": pa.array(cust.p_drop),
        "nu": pa.array(cust.nu),
        "true_expected_spend": pa.array(true_mov),
        "is_alive_at_end": pa.array(buys.alive, type=pa.bool_()),
        "n_orders": pa.array(buys.per_customer.astype(np.int32)),
        "first_order_at": _timestamps(cust.first_order_sec, mask=cust.never),
        "t_days": pa.array(np.where(cust.never, np.nan, win.horizon - cust.t0)),
        "expected_purchases_next_365d": pa.array(exp_next),
        "expected_value_next_365d": pa.array(exp_next * true_mov),
        # true BG/NBD dropout (right after the last repeat purchase), simulated on past the window when needed
        "true_dropout_at": _timestamps(dropout_sec, mask=cust.never),
        "true_lifetime_days": pa.array(lifetime_days),
        # repeat purchases still to come after the window (the last of them at true_dropout_at; 0 when dropped out)
        "repeats_after_end": pa.array(_repeats_after_end(cust, buys)),
    })


def _repeats_after_end(cust: _Customers, buys: _Purchases) -> np.ndarray:
    """Per customer: K - the repeat purchases made inside the window, for buyers still alive (else 0)."""
    remaining = np.zeros(cust.n, dtype=np.int64)
    made = buys.per_customer[buys.buyers] - 1
    remaining[buys.buyers] = np.where(buys.alive[buys.buyers], buys.repeats_until_dropout - made, 0)
    return remaining


def _realized_category_margins(cat: _Catalog, items: _Items) -> dict[str, float]:
    item_cost = cat.cost[items.product] * items.qty
    item_rev = items.qty * items.unit - items.disc
    realized: dict[str, float] = {}
    for code, name in enumerate(cat.names):
        m = cat.category[items.product] == code
        rev = float(item_rev[m].sum())
        if rev > 0:
            realized[name] = round(1.0 - float(item_cost[m].sum()) / rev, 4)
    return realized


def _segment_parameters() -> dict[str, dict[str, float]]:
    """Exact BG/NBD parameters of every channel x loyalty segment."""
    segments: dict[str, dict[str, float]] = {}
    for name, c in CHANNELS.items():
        for member, mult in (("non_member", 1.0), ("member", LOYALTY_RATE_MULTIPLIER)):
            segments[f"{name}|{member}"] = {
                "r": BGNBD["r"],
                "alpha": round(BGNBD["alpha"] / (c.rate_multiplier * mult), 6),
                "a": BGNBD["a"],
                "b": round(BGNBD["b"] * c.dropout_b_multiplier, 6),
            }
    return segments


TRUTH_NOTES = (
    "BG/NBD with time unit = day: lambda ~ Gamma(r, rate alpha), dropout p ~ Beta(a, b) after each "
    "repeat purchase; the first order is the acquisition. 'bgnbd' holds the BASE parameters, valid for "
    "organic non-loyalty customers; other segments scale lambda (alpha / (channel rate_multiplier x "
    "loyalty 1.25)) and Beta b (b x dropout_b_multiplier), see bgnbd_by_segment. The pooled population "
    "is a mixture, so compare a fit on the organic non-loyalty subset with 'bgnbd'. Gamma-Gamma spend "
    "(p, q, v; population mean order value p*v/(q-1)) applies to every customer and is independent of "
    "frequency, channel and loyalty. All orders (including later cancelled/refunded) come from the "
    "purchase process. ~2% legacy orders have no order_items; for all others the item total equals the "
    "order amount to the cent. Data are a snapshot at the end of 'end': later refunds/cancellations are "
    "absent. Spend per paid channel ~= true_cac x new customers (by first-order date), spread over 7 days."
)


def _ground_truth(
    seed: int, win: _Window, cat: _Catalog, cust: _Customers, buys: _Purchases, items: _Items, st: _Statuses,
    spend: _Spend, tables: dict[str, pa.Table], lifetime_days: np.ndarray,
) -> dict[str, Any]:
    """ground_truth.json: the parameters and the realised shares."""

    def share(mask: np.ndarray) -> float:
        return round(float(mask.mean()), 6) if mask.size else 0.0

    ch_names = list(CHANNELS)
    gg = GAMMA_GAMMA
    new_line_day = int(round(NEW_LINE_LAUNCH_FRACTION * (win.n_days - 1)))
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "start": win.start.isoformat(),
        "end": win.end.isoformat(),
        "observation_end_exclusive": (win.end + timedelta(days=1)).isoformat() + " 00:00:00",
        "n_customers": cust.n,
        "n_customers_with_orders": int((~cust.never).sum()),
        "row_counts": {name: tables[name].num_rows for name in TABLES},
        "bgnbd": {**BGNBD, "time_unit": "day", "applies_to": "organic, non-loyalty customers (all multipliers = 1)"},
        "bgnbd_by_segment": _segment_parameters(),
        "gamma_gamma": {**gg, "mean_order_value": round(gg["p"] * gg["v"] / (gg["q"] - 1.0), 6),
                        "min_order_amount": MIN_ORDER_CENTS / 100, "applies_to": "all customers",
                        "amount_rounding": "order amount = z rounded to the cent; for orders whose lines all have "
                                           "quantity > 1 it moves by at most quantity/2 cents to keep items exact"},
        "channels": {
            name: {
                "true_cac": c.true_cac,
                "share": c.share,
                "rate_multiplier": c.rate_multiplier,
                "dropout_b_multiplier": c.dropout_b_multiplier,
                "mean_dropout_p": round(BGNBD["a"] / (BGNBD["a"] + BGNBD["b"] * c.dropout_b_multiplier), 6),
                "has_spend_rows": c.true_cac > 0,
                "realized_share": share(cust.channel == i),
            }
            for i, (name, c) in enumerate(CHANNELS.items())
        },
        "loyalty": {"share": LOYALTY_SHARE, "rate_multiplier": LOYALTY_RATE_MULTIPLIER,
                    "join_delay_days_max": LOYALTY_JOIN_MAX_DAYS, "realized_share": share(cust.loyal)},
        "loyalty_rate_multiplier": LOYALTY_RATE_MULTIPLIER,
        "categories": {name: spec.margin_rate for name, spec in CATEGORIES.items()},
        "categories_realized_margin_rate": _realized_category_margins(cat, items),
        "new_product_line": {"category": NEW_LINE_CATEGORY,
                             "launched_at": (win.start + timedelta(days=new_line_day)).isoformat()},
        "regions": REGIONS,
        "status_shares": {
            "configured": {"completed": round(1.0 - sum(STATUS_SHARES.values()), 6), **STATUS_SHARES},
            "realized": {s: share(st.status == i) for i, s in enumerate(STATUS_NAMES)},
        },
        "refund_delay": {
            "normal_days": list(REFUND_NORMAL_DAYS),
            "late_days": list(REFUND_LATE_DAYS),
            "late_share": REFUND_LATE_SHARE,
            "realized_late_share": round(st.late_share, 6),  # refund rows >= 20 days after the order
            "partial_fraction_range": list(PARTIAL_RANGE),
            "partial_two_refunds_share": PARTIAL_TWO_REFUNDS_SHARE,
        },
        "orders_without_items_share": {"configured": LEGACY_NO_ITEMS_SHARE, "realized": share(~items.has_items)},
        "never_ordering_customers_share": {"configured": NEVER_ORDER_SHARE, "realized": share(cust.never)},
        "birth_year_null_share": BIRTH_YEAR_NULL_SHARE,
        "promo_discount": {"order_share": PROMO_SHARE, "fraction_range": list(PROMO_RANGE)},
        "marketing_spend": {
            "paid_channels": [ch_names[i] for i in spend.paid],
            "noise": f"lognormal, mean 1, sigma {SPEND_NOISE_SIGMA}",
            "spread_days": SPEND_SPREAD_DAYS,
            "new_customer_definition": "first order date (any status)",
        },
        "alive_at_end_share": share(buys.alive[~cust.never]) if (~cust.never).any() else 0.0,
        "lifetime": _restricted_mean_lifetimes(cust, lifetime_days),
        "notes": TRUTH_NOTES,
    }


def _build(
    customers: int, seed: int, start: date, end: date, progress: Progress
) -> tuple[dict[str, pa.Table], pa.Table, dict[str, Any]]:
    """Generate all tables in memory: (tables by name, per-customer latent truth, ground truth).

    The steps draw from one random stream in a fixed order (products, customers, purchases, amounts, items,
    statuses, spend), so the same arguments always give the same data.
    """
    if customers < 1:
        raise ValueError("customers must be >= 1")
    rng = np.random.Generator(np.random.PCG64(seed))
    win = _Window.of(start, end)
    progress("products")
    cat = _catalog(rng, win)
    progress(f"customers ({customers:,})")
    cust = _draw_customers(rng, win, customers)
    progress("orders: purchase process")
    buys = _purchase_process(rng, win, cust)
    progress(f"orders: amounts ({buys.o_cust.size:,})")
    amount = _order_amounts(rng, cust, buys)
    progress("order items")
    items, amount = _order_items(rng, cat, buys.o_day, amount)
    progress("statuses and refunds")
    statuses = _statuses_and_refunds(rng, win, buys.o_sec, amount)
    progress("marketing spend")
    spend = _marketing_spend(rng, win, cust, buys.buyers)
    progress("true lifetimes")
    lifetime_days = _true_lifetimes(seed, win, cust, buys)
    progress("building tables")
    tables = _tables(win, cat, cust, buys, amount, items, statuses, spend)
    truth_table = _truth_table(win, cust, buys, lifetime_days)
    truth = _ground_truth(seed, win, cat, cust, buys, items, statuses, spend, tables, lifetime_days)
    return tables, truth_table, truth


# ----------------------------------------------------------------------------------------------
# Chunked generation (data sets larger than memory)
# ----------------------------------------------------------------------------------------------

#: Tag in the seed of every chunk's random stream (_chunk_rng).
CHUNK_STREAM = 0xC1C


def _chunk_rng(seed: int, chunk: int) -> tuple[np.random.Generator, list[int]]:
    """The random stream of chunk `chunk` (-1 = the shared one: products and marketing spend) and its entropy."""
    entropy = [seed, CHUNK_STREAM, chunk + 1]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy))), entropy


@dataclass
class _Tally:
    """Sums over chunks, from which the realised shares of the ground truth are recomputed exactly."""

    customers: int = 0
    buyers: int = 0
    alive_buyers: int = 0
    never: int = 0
    loyal: int = 0
    orders: int = 0
    orders_without_items: int = 0
    refunds: int = 0
    late_refunds: float = 0.0
    by_channel: np.ndarray | None = None
    by_status: np.ndarray | None = None
    category_revenue: np.ndarray | None = None
    category_cost: np.ndarray | None = None
    lifetime: dict[str, np.ndarray] | None = None  # group -> [buyers, sum min(L, cap), sum min(month + L, cap)]

    def add(self, cat: _Catalog, cust: _Customers, buys: _Purchases, items: _Items, st: _Statuses,
            lifetime_days: np.ndarray) -> None:
        self.customers += cust.n
        self.buyers += int((~cust.never).sum())
        self.alive_buyers += int(buys.alive[~cust.never].sum())
        self.never += int(cust.never.sum())
        self.loyal += int(cust.loyal.sum())
        self.orders += int(buys.o_cust.size)
        self.orders_without_items += int((~items.has_items).sum())
        self.refunds += int(st.r_order.size)
        self.late_refunds += st.late_share * st.r_order.size
        channels = np.bincount(cust.channel, minlength=len(CHANNELS))
        statuses = np.bincount(st.status, minlength=len(STATUS_NAMES))
        revenue = np.bincount(cat.category[items.product], weights=items.qty * items.unit - items.disc,
                              minlength=len(cat.names))
        cost = np.bincount(cat.category[items.product], weights=cat.cost[items.product] * items.qty,
                           minlength=len(cat.names))
        self.by_channel = channels if self.by_channel is None else self.by_channel + channels
        self.by_status = statuses if self.by_status is None else self.by_status + statuses
        self.category_revenue = revenue if self.category_revenue is None else self.category_revenue + revenue
        self.category_cost = cost if self.category_cost is None else self.category_cost + cost
        cap_days, buyer = LIFETIME_CAP_MONTHS * DAYS_PER_MONTH, ~cust.never
        groups = {"overall": np.ones(cust.n, dtype=bool)} | {name: cust.channel == i for i, name in
                                                              enumerate(CHANNELS)}
        self.lifetime = self.lifetime or {name: np.zeros(3) for name in groups}
        for name, mask in groups.items():
            days = lifetime_days[mask & buyer]
            self.lifetime[name] += [days.size, np.minimum(days, cap_days).sum(),
                                    np.minimum(days + DAYS_PER_MONTH, cap_days).sum()]

    def apply(self, truth: dict[str, Any], cat: _Catalog, row_counts: dict[str, int]) -> dict[str, Any]:
        """`truth` (built for the first chunk) with every count and realised share of the whole data set."""
        def share(part: float, whole: float) -> float:
            return round(float(part) / whole, 6) if whole else 0.0

        truth = json.loads(json.dumps(truth))
        truth["n_customers"], truth["n_customers_with_orders"] = self.customers, self.buyers
        truth["row_counts"] = row_counts
        for i, name in enumerate(CHANNELS):
            truth["channels"][name]["realized_share"] = share(self.by_channel[i], self.customers)
        truth["loyalty"]["realized_share"] = share(self.loyal, self.customers)
        truth["categories_realized_margin_rate"] = {
            name: round(1.0 - float(self.category_cost[code]) / float(self.category_revenue[code]), 4)
            for code, name in enumerate(cat.names) if self.category_revenue[code] > 0}
        truth["status_shares"]["realized"] = {s: share(self.by_status[i], self.orders)
                                              for i, s in enumerate(STATUS_NAMES)}
        truth["refund_delay"]["realized_late_share"] = share(self.late_refunds, self.refunds)
        truth["orders_without_items_share"]["realized"] = share(self.orders_without_items, self.orders)
        truth["never_ordering_customers_share"]["realized"] = share(self.never, self.customers)
        truth["alive_at_end_share"] = share(self.alive_buyers, self.buyers)
        for name, (count, capped, first_month) in self.lifetime.items():
            summary = {"customers": int(count)} if not count else {
                "customers": int(count),
                "restricted_mean_lifetime_months": round(capped / count / DAYS_PER_MONTH, 6),
                "restricted_mean_lifetime_months_first_month_counted": round(first_month / count / DAYS_PER_MONTH, 6),
            }
            if name == "overall":
                truth["lifetime"]["overall"] = summary
            else:
                truth["lifetime"]["by_channel"][name] = summary
        return truth


class _TableWriter:
    """Appends Arrow tables chunk by chunk to <name>.parquet (row groups) or <name>.csv (one header)."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt, self.rows = path, fmt, 0
        self._parquet: pq.ParquetWriter | None = None
        self._csv = None

    def write(self, table: pa.Table) -> None:
        if self.fmt == "parquet":
            if self._parquet is None:
                self._parquet = pq.ParquetWriter(self.path, table.schema, compression="zstd")
            self._parquet.write_table(table, row_group_size=1_000_000)
        else:
            if self._csv is None:
                self._csv = open(self.path, "wb")
                self._csv.write((",".join(table.column_names) + "\n").encode("utf-8"))
            pacsv.write_csv(table, self._csv, pacsv.WriteOptions(include_header=False, quoting_style="none",
                                                                 batch_size=262_144))
        self.rows += table.num_rows

    def close(self) -> None:
        if self._parquet is not None:
            self._parquet.close()
        if self._csv is not None:
            self._csv.close()


def _generate_chunked(out_dir: Path, customers: int, seed: int, win: _Window, fmt: str, chunk_customers: int,
                      report: Progress) -> dict[str, Any]:
    """Generate `customers` customers in independent chunks of at most `chunk_customers`, appending each chunk's
    rows to the files, so memory is bounded by one chunk.

    Each chunk is a sample of the same model (customers, purchases, amounts, items, statuses and true lifetimes
    drawn from the chunk's own stream, _chunk_rng); the catalog and the marketing spend come from one shared
    stream, the spend from the new customers of every chunk. Ids are numbered across chunks (a chunk's customer
    ids follow signup order, its order ids time order, within the chunk). The data are therefore not the same as
    the single-pass generator's for the same seed, only from the same distribution.
    """
    shared, _ = _chunk_rng(seed, -1)
    cat = _catalog(shared, win)
    sizes = [min(chunk_customers, customers - start) for start in range(0, customers, chunk_customers)]
    ids = _IdBlock(customer_width=max(7, len(str(customers))), order_width=9, refund_width=8)
    writers = {name: _TableWriter(out_dir / f"{name}.{fmt}", fmt) for name in ("orders", "customers",
                                                                                "order_items", "refunds")}
    truth_writer = _TableWriter(out_dir / "customers_truth.parquet", "parquet")
    new_counts = np.zeros((win.n_days, len(CHANNELS)), dtype=np.int64)
    tally, first_truth, first_tables = _Tally(), None, None
    try:
        for k, size in enumerate(sizes):
            report(f"chunk {k + 1} of {len(sizes)}: {size:,} customers")
            rng, entropy = _chunk_rng(seed, k)
            cust = _draw_customers(rng, win, size)
            buys = _purchase_process(rng, win, cust)
            amount = _order_amounts(rng, cust, buys)
            items, amount = _order_items(rng, cat, buys.o_day, amount)
            statuses = _statuses_and_refunds(rng, win, buys.o_sec, amount)
            lifetime_days = _true_lifetimes(entropy, win, cust, buys)
            new_counts += _new_customer_counts(win, cust, buys.buyers)
            no_spend = _Spend([], np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.int64))
            tables = _tables(win, cat, cust, buys, amount, items, statuses, no_spend, ids)
            for name, writer in writers.items():
                writer.write(tables[name])
            truth_writer.write(_truth_table(win, cust, buys, lifetime_days, ids))
            tally.add(cat, cust, buys, items, statuses, lifetime_days)
            if first_truth is None:
                first_tables = {"products": tables["products"]}
                first_truth = _ground_truth(seed, win, cat, cust, buys, items, statuses, no_spend, tables,
                                            lifetime_days)
            ids.customers += size
            ids.orders += buys.o_cust.size
            ids.refunds += statuses.r_order.size
            del cust, buys, amount, items, statuses, lifetime_days, tables
    finally:
        for writer in [*writers.values(), truth_writer]:
            writer.close()
    report("marketing spend")
    spend = _spend_from_counts(shared, win, new_counts)
    spend_table = _tables(win, cat, _empty_customers(), _empty_purchases(), np.empty(0, np.int64), _empty_items(),
                          _empty_statuses(), spend)["marketing_spend"]
    for name, table in (("products", first_tables["products"]), ("marketing_spend", spend_table)):
        writer = _TableWriter(out_dir / f"{name}.{fmt}", fmt)
        writer.write(table)
        writer.close()
    row_counts = {"orders": writers["orders"].rows, "customers": writers["customers"].rows,
                  "order_items": writers["order_items"].rows, "products": first_tables["products"].num_rows,
                  "refunds": writers["refunds"].rows, "marketing_spend": spend_table.num_rows}
    truth = tally.apply(first_truth, cat, row_counts)
    truth["chunks"] = {"chunk_customers": chunk_customers, "chunks": len(sizes),
                       "streams": f"SeedSequence([seed, {CHUNK_STREAM}, k + 1]) per chunk k, [seed, {CHUNK_STREAM}, 0] "
                                  "for products and marketing spend"}
    return truth


def _empty_customers() -> _Customers:
    e = np.empty(0)
    return _Customers(0, e.astype(np.int64), e.astype(np.int64), e.astype(bool), e.astype(bool), e, e, e,
                      e.astype(np.int32), e.astype(bool), e, e.astype(np.int64), e.astype(np.int64), e.astype(np.int64))


def _empty_purchases() -> _Purchases:
    e = np.empty(0, np.int64)
    return _Purchases(e, e, e, e, e, e.astype(bool), e, e, e.astype(float))


def _empty_items() -> _Items:
    e = np.empty(0, np.int64)
    return _Items(e, e, e, e, e, e.astype(bool))


def _empty_statuses() -> _Statuses:
    e = np.empty(0, np.int64)
    return _Statuses(e.astype(np.int8), e, e, e, e, 0.0)


# ----------------------------------------------------------------------------------------------
# Writing
# ----------------------------------------------------------------------------------------------


def _write_csv(table: pa.Table, path: Path) -> None:
    """CSV with an unquoted header, ISO timestamps ("2024-03-05 14:22:10") and dates ("2024-03-05")."""
    with open(path, "wb") as fh:
        fh.write((",".join(table.column_names) + "\n").encode("utf-8"))
        pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False, quoting_style="none", batch_size=262_144))


def _write_parquet(table: pa.Table, path: Path) -> None:
    pq.write_table(table, path, compression="zstd", row_group_size=1_000_000)


def _write_truth_json(truth: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(truth, indent=2, sort_keys=False) + "\n", encoding="utf-8")


def generate(
    out_dir: Path,
    *,
    customers: int,
    seed: int = 42,
    start: date = date(2023, 1, 1),
    end: date = date(2025, 6, 30),
    fmt: Literal["parquet", "csv"] = "parquet",
    progress: Callable[[str], None] | None = None,
    chunk_customers: int | None = None,
) -> dict:
    """Generate all tables into ``out_dir`` and return the ground truth (also ``ground_truth.json``).

    Writes ``<table>.<fmt>`` for every table in :data:`TABLES`, ``customers_truth.parquet`` (latent
    per-customer truth) and ``ground_truth.json``. With ``chunk_customers`` (and more customers than that),
    customers are generated in independent chunks appended to the files, so memory is bounded by one chunk
    (:func:`_generate_chunked`: same distribution, other draws than the single pass).
    """
    if fmt not in ("parquet", "csv"):
        raise ValueError(f"unknown format {fmt!r} (expected 'parquet' or 'csv')")
    report: Progress = progress or (lambda _msg: None)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if chunk_customers is not None and chunk_customers < 1:
        raise ValueError("chunk_customers must be >= 1")
    if chunk_customers is not None and customers > chunk_customers:
        truth = _generate_chunked(out_dir, customers, seed, _Window.of(start, end), fmt, chunk_customers, report)
        truth = {**truth, "format": fmt, "files": {name: f"{name}.{fmt}" for name in TABLES}}
        _write_truth_json(truth, out_dir / "ground_truth.json")
        report("done")
        return truth
    tables, truth_table, truth = _build(customers, seed, start, end, report)
    truth = {**truth, "format": fmt, "files": {name: f"{name}.{fmt}" for name in TABLES}}
    for name in TABLES:
        report(f"writing {name}.{fmt} ({tables[name].num_rows:,} rows)")
        target = out_dir / f"{name}.{fmt}"
        if fmt == "csv":
            _write_csv(tables[name], target)
        else:
            _write_parquet(tables[name], target)
    report("writing customers_truth.parquet and ground_truth.json")
    _write_parquet(truth_table, out_dir / "customers_truth.parquet")
    _write_truth_json(truth, out_dir / "ground_truth.json")
    report("done")
    return truth


def write_sample_seeds(seeds_dir: Path) -> dict:
    """Regenerate the embedded sample as dbt seeds (``raw_<table>.csv``) plus ``sample_ground_truth.json``."""
    seeds_dir = Path(seeds_dir)
    seeds_dir.mkdir(parents=True, exist_ok=True)
    tables, _truth_table, truth = _build(SAMPLE_CUSTOMERS, SAMPLE_SEED, SAMPLE_START, SAMPLE_END, lambda _m: None)
    truth = {**truth, "format": "csv", "files": {name: f"raw_{name}.csv" for name in TABLES}}
    for name in TABLES:
        _write_csv(tables[name], seeds_dir / f"raw_{name}.csv")
    _write_truth_json(truth, seeds_dir / "sample_ground_truth.json")
    return truth


if __name__ == "__main__":  # pragma: no cover - convenience for `python -m clvlayer.generate`
    print(json.dumps(write_sample_seeds(Path(__file__).resolve().parents[2] / "seeds")["row_counts"], indent=2))
