"""Prediction building blocks shared by the count models.

Every model here has the same posterior structure *given that the customer is alive at T*: the purchase
rate is lambda | alive ~ Gamma(r + x, alpha + T) and the dropout variable is independent of it (BG-type:
p | alive ~ Beta(a, b'); Pareto/NBD: mu | alive ~ Gamma(s, beta + T)). So the distribution of the number of
purchases in (T, T + t] is ``(1 - P(alive)) * [k == 0] + P(alive) * q_k`` where ``q_k`` depends on the
frequency and T only -- which is what makes per-(x, T) evaluation (pattern aggregation) exact.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from scipy.special import gammaln, roots_jacobi, roots_legendre

from clvlayer.btyd._core import ClvFitError, FloatArray


def nbd_log_pmf(r: FloatArray, alpha: FloatArray, t: FloatArray, k: FloatArray) -> FloatArray:
    """ln P(N = k) for N | lambda ~ Poisson(lambda t), lambda ~ Gamma(r, alpha) (broadcasting)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_p = np.log(alpha) - np.log(alpha + t)
        log_q = np.where(t > 0, np.log(t) - np.log(alpha + t), -np.inf)
        term_k = np.where(k > 0, k * log_q, 0.0)
    return gammaln(r + k) - gammaln(r) - gammaln(k + 1.0) + r * log_p + term_k


def bg_alive_pmf(r: FloatArray, alpha: FloatArray, a: float, b_post: FloatArray, t: FloatArray, kmax: int) -> FloatArray:
    """q_k = P(Y(t) = k | alive) for k = 0..kmax, BG-type dropout (rows x (kmax + 1)).

    ``r, alpha`` are the posterior Gamma parameters (r + x, alpha + T), ``b_post`` the posterior Beta b
    (BG/NBD: b + x, MBG/NBD: b + x + 1). Given (lambda, p) the future has N ~ Poisson(lambda t) purchase
    opportunities and the customer dies right after the D-th purchase, D ~ Geometric(p) on {1, 2, ...}, so
    Y = min(N, D): P(Y = k) = P(N = k) P(D >= k) + P(N > k) P(D = k). lambda and p are independent given
    alive, so each product integrates separately: E[(1-p)^(k-1)] = B(a, b'+k-1) / B(a, b') and
    E[p (1-p)^(k-1)] = B(a+1, b'+k-1) / B(a, b').
    """
    r2, al2, b2, t2 = (np.asarray(v, dtype=np.float64)[:, None] for v in (r, alpha, b_post, t))
    nb = np.exp(_nbd_log_pmf_table(r2, al2, t2, kmax))
    sf = np.maximum(1.0 - np.cumsum(nb, axis=1), 0.0)  # P(N > k); absolute error ~1e-16 is enough here
    # ln E[(1-p)^(k-1)] = sum_{j<k-1} ln((b'+j)/(a+b'+j)) (k >= 1), by a cumulative sum along k
    j = np.arange(max(kmax - 1, 0), dtype=np.float64)[None, :]
    steps = np.log(b2 + j) - np.log(a + b2 + j)
    ln_stay = np.concatenate([np.zeros((len(r2), 2)), np.cumsum(steps, axis=1)], axis=1)[:, : kmax + 1]
    stay = np.exp(ln_stay)  # column 0 unused (k = 0)
    k = np.arange(kmax + 1, dtype=np.float64)[None, :]
    die = stay * a / (a + b2 + np.maximum(k - 1.0, 0.0))
    q = nb * np.where(k > 0, stay, 1.0) + np.where(k > 0, sf * die, 0.0)
    return np.clip(q, 0.0, 1.0)


def _nbd_log_pmf_table(r: FloatArray, alpha: FloatArray, t: FloatArray, kmax: int) -> FloatArray:
    """ln NBD pmf for k = 0..kmax (rows x (kmax + 1)) by the recursion p_k = p_{k-1} (r+k-1)/k t/(alpha+t)."""
    with np.errstate(divide="ignore"):
        ln_q = np.where(t > 0, np.log(t) - np.log(alpha + t), -np.inf)
    k = np.arange(1, kmax + 1, dtype=np.float64)[None, :]
    steps = np.log(r + k - 1.0) - np.log(k) + ln_q
    first = r * (np.log(alpha) - np.log(alpha + t))
    return np.concatenate([first, first + np.cumsum(steps, axis=1)], axis=1)


_GL_LIFETIME = roots_legendre(32)


