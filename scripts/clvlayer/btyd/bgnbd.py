"""BG/NBD (Fader, Hardie & Lee 2005, "'Counting Your Customers' the Easy Way", Marketing Science 24(2)).

lambda ~ Gamma(r, alpha) purchase rate; after each *repeat* purchase the customer drops out with
probability p ~ Beta(a, b). Likelihood eq. (6), P(alive) eq. (13) of the accompanying note, conditional
expected purchases eq. (10) (with the Gaussian hypergeometric 2F1). Customers without a repeat purchase
are alive with certainty (the weakness MBG/NBD fixes, see :mod:`clvlayer.btyd.mbgnbd`).

Design notes: identical ``(frequency, recency, T)`` patterns are aggregated first (counts become
likelihood weights), and every term that depends on the frequency only is evaluated once per distinct
frequency. The optimiser (:mod:`clvlayer.btyd._optim`) works on log-parameters with an analytic gradient,
on the mean negative log-likelihood, with the time axis scaled so that ``max(T) == 1`` (the ``lifetimes``
scaling and penalizer convention).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, gammaln, hyp2f1, roots_jacobi

from clvlayer.btyd._core import (
    ClvFitError,
    FloatArray,
    _dot,
    validate_rfm,
    _validate_weights,
    aggregate_rfm,
    horizon,
    positive_params,
)
from clvlayer.btyd._optim import _minimize, _sanity, _standard_errors, log_covariance
from clvlayer.btyd._patterns import add_penalty, validate_fit_inputs
from clvlayer.btyd._predict import alive_pmf_kmax, beta_alive_moments, beta_alive_moments_draws, beta_lifetime, bg_alive_pmf

PARAMETERS = ("r", "alpha", "a", "b")


@dataclass(frozen=True)
class BgNbdFit:
    """Result of :func:`fit_bgnbd` (parameters in the caller's time unit).

    ``r``/``alpha`` are the shape/rate of the Gamma heterogeneity in the purchase
    rate, ``a``/``b`` the Beta heterogeneity in the drop-out probability.
    ``log_likelihood`` is the total (not mean) log-likelihood of the data at the
    estimate, without penalty. ``standard_errors`` are asymptotic standard errors
    from the inverse Hessian of the (penalised) objective, delta method from the
    log-parameters (NaN when the Hessian is not positive definite).
    ``n_patterns`` is the number of distinct (frequency, recency, T) rows fitted.
    """

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    fit_seconds: float
    message: str
    n_patterns: int = 0
    penalizer: float = 0.0
    standard_errors: dict[str, float] = field(default_factory=dict)
    #: covariance of the log-parameters (r, alpha, a, b) from the Hessian; None if not positive definite
    log_cov: FloatArray | None = field(default=None, repr=False, compare=False)

    @property
    def params(self) -> dict[str, float]:
        """The parameters as a dict ``{"r", "alpha", "a", "b"}``."""
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


    @property
    def model(self) -> str:
        return "bgnbd"


def _bg_params(params: BgNbdFit | Sequence[float]) -> tuple[float, float, float, float]:
    if isinstance(params, BgNbdFit):
        params = (params.r, params.alpha, params.a, params.b)
    return positive_params(params, PARAMETERS, "BG/NBD")  # type: ignore[return-value]


def bgnbd_log_likelihood_per_row(
    params: BgNbdFit | Sequence[float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """Per-customer BG/NBD log-likelihood, eq. (6) of Fader, Hardie & Lee (2005).

    ``ln L = ln A1 + ln A2 + ln(A3 + [x > 0] A4)`` with
    ``A1 = Gamma(r+x) alpha^r / Gamma(r)``,
    ``A2 = Gamma(a+b) Gamma(b+x) / (Gamma(b) Gamma(a+b+x))``,
    ``A3 = (alpha+T)^-(r+x)`` and ``A4 = a/(b+x-1) (alpha+t_x)^-(r+x)``, evaluated
    with ``gammaln`` and ``logaddexp`` (A4 only where x > 0).
    """
    r, alpha, a, b = _bg_params(params)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    ln_a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    ln_a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    ln_a3 = -(r + x) * np.log(alpha + tt)
    rep = x > 0
    out = ln_a1 + ln_a2 + ln_a3
    if rep.any():
        xr = x[rep]
        ln_a4 = math.log(a) - np.log(b + xr - 1.0) - (r + xr) * np.log(alpha + tx[rep])
        out[rep] = ln_a1[rep] + ln_a2[rep] + np.logaddexp(ln_a3[rep], ln_a4)
    return out


def bgnbd_log_likelihood(
    params: BgNbdFit | Sequence[float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    weights: ArrayLike | None = None,
) -> float:
    """Total (weighted) BG/NBD log-likelihood; see :func:`bgnbd_log_likelihood_per_row`."""
    per_row = bgnbd_log_likelihood_per_row(params, frequency, recency, T)
    w = _validate_weights(weights, len(per_row))
    return float(np.dot(w, per_row))


class _BgNbdProblem:
    """Aggregated BG/NBD data with a fast objective + analytic gradient in log-parameter space.

    The objective is the mean negative log-likelihood on the time-scaled data plus
    ``penalizer * sum(scaled_params**2)`` (the ``lifetimes`` convention).

    Per repeat-buyer pattern the log-likelihood is ``A1 + A2 + A3 + softplus(d)``
    with ``d = A4 - A3``; the gradient of ``softplus(d)`` is the posterior weight
    ``s = expit(d)`` of the "dropped out right after t_x" branch. All per-row work
    goes to preallocated buffers (``out=``): allocating fresh multi-megabyte
    temporaries costs more than the arithmetic itself.
    """

    def __init__(self, x: FloatArray, tx: FloatArray, tt: FloatArray, w: FloatArray, penalizer: float):
        (ux, utx, uT), counts, inv = aggregate_rfm(x, tx, tt)
        # Every pattern carries the summed weight of its customers.
        if not np.all(w == 1.0):
            counts = np.bincount(inv, weights=w, minlength=len(ux))
        keep = counts > 0
        ux, utx, uT, counts = ux[keep], utx[keep], uT[keep], counts[keep]
        self.n_patterns = len(ux)
        self.W = float(counts.sum())
        self.scale = 1.0 / float(uT.max())  # multiply times by this: max(T) == 1
        self.penalizer = float(penalizer)
        self.sum_wx = _dot(counts, ux)
        # Frequency-only terms are evaluated once per distinct frequency.
        self.xs, inv_x = np.unique(ux, return_inverse=True)
        self.wx = np.bincount(inv_x, weights=counts, minlength=len(self.xs))
        self.xs_rep = self.xs > 0
        rep = ux > 0
        # Non-repeat customers: only T matters.
        self.T0 = uT[~rep] * self.scale
        self.w0 = counts[~rep]
        # Repeat customers.
        self.x1 = ux[rep]
        self.tx1 = utx[rep] * self.scale
        self.T1 = uT[rep] * self.scale
        self.w1 = counts[rep]
        self.ix1 = inv_x[rep]
        self.wx1 = self.w1 * self.x1
        self.sum_w1 = float(self.w1.sum())
        n1 = len(self.x1)
        self._buf = {k: np.empty(n1) for k in ("lt", "ltx", "it", "itx", "d", "e", "s", "tmp")}
        self._neg = np.empty(n1, dtype=bool)
        self.n_evals = 0

    def unpack(self, theta: FloatArray) -> tuple[float, float, float, float]:
        r, alpha, a, b = np.exp(np.clip(theta, -700, 700))
        return float(r), float(alpha), float(a), float(b)

    def total_ll_scaled(self, theta: FloatArray) -> float:
        """Total log-likelihood on the scaled time axis (no penalty)."""
        f, _ = self.value_and_grad(theta, penalized=False)
        return -f * self.W

    def value_and_grad(self, theta: FloatArray, penalized: bool = True) -> tuple[float, FloatArray]:
        self.n_evals += 1
        r, alpha, a, b = self.unpack(theta)
        xs, wx = self.xs, self.wx
        # ---- frequency-only terms: A1 (incl. r ln alpha) and A2 ----
        g_rx = gammaln(r + xs) - gammaln(r)
        g_ab = gammaln(a + b) + gammaln(b + xs) - gammaln(b) - gammaln(a + b + xs)
        ll = _dot(wx, g_rx + g_ab) + self.W * r * math.log(alpha)
        d_r = _dot(wx, digamma(r + xs) - digamma(r)) + self.W * math.log(alpha)
        d_alpha = self.W * r / alpha
        dig_ab = digamma(a + b)
        d_a = _dot(wx, dig_ab - digamma(a + b + xs))
        d_b = _dot(wx, dig_ab + digamma(b + xs) - digamma(b) - digamma(a + b + xs))
        # ---- non-repeat customers: A3 = -r ln(alpha + T) ----
        if len(self.T0):
            l_t0 = np.log(alpha + self.T0)
            sw_lt0 = _dot(self.w0, l_t0)
            ll -= r * sw_lt0
            d_r -= sw_lt0
            d_alpha -= r * _dot(self.w0, 1.0 / (alpha + self.T0))
        # ---- repeat customers: A3 + softplus(A4 - A3) ----
        if len(self.x1):
            bf = self._buf
            lt, ltx, it, itx, d, e, s, tmp = (bf[k] for k in ("lt", "ltx", "it", "itx", "d", "e", "s", "tmp"))
            neg = self._neg
            np.add(self.T1, alpha, out=it)
            np.log(it, out=lt)  # ln(alpha + T)
            np.divide(1.0, it, out=it)  # 1/(alpha + T)
            np.add(self.tx1, alpha, out=itx)
            np.log(itx, out=ltx)  # ln(alpha + t_x)
            np.divide(1.0, itx, out=itx)  # 1/(alpha + t_x)
            # sum w * A3 = -sum w (r + x) ln(alpha + T)
            sw_lt = _dot(self.w1, lt)
            swx_lt = _dot(self.wx1, lt)
            ll -= r * sw_lt + swx_lt
            d_r -= sw_lt
            d_alpha -= r * _dot(self.w1, it) + _dot(self.wx1, it)
            # d = A4 - A3 = ln a - ln(b+x-1) - (r+x)(ln(alpha+t_x) - ln(alpha+T))
            l_bx = np.log(np.where(self.xs_rep, b + xs - 1.0, 1.0))
            np.subtract(ltx, lt, out=tmp)  # ln(alpha+t_x) - ln(alpha+T) <= 0
            np.add(self.x1, r, out=d)
            np.multiply(d, tmp, out=d)
            np.negative(d, out=d)
            np.take(l_bx, self.ix1, out=e)
            np.subtract(d, e, out=d)
            d += math.log(a)
            # softplus(d) = max(d, 0) + log1p(exp(-|d|)); s = expit(d)
            np.abs(d, out=e)
            np.negative(e, out=e)
            np.exp(e, out=e)  # e = exp(-|d|) in (0, 1]
            np.less(d, 0.0, out=neg)
            np.add(e, 1.0, out=s)
            np.divide(1.0, s, out=s)  # 1/(1+e) = expit(|d|)
            np.multiply(s, e, out=s, where=neg)  # e/(1+e) = expit(-|d|) where d < 0
            np.maximum(d, 0.0, out=d)
            ll += _dot(self.w1, d)
            np.log1p(e, out=e)
            ll += _dot(self.w1, e)
            # gradient of sum w softplus(d): ws = w * s
            ws = np.multiply(self.w1, s, out=s)
            # dd/dr = -(ln(alpha+t_x) - ln(alpha+T)) = -tmp
            d_r -= _dot(ws, tmp)
            # dd/dalpha = -(r+x) (1/(alpha+t_x) - 1/(alpha+T))
            np.subtract(itx, it, out=itx)
            np.multiply(ws, itx, out=itx)
            d_alpha -= r * float(itx.sum()) + _dot(self.x1, itx)
            # dd/da = 1/a ; dd/db = -1/(b+x-1)
            sum_ws = float(ws.sum())
            d_a += sum_ws / a
            ws_by_x = np.bincount(self.ix1, weights=ws, minlength=len(xs))
            d_b -= _dot(ws_by_x[self.xs_rep], 1.0 / (b + xs[self.xs_rep] - 1.0))
        params = np.array([r, alpha, a, b])
        grad_ll = np.array([d_r, d_alpha, d_a, d_b]) * params  # chain rule for log-parameters
        f, g = -ll / self.W, -grad_ll / self.W
        return add_penalty(f, g, params, self.penalizer) if penalized else (f, g)


def fit_bgnbd(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    penalizer: float = 0.0,
    initial: Sequence[float] | None = None,
    weights: ArrayLike | None = None,
    min_customers: int = 10,
    max_iter: int = 2000,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit.

    Parameters
    ----------
    frequency, recency, T:
        RFM summary per customer (see the module docstring for the definitions).
    penalizer:
        L2 penalty ``penalizer * sum(params**2)`` added to the *mean* negative
        log-likelihood, on the time-scaled parameters (alpha multiplied by
        ``1/max(T)``) -- exactly the ``lifetimes`` ``penalizer_coef``.
    initial:
        optional starting values ``(r, alpha, a, b)`` in the caller's time unit;
        by default the best of a small grid of moment-based guesses is used.
    weights:
        optional count of customers per row (for pre-aggregated input).
    min_customers:
        fewer customers than this raise :class:`ClvFitError`.

    Raises
    ------
    ClvFitError
        invalid inputs, too few customers or no repeat buyers (then the
        drop-out process is not observed and a, b are not identifiable).
    """
    t0 = time.perf_counter()
    x, tx, tt, w = validate_fit_inputs(frequency, recency, T, weights, min_customers, penalizer, "BG/NBD")
    n_customers_f = float(w.sum())
    prob = _BgNbdProblem(x, tx, tt, w, penalizer)

    if initial is not None:
        r0, al0, a0, b0 = _bg_params(initial)
        starts = [np.log([r0, al0 * prob.scale, a0, b0])]
    else:
        # Moment-style guesses: purchase rate r/alpha ~ sum(x) / sum(T) on the scaled axis.
        rate = max(prob.sum_wx / max(float(np.dot(w, tt)) * prob.scale, 1e-12), 1e-9)
        starts = []
        for r0 in (0.25, 1.0, 3.0):
            for a0, b0 in ((0.5, 2.0), (1.0, 4.0), (2.0, 10.0)):
                starts.append(np.log([r0, r0 / rate, a0, b0]))
    opt = _minimize(prob.value_and_grad, starts, max_iter=max_iter, gtol=1e-9)
    r, alpha_s, a, b = prob.unpack(opt.theta)
    alpha = alpha_s / prob.scale
    # LL on the original time axis: scaling time by c multiplies the likelihood
    # (a density in the x purchase times) by c^-x.
    ll = prob.total_ll_scaled(opt.theta) + prob.sum_wx * math.log(prob.scale)
    converged, message = _sanity(("r", "alpha", "a", "b"), opt.theta, (r, alpha, a, b), ll, opt)
    values = (r, alpha, a, b)
    ses = _standard_errors(("r", "alpha", "a", "b"), values, opt.hessian, prob.W)
    return BgNbdFit(
        r=r,
        alpha=alpha,
        a=a,
        b=b,
        log_likelihood=float(ll),
        n_customers=int(round(n_customers_f)),
        converged=converged,
        iterations=opt.iterations,
        fit_seconds=time.perf_counter() - t0,
        message=message,
        n_patterns=prob.n_patterns,
        penalizer=float(penalizer),
        standard_errors=ses,
        log_cov=log_covariance(opt.hessian, prob.W),
    )


def _log_dropout_odds(
    r: float, alpha: float, a: float, b: float, x: FloatArray, tx: FloatArray, tt: FloatArray
) -> FloatArray:
    """ln[a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)] for x > 0, -inf for x == 0."""
    out = np.full(x.shape, -np.inf)
    rep = x > 0
    if rep.any():
        xr = x[rep]
        out[rep] = (
            math.log(a)
            - np.log(b + xr - 1.0)
            + (r + xr) * (np.log(alpha + tt[rep]) - np.log(alpha + tx[rep]))
        )
    return out


def conditional_probability_alive(
    fit: BgNbdFit | Sequence[float],
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """P(customer still alive at T | x, t_x, T) (Fader, Hardie & Lee 2005 note, eq. 13).

    ``1 / (1 + [x > 0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))``; exactly 1 for
    customers without repeat purchases (including T == 0).
    """
    r, alpha, a, b = _bg_params(fit)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    return expit(-_log_dropout_odds(r, alpha, a, b, x, tx, tt))


def _future_fraction(r: float, alpha: float, a: float, b: float, x: FloatArray, tt: FloatArray, t: FloatArray) -> FloatArray:
    """``1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))`` of eq. (10).

    Evaluated through Euler's transformation followed by Pfaff's, which gives the
    equivalent, overflow-free form
    ``1 - ((alpha+T)/(alpha+T+t))^(a-1) 2F1(a+b-1-r, a-1; a+b+x-1; t/(alpha+T+t))``
    (no huge 2F1 multiplied by a tiny power).

    scipy's ``hyp2f1`` returns inf in the degenerate case where ``c - a - b`` is
    exactly an integer and ``c`` is large (here ``x + r - a + 1`` integer, e.g.
    r == a, x > ~100); the function is analytic in ``c``, so such points are
    re-evaluated with ``c`` moved by a relative 1e-12 (then 1e-10, 1e-8), which
    changes the value by the same relative order (checked against mpmath to
    ~1e-15 at the moved point). The paper's direct form is the last resort.
    """
    denom = alpha + tt + t
    z = t / denom
    ratio = (alpha + tt) / denom
    c = a + b + x - 1.0
    big_a = a + b - 1.0 - r
    pow_ratio = np.power(ratio, a - 1.0)
    g = pow_ratio * hyp2f1(big_a, a - 1.0, c, z)
    for eps in (1e-12, 1e-10, 1e-8):
        bad = ~np.isfinite(g)
        if not bad.any():
            break
        g[bad] = pow_ratio[bad] * hyp2f1(big_a, a - 1.0, c[bad] * (1.0 + eps), z[bad])
    bad = ~np.isfinite(g)
    if bad.any():
        g[bad] = np.exp((r + x[bad]) * np.log(ratio[bad])) * hyp2f1(r + x[bad], b + x[bad], c[bad], z[bad])
    return 1.0 - g


def conditional_expected_number_of_purchases_up_to_time(
    fit: BgNbdFit | Sequence[float],
    t: ArrayLike,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
) -> FloatArray:
    """E[# purchases in (T, T+t] | x, t_x, T] -- eq. (10) of Fader, Hardie & Lee (2005).

    ``(a+b+x-1)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1;
    t/(alpha+T+t))] * P(alive)``. ``t`` may be a scalar or an array broadcastable
    to the customers. The formula is the analytic continuation for a < 1 as well
    (the a -> 1 singularity is removable; a is nudged by 1e-9 if exactly 1).
    Identical (frequency, T, t) combinations are evaluated once, which makes
    scoring millions of day-grained customers cheap.
    """
    r, alpha, a, b = _bg_params(fit)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    try:
        t_b = np.broadcast_to(np.asarray(t, dtype=np.float64), x.shape).astype(np.float64)
    except ValueError as exc:
        raise ClvFitError(f"t (shape {np.shape(t)}) does not broadcast to {len(x)} customers") from exc
    if (~np.isfinite(t_b)).any() or (t_b < 0).any():
        raise ClvFitError("t must be finite and >= 0")
    if abs(a - 1.0) < 1e-9:
        a = 1.0 + 1e-9
    p_alive = expit(-_log_dropout_odds(r, alpha, a, b, x, tx, tt))
    # 2F1 only depends on (x, T, t): evaluate per distinct combination.
    (ux, uT, ut), _, inv = aggregate_rfm(x, tt, t_b)
    if len(ux) < 0.7 * len(x):
        frac = _future_fraction(r, alpha, a, b, ux, uT, ut)[inv]
    else:
        frac = _future_fraction(r, alpha, a, b, x, tt, t_b)
    return (a + b + x - 1.0) / (a - 1.0) * frac * p_alive

def alive_count_pmf(fit: BgNbdFit | Sequence[float], t: float, frequency: ArrayLike, T: ArrayLike, kmax: int | None = None) -> FloatArray:
    """P(k purchases in (T, T+t] | alive at T, x, T) for k = 0..kmax (customers x (kmax + 1)).

    The full conditional distribution is ``(1 - P(alive)) [k == 0] + P(alive) * this``; see
    :func:`clvlayer.btyd._predict.bg_alive_pmf` for the closed form. ``kmax`` defaults to a range that
    holds all but 1e-9 of every row's probability.
    """
    r, alpha, a, b = _bg_params(fit)
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    tb = horizon(t, len(x))
    if kmax is None:
        kmax = alive_pmf_kmax(r + x, alpha + tt, tb)
    return bg_alive_pmf(r + x, alpha + tt, a, b + x, tb, kmax)


def expected_lifetime(fit: BgNbdFit | Sequence[float], cap: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """Expected remaining active time within the next ``cap`` time units: P(alive) E[min(tau, cap) | alive]."""
    r, alpha, a, b = _bg_params(fit)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    p_alive = expit(-_log_dropout_odds(r, alpha, a, b, x, tx, tt))
    (ux, uT), _, inv = aggregate_rfm(x, tt)
    return p_alive * beta_lifetime(r + ux, alpha + uT, a, b + ux, float(cap))[inv]


def restricted_remaining_lifetime(
    fit: BgNbdFit | Sequence[float], cap: float, frequency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[min(R, max(cap - T, 0)) | alive at T] per row, R the remaining lifetime after T (``cap`` counted from the
    first purchase): the alive part of :func:`clvlayer.btyd.registry.expected_restricted_lifetime`.

    Given alive, lambda ~ Gamma(r + x, alpha + T), p ~ Beta(a, b + x) and R ~ Exponential(lambda p) (a Geometric(p)
    number of Exponential(lambda) gaps). With k = r + x, beta = alpha + T and s = max(cap - T, 0):
        E[min(R, s) | p] = beta / (p (k - 1)) [1 - (1 + p s / beta)^(1 - k)]   (beta ln(1 + p s / beta) / p at k = 1)
    integrated over p by 48-node Gauss-Jacobi quadrature, once per distinct (x, T).
    """
    params = _bg_params(fit)
    x, tt = np.asarray(frequency, dtype=np.float64), np.asarray(T, dtype=np.float64)
    (ux, uT), _, inv = aggregate_rfm(x, tt)  # a function of (x, T): once per distinct group
    return _restricted_remaining(params, ux, uT, np.maximum(cap - uT, 0.0))[inv]


def _restricted_remaining(params: tuple[float, ...], x: FloatArray, tt: FloatArray, s: FloatArray,
                          nodes: int = 48) -> FloatArray:
    """:func:`restricted_remaining_lifetime` on distinct (x, T) rows with the remaining cap ``s`` per row."""
    r, alpha, a, b = params
    remaining = np.zeros_like(x)
    for value in np.unique(x):
        rows = (x == value) & (s > 0)
        if not rows.any():
            continue
        # p ~ Beta(a, b + x): nodes u on [-1, 1] with weight (1 - u)^(b + x - 1) (1 + u)^(a - 1), p = (1 + u) / 2
        u, weights = roots_jacobi(nodes, b + value - 1.0, a - 1.0)
        p = (1.0 + u)[None, :] / 2.0
        k = r + value
        beta = (alpha + tt[rows])[:, None]
        y = p * s[rows][:, None] / beta
        if abs(k - 1.0) < 1e-9:
            per_p = beta * np.log1p(y) / p
        else:
            per_p = beta / (k - 1.0) * -np.expm1(-(k - 1.0) * np.log1p(y)) / p
        # each row's own sum of products (einsum's loop, not BLAS gemv, whose rounding depends on the number of
        # rows): a customer's value is the same whichever other customers are scored with it (chunks)
        remaining[rows] = np.einsum("ij,j->i", per_p, weights / weights.sum())
    return remaining


def dead_lifetime(fit: BgNbdFit | Sequence[float], cap: float, frequency: ArrayLike, recency: ArrayLike,
                  T: ArrayLike) -> FloatArray:
    """E[min(L, cap) | no longer alive at T] for BG-type dropout (BG/NBD, MBG/NBD): a customer drops out right
    after a purchase, so one who is no longer alive left at his last purchase, L = t_x."""
    return np.minimum(np.asarray(recency, dtype=np.float64), cap)


def alive_expected_purchases(fit: BgNbdFit | Sequence[float], t: ArrayLike, frequency: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[# purchases in (T, T+t] | alive at T, x, T] = (a+b+x-1)/(a-1) [1 - (...)^(r+x) 2F1(...)] (eq. 10 / P(alive))."""
    r, alpha, a, b = _bg_params(fit)
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    if abs(a - 1.0) < 1e-9:
        a = 1.0 + 1e-9
    return (a + b + x - 1.0) / (a - 1.0) * _future_fraction(r, alpha, a, b, x, tt, horizon(t, len(x)))



def alive_moments(fit: BgNbdFit | Sequence[float], t: float, frequency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(P(Y=0 | alive), E[Y | alive], E[Y^2 | alive]) over (T, T+t] (:func:`clvlayer.btyd._predict.beta_alive_moments`)."""
    r, alpha, a, b = _bg_params(fit)
    x, tt = np.asarray(frequency, dtype=np.float64), np.asarray(T, dtype=np.float64)
    tb = horizon(t, len(x))
    return beta_alive_moments(r + x, alpha + tt, a, b + x, tb, alive_expected_purchases(fit, tb, x, tt))



def alive_moments_draws(draws: ArrayLike, t: float, frequency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """:func:`alive_moments` for every row of ``draws`` (draws x rows each), the quadrature batched over draws."""
    return beta_alive_moments_draws(draws, t, frequency, T, _bg_params, alive_expected_purchases, 0.0)
