"""MBG/NBD, the modified BG/NBD (Batislam, Denizel & Filiztekin 2007; Hoppe & Wagner 2007).

As BG/NBD, but the customer may drop out after *every* purchase including the first one, so a one-time
buyer is not alive with certainty and his P(alive) falls with age. Individual likelihood:
``lambda^x e^{-lambda t_x} (1-p)^x [p + (1-p) e^{-lambda (T - t_x)}]``; integrated over
lambda ~ Gamma(r, alpha), p ~ Beta(a, b):

``L = A1 [B(a, b+x+1)/B(a, b) (alpha+T)^-(r+x) + B(a+1, b+x)/B(a, b) (alpha+t_x)^-(r+x)]`` with
``A1 = Gamma(r+x) alpha^r / Gamma(r)``. Given alive, p ~ Beta(a, b+x+1), so the BG/NBD conditional
expectation holds with b -> b + 1: ``E[Y(t)] = (a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x)
2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))] P(alive)``, ``P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x))``.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import betaln, digamma, expit, gammaln

from clvlayer.btyd._core import FloatArray, _dot, validate_rfm, _validate_weights, aggregate_rfm, horizon, positive_params
from clvlayer.btyd._fit import CountFit, run_fit
from clvlayer.btyd._patterns import Patterns, add_penalty, prepare_fit_data, rate_starts
from clvlayer.btyd._predict import alive_pmf_kmax, beta_alive_moments, beta_alive_moments_draws, beta_lifetime, bg_alive_pmf
from clvlayer.btyd.bgnbd import _future_fraction

PARAMETERS = ("r", "alpha", "a", "b")
NAME = "MBG/NBD"


def mbg_params(params: Any) -> tuple[float, float, float, float]:
    """(r, alpha, a, b) from a :class:`CountFit`, a dict or a sequence; all finite and > 0."""
    if isinstance(params, CountFit):
        params = params.values()
    elif isinstance(params, dict):
        params = [params[k] for k in PARAMETERS]
    return positive_params(params, PARAMETERS, NAME)  # type: ignore[return-value]


def _log_dropout_odds(r: float, alpha: float, a: float, b: float, x: FloatArray, tx: FloatArray, tt: FloatArray) -> FloatArray:
    """ln[a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)]: the "dropped after the last purchase" branch vs alive."""
    return math.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + tt) - np.log(alpha + tx))


def mbgnbd_log_likelihood_per_row(params: Any, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """Per-customer MBG/NBD log-likelihood (module docstring), in log space with ``logaddexp``."""
    r, alpha, a, b = mbg_params(params)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    ln_a1 = gammaln(r + x) - gammaln(r) + r * math.log(alpha)
    ln_alive = betaln(a, b + x + 1.0) - betaln(a, b) - (r + x) * np.log(alpha + tt)
    return ln_a1 + ln_alive + np.logaddexp(0.0, _log_dropout_odds(r, alpha, a, b, x, tx, tt))


def mbgnbd_log_likelihood(params: Any, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Total (weighted) MBG/NBD log-likelihood."""
    per_row = mbgnbd_log_likelihood_per_row(params, frequency, recency, T)
    return float(np.dot(_validate_weights(weights, len(per_row)), per_row))


class MbgNbdProblem:
    """Mean negative log-likelihood + analytic gradient in log-parameter space on aggregated patterns."""

    def __init__(self, pat: Patterns, penalizer: float):
        self.pat, self.penalizer = pat, penalizer

    def __call__(self, theta: FloatArray, penalized: bool = True) -> tuple[float, FloatArray]:
        r, alpha, a, b = (float(v) for v in np.exp(np.clip(theta, -700, 700)))
        pat = self.pat
        xs, wx, x = pat.xs, pat.wx, pat.x
        # frequency-only terms
        ll = float(_dot(wx, gammaln(r + xs) - gammaln(r) + betaln(a, b + xs + 1.0) - betaln(a, b)))
        ll += pat.W * r * math.log(alpha)
        g_r = float(_dot(wx, digamma(r + xs) - digamma(r))) + pat.W * math.log(alpha)
        g_alpha = pat.W * r / alpha
        g_a = float(_dot(wx, digamma(a + b) - digamma(a + b + xs + 1.0)))
        g_b = float(_dot(wx, digamma(b + xs + 1.0) - digamma(a + b + xs + 1.0) - digamma(b) + digamma(a + b)))
        # pattern terms: -(r+x) ln(alpha+T) + softplus(d)
        lt, ltx = np.log(alpha + pat.T), np.log(alpha + pat.tx)
        it, itx = 1.0 / (alpha + pat.T), 1.0 / (alpha + pat.tx)
        rx = r + x
        d = math.log(a) - np.log(b + x) + rx * (lt - ltx)
        s = expit(d) * pat.w
        ll += float(_dot(pat.w, -rx * lt + np.logaddexp(0.0, d)))
        g_r += float(_dot(pat.w, -lt) + _dot(s, lt - ltx))
        g_alpha += float(_dot(pat.w, -rx * it) + _dot(s, rx * (it - itx)))
        g_a += float(s.sum()) / a
        g_b -= float(_dot(s, 1.0 / (b + x)))
        params = np.array([r, alpha, a, b])
        f, g = -ll / pat.W, -np.array([g_r, g_alpha, g_a, g_b]) * params / pat.W
        return add_penalty(f, g, params, self.penalizer) if penalized else (f, g)