def pareto_alive_pmf(r: FloatArray, alpha: FloatArray, s: float, beta: FloatArray, t: FloatArray, kmax: int) -> FloatArray:
    """q_k = P(Y(t) = k | alive) for the Pareto/NBD (rows x (kmax + 1)).

    Given alive at T the remaining lifetime tau is Lomax: P(tau > e) = (beta'/(beta'+e))^s with
    beta' = beta + T, and given tau the count is NBD(r + x, alpha + T) over the exposure min(tau, t):
    q_k = P(tau >= t) NBD_k(t) + int_0^t NBD_k(e) f_tau(e) de, the integral by 32-point Gauss-Legendre
    (the integrand is smooth and bounded on [0, t]).
    """
    r1, al1, be1, t1 = (np.asarray(v, dtype=np.float64) for v in (r, alpha, beta, t))
    n = len(r1)
    nodes, weights = _GL_LIFETIME
    e = 0.5 * t1[:, None] * (nodes[None, :] + 1.0)  # rows x nodes
    log_dens = math.log(s) + s * np.log(be1)[:, None] - (s + 1.0) * np.log(be1[:, None] + e)
    rep = lambda v: np.repeat(v, len(nodes))[:, None]  # noqa: E731
    nb_e = _nbd_log_pmf_table(rep(r1), rep(al1), e.reshape(-1, 1), kmax).reshape(n, len(nodes), kmax + 1)
    wgt = (0.5 * t1[:, None] * weights[None, :]) * np.exp(log_dens)
    integral = np.einsum("ne,nek->nk", wgt, np.exp(nb_e))
    survive = np.exp(s * (np.log(be1) - np.log(be1 + t1)))[:, None]
    q = survive * np.exp(_nbd_log_pmf_table(r1[:, None], al1[:, None], t1[:, None], kmax)) + integral
    return np.clip(q, 0.0, 1.0)


def nbd_upper(r_post: FloatArray, alpha_post: FloatArray, t: FloatArray) -> FloatArray:
    """A count the NBD(r', alpha') over t exceeds with negligible probability (< ~1e-9): mean + 14 sd + 10.

    The alive-customer count is at most this NBD count (no dropout), so it bounds the pmf tables' k range.
    """
    mean = r_post * t / alpha_post
    return np.ceil(mean + 14.0 * np.sqrt(mean * (1.0 + t / alpha_post)) + 10.0)


def alive_pmf_kmax(r_post: FloatArray, alpha_post: FloatArray, t: FloatArray) -> int:
    """One k range for all rows: the largest :func:`nbd_upper`."""
    upper = nbd_upper(np.asarray(r_post, float), np.asarray(alpha_post, float), np.asarray(t, float))
    return int(max(1.0, float(upper.max()) if upper.size else 1.0))


def beta_lifetime(r_post: FloatArray, alpha_post: FloatArray, a: float, b_post: FloatArray, cap: float) -> FloatArray:
    """E[min(tau, cap) | alive] for BG-type dropout (expected remaining lifetime restricted to ``cap``).

    Given (lambda, p) the customer dies at the D-th purchase, D ~ Geometric(p): a geometric sum of
    Exponential(lambda) gaps, i.e. tau ~ Exponential(lambda p). E[min(tau, c)] = int_0^c e^{-lambda p u} du;
    over lambda ~ Gamma(r', alpha'): (alpha' / ((r'-1) p)) (1 - (alpha'/(alpha'+p c))^(r'-1)), and over
    p ~ Beta(a, b') by 24-point Gauss-Jacobi quadrature per distinct b'.
    """
    out = np.empty(len(r_post))
    for bb in np.unique(b_post):
        rows = b_post == bb
        xi, w = roots_jacobi(24, bb - 1.0, a - 1.0)  # weight (1-xi)^(b'-1) (1+xi)^(a-1)
        p = 0.5 * (xi + 1.0)
        w = w / w.sum()
        rp, ap = r_post[rows][:, None], alpha_post[rows][:, None]
        z = np.log1p(p[None, :] * cap / ap)
        rm1 = rp - 1.0
        small = np.abs(rm1) < 1e-8
        frac = np.where(small, z, -np.expm1(-np.where(small, 1.0, rm1) * z) / np.where(small, 1.0, rm1))
        out[rows] = (ap * frac / p[None, :]) @ w
    return out


def discounted_sum(
    cumulative: Callable[[float], FloatArray], months: int, periods_per_month: float, monthly_discount_rate: float
) -> FloatArray:
    """sum_{i=1..months} (C(i k) - C((i-1) k)) / (1 + d)^i for a cumulative expectation C(t)."""
    if months < 0 or int(months) != months:
        raise ClvFitError("months must be a non-negative integer")
    if not math.isfinite(monthly_discount_rate) or monthly_discount_rate <= -1:
        raise ClvFitError("monthly_discount_rate must be > -1")
    prev = cumulative(0.0)
    total = np.zeros_like(prev)
    for i in range(1, int(months) + 1):
        cur = cumulative(i * periods_per_month)
        total += (cur - prev) / (1.0 + monthly_discount_rate) ** i
        prev = cur
    return total
