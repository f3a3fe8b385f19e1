"""Pareto/NBD (Schmittlein, Morrison & Colombo 1987; likelihood as in Fader & Hardie 2005, "A Note on
Deriving the Pareto/NBD Model and Related Expressions").

lambda ~ Gamma(r, alpha) purchase rate, mu ~ Gamma(s, beta) dropout rate, exponential lifetime. With
``1/(lambda+mu) = int_0^inf e^{-(lambda+mu)u} du`` the likelihood becomes one integral over a finite range:

``L = Gamma(r+x) alpha^r beta^s / Gamma(r) * [(alpha+T)^-(r+x) (beta+T)^-s + s I]``,
``I = int_{t_x}^{T} (alpha+u)^-(r+x) (beta+u)^-(s+1) du``.

This replaces the textbook ``A0`` difference of two 2F1 terms (whose parameters swap when alpha < beta,
which cancel when t_x ~ T and overflow for large x) by a positive integral, evaluated stably:

* let ``c = max(alpha, beta)``, ``o = min(alpha, beta)``, ``m = r + s + x`` and ``q`` the exponent of the
  smaller-offset factor (s + 1 if alpha >= beta, else r + x). Then
  ``(alpha+u)^-(r+x) (beta+u)^-(s+1) = (c+u)^-(m+1) ((c+u)/(o+u))^q``;
* substituting ``omega = ((c+u)/(c+t_x))^-m`` (the dominant power decay becomes uniform) gives
  ``I = (c+t_x)^-m (1 - rho) / m * mean_{omega in [rho, 1]} g(omega)^-q``, with
  ``rho = ((c+t_x)/(c+T))^m`` and ``g = (o+u)/(c+u) = (o+t_x)/(c+t_x) + z (1 - omega^(1/m))`` a sum of
  non-negative terms (no cancellation), ``z = (c-o)/(c+t_x)``;
* the mean over ``omega`` is a 24-point Gauss-Legendre rule; ``g^-q`` is bounded by its value at t_x and
  monotone, so the rule is accurate to ~1e-12 relative on the tested range (oracles in the tests);
* everything is in logs; the gradient differentiates under the integral with the same nodes.

Predictions (given alive, lambda ~ Gamma(r+x, alpha+T) and mu ~ Gamma(s, beta+T) independently):
``P(alive) = (alpha+T)^-(r+x) (beta+T)^-s / [(alpha+T)^-(r+x) (beta+T)^-s + s I]``,
``E[Y(t)] = P(alive) (r+x)/(alpha+T) (beta+T)/(s-1) [1 - ((beta+T)/(beta+T+t))^(s-1)]`` (log limit at s = 1).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, gammaln

from clvlayer.btyd._core import FloatArray, _validate_rfm, _validate_weights, aggregate_rfm, horizon, positive_params
from clvlayer.btyd._fit import CountFit, run_fit
from clvlayer.btyd._patterns import Patterns, add_penalty, prepare_fit_data, rate_starts
from clvlayer.btyd._predict import alive_pmf_kmax, pareto_alive_pmf

PARAMETERS = ("r", "alpha", "s", "beta")
NAME = "Pareto/NBD"


def _tanh_sinh(n: int, h: float) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Tanh-sinh rule on [0, 1]: nodes as (position a, distance to 1 b = 1 - a) and weights summing to 1.

    Nodes cluster double-exponentially at both ends, so algebraic endpoint (near-)singularities of the
    integrand are integrated with exponential convergence; a and b are both computed without cancellation.
    """
    k = np.arange(-n, n + 1) * h
    u = 0.5 * np.pi * np.sinh(k)
    a, b = expit(2.0 * u), expit(-2.0 * u)  # (1 + tanh u) / 2, (1 - tanh u) / 2
    w = h * 0.5 * np.pi * np.cosh(k) / np.cosh(u) ** 2
    return a, b, w / w.sum()


N_NODES = 2 * 15 + 1
_A, _B, _W = _tanh_sinh(20, 0.18)


def pnbd_params(params: Any) -> tuple[float, float, float, float]:
    """(r, alpha, s, beta) from a :class:`CountFit`, a dict or a sequence; all finite and > 0."""
    if isinstance(params, CountFit):
        params = params.values()
    elif isinstance(params, dict):
        params = [params[k] for k in PARAMETERS]
    return positive_params(params, PARAMETERS, NAME)  # type: ignore[return-value]


_LN_OMEGA = np.where(_A < 0.5, np.log(_A), np.log1p(-np.minimum(_B, 0.5)))  # ln of the nodes, cancellation-free


