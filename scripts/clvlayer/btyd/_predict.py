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
from scipy.special import betaln, gammaln, roots_jacobi, roots_legendre
from scipy.stats import nbinom

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
    k = np.arange(kmax + 1, dtype=np.float64)[None, :]
    r2, al2, b2, t2 = (np.asarray(v, dtype=np.float64)[:, None] for v in (r, alpha, b_post, t))
    log_nb = nbd_log_pmf(r2, al2, t2, k)
    p_nb = np.where(t2 > 0, al2 / (al2 + t2), 1.0)
    sf = nbinom.sf(k, r2, p_nb)  # P(N > k)
    km1 = np.maximum(k - 1.0, 0.0)
    base = betaln(a, b2)
    stay = np.exp(betaln(a, b2 + km1) - base)
    die = np.exp(betaln(a + 1.0, b2 + km1) - base)
    q = np.exp(log_nb) * np.where(k > 0, stay, 1.0) + np.where(k > 0, sf * die, 0.0)
    return np.clip(q, 0.0, 1.0)


_GL_LIFETIME = roots_legendre(32)


def pareto_alive_pmf(r: FloatArray, alpha: FloatArray, s: float, beta: FloatArray, t: FloatArray, kmax: int) -> FloatArray:
    """q_k = P(Y(t) = k | alive) for the Pareto/NBD (rows x (kmax + 1)).

    Given alive at T the remaining lifetime tau is Lomax: P(tau > e) = (beta'/(beta'+e))^s with
    beta' = beta + T, and given tau the count is NBD(r + x, alpha + T) over the exposure min(tau, t):
    q_k = P(tau >= t) NBD_k(t) + int_0^t NBD_k(e) f_tau(e) de, the integral by 32-point Gauss-Legendre
    (the integrand is smooth and bounded on [0, t]).
    """
    k = np.arange(kmax + 1, dtype=np.float64)[None, None, :]
    r3, al3, be3, t3 = (np.asarray(v, dtype=np.float64)[:, None, None] for v in (r, alpha, beta, t))
    nodes, weights = _GL_LIFETIME
    e = 0.5 * t3 * (nodes[None, :, None] + 1.0)
    log_dens = math.log(s) + s * np.log(be3) - (s + 1.0) * np.log(be3 + e)
    integral = np.sum(0.5 * t3 * weights[None, :, None] * np.exp(nbd_log_pmf(r3, al3, e, k) + log_dens), axis=1)
    survive = np.exp(s * (np.log(be3[:, 0]) - np.log(be3[:, 0] + t3[:, 0])))
    q = survive * np.exp(nbd_log_pmf(r3[:, 0], al3[:, 0], t3[:, 0], k[0])) + integral
    return np.clip(q, 0.0, 1.0)


def alive_pmf_kmax(r_post: FloatArray, alpha_post: FloatArray, t: FloatArray, tail: float = 1e-7) -> int:
    """A k range that holds all but ``tail`` of the alive-customer count distribution for every row.

    The count is at most the NBD(r', alpha') count without dropout; its (1 - tail) quantile bounds kmax.
    """
    p = np.where(t > 0, alpha_post / (alpha_post + t), 1.0)
    upper = nbinom.isf(tail, r_post, p)
    finite = upper[np.isfinite(upper)]
    return int(max(1.0, float(finite.max()) if finite.size else 1.0))


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
