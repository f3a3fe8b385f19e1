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
* F(u) = int_u^inf of the integrand is evaluated once per distinct (x, u) key with a 41-node tanh-sinh rule
  in omega (the base offset switches to o near the closer pole, see :func:`_nodes`): relative error ~1e-10
  for CDNOW-like parameters, ~1e-7 at alpha/beta ratios of 1,000 (mpmath oracle in the tests);
* everything is in logs; the gradient and the Hessian differentiate under the integral with the same nodes
  (first and second moments of d ln f under the integrand), and the fit is Newton's method on that exact
  Hessian after a quasi-Newton start on a 20,000-customer sample (:func:`clvlayer.btyd._optim.fit_newton`).

Predictions (given alive, lambda ~ Gamma(r+x, alpha+T) and mu ~ Gamma(s, beta+T) independently):
``P(alive) = (alpha+T)^-(r+x) (beta+T)^-s / [(alpha+T)^-(r+x) (beta+T)^-s + s I]``,
``E[Y(t)] = P(alive) (r+x)/(alpha+T) (beta+T)/(s-1) [1 - ((beta+T)/(beta+T+t))^(s-1)]`` (log limit at s = 1).
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, gammaln, polygamma, roots_legendre

from clvlayer.btyd._core import FloatArray, _dot, validate_rfm, _validate_weights, aggregate_rfm, horizon, positive_params
from clvlayer.btyd._fit import CountFit, run_fit
from clvlayer.btyd._patterns import Patterns, prepare_fit_data, rate_starts, subsample_customers
from clvlayer.btyd._predict import alive_pmf_kmax, pareto_alive_pmf

PARAMETERS = ("r", "alpha", "s", "beta")
NAME = "Pareto/NBD"
#: customers in the random sample the quasi-Newton start is computed on (Newton then runs on all patterns)
START_SAMPLE = 20_000
_ROWS_PER_CHUNK = 20_000  # rows per block of the dead-lifetime quadrature (:func:`dead_lifetime`)


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