def fit_mbgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    penalizer: float = 0.0,
    initial: Sequence[float] | None = None,
    weights: ArrayLike | None = None,
    min_customers: int = 10,
    max_iter: int = 2000,
) -> CountFit:
    """Maximum-likelihood MBG/NBD fit (same conventions and failure modes as :func:`fit_bgnbd`)."""
    started = time.perf_counter()
    pat = prepare_fit_data(frequency, recency, T, weights, min_customers, penalizer, NAME)
    prob = MbgNbdProblem(pat, penalizer)
    if initial is not None:
        r0, al0, a0, b0 = mbg_params(initial)
        starts = [np.log([r0, al0 * pat.scale, a0, b0])]
    else:
        starts = rate_starts(pat, (0.25, 1.0, 3.0), ((0.5, 2.0), (1.0, 4.0), (2.0, 10.0)))
    return run_fit("mbgnbd", PARAMETERS, pat, prob, starts, (1,), penalizer, started, max_iter)


def conditional_probability_alive(params: Any, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)), below 1 for x == 0 too."""
    r, alpha, a, b = mbg_params(params)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    return expit(-_log_dropout_odds(r, alpha, a, b, x, tx, tt))


def conditional_expected_number_of_purchases_up_to_time(
    params: Any, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[# purchases in (T, T+t] | x, t_x, T] (module docstring); 2F1 per distinct (x, T, t)."""
    r, alpha, a, b = mbg_params(params)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    t_b = horizon(t, len(x))
    if abs(a - 1.0) < 1e-9:
        a = 1.0 + 1e-9
    p_alive = expit(-_log_dropout_odds(r, alpha, a, b, x, tx, tt))
    (ux, uT, ut), _, inv = aggregate_rfm(x, tt, t_b)
    frac = _future_fraction(r, alpha, a, b + 1.0, ux, uT, ut)[inv]
    return (a + b + x) / (a - 1.0) * frac * p_alive


def alive_count_pmf(params: Any, t: float, frequency: ArrayLike, T: ArrayLike, kmax: int | None = None) -> FloatArray:
    """P(k purchases in (T, T+t] | alive, x, T), k = 0..kmax: the BG-type closed form with b' = b + x + 1."""
    r, alpha, a, b = mbg_params(params)
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    tb = horizon(t, len(x))
    if kmax is None:
        kmax = alive_pmf_kmax(r + x, alpha + tt, tb)
    return bg_alive_pmf(r + x, alpha + tt, a, b + x + 1.0, tb, kmax)


def expected_lifetime(params: Any, cap: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """Expected remaining active time within the next ``cap`` time units: P(alive) E[min(tau, cap) | alive]."""
    r, alpha, a, b = mbg_params(params)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    p_alive = expit(-_log_dropout_odds(r, alpha, a, b, x, tx, tt))
    (ux, uT), _, inv = aggregate_rfm(x, tt)
    return p_alive * beta_lifetime(r + ux, alpha + uT, a, b + ux + 1.0, float(cap))[inv]


def restricted_remaining_lifetime(params: Any, cap: float, frequency: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[min(R, max(cap - T, 0)) | alive at T] per row, R the remaining lifetime after T (``cap`` counted from the
    first purchase): :func:`expected_lifetime`'s expectation with a cap per (x, T) group, p | alive ~
    Beta(a, b + x + 1) (:func:`clvlayer.btyd._predict.beta_lifetime`)."""
    r, alpha, a, b = mbg_params(params)
    x, tt = np.asarray(frequency, dtype=np.float64), np.asarray(T, dtype=np.float64)
    (ux, uT), _, inv = aggregate_rfm(x, tt)
    return beta_lifetime(r + ux, alpha + uT, a, b + ux + 1.0, np.maximum(cap - uT, 0.0))[inv]


def alive_expected_purchases(params: Any, t: ArrayLike, frequency: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[# purchases in (T, T+t] | alive at T, x, T] (the BG/NBD form with b -> b + 1)."""
    r, alpha, a, b = mbg_params(params)
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    if abs(a - 1.0) < 1e-9:
        a = 1.0 + 1e-9
    return (a + b + x) / (a - 1.0) * _future_fraction(r, alpha, a, b + 1.0, x, tt, horizon(t, len(x)))



def alive_moments(params: Any, t: float, frequency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(P(Y=0 | alive), E[Y | alive], E[Y^2 | alive]) over (T, T+t] (:func:`clvlayer.btyd._predict.beta_alive_moments`)."""
    r, alpha, a, b = mbg_params(params)
    x, tt = np.asarray(frequency, dtype=np.float64), np.asarray(T, dtype=np.float64)
    tb = horizon(t, len(x))
    return beta_alive_moments(r + x, alpha + tt, a, b + x + 1.0, tb, alive_expected_purchases(params, tb, x, tt))



def alive_moments_draws(draws: ArrayLike, t: float, frequency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`alive_moments` for every row of ``draws`` (draws x rows each), the quadrature batched over draws."""
    return beta_alive_moments_draws(draws, t, frequency, T, mbg_params, alive_expected_purchases, 1.0)
