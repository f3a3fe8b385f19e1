"""Intervals that carry parameter uncertainty (and, for purchase counts, process uncertainty).

Parameter uncertainty: ``n_draws`` parameter vectors from the MLE's asymptotic normal in log-parameter space,
``N(ln theta_hat, (n H)^-1)`` (``fit.log_cov``, from the same Hessian as the standard errors).

Purchase counts (:func:`purchase_intervals`): the predictive distribution of a customer's number of purchases
in the next ``t`` time units is the mixture over the draws of the model's conditional distribution
``(1 - P(alive)) [k == 0] + P(alive) q_k``, i.e. parameter AND process uncertainty. The interval at
``level`` is ``[lower, upper]`` with lower/upper the ``(1-level)/2`` and ``(1+level)/2`` quantiles of that
integer distribution.

Discreteness, honestly: an interval of integers cannot hold exactly 80% of a discrete distribution (a
one-time buyer with P(0 purchases) = 0.88 has the interval [0, 1], which holds 97%). Calibration is therefore
judged with the randomized probability integral transform: for an actual count y, PIT is uniform on
``[F(y-1), F(y)]``; if the model is right PIT ~ U(0, 1) and ``P((1-level)/2 <= PIT <= (1+level)/2) = level``
exactly. ``coverage`` below is the expectation of that indicator over the randomisation (no random numbers:
the share of ``[F(y-1), F(y)]`` inside the central band), so its mean over customers is the calibrated
coverage; ``covered_integer`` is the plain ``lower <= y <= upper`` (conservative, >= level).

Segment sums: per draw the sum of independent customers' counts is approximated by a normal with the
summed conditional means and variances; the interval is the quantiles of the mixture over draws.

CLV (:func:`clv_intervals`): draws of the count model and of the Gamma-Gamma model give draws of each
customer's expected discounted value; the interval is their quantiles -- parameter uncertainty only (the
interval of the *expected* value, not of realised revenue), and likewise for segment sums.

All work is per distinct (x, t_x, T) pattern and per distinct (x, T) group, then mapped to customers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from clvlayer.btyd._core import ClvFitError, FloatArray, _validate_rfm, aggregate_rfm
from clvlayer.btyd._predict import discounted_sum, nbd_upper
from clvlayer.btyd.gammagamma import GammaGammaFit, conditional_expected_average_profit
from clvlayer.btyd.registry import ModelSpec, get_model

DEFAULT_LEVEL = 0.8
DEFAULT_DRAWS = 40
_CELLS = 4_000_000  # bound of the (draws, patterns, k) temporaries


def parameter_draws(fit: Any, spec_parameters: tuple[str, ...], n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> FloatArray:
    """``n_draws`` x k parameter vectors from N(ln theta_hat, log_cov), exponentiated (caller's units)."""
    if n_draws < 1:
        raise ClvFitError("n_draws must be >= 1")
    cov = getattr(fit, "log_cov", None)
    if cov is None:
        raise ClvFitError(
            "the fit has no positive-definite Hessian (log_cov is None): parameter uncertainty is undefined; "
            "refit with a penalizer or check convergence"
        )
    params = fit.params
    theta = np.log([params[k] for k in spec_parameters])
    rng = np.random.default_rng(seed)
    return np.exp(rng.multivariate_normal(theta, cov, size=n_draws, method="cholesky"))


@dataclass
class _Layout:
    """Customers -> distinct patterns (x, t_x, T) -> distinct groups (x, T)."""

    px: FloatArray
    ptx: FloatArray
    pT: FloatArray
    cust_to_pat: np.ndarray
    gx: FloatArray
    gT: FloatArray
    pat_to_grp: np.ndarray


def _layout(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> _Layout:
    x, tx, tt = _validate_rfm(frequency, recency, T)
    (px, ptx, pT), _, inv = aggregate_rfm(x, tx, tt)
    (gx, gT), _, ginv = aggregate_rfm(px, pT)
    return _Layout(px, ptx, pT, inv, gx, gT, ginv)


def _check_level(level: float) -> float:
    if not (0.0 < level < 1.0):
        raise ClvFitError(f"level must be in (0, 1), got {level}")
    return (1.0 - level) / 2.0


def _group_kmax(spec: ModelSpec, draws: FloatArray, gx: FloatArray, gT: FloatArray, t: float) -> np.ndarray:
    """Per group, a k beyond which every draw's alive-customer count has negligible probability."""
    r_i, a_i = spec.parameters.index("r"), spec.parameters.index("alpha")
    k = np.zeros(len(gx))
    for d in draws:
        k = np.maximum(k, nbd_upper(d[r_i] + gx, d[a_i] + gT, np.full(len(gx), t)))
    return np.maximum(k, 1).astype(np.int64)


@dataclass
class PurchaseIntervals:
    """Per-customer results of :func:`purchase_intervals` (arrays in input order) and segment sums."""

    level: float
    expected: FloatArray  # predictive mean (mixture over draws)
    expected_lower: FloatArray  # interval of E[Y] over parameter draws
    expected_upper: FloatArray
    lower: np.ndarray  # interval of the count (parameter + process uncertainty)
    upper: np.ndarray
    coverage: FloatArray | None = None  # expected randomized-PIT coverage per customer (needs actual)
    covered_integer: np.ndarray | None = None
    pit: FloatArray | None = None
    segments: pd.DataFrame | None = None


def purchase_intervals(
    model: str,
    fit: Any,
    t: float,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    level: float = DEFAULT_LEVEL,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    actual: ArrayLike | None = None,
    segments: ArrayLike | None = None,
) -> PurchaseIntervals:
    """Intervals on each customer's purchases in (T, T + t] (module docstring), optionally scored against
    ``actual`` counts, and intervals on segment sums when ``segments`` (a label per customer) is given."""
    spec = get_model(model)
    a = _check_level(level)
    if not (math.isfinite(t) and t >= 0):
        raise ClvFitError("t must be finite and >= 0")
    lay = _layout(frequency, recency, T)
    n_cust = len(lay.cust_to_pat)
    draws = parameter_draws(fit, spec.parameters, n_draws, seed)
    J, P = len(draws), len(lay.px)
    pa = np.stack([spec.p_alive(d, lay.px, lay.ptx, lay.pT) for d in draws])  # J x P
    e_alive = np.stack([spec.alive_expected_purchases(d, t, lay.gx, lay.gT) for d in draws])  # J x G
    e_draw = pa * e_alive[:, lay.pat_to_grp]  # J x P
    second = np.zeros((J, len(lay.gx)))  # E[Y^2 | alive] per draw and group
    y = None if actual is None else np.asarray(actual, dtype=np.float64)
    if y is not None and (len(y) != n_cust or (y < 0).any() or (y != np.round(y)).any()):
        raise ClvFitError("actual must hold one whole, non-negative purchase count per customer")
    res = {k: np.zeros(P) for k in ("lower", "upper", "mean")}
    # for scoring, per customer F(y-1) and F(y)
    f_lo = np.zeros(n_cust) if y is not None else None
    f_hi = np.zeros(n_cust) if y is not None else None
    kmax_g = _group_kmax(spec, draws, lay.gx, lay.gT, t)
    bucket = np.maximum(2, 2 ** np.ceil(np.log2(kmax_g + 1))).astype(np.int64)
    pat_order = np.argsort(lay.pat_to_grp, kind="stable")
    for kb in np.unique(bucket):
        groups = np.flatnonzero(bucket == kb)
        pmf = np.stack([spec.alive_count_pmf(d, t, lay.gx[groups], lay.gT[groups], int(kb)) for d in draws])
        second[:, groups] = pmf @ (np.arange(kb + 1, dtype=np.float64) ** 2)
        cdf = np.cumsum(pmf, axis=2)
        del pmf
        local = np.full(len(lay.gx), -1)
        local[groups] = np.arange(len(groups))
        pats = pat_order[np.isin(lay.pat_to_grp[pat_order], groups)]
        step = max(1, _CELLS // (J * (kb + 1)))
        for i in range(0, len(pats), step):
            pp = pats[i:i + step]
            mix = 1.0 - pa[:, pp].mean(axis=0)[:, None] + np.einsum("jp,jpk->pk", pa[:, pp], cdf[:, local[lay.pat_to_grp[pp]], :]) / J
            mix = np.minimum(mix, 1.0)
            res["lower"][pp] = (mix < a).sum(axis=1)
            res["upper"][pp] = (mix < 1.0 - a).sum(axis=1)
            res["mean"][pp] = (1.0 - mix).sum(axis=1)
            if y is not None:
                _score(mix, pp, lay.cust_to_pat, y, f_lo, f_hi)
    out = PurchaseIntervals(
        level=level,
        expected=res["mean"][lay.cust_to_pat],
        expected_lower=np.quantile(e_draw, a, axis=0)[lay.cust_to_pat],
        expected_upper=np.quantile(e_draw, 1.0 - a, axis=0)[lay.cust_to_pat],
        lower=res["lower"][lay.cust_to_pat].astype(np.int64),
        upper=res["upper"][lay.cust_to_pat].astype(np.int64),
    )
    if y is not None:
        assert f_lo is not None and f_hi is not None
        out.coverage = pit_coverage(f_lo, f_hi, level)
        out.covered_integer = (out.lower <= y) & (y <= out.upper)
        rng = np.random.default_rng(seed + 1)
        out.pit = f_lo + rng.random(n_cust) * (f_hi - f_lo)
    if segments is not None:
        var_draw = pa * second[:, lay.pat_to_grp] - e_draw**2
        out.segments = _segment_sums(segments, lay.cust_to_pat, e_draw, var_draw, level, seed, y)
    return out


def _score(mix: FloatArray, pats: np.ndarray, cust_to_pat: np.ndarray, y: FloatArray, f_lo: FloatArray, f_hi: FloatArray) -> None:
    """F(y - 1) and F(y) of the customers whose pattern is in ``pats`` (F = 1 beyond the table)."""
    where = np.full(int(cust_to_pat.max()) + 1, -1)
    where[pats] = np.arange(len(pats))
    cust = np.flatnonzero(where[cust_to_pat] >= 0)
    row = where[cust_to_pat[cust]]
    kmax = mix.shape[1] - 1
    yc = y[cust].astype(np.int64)
    hi = np.where(yc <= kmax, mix[row, np.minimum(yc, kmax)], 1.0)
    lo = np.where(yc == 0, 0.0, np.where(yc - 1 <= kmax, mix[row, np.clip(yc - 1, 0, kmax)], 1.0))
    f_lo[cust], f_hi[cust] = lo, hi


def pit_coverage(f_lo: FloatArray, f_hi: FloatArray, level: float) -> FloatArray:
    """E[1{(1-level)/2 <= PIT <= (1+level)/2}] with PIT ~ U(F(y-1), F(y)): the share of [F(y-1), F(y)] in the band."""
    a = _check_level(level)
    width = f_hi - f_lo
    overlap = np.clip(np.minimum(f_hi, 1.0 - a) - np.maximum(f_lo, a), 0.0, None)
    inside = ((f_lo >= a) & (f_hi <= 1.0 - a)).astype(np.float64)
    return np.where(width > 1e-15, overlap / np.where(width > 1e-15, width, 1.0), inside)


def _segment_sums(
    segments: ArrayLike, cust_to_pat: np.ndarray, mean_draw: FloatArray, var_draw: FloatArray | None,
    level: float, seed: int, actual: FloatArray | None, n_normal: int = 400,
) -> pd.DataFrame:
    """Per segment: expected sum, interval (mixture over draws of normals, or draw quantiles without variance)."""
    labels = pd.Series(np.asarray(segments))
    if len(labels) != len(cust_to_pat):
        raise ClvFitError("segments must hold one label per customer")
    if labels.isna().any():
        raise ClvFitError("segments contain missing labels")
    codes, names = pd.factorize(labels, sort=True)
    a = _check_level(level)
    S = len(names)
    mu = np.stack([np.bincount(codes, weights=m[cust_to_pat], minlength=S) for m in mean_draw])  # J x S
    rng = np.random.default_rng(seed + 2)
    if var_draw is not None:
        var = np.stack([np.bincount(codes, weights=v[cust_to_pat], minlength=S) for v in var_draw])
        samples = mu[:, None, :] + np.sqrt(np.maximum(var, 0.0))[:, None, :] * rng.standard_normal((len(mu), n_normal, S))
        samples = samples.reshape(-1, S)
    else:
        samples = mu
    frame = pd.DataFrame({
        "segment": names,
        "customers": np.bincount(codes, minlength=S),
        "expected": samples.mean(axis=0),
        "lower": np.quantile(samples, a, axis=0),
        "upper": np.quantile(samples, 1.0 - a, axis=0),
    })
    if actual is not None:
        frame["actual"] = np.bincount(codes, weights=actual, minlength=S)
        frame["covered"] = (frame["lower"] <= frame["actual"]) & (frame["actual"] <= frame["upper"])
    return frame


@dataclass
class ClvIntervals:
    """Per-customer expected discounted CLV with its parameter-uncertainty interval, and segment sums."""

    level: float
    clv: FloatArray  # at the point estimates
    lower: FloatArray
    upper: FloatArray
    segments: pd.DataFrame | None = None


def clv_intervals(
    model: str,
    fit: Any,
    gg_fit: GammaGammaFit,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
    periods_per_month: float = 30.0,
    level: float = DEFAULT_LEVEL,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    segments: ArrayLike | None = None,
) -> ClvIntervals:
    """Discounted CLV (month-by-month, as :func:`customer_lifetime_value`) with parameter-uncertainty intervals.

    CLV = margin x E[spend | x, m] x P(alive) x sum_i (E[Y(i k) | alive] - E[Y((i-1) k) | alive]) / (1+d)^i;
    the discounted alive-expectation is evaluated per (x, T) group and draw.
    """
    spec = get_model(model)
    a = _check_level(level)
    lay = _layout(frequency, recency, T)
    x = np.asarray(frequency, dtype=np.float64)
    m = np.asarray(monetary_value, dtype=np.float64)
    draws = parameter_draws(fit, spec.parameters, n_draws, seed)
    gg_draws = parameter_draws(gg_fit, ("p", "q", "v"), n_draws, seed + 3)
    point = np.array(spec.values(fit))

    def value(params: FloatArray, gg: Any) -> FloatArray:
        pa = spec.p_alive(params, lay.px, lay.ptx, lay.pT)
        disc = discounted_sum(lambda tm: spec.alive_expected_purchases(params, tm, lay.gx, lay.gT), months,
                              periods_per_month, monthly_discount_rate)
        spend = conditional_expected_average_profit(gg, x, m) * margin
        return spend * (pa * disc[lay.pat_to_grp])[lay.cust_to_pat]

    clv = value(point, gg_fit)
    # draws with q <= 1 have no finite mean spend: keep the Gamma-Gamma draws that do
    gg_ok = gg_draws[gg_draws[:, 1] > 1.0]
    if len(gg_ok) < len(gg_draws):
        gg_ok = np.resize(gg_ok, gg_draws.shape) if len(gg_ok) else np.tile([gg_fit.p, gg_fit.q, gg_fit.v], (n_draws, 1))
    sims = np.stack([value(d, g) for d, g in zip(draws, gg_ok)])  # J x customers
    out = ClvIntervals(level, clv, np.quantile(sims, a, axis=0), np.quantile(sims, 1.0 - a, axis=0))
    if segments is not None:
        out.segments = _segment_sums(segments, np.arange(len(x)), sims, None, level, seed, None)
    return out