def _antiderivative(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, u: FloatArray, moments: bool
) -> tuple[FloatArray, FloatArray | None]:
    """ln F(u) = ln int_u^inf (alpha+w)^-(r+x) (beta+w)^-(s+1) dw per row, and optionally the node-weighted
    means of [ln(alpha+w), 1/(alpha+w), ln(beta+w), 1/(beta+w)] under the integrand (for the gradient).

    Substitution omega = ((b+w)/(b+u))^-m on [0, 1] with base offset b = c = max(alpha, beta); rows whose
    nearer pole is close (z > 1/2) and whose far-factor exponent is the smaller one use b = o = min(alpha,
    beta) instead, which turns the near-pole into an integrable power at omega -> 0 (where the tanh-sinh
    nodes cluster).
    """
    c, o = max(alpha, beta), min(alpha, beta)
    delta = c - o
    m = r + s + x
    p_a, p_b = r + x, np.full(len(x), s + 1.0)
    p_c, p_o = (p_a, p_b) if alpha >= beta else (p_b, p_a)
    use_o = ((delta / (c + u)) > 0.5) & (p_c < p_o)
    base = np.where(use_o, o, c)
    ln_bu = np.log(base + u)
    ln_om = _LN_OMEGA[None, :] / m[:, None]  # ln omega^(1/m) <= 0
    ln_g = np.empty_like(ln_om)
    o_rows, c_rows = np.flatnonzero(use_o), np.flatnonzero(~use_o)
    # c-base: g = (o+u)/(c+u) + z (1 - omega^(1/m)); o-base: g = 1/(1 + Z omega^(1/m)), Z = (c-o)/(o+u)
    zc = (delta / (c + u[c_rows]))[:, None]
    ln_g[c_rows] = np.log(((o + u[c_rows]) / (c + u[c_rows]))[:, None] - zc * np.expm1(ln_om[c_rows]))
    if o_rows.size:
        zo = (delta / (o + u[o_rows]))[:, None]
        ln_g[o_rows] = -np.log1p(zo * np.exp(ln_om[o_rows]))
    ln_h = np.where(use_o, p_c, -p_o)[:, None] * ln_g
    shift = ln_h.max(axis=1, keepdims=True)
    wh = _W[None, :] * np.exp(ln_h - shift)
    total = wh.sum(axis=1)
    ln_f = -m * ln_bu - np.log(m) + np.log(total) + shift[:, 0]
    if not moments:
        return ln_f, None
    share = wh / total[:, None]
    ln_base_w = ln_bu[:, None] - ln_om  # ln(b + w) at the nodes
    ln_cw = np.where(use_o[:, None], ln_base_w - ln_g, ln_base_w)
    ln_ow = ln_cw + ln_g
    ln_aw, ln_bw = (ln_cw, ln_ow) if alpha >= beta else (ln_ow, ln_cw)
    mom = np.stack([(share * v).sum(axis=1) for v in (ln_aw, np.exp(-ln_aw), ln_bw, np.exp(-ln_bw))], axis=1)
    return ln_f, mom


class _Keys:
    """Distinct (x, u) pairs behind the t_x and T ends of every pattern (F is evaluated once per pair)."""

    def __init__(self, x: FloatArray, tx: FloatArray, tt: FloatArray):
        n = len(x)
        (self.x, self.u), _, inv = aggregate_rfm(np.concatenate([x, x]), np.concatenate([tx, tt]))
        self.i_tx, self.i_t = inv[:n], inv[n:]


def _log_terms(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, tt: FloatArray, keys: _Keys, moments: bool
) -> tuple[FloatArray, FloatArray, FloatArray | None]:
    """(ln first branch, ln(s I), R) with I = F(t_x) - F(T) and, if ``moments``, the gradient pieces.

    s F(T) <= (alpha+T)^-(r+x) (beta+T)^-s, so the subtraction cannot lose precision relative to the
    likelihood (first + s I) even when t_x ~ T. R (rows x 4) is d(s I)/d(r, alpha, s, beta) divided by
    (first + s I), i.e. what the gradient of ln L needs, computed without the cancellation.
    """
    ln_f, mom = _antiderivative(r, alpha, s, beta, keys.x, keys.u, moments)
    ln_f_tx, ln_f_t = ln_f[keys.i_tx], ln_f[keys.i_t]
    with np.errstate(divide="ignore"):
        ln_s_i = math.log(s) + ln_f_tx + np.log(-np.expm1(np.minimum(ln_f_t - ln_f_tx, 0.0)))
    ln_first = _ln_first(r, alpha, s, beta, x, tt)
    if not moments or mom is None:
        return ln_first, ln_s_i, None
    ln_l = np.logaddexp(ln_first, ln_s_i)
    w_tx = np.exp(math.log(s) + ln_f_tx - ln_l)[:, None]
    w_t = np.exp(math.log(s) + ln_f_t - ln_l)[:, None]
    # dF/dtheta = -E[d ln f / dtheta] F: d ln f = (-ln(alpha+w), -(r+x)/(alpha+w), -ln(beta+w), -(s+1)/(beta+w))
    scale_k = np.stack([np.ones_like(x), r + x, np.ones_like(x), np.full(len(x), s + 1.0)], axis=1)
    d = -(w_tx * mom[keys.i_tx] - w_t * mom[keys.i_t]) * scale_k
    d[:, 2] += np.exp(ln_s_i - ln_l) / s  # the explicit factor s of s I
    return ln_first, ln_s_i, d


