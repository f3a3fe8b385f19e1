"""Aggregated (x, t_x, T) patterns with weights, on a scaled time axis, shared by the count-model fits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike

from clvlayer.btyd._core import ClvFitError, FloatArray, _dot, validate_rfm, _validate_weights, aggregate_rfm


@dataclass
class Patterns:
    """Distinct (x, t_x, T) rows with summed weights; times multiplied by ``scale`` (max(T) == 1)."""

    x: FloatArray
    tx: FloatArray
    T: FloatArray
    w: FloatArray
    scale: float
    xs: FloatArray  # distinct frequencies
    ix: np.ndarray  # index of each pattern's frequency in xs
    wx: FloatArray  # summed weight per distinct frequency

    @property
    def W(self) -> float:
        return float(self.w.sum())

    @property
    def n_patterns(self) -> int:
        return len(self.x)

    @property
    def sum_wx(self) -> float:
        return float(_dot(self.w, self.x))


def build_patterns(x: FloatArray, tx: FloatArray, tt: FloatArray, w: FloatArray) -> Patterns:
    """Aggregate identical rows (weights summed), drop zero-weight patterns, scale time to max(T) == 1."""
    (ux, utx, uT), counts, inv = aggregate_rfm(x, tx, tt)
    if not np.all(w == 1.0):
        counts = np.bincount(inv, weights=w, minlength=len(ux))
    keep = counts > 0
    ux, utx, uT, counts = ux[keep], utx[keep], uT[keep], counts[keep]
    t_max = float(uT.max())
    if t_max <= 0:
        raise ClvFitError("every customer has T == 0 (all first purchases on the as-of date): nothing to fit")
    scale = 1.0 / t_max
    xs, ix = np.unique(ux, return_inverse=True)
    wx = np.bincount(ix, weights=counts, minlength=len(xs))
    return Patterns(ux, utx * scale, uT * scale, counts, scale, xs, ix, wx)


def prepare_fit_data(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None,
    min_customers: int,
    penalizer: float,
    model: str,
) -> Patterns:
    """Validate inputs the way every count-model fit does and aggregate them; loud :class:`ClvFitError`."""
    return build_patterns(*validate_fit_inputs(frequency, recency, T, weights, min_customers, penalizer, model))


def validate_fit_inputs(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None,
    min_customers: int,
    penalizer: float,
    model: str,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The checks every count-model fit makes (x, t_x, T, weights, enough customers, repeat buyers, penalizer);
    returns x, t_x, T and the weights."""
    x, tx, tt = validate_rfm(frequency, recency, T)
    w = _validate_weights(weights, len(x))
    n = float(w.sum())
    if n <= 0:
        raise ClvFitError("zero customers: all weights are zero")
    if n < min_customers:
        raise ClvFitError(f"only {n:g} customer(s); at least min_customers={min_customers} are required to fit {model}")
    if not np.any((x > 0) & (w > 0)):
        raise ClvFitError(
            f"no repeat buyers (every frequency is 0): the {model} parameters are not identifiable "
            "-- the purchase rate and the drop-out process are only observed through repeat purchases"
        )
    if penalizer < 0 or not math.isfinite(penalizer):
        raise ClvFitError("penalizer must be a finite number >= 0")
    return x, tx, tt, w


def add_penalty(f: float, g: FloatArray, params: FloatArray, penalizer: float) -> tuple[float, FloatArray]:
    """``lifetimes`` L2 convention on the (scaled) parameters, in log-parameter space."""
    if penalizer > 0:
        f += penalizer * float(np.sum(params**2))
        g = g + 2.0 * penalizer * params**2
    return f, g


def rate_starts(pat: Patterns, shapes: Sequence[float], dropout: Sequence[tuple[float, float]]) -> list[FloatArray]:
    """Log-space starting points: purchase rate r / alpha ~ sum(w x) / sum(w T) on the scaled axis."""
    rate = max(pat.sum_wx / max(float(_dot(pat.w, pat.T)), 1e-12), 1e-9)
    return [np.log([r0, r0 / rate, d0, d1]) for r0 in shapes for d0, d1 in dropout]


def subsample_customers(pat: Patterns, n_customers: int, seed: int = 0) -> Patterns:
    """A random sample of about ``n_customers`` customers (drawn with replacement, weight of each pattern =
    number of draws x W / n_customers), as patterns; ``pat`` itself when it has no more patterns than that.

    Used for starting values only: the sample log-likelihood is an unbiased estimate of the full one.
    """
    if pat.n_patterns <= n_customers:
        return pat
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n_customers, pat.w / pat.W).astype(np.float64)
    keep = counts > 0
    w = counts[keep] * (pat.W / n_customers)
    xs, ix = np.unique(pat.x[keep], return_inverse=True)
    wx = np.bincount(ix, weights=w, minlength=len(xs))
    return Patterns(pat.x[keep], pat.tx[keep], pat.T[keep], w, pat.scale, xs, ix, wx)


Objective = Callable[[FloatArray], tuple[float, FloatArray]]
