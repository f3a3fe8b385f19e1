"""Shared plumbing of the BTYD model library: errors, input validation, pattern aggregation.

Input definitions (identical to ``lifetimes.utils.summary_data_from_transaction_data``):

``frequency``
    number of *repeat* purchase periods (purchases on the same day merge into
    one period), an integer >= 0.
``recency``
    time from the first to the last purchase (0 when ``frequency == 0``).
``T``
    time from the first purchase to the as-of date (``recency <= T``).
``monetary_value``
    mean spend of the repeat periods (0 when ``frequency == 0``).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Literal, Sequence, TypeVar

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray

_T = TypeVar("_T")
_R = TypeVar("_R")

FloatArray = NDArray[np.float64]
TimeUnit = Literal["day", "week"]

#: Periods per month used by :func:`customer_lifetime_value`; identical to the
#: factors of ``lifetimes.utils._customer_lifetime_value`` (freq "D" -> 30,
#: freq "W" -> 4.345) so that both produce the same numbers.
PERIODS_PER_MONTH: dict[str, float] = {"day": 30.0, "week": 4.345}


class ClvFitError(ValueError):
    """Raised when CLV model inputs are invalid or the model is not identifiable."""


def _as_1d_float(values: ArrayLike, name: str) -> FloatArray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ClvFitError(f"{name} must be numeric: {exc}") from exc
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ClvFitError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def validate_rfm(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    allow_empty: bool = False,
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Validate and convert an RFM triple, raising :class:`ClvFitError` with a clear message."""
    x = _as_1d_float(frequency, "frequency")
    tx = _as_1d_float(recency, "recency")
    tt = _as_1d_float(T, "T")
    if not (len(x) == len(tx) == len(tt)):
        raise ClvFitError(
            f"frequency, recency and T must have the same length, got {len(x)}, {len(tx)}, {len(tt)}"
        )
    if len(x) == 0:
        if allow_empty:
            return x, tx, tt
        raise ClvFitError("zero customers: the RFM summary is empty")
    for name, arr in (("frequency", x), ("recency", tx), ("T", tt)):
        bad = ~np.isfinite(arr)
        if bad.any():
            raise ClvFitError(f"{name} contains {int(bad.sum())} NaN/infinite value(s)")
        if (arr < 0).any():
            raise ClvFitError(f"{name} contains {int((arr < 0).sum())} negative value(s)")
    if (x != np.round(x)).any():
        raise ClvFitError("frequency must be a whole number of repeat purchase periods")
    # recency and T are usually computed with the same rounding (days or days/7),
    # so recency <= T holds exactly; allow only floating-point noise.
    too_recent = tx > tt * (1.0 + 1e-12) + 1e-12
    if too_recent.any():
        raise ClvFitError(f"recency > T for {int(too_recent.sum())} customer(s)")
    inconsistent = (x == 0) & (tx > 0)
    if inconsistent.any():
        raise ClvFitError(
            f"{int(inconsistent.sum())} customer(s) have frequency 0 but recency > 0 "
            "(recency must be 0 when there are no repeat purchases)"
        )
    return x, np.minimum(tx, tt), tt


def _validate_weights(weights: ArrayLike | None, n: int) -> FloatArray:
    if weights is None:
        return np.ones(n)
    w = _as_1d_float(weights, "weights")
    if len(w) != n:
        raise ClvFitError(f"weights must have length {n}, got {len(w)}")
    if (~np.isfinite(w)).any() or (w < 0).any():
        raise ClvFitError("weights must be finite and non-negative")
    return w