def _nodes(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, u: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """Per row (a distinct (x, u) key): ln F(u) = ln int_u^inf (alpha+w)^-(r+x) (beta+w)^-(s+1) dw, the
    normalised quadrature weights of the integrand at the nodes (rows x nodes, each row summing to 1), and
    ln(alpha + w), ln(beta + w) at the nodes.

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
    share = wh / total[:, None]
    ln_base_w = ln_bu[:, None] - ln_om  # ln(b + w) at the nodes
    ln_cw = np.where(use_o[:, None], ln_base_w - ln_g, ln_base_w)
    ln_ow = ln_cw + ln_g
    ln_aw, ln_bw = (ln_cw, ln_ow) if alpha >= beta else (ln_ow, ln_cw)
    return ln_f, share, ln_aw, ln_bw


def _antiderivative(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, u: FloatArray, moments: bool
) -> tuple[FloatArray, FloatArray | None]:
    """ln F(u) per row and optionally the node-weighted means of [ln(alpha+w), 1/(alpha+w), ln(beta+w),
    1/(beta+w)] under the integrand (the gradient pieces), see :func:`_nodes`."""
    ln_f, share, ln_aw, ln_bw = _nodes(r, alpha, s, beta, x, u)
    if not moments:
        return ln_f, None
    mom = np.stack([(share * v).sum(axis=1) for v in (ln_aw, np.exp(-ln_aw), ln_bw, np.exp(-ln_bw))], axis=1)
    return ln_f, mom


def _key_derivatives(
    r: float, alpha: float, s: float, beta: float, x: FloatArray, u: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """ln F(u), E[d] (rows x 4) and E[d d' + D2] (rows x 4 x 4) under the integrand, where
    d = d ln f / d(r, alpha, s, beta) = -(ln(alpha+w), (r+x)/(alpha+w), ln(beta+w), (s+1)/(beta+w)) and D2 its
    Jacobian: dF = F E[d] and d2F = F E[d d' + D2] (differentiation under the integral, the same nodes)."""
    ln_f, share, ln_aw, ln_bw = _nodes(r, alpha, s, beta, x, u)
    v = np.stack([ln_aw, np.exp(-ln_aw), ln_bw, np.exp(-ln_bw)])  # 4 x rows x nodes
    sv = v * share[None]
    e1 = sv.sum(axis=2).T  # rows x 4: E[V_i]
    e2 = np.einsum("ikn,jkn->kij", sv, v)  # rows x 4 x 4: E[V_i V_j]
    rho = r + x
    scale = np.stack([-np.ones_like(rho), -rho, -np.ones_like(rho), np.full(len(rho), -(s + 1.0))], axis=1)
    m1 = scale * e1
    m2 = scale[:, :, None] * scale[:, None, :] * e2
    m2[:, 0, 1] -= e1[:, 1]
    m2[:, 1, 1] += rho * e2[:, 1, 1]
    m2[:, 2, 3] -= e1[:, 3]
    m2[:, 3, 3] += (s + 1.0) * e2[:, 3, 3]
    m2[:, 1, 0], m2[:, 3, 2] = m2[:, 0, 1], m2[:, 2, 3]
    return ln_f, m1, m2


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
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
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
    """Mean negative log-likelihood with its analytic gradient and Hessian in log-parameter space.

    F and its derivative moments are evaluated once per distinct (x, u) key (:func:`_key_derivatives`), the
    "alive" branch per distinct T; per pattern only a few exp/log and products remain, and the per-key pieces
    are summed back with ``bincount``. Per pattern, with L = A + s I (A the alive branch, I = F(t_x) - F(T)),
    weights p_A = A/L, w1 = s F(t_x)/L, w2 = s F(T)/L:

    * d ln L = p_A d ln A + w1 E_tx[d] - w2 E_T[d] + (p_B / s) e_s,
    * d2 ln L = p_A (d ln A d ln A' + d2 ln A) + w1 E_tx[dd' + D2] - w2 E_T[dd' + D2]
      + (e_s g_I' + g_I e_s') / s - d ln L d ln L', with g_I = w1 E_tx[d] - w2 E_T[d].

    ``value_grad_hess`` feeds the Newton solver; ``__call__`` (value and gradient) the quasi-Newton one.
    """

    def __init__(self, pat: Patterns, penalizer: float):
        self.pat, self.penalizer = pat, penalizer
        self.keys = _Keys(pat.x, pat.tx, pat.T)
        self.t_u, self.i_t = np.unique(pat.T, return_inverse=True)

    def __call__(self, theta: FloatArray, penalized: bool = True) -> tuple[float, FloatArray]:
        f, g, _ = self.evaluate(theta, 1, penalized)
        assert g is not None
        return f, g

    def value(self, theta: FloatArray, penalized: bool = True) -> float:
        return self.evaluate(theta, 0, penalized)[0]

    def value_grad_hess(self, theta: FloatArray, penalized: bool = True) -> tuple[float, FloatArray, FloatArray]:
        f, g, h = self.evaluate(theta, 2, penalized)
        assert g is not None and h is not None
        return f, g, h

    def evaluate(self, theta: FloatArray, order: int, penalized: bool = True) -> tuple[float, FloatArray | None, FloatArray | None]:
        """(mean negative log-likelihood, gradient if order >= 1, Hessian if order >= 2) at log-parameters theta."""
        r, alpha, s, beta = (float(v) for v in np.exp(np.clip(theta, -700, 700)))
        pat, keys, it = self.pat, self.keys, self.i_t
        x, w = pat.x, pat.w
        if order >= 2:
            ln_f, m1, m2 = _key_derivatives(r, alpha, s, beta, keys.x, keys.u)
        else:
            ln_f, m1 = _antiderivative(r, alpha, s, beta, keys.x, keys.u, moments=order >= 1)
            m1 = None if m1 is None else m1 * np.stack([-np.ones(len(keys.x)), -(r + keys.x), -np.ones(len(keys.x)),
                                                        np.full(len(keys.x), -(s + 1.0))], axis=1)
        f_tx, f_t = ln_f[keys.i_tx], ln_f[keys.i_t]
        ls = math.log(s)
        with np.errstate(divide="ignore"):
            ln_s_i = ls + f_tx + np.log(-np.expm1(np.minimum(f_t - f_tx, 0.0)))
        ln_at, ln_bt = np.log(alpha + self.t_u), np.log(beta + self.t_u)
        ln_first = -(r + x) * ln_at[it] - s * ln_bt[it]
        ln_l = np.logaddexp(ln_first, ln_s_i)
        ll = float(_dot(pat.wx, gammaln(r + pat.xs) - gammaln(r))) + pat.W * (r * math.log(alpha) + s * math.log(beta))
        ll += float(_dot(w, ln_l))
        params = np.array([r, alpha, s, beta])
        f = -ll / pat.W
        if order == 0:
            return (f + self.penalizer * float(np.sum(params**2)) if penalized and self.penalizer > 0 else f), None, None
        assert m1 is not None
        p_a = np.exp(ln_first - ln_l)  # share of the "alive at T" branch
        w1 = np.exp(ls + f_tx - ln_l)
        w2 = np.exp(ls + f_t - ln_l)
        n_keys = len(keys.x)
        net = np.bincount(keys.i_tx, weights=w * w1, minlength=n_keys) - np.bincount(keys.i_t, weights=w * w2, minlength=n_keys)
        inv_at, inv_bt = 1.0 / (alpha + self.t_u), 1.0 / (beta + self.t_u)
        wa = w * p_a
        wa_t = np.bincount(it, weights=wa, minlength=len(self.t_u))
        wax_t = np.bincount(it, weights=wa * x, minlength=len(self.t_u))
        sum_pb = pat.W - float(wa.sum())
        g_i = np.einsum("k,ki->i", net, m1)  # sum over patterns of w g_I (einsum: no BLAS threads)
        grad = np.array([
            float(_dot(pat.wx, digamma(r + pat.xs) - digamma(r))) + pat.W * math.log(alpha) - float(_dot(wa_t, ln_at)),
            pat.W * r / alpha - float(_dot(r * wa_t + wax_t, inv_at)),
            pat.W * math.log(beta) - float(_dot(wa_t, ln_bt)) + sum_pb / s,
            pat.W * s / beta - s * float(_dot(wa_t, inv_bt)),
        ]) + g_i
        hess = None
        if order >= 2:
            hess = self._hessian(r, alpha, s, beta, p_a, w1, w2, net, m1, m2, g_i, ln_s_i - ln_l)
        return self._to_log_space(f, grad, hess, params, penalized)

    def _hessian(
        self, r: float, alpha: float, s: float, beta: float, p_a: FloatArray, w1: FloatArray, w2: FloatArray,
        net: FloatArray, m1: FloatArray, m2: FloatArray, g_i: FloatArray, ln_p_b: FloatArray,
    ) -> FloatArray:
        """Hessian of the total log-likelihood in the natural parameters (class docstring)."""
        pat, keys, it = self.pat, self.keys, self.i_t
        x, w = pat.x, pat.w
        rho = r + x
        inv_at, inv_bt = 1.0 / (alpha + self.t_u), 1.0 / (beta + self.t_u)
        d_a = np.stack([-np.log(alpha + self.t_u)[it], -rho * inv_at[it], -np.log(beta + self.t_u)[it], -s * inv_bt[it]])
        # per-pattern gradient of ln L (4 x patterns)
        g = p_a * d_a + w1 * m1[keys.i_tx].T - w2 * m1[keys.i_t].T
        g[2] += np.exp(ln_p_b) / s
        wa = w * p_a
        h = np.einsum("p,ip,jp->ij", wa, d_a, d_a) - np.einsum("p,ip,jp->ij", w, g, g)
        wa_t = np.bincount(it, weights=wa, minlength=len(self.t_u))
        wax_t = np.bincount(it, weights=wa * x, minlength=len(self.t_u))
        h[0, 1] -= float(_dot(wa_t, inv_at))
        h[1, 1] += float(_dot(r * wa_t + wax_t, inv_at**2))
        h[2, 3] -= float(_dot(wa_t, inv_bt))
        h[3, 3] += s * float(_dot(wa_t, inv_bt**2))
        h[1, 0], h[3, 2] = h[0, 1], h[2, 3]
        h += np.einsum("k,kij->ij", net, m2)
        h[2, :] += g_i / s
        h[:, 2] += g_i / s
        # constant terms: ln Gamma(r+x) - ln Gamma(r) + r ln alpha + s ln beta
        W = pat.W
        h[0, 0] += float(_dot(pat.wx, polygamma(1, r + pat.xs) - polygamma(1, r)))
        h[0, 1] += W / alpha
        h[1, 0] += W / alpha
        h[1, 1] -= W * r / alpha**2
        h[2, 3] += W / beta
        h[3, 2] += W / beta
        h[3, 3] -= W * s / beta**2
        return h

    def _to_log_space(
        self, f: float, grad: FloatArray, hess: FloatArray | None, params: FloatArray, penalized: bool
    ) -> tuple[float, FloatArray, FloatArray | None]:
        """Mean negative log-likelihood, gradient and Hessian in log-parameters (+ the L2 penalty)."""
        W = self.pat.W
        g = -grad * params / W
        h = None
        if hess is not None:
            h = -(hess * np.outer(params, params) + np.diag(grad * params)) / W
        if penalized and self.penalizer > 0:
            f += self.penalizer * float(np.sum(params**2))
            g = g + 2.0 * self.penalizer * params**2
            if h is not None:
                h = h + np.diag(4.0 * self.penalizer * params**2)
        return f, g, h


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
    sub = subsample_customers(pat, START_SAMPLE)
    start_prob = prob if sub is pat else ParetoNbdProblem(sub, penalizer)
    return run_fit("paretonbd", PARAMETERS, pat, prob, starts, (1, 3), penalizer, started, max_iter, start_prob)


def _log_alive_odds(params: Any, x: FloatArray, tx: FloatArray, tt: FloatArray) -> FloatArray:
    """ln[P(alive) / (1 - P(alive))] per row, evaluated per distinct (x, t_x, T) pattern when that compacts."""
    r, alpha, s, beta = pnbd_params(params)
    if len(x) == 0:
        return np.zeros(0)
    (ux, utx, uT), _, inv = aggregate_rfm(x, tx, tt)
    if len(ux) < 0.7 * len(x):
        ln_first, ln_s_i, _ = _log_terms(r, alpha, s, beta, ux, uT, _Keys(ux, utx, uT), moments=False)
        return (ln_first - ln_s_i)[inv]
    ln_first, ln_s_i, _ = _log_terms(r, alpha, s, beta, x, tt, _Keys(x, tx, tt), moments=False)
    return ln_first - ln_s_i


def conditional_probability_alive(params: Any, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T) (module docstring); 1 exactly when t_x == T."""
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    return expit(_log_alive_odds(params, x, tx, tt))


def probability_alive_draws(draws: ArrayLike, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """P(alive) for each row of ``draws`` (parameter vectors): draws x customers; the (x, u) keys are built once."""
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    d = np.atleast_2d(np.asarray(draws, dtype=np.float64))
    keys = _Keys(x, tx, tt)
    out = np.empty((len(d), len(x)))
    for j, params in enumerate(d):
        r, alpha, s, beta = pnbd_params(params)
        ln_first, ln_s_i, _ = _log_terms(r, alpha, s, beta, x, tt, keys, moments=False)
        out[j] = expit(ln_first - ln_s_i)
    return out


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
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    t_b = horizon(t, len(x))
    p_alive = expit(_log_alive_odds(params, x, tx, tt))
    return p_alive * (r + x) / (alpha + tt) * _lomax_mean_exposure(s, beta + tt, t_b)


def expected_lifetime(params: Any, cap: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> FloatArray:
    """Expected remaining active time within the next ``cap`` time units: P(alive) E[min(tau, cap) | alive]."""
    r, alpha, s, beta = pnbd_params(params)
    x, tx, tt = validate_rfm(frequency, recency, T, allow_empty=True)
    return expit(_log_alive_odds(params, x, tx, tt)) * _lomax_mean_exposure(s, beta + tt, horizon(cap, len(x)))


def restricted_remaining_lifetime(params: Any, cap: float, frequency: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[min(R, max(cap - T, 0)) | alive at T] per row, R the remaining lifetime after T (``cap`` counted from the
    first purchase): given alive, R ~ Lomax(s, beta + T)."""
    _, _, s, beta = pnbd_params(params)
    tt = np.asarray(T, dtype=np.float64)
    return _lomax_mean_exposure(s, beta + tt, np.maximum(cap - tt, 0.0))


def dead_lifetime(params: Any, cap: float, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
                  nodes: int = 48) -> FloatArray:
    """E[min(tau, cap) | dead by T, x, t_x, T]: the dropout time tau of a customer no longer alive has the
    posterior density proportional to (alpha + tau)^-(r + x) (beta + tau)^-(s + 1) on (t_x, T) (the
    lambda^x e^(-lambda tau) mu e^(-mu tau) term of the likelihood integrated over the Gamma mixing
    distributions). Gauss-Legendre in v = ln(c + tau), c = min(alpha, beta), where the integrand is smooth."""
    r, alpha, s, beta = pnbd_params(params)
    x, tx, tt = (np.asarray(v, dtype=np.float64) for v in (frequency, recency, T))
    c = min(alpha, beta)
    out = np.minimum(tx, cap)
    rows = tt > tx
    if not rows.any():
        return out
    u, w = roots_legendre(nodes)
    rows = np.flatnonzero(rows)
    for i in range(0, len(rows), _ROWS_PER_CHUNK):  # chunks: the (rows, nodes) temporaries stay in cache
        rr = rows[i:i + _ROWS_PER_CHUNK]
        v0, v1 = np.log(c + tx[rr])[:, None], np.log(c + tt[rr])[:, None]
        v = v0 + (v1 - v0) * (u[None, :] + 1.0) / 2.0
        tau = np.exp(v) - c
        ln_f = -(r + x[rr])[:, None] * np.log(alpha + tau) - (s + 1.0) * np.log(beta + tau) + v  # dtau = e^v dv
        f = np.exp(ln_f - ln_f.max(axis=1, keepdims=True)) * w[None, :]
        out[rr] = (np.minimum(tau, cap) * f).sum(axis=1) / f.sum(axis=1)
    return out


def alive_count_pmf(params: Any, t: float, frequency: ArrayLike, T: ArrayLike, kmax: int | None = None) -> FloatArray:
    """P(k purchases in (T, T+t] | alive, x, T), k = 0..kmax (Lomax exposure x NBD, see _predict)."""
    r, alpha, s, beta = pnbd_params(params)
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    tb = horizon(t, len(x))
    if kmax is None:
        kmax = alive_pmf_kmax(r + x, alpha + tt, tb)
    return pareto_alive_pmf(r + x, alpha + tt, s, beta + tt, tb, kmax)


def alive_expected_purchases(params: Any, t: ArrayLike, frequency: ArrayLike, T: ArrayLike) -> FloatArray:
    """E[# purchases in (T, T+t] | alive at T, x, T] = (r+x)/(alpha+T) E[min(tau, t) | alive]."""
    r, alpha, s, beta = pnbd_params(params)
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    return (r + x) / (alpha + tt) * _lomax_mean_exposure(s, beta + tt, horizon(t, len(x)))



_GL_SQUARE = roots_legendre(32)


def alive_moments(params: Any, t: float, frequency: ArrayLike, T: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    """(P(Y=0 | alive), E[Y | alive], E[Y^2 | alive]) over (T, T+t] without a pmf table.

    Given alive, Y | lambda, tau ~ Poisson(lambda min(tau, t)) with lambda ~ Gamma(r', alpha') and tau ~
    Lomax(s, beta') independent, so E[Y] = r'/alpha' E[m], E[Y(Y-1)] = r'(r'+1)/alpha'^2 E[m^2] (m = min(tau, t)),
    E[m^2] = int_0^t 2 e P(tau > e) de by 32-point Gauss-Legendre in v = ln(1 + e/beta') (the integrand
    2 beta'^2 (e^v - 1) e^((1-s) v) is entire), and P(Y = 0) is the k = 0 column of :func:`pareto_alive_pmf`.
    """
    r, alpha, s, beta = pnbd_params(params)
    x = np.asarray(frequency, dtype=np.float64)
    tt = np.asarray(T, dtype=np.float64)
    tb = horizon(t, len(x))
    rp, ap, bp = r + x, alpha + tt, beta + tt
    q0 = pareto_alive_pmf(rp, ap, s, bp, tb, 0)[:, 0]
    e_m = _lomax_mean_exposure(s, bp, tb)
    xi, wi = _GL_SQUARE
    v_t = np.log1p(tb / bp)[:, None]
    v = 0.5 * v_t * (xi[None, :] + 1.0)
    e_m2 = (2.0 * bp**2) * np.einsum("gn,n->g", np.expm1(v) * np.exp((1.0 - s) * v), wi) * 0.5 * v_t[:, 0]
    m1 = rp / ap * e_m
    return q0, m1, m1 + rp * (rp + 1.0) / ap**2 * e_m2
