"""Discounted customer lifetime value from a count model and the Gamma-Gamma spend model.

``CLV = margin * E[spend] * sum_{i=1..months} (E[Y(i k)] - E[Y((i-1) k)]) / (1 + d)^i``, the month-by-month
discounting of ``lifetimes``' ``_customer_lifetime_value``. :func:`customer_lifetime_value` is the
BG/NBD version the warehouse has always published; :func:`model_lifetime_value` is the same definition
for any model of the registry (:mod:`clvlayer.btyd.registry`).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit

from clvlayer.btyd._core import PERIODS_PER_MONTH, ClvFitError, FloatArray, TimeUnit, validate_rfm, aggregate_rfm
from clvlayer.btyd._predict import discounted_sum
from clvlayer.btyd.bgnbd import BgNbdFit, _bg_params, _future_fraction, _log_dropout_odds
from clvlayer.btyd.gammagamma import GammaGammaFit, conditional_expected_average_profit


def customer_lifetime_value(
    bg: BgNbdFit | Sequence[float],
    gg: GammaGammaFit | Sequence[float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
    time_unit: TimeUnit = "day",
    periods_per_month: float | None = None,
) -> FloatArray:
    """Discounted CLV over ``months`` months, as ``lifetimes``' ``_customer_lifetime_value``.

    ``CLV = margin * E[spend] * sum_{i=1..months} (E[Y(i*k)] - E[Y((i-1)*k)]) / (1+d)^i``
    where ``E[Y(t)]`` is :func:`conditional_expected_number_of_purchases_up_to_time`,
    ``E[spend]`` is :func:`conditional_expected_average_profit` and ``k`` is the
    number of time units per month: **30 for "day" and 4.345 for "week"** -- the
    factors ``lifetimes`` uses for freq "D"/"W", chosen so both agree (a calendar
    month is 30.4375 days; the 1.5% difference is a convention, not a bug).
    ``margin`` multiplies the spend (``lifetimes`` has no margin; margin=1 matches it).
    ``periods_per_month`` overrides ``k`` (the warehouse passes its own month length,
    30.4375 days or 30.4375 / 7 weeks, so predicted CLV months match the other metrics).
    """
    k = months_to_periods(time_unit, periods_per_month)
    if months < 0 or int(months) != months:
        raise ClvFitError("months must be a non-negative integer")
    if not math.isfinite(monthly_discount_rate) or monthly_discount_rate <= -1:
        raise ClvFitError("monthly_discount_rate must be > -1")
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    spend = conditional_expected_average_profit(gg, x, monetary_value) * margin
    r, alpha, a, b = _bg_params(bg)
    if abs(a - 1.0) < 1e-9:
        a = 1.0 + 1e-9
    # E[Y(t)] = (a+b+x-1)/(a-1) * P(alive) * F(x, T, t); only F depends on t, and
    # F only on (x, T): discount-sum F over the months per distinct (x, T) pair.
    level = (a + b + x - 1.0) / (a - 1.0) * expit(-_log_dropout_odds(r, alpha, a, b, x, tx, tt))
    (ux, uT), _, inv = aggregate_rfm(x, tt)
    compact = len(ux) < 0.7 * len(x)
    sx, sT = (ux, uT) if compact else (x, tt)
    discounted = np.zeros(len(sx))
    prev = np.zeros(len(sx))
    for i in range(1, int(months) + 1):
        cur = _future_fraction(r, alpha, a, b, sx, sT, np.full(len(sx), i * k))
        discounted += (cur - prev) / (1.0 + monthly_discount_rate) ** i
        prev = cur
    expected_discounted_purchases = level * (discounted[inv] if compact else discounted)
    return spend * expected_discounted_purchases


def months_to_periods(time_unit: TimeUnit, periods_per_month: float | None) -> float:
    """Time units per month: ``periods_per_month`` if given, else the ``lifetimes`` factor of ``time_unit``."""
    if time_unit not in PERIODS_PER_MONTH:
        raise ClvFitError(f"time_unit must be one of {sorted(PERIODS_PER_MONTH)}, got {time_unit!r}")
    k = PERIODS_PER_MONTH[time_unit] if periods_per_month is None else float(periods_per_month)
    if not math.isfinite(k) or k <= 0:
        raise ClvFitError(f"periods_per_month must be a positive number, got {periods_per_month!r}")
    return k


def model_lifetime_value(
    model: str,
    params: Any,
    gg: GammaGammaFit | Sequence[float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
    time_unit: TimeUnit = "day",
    periods_per_month: float | None = None,
) -> FloatArray:
    """:func:`customer_lifetime_value` for any registered count model (``"bgnbd"``, ``"mbgnbd"``, ``"paretonbd"``).

    ``E[Y(t)] = P(alive) E[Y(t) | alive]`` for every registered model, and only the second factor depends on t
    (and on (x, T) alone): P(alive) is evaluated once per distinct (x, t_x, T) pattern and the discounted
    alive-expectation once per distinct (x, T) group and month. For BG/NBD this equals
    :func:`customer_lifetime_value` to rounding.
    """
    from clvlayer.btyd.registry import get_model

    spec = get_model(model)
    k = months_to_periods(time_unit, periods_per_month)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    spend = conditional_expected_average_profit(gg, x, monetary_value) * margin
    (ux, utx, uT), _, inv = aggregate_rfm(x, tx, tt)
    p_alive = spec.p_alive(params, ux, utx, uT)
    (gx, gT), _, ginv = aggregate_rfm(ux, uT)
    per_group = discounted_sum(
        lambda t: spec.alive_expected_purchases(params, t, gx, gT), months, k, monthly_discount_rate
    )
    return spend * (p_alive * per_group[ginv])[inv]