def aggregate_rfm(*columns: ArrayLike) -> tuple[list[FloatArray], FloatArray, NDArray[np.int64]]:
    """Collapse identical rows of the given columns.

    Returns ``(unique_columns, counts, inverse)`` where ``unique_columns[k][inverse]``
    reconstructs column ``k``. Equivalent to ``np.unique(np.column_stack(columns),
    axis=0, return_inverse=True, return_counts=True)`` (up to row order) but
    hash-based and ~25x faster on a million rows: each column is factorised
    (hash table), the codes are combined into one int64 key (re-factorised
    whenever the key space could overflow) and the key is factorised.
    """
    cols = [np.asarray(c, dtype=np.float64) for c in columns]
    n = len(cols[0])
    if any(len(c) != n for c in cols):
        raise ClvFitError("columns to aggregate must have the same length")
    if n == 0:
        return [c.copy() for c in cols], np.zeros(0), np.zeros(0, dtype=np.int64)
    key = np.zeros(n, dtype=np.int64)
    key_space = 1
    for c in cols:
        codes, uniq = pd.factorize(c)
        if key_space * len(uniq) >= 2**62:
            key, key_uniq = pd.factorize(key)
            key_space = len(key_uniq)
        key = key * len(uniq) + codes
        key_space *= len(uniq)
    inverse, key_uniq = pd.factorize(key)
    inverse = inverse.astype(np.int64, copy=False)
    n_groups = len(key_uniq)
    counts = np.bincount(inverse, minlength=n_groups).astype(np.float64)
    uniques = []
    for c in cols:
        u = np.empty(n_groups)
        u[inverse] = c  # all members of a group share the value
        uniques.append(u)
    return uniques, counts, inverse


def unique_codes(codes: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``np.unique(codes, return_inverse=True)`` for small non-negative integer codes (segment indices): the codes
    present, ascending, and each row's index among them, by a table over the code range instead of a sort (~10x
    faster on a million rows)."""
    codes = np.asarray(codes)
    present = np.flatnonzero(np.bincount(codes)) if len(codes) else np.zeros(0, dtype=np.int64)
    lookup = np.zeros(present[-1] + 1 if len(present) else 0, dtype=np.int64)
    lookup[present] = np.arange(len(present))
    return present, lookup[codes]


def _dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product without BLAS.

    ``np.dot`` on long vectors goes to a multi-threaded BLAS ``ddot``; called a
    few hundred times per fit on a 2-core machine the BLAS worker threads'
    wake-up/spin cost made fits 3-4x slower than single-threaded ``einsum``.
    """
    return float(np.einsum("i,i->", a, b))


def positive_params(values: Sequence[float], names: Sequence[str], model: str) -> tuple[float, ...]:
    """Parameters as floats, in ``names`` order; :class:`ClvFitError` unless all are finite and > 0."""
    vals = tuple(float(v) for v in values)
    if len(vals) != len(names):
        raise ClvFitError(f"{model} params must be ({', '.join(names)})")
    if not all(math.isfinite(v) and v > 0 for v in vals):
        raise ClvFitError(f"{model} parameters must be finite and > 0, got {vals}")
    return vals


def horizon(t: ArrayLike, n: int) -> FloatArray:
    """A prediction horizon broadcast to ``n`` customers, finite and >= 0."""
    try:
        t_b = np.broadcast_to(np.asarray(t, dtype=np.float64), (n,)).astype(np.float64)
    except ValueError as exc:
        raise ClvFitError(f"t (shape {np.shape(t)}) does not broadcast to {n} customers") from exc
    if (~np.isfinite(t_b)).any() or (t_b < 0).any():
        raise ClvFitError("t must be finite and >= 0")
    return t_b


#: threads over parameter draws (env CLV_THREADS, default 2: the machine the project targets has 2 cores). The draws'
#: work is numpy/scipy loops that release the GIL; every result is computed by the same code on the same inputs and
#: combined in draw order, so the numbers do not depend on the thread count.
THREADS = max(1, int(os.environ.get("CLV_THREADS", "2") or 2))


def map_draws(function: Callable[[_T], _R], items: Sequence[_T]) -> list[_R]:
    """``[function(item) for item in items]``, on THREADS threads when there are several items."""
    if THREADS == 1 or len(items) < 2:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(THREADS, len(items))) as pool:
        return list(pool.map(function, items))


def halves(n: int) -> list[slice]:
    """THREADS contiguous slices covering range(n) (one per thread, for work split by draws)."""
    cuts = np.linspace(0, n, min(THREADS, max(n, 1)) + 1).round().astype(int)
    return [slice(int(lo), int(hi)) for lo, hi in zip(cuts[:-1], cuts[1:]) if hi > lo]