def _ln_first(r: float, alpha: float, s: float, beta: float, x: FloatArray, tt: FloatArray) -> FloatArray:
    """ln[(alpha+T)^-(r+x) (beta+T)^-s]: the "still alive at T" branch."""
    return -(r + x) * np.log(alpha + tt) - s * np.log(beta + tt)


def paretonbd_log_likelihood_per_row(params: Any, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """Per-customer Pareto/NBD log-likelihood (module docstring)."""
    r, alpha, s, beta = pnbd_params(params)
    x, tx, tt = _validate_rfm(frequency, recency, T, allow_empty=True)
    if len(x) == 0:
        return np.zeros(0)
    ln_first, ln_s_i, _ = _log_terms(r, alpha, s, beta, x, tt, _Keys(x, tx, tt), moments=False)
    const = gammaln(r + x) - gammaln(r) + r * math.log(alpha) + s * math.log(beta)
    return const + np.logaddexp(ln_first, ln_s_i)


def paretonbd_log_likelihood(params: Any, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, weights: ArrayLike | None = None) -> float:
    """Total (weighted) Pareto/NBD log-likelihood."""
    per_row = paretonbd_log_likelihood_per_row(params, frequency, recency, T)
    return float(np.dot(_validate_weights(weights, len(per_row)), per_row))


class ParetoNbdProblem:
    """Mean negative log-likelihood + gradient (differentiated under the integral) in log-parameter space.

    F and its moments are evaluated per distinct (x, u) key, the "alive" branch per distinct T; per pattern
    only a few exp/log remain, and the gradient pieces are summed back onto keys / T with ``bincount``.
    """

    def __init__(self, pat: Patterns, penalizer: float):
        self.pat, self.penalizer = pat, penalizer
        self.keys = _Keys(pat.x, pat.tx, pat.T)
        self.t_u, self.i_t = np.unique(pat.T, return_inverse=True)

    def __call__(self, theta: FloatArray, penalized: bool = True) -> tuple[float, FloatArray]:
        r, alpha, s, beta = (float(v) for v in np.exp(np.clip(theta, -700, 700)))
        pat, keys, it = self.pat, self.keys, self.i_t
        x, w = pat.x, pat.w
        ln_f, mom = _antiderivative(r, alpha, s, beta, keys.x, keys.u, moments=True)
        f_tx, f_t = ln_f[keys.i_tx], ln_f[keys.i_t]
        with np.errstate(divide="ignore"):
            ln_s_i = math.log(s) + f_tx + np.log(-np.expm1(np.minimum(f_t - f_tx, 0.0)))
        ln_at, ln_bt = np.log(alpha + self.t_u), np.log(beta + self.t_u)
        ln_first = -(r + x) * ln_at[it] - s * ln_bt[it]
        ln_l = np.logaddexp(ln_first, ln_s_i)
        ll = float(np.dot(pat.wx, gammaln(r + pat.xs) - gammaln(r))) + pat.W * (r * math.log(alpha) + s * math.log(beta))
        ll += float(np.dot(w, ln_l))
        wa = w * np.exp(ln_first - ln_l)  # weight of the "alive at T" branch
        wa_t = np.bincount(it, weights=wa, minlength=len(self.t_u))
        wax_t = np.bincount(it, weights=wa * x, minlength=len(self.t_u))
        ls = math.log(s)
        n_keys = len(keys.x)
        net = np.bincount(keys.i_tx, weights=w * np.exp(ls + f_tx - ln_l), minlength=n_keys)
        net -= np.bincount(keys.i_t, weights=w * np.exp(ls + f_t - ln_l), minlength=n_keys)
        assert mom is not None
        g = np.array([
            float(np.dot(pat.wx, digamma(r + pat.xs) - digamma(r))) + pat.W * math.log(alpha)
            - float(np.dot(wa_t, ln_at)) - float(np.dot(net, mom[:, 0])),
            pat.W * r / alpha - float(np.dot(r * wa_t + wax_t, 1.0 / (alpha + self.t_u)))
            - float(np.dot(net * (r + keys.x), mom[:, 1])),
            pat.W * math.log(beta) - float(np.dot(wa_t, ln_bt)) - float(np.dot(net, mom[:, 2]))
            + (pat.W - float(wa.sum())) / s,
            pat.W * s / beta - s * float(np.dot(wa_t, 1.0 / (beta + self.t_u))) - (s + 1.0) * float(np.dot(net, mom[:, 3])),
        ])
        params = np.array([r, alpha, s, beta])
        f, grad = -ll / pat.W, -g * params / pat.W
        return add_penalty(f, grad, params, self.penalizer) if penalized else (f, grad)


def _starts(pat: Patterns, penalizer: float) -> list[FloatArray]:
    """A small grid of starting points; :func:`_minimize` starts from the best of them."""
    return rate_starts(pat, (0.3, 1.0, 3.0), ((0.5, 1.0), (1.0, 0.3), (2.0, 5.0)))


def fit_paretonbd(
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
    """Maximum-likelihood Pareto/NBD fit (same conventions and failure modes as :func:`fit_bgnbd`)."""
    started = time.perf_counter()
    pat = prepare_fit_data(frequency, recency, T, weights, min_customers, penalizer, NAME)
    prob = ParetoNbdProblem(pat, penalizer)
    if initial is not None:
        r0, al0, s0, be0 = pnbd_params(initial)
        starts = [np.log([r0, al0 * pat.scale, s0, be0 * pat.scale])]
    else:
        starts = _starts(pat, penalizer)
    return run_fit("paretonbd", PARAMETERS, pat, prob, starts, (1, 3), penalizer, started, max_iter)


def _log_alive_odds(params: Any, x: FloatArray, tx: FloatArray, tt: FloatArray) -> FloatArray:
    r, alpha, s, beta = pnbd_params(params)
    if len(x) == 0:
        return np.zeros(0)
    ln_first, ln_s_i, _ = _log_terms(r, alpha, s, beta, x, tt, _Keys(x, tx, tt), moments=False)
    return ln_first - ln_s_i


def conditional_probability_alive(params: Any, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T) (module docstring); 1 exactly when t_x == T."""
    x, tx, tt = _validate_rfm(frequency, recency, T, allow_empty=True)
    return expit(_log_alive_odds(params, x, tx, tt))


def _lomax_mean_exposure(s: float, beta_post: FloatArray, t: FloatArray) -> FloatArray:
    """E[min(tau, t)] for tau ~ Lomax(s, beta'): beta'/(s-1) [1 - (beta'/(beta'+t))^(s-1)] (log limit at s=1)."""
    z = np.log1p(t / beta_post)
    if abs(s - 1.0) < 1e-8:
        return beta_post * z
    return beta_post * -np.expm1(-(s - 1.0) * z) / (s - 1.0)


def conditional_expected_number_of_purchases_up_to_time(
    params: Any, t: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike
) -> FloatArray:
    """E[# purchases in (T, T+t] | x, t_x, T] = P(alive) (r+x)/(alpha+T) E[min(tau, t) | alive]."""
    r, alpha, s, beta = pnbd_params(params)
    x, tx, tt = _validate_rfm(frequency, recency, T, allow_empty=True)
    t_b = horizon(t, len(x))
    p_alive = expit(_log_alive_odds(params, x, tx, tt))
    return p_alive * (r + x) / (alpha + tt) * _lomax_mean_exposure(s, beta + tt, t_b)


def expected_lifetime(params: Any, cap: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """Expected remaining active time within the next ``cap`` time units: P(alive) E[min(tau, cap) | alive]."""
    r, alpha, s, beta = pnbd_params(params)
    x, tx, tt = _validate_rfm(frequency, recency, T, allow_empty=True)
    return expit(_log_alive_odds(params, x, tx, tt)) * _lomax_mean_exposure(s, beta + tt, horizon(cap, len(x)))


def alive_count_pmf(params: Any, t: float, frequency: ArrayLike, T: ArrayLike, kmax: int | None = None) -> FloatArray:
    """P(k purchases in (T, T+t] | alive, x, T), k = 0..kmax (Lomax exposure x NBD, see _predict)."""
    r, alpha, s, beta = pnbd_params(params)
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    tb = horizon(t, len(x))
    if kmax is None:
        kmax = alive_pmf_kmax(r + x, alpha + tt, tb)
    out = np.empty((len(x), kmax + 1))
    step = max(1, 400_000 // (32 * (kmax + 1)))  # bound the (rows, nodes, k) temporary to ~100 MB
    for i in range(0, len(x), step):
        sl = slice(i, i + step)
        out[sl] = pareto_alive_pmf(r + x[sl], alpha + tt[sl], s, beta + tt[sl], tb[sl], kmax)
    return out


def alive_expected_purchases(params: Any, t: ArrayLike, frequency: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[# purchases in (T, T+t] | alive at T, x, T] = (r+x)/(alpha+T) E[min(tau, t) | alive]."""
    r, alpha, s, beta = pnbd_params(params)
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    return (r + x) / (alpha + tt) * _lomax_mean_exposure(s, beta + tt, horizon(t, len(x)))
