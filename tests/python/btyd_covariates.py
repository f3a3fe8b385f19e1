"""BG/NBD and Pareto/NBD with time-invariant covariates (as CLVTools' static-covariate models).

Test and benchmark code, not used by the warehouse: the covariate extension of clvlayer.btyd that test_btyd.py and
benchmarks/bench_btyd.py (`covariates`) check against simulated processes.

BG/NBD (separate dropout coefficients on a and b):

Customer i with purchase covariates z_p and dropout covariates z_d:
``alpha_i = alpha0 exp(-gamma_p' z_p)`` (gamma_p > 0 = buys more often),
``a_i = a0 exp(gamma_a' z_d)``, ``b_i = b0 exp(gamma_b' z_d)`` (gamma_b > 0 = stays longer, since the mean
dropout probability a/(a+b) falls). r is shared. The likelihood is eq. (6) of BG/NBD with the customer's own
alpha, a, b. :func:`likelihood_ratio_test` compares with the model without covariates (chi-square with as
many degrees of freedom as coefficients).

Data are aggregated per distinct (x, t_x, T, covariates) row, so categorical covariates (channel, loyalty
dummies) cost little.

Pareto/NBD (CLVTools ``pnbd`` with static covariates): ``alpha_i = alpha0 exp(-gamma_p' z_p)`` and
``beta_i = beta0 exp(-gamma_d' z_d)``, r and s shared, so gamma_p > 0 = buys more often and gamma_d > 0 =
drops out sooner (a higher mean dropout rate s / beta_i). The likelihood is the Pareto/NBD one with the
customer's own alpha and beta; customers are grouped by distinct covariate combination (categorical
covariates: each group is one :class:`~clvlayer.btyd.paretonbd.ParetoNbdProblem` with its own alpha, beta)
and the model is fitted by Newton's method with the exact Hessian assembled from the groups' Hessians
(ln alpha_c and ln beta_c are linear in the coefficients).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import digamma, expit, gammaln
from scipy.stats import chi2

from numpy.typing import NDArray

from clvlayer.btyd import BgNbdFit, ClvFitError, aggregate_rfm, validate_rfm
# the library's internal fitting layer (Newton on an exact Hessian, pattern aggregation), which these models extend
from clvlayer.btyd._optim import fit_newton, fit_problem, log_covariance
from clvlayer.btyd._patterns import build_patterns

FloatArray = NDArray[np.float64]


def _dot(a: FloatArray, b: FloatArray) -> float:
    """Inner product without the multi-threaded BLAS ``ddot`` (as the library's fits: faster on 2 cores)."""
    return float(np.einsum("i,i->", a, b))


@dataclass(frozen=True)
class CovariateFit:
    """BG/NBD with covariates. ``params`` holds r, alpha, a, b (base customer: all covariates 0) and the
    coefficients named ``purchase:<name>``, ``dropout_a:<name>``, ``dropout_b:<name>``; SEs are delta-method
    for the four base parameters and direct for the coefficients."""

    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    converged: bool
    message: str
    fit_seconds: float
    purchase_names: tuple[str, ...]
    dropout_names: tuple[str, ...]
    standard_errors: dict[str, float] = field(default_factory=dict)
    log_cov: FloatArray | None = field(default=None, repr=False, compare=False)
    model: str = "bgnbd_covariates"

    def customer_params(self, purchase: ArrayLike, dropout: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
        """Per-customer (r, alpha_i, a_i, b_i) (BG/NBD) or (r, alpha_i, s, beta_i) (Pareto/NBD) for covariate
        matrices (customers x names)."""
        zp, zd = _matrix(purchase, len(self.purchase_names)), _matrix(dropout, len(self.dropout_names))
        p = self.params
        if self.model == "paretonbd_covariates":
            gp = np.array([p[f"purchase:{n}"] for n in self.purchase_names])
            gd = np.array([p[f"dropout:{n}"] for n in self.dropout_names])
            n = len(zp)
            return (np.full(n, p["r"]), p["alpha"] * np.exp(-zp @ gp), np.full(n, p["s"]), p["beta"] * np.exp(-zd @ gd))
        gp = np.array([p[f"purchase:{n}"] for n in self.purchase_names])
        ga = np.array([p[f"dropout_a:{n}"] for n in self.dropout_names])
        gb = np.array([p[f"dropout_b:{n}"] for n in self.dropout_names])
        n = len(zp)
        return (np.full(n, p["r"]), p["alpha"] * np.exp(-zp @ gp), p["a"] * np.exp(zd @ ga), p["b"] * np.exp(zd @ gb))


def _matrix(values: ArrayLike, k: int) -> FloatArray:
    z = np.asarray(values, dtype=np.float64)
    if z.ndim == 1:
        z = z[:, None]
    if z.ndim != 2 or z.shape[1] != k:
        raise ClvFitError(f"covariates must be a (customers x {k}) matrix, got shape {z.shape}")
    if not np.isfinite(z).all():
        raise ClvFitError("covariates contain NaN/infinite values")
    return z


class _CovProblem:
    """Mean negative log-likelihood and analytic gradient; theta = [ln r, ln alpha0, ln a0, ln b0, gp, ga, gb]."""

    def __init__(self, x: FloatArray, tx: FloatArray, tt: FloatArray, zp: FloatArray, zd: FloatArray, w: FloatArray):
        self.x, self.tx, self.tt, self.zp, self.zd, self.w = x, tx, tt, zp, zd, w
        self.W = float(w.sum())
        self.kp, self.kd = zp.shape[1], zd.shape[1]
        self.rep = x > 0

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        kp, kd = self.kp, self.kd
        r, al0, a0, b0 = np.exp(np.clip(theta[:4], -700, 700))
        gp, ga, gb = theta[4:4 + kp], theta[4 + kp:4 + kp + kd], theta[4 + kp + kd:]
        x, tx, tt, w = self.x, self.tx, self.tt, self.w
        al = al0 * np.exp(-np.einsum("ij,j->i", self.zp, gp))  # einsum: no multi-threaded BLAS (see _dot)
        a = a0 * np.exp(np.einsum("ij,j->i", self.zd, ga))
        b = b0 * np.exp(np.einsum("ij,j->i", self.zd, gb))
        lt, ltx = np.log(al + tt), np.log(al + tx)
        rep = self.rep
        d = np.where(rep, np.log(a) - np.log(np.where(rep, b + x - 1.0, 1.0)) + (r + x) * (lt - ltx), -np.inf)
        sig = expit(d)
        ll_row = (gammaln(r + x) - gammaln(r) + r * np.log(al) + gammaln(a + b) + gammaln(b + x) - gammaln(b)
                  - gammaln(a + b + x) - (r + x) * lt + np.logaddexp(0.0, d))
        # derivatives per row with respect to r and the log of alpha_i, a_i, b_i
        d_r = digamma(r + x) - digamma(r) + np.log(al) - lt + sig * (lt - ltx)
        d_lal = al * (r / al - (r + x) / (al + tt) + sig * (r + x) * (1.0 / (al + tt) - 1.0 / (al + tx)))
        d_la = a * (digamma(a + b) - digamma(a + b + x) + sig / a)
        d_lb = b * (digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x)
                    - np.where(rep, sig / np.where(rep, b + x - 1.0, 1.0), 0.0))
        grad = np.concatenate([
            [r * _dot(w, d_r), _dot(w, d_lal), _dot(w, d_la), _dot(w, d_lb)],
            -np.einsum("i,ij->j", w * d_lal, self.zp), np.einsum("i,ij->j", w * d_la, self.zd),
            np.einsum("i,ij->j", w * d_lb, self.zd),
        ])
        return -float(_dot(w, ll_row)) / self.W, -grad / self.W


def fit_bgnbd_covariates(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    purchase_covariates: ArrayLike,
    dropout_covariates: ArrayLike,
    *,
    purchase_names: Sequence[str],
    dropout_names: Sequence[str],
    initial: BgNbdFit | None = None,
    min_customers: int = 10,
) -> CovariateFit:
    """Maximum-likelihood BG/NBD with covariates (module docstring); covariates as customers x names matrices."""
    started = time.perf_counter()
    x, tx, tt, zp, zd = _covariate_inputs(frequency, recency, T, purchase_covariates, dropout_covariates,
                                          purchase_names, dropout_names, min_customers, "BG/NBD")
    cols, counts, _ = aggregate_rfm(x, tx, tt, *zp.T, *zd.T)
    scale = 1.0 / float(cols[2].max())
    zp_u = np.column_stack(cols[3:3 + zp.shape[1]]) if zp.shape[1] else np.zeros((len(counts), 0))
    zd_u = np.column_stack(cols[3 + zp.shape[1]:]) if zd.shape[1] else np.zeros((len(counts), 0))
    prob = _CovProblem(cols[0], cols[1] * scale, cols[2] * scale, zp_u, zd_u, counts)
    base = initial or _fit_base(x, tx, tt)
    start = np.concatenate([np.log([base.r, base.alpha * scale, base.a, base.b]), np.zeros(zp.shape[1] + 2 * zd.shape[1])])
    names = (["r", "alpha", "a", "b"] + [f"purchase:{n}" for n in purchase_names]
             + [f"dropout_a:{n}" for n in dropout_names] + [f"dropout_b:{n}" for n in dropout_names])
    opt, converged, message = fit_problem(prob, [start], names)
    theta = opt.theta.copy()
    values = np.concatenate([np.exp(theta[:4]), theta[4:]])
    values[1] /= scale
    ll = -prob(opt.theta)[0] * prob.W + float(_dot(counts, cols[0])) * math.log(scale)
    cov = log_covariance(opt.hessian, prob.W)
    ses = _standard_errors(names, values, cov)
    return CovariateFit(
        params=dict(zip(names, (float(v) for v in values))), log_likelihood=float(ll), n_customers=len(x),
        converged=converged, message=message, fit_seconds=time.perf_counter() - started,
        purchase_names=tuple(purchase_names), dropout_names=tuple(dropout_names), standard_errors=ses, log_cov=cov,
    )


def _covariate_inputs(
    frequency: ArrayLike, recency: ArrayLike, T: ArrayLike, purchase: ArrayLike, dropout: ArrayLike,
    purchase_names: Sequence[str], dropout_names: Sequence[str], min_customers: int, label: str,
) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """Validated (x, t_x, T, purchase matrix, dropout matrix); :class:`ClvFitError` naming the problem."""
    x, tx, tt = validate_rfm(frequency, recency, T)
    zp, zd = _matrix(purchase, len(purchase_names)), _matrix(dropout, len(dropout_names))
    if len(zp) != len(x) or len(zd) != len(x):
        raise ClvFitError("covariate matrices must have one row per customer")
    if len(x) < min_customers:
        raise ClvFitError(f"only {len(x)} customer(s); at least min_customers={min_customers} are required")
    if not (x > 0).any():
        raise ClvFitError(f"no repeat buyers (every frequency is 0): the {label} parameters are not identifiable")
    _check_rank(zp, zd)
    return x, tx, tt, zp, zd


def _standard_errors(names: Sequence[str], values: FloatArray, cov: FloatArray | None) -> dict[str, float]:
    """Delta-method SEs for the four log-parameters (first), direct SEs for the coefficients."""
    ses = {}
    for i, n in enumerate(names):
        sd = math.sqrt(cov[i, i]) if cov is not None and cov[i, i] > 0 else math.nan
        ses[n] = float(values[i] * sd if i < 4 else sd)
    return ses


def _check_rank(zp: FloatArray, zd: FloatArray) -> None:
    for name, z in (("purchase", zp), ("dropout", zd)):
        if z.shape[1] and np.linalg.matrix_rank(np.column_stack([np.ones(len(z)), z])) < z.shape[1] + 1:
            raise ClvFitError(f"{name} covariates are collinear with each other or the intercept (drop a dummy)")


def _fit_base(x: FloatArray, tx: FloatArray, tt: FloatArray) -> BgNbdFit:
    from clvlayer.btyd import fit_bgnbd

    return fit_bgnbd(x, tx, tt)


@dataclass(frozen=True)
class LikelihoodRatioTest:
    statistic: float
    df: int
    p_value: float


def likelihood_ratio_test(with_covariates: CovariateFit, without: Any) -> LikelihoodRatioTest:
    """2 (LL_cov - LL_base) against chi-square(number of coefficients); both fits on the same customers."""
    if with_covariates.n_customers != without.n_customers:
        raise ClvFitError("the likelihood-ratio test needs both fits on the same customers")
    df = len(with_covariates.params) - 4
    stat = max(0.0, 2.0 * (with_covariates.log_likelihood - without.log_likelihood))
    return LikelihoodRatioTest(stat, df, float(chi2.sf(stat, df)))


#: at most this many distinct covariate combinations (each is one Pareto/NBD sub-problem per evaluation)
MAX_COMBINATIONS = 500


class _ParetoCovProblem:
    """Mean negative log-likelihood, gradient and Hessian of the Pareto/NBD with covariates; theta =
    [ln r, ln alpha0, ln s, ln beta0, gamma_p, gamma_d] on the caller's time axis.

    Group c (one covariate combination) is a Pareto/NBD problem on its own scaled time axis (factor k_c), at
    log-parameters theta_c = J_c theta + offset_c with J_c linear (ln alpha_c = ln alpha0 - gamma_p' z_c +
    ln k_c, likewise beta); so the total gradient is sum_c W_c J_c' g_c and the Hessian sum_c W_c J_c' H_c J_c.
    """

    def __init__(self, x: FloatArray, tx: FloatArray, tt: FloatArray, zp: FloatArray, zd: FloatArray):
        from clvlayer.btyd.paretonbd import ParetoNbdProblem

        inv = aggregate_rfm(*zp.T, *zd.T)[2] if zp.shape[1] + zd.shape[1] else np.zeros(len(x), dtype=np.int64)
        n_combo = int(inv.max()) + 1
        if n_combo > MAX_COMBINATIONS:
            raise ClvFitError(
                f"{n_combo} distinct covariate combinations (at most {MAX_COMBINATIONS}): the Pareto/NBD with "
                "covariates evaluates one likelihood per combination; bin continuous covariates into categories"
            )
        kp, kd = zp.shape[1], zd.shape[1]
        self.k = 4 + kp + kd
        self.probs, self.jac, self.offset, self.const = [], [], [], 0.0
        for c in range(n_combo):
            rows = np.flatnonzero(inv == c)
            pat = build_patterns(x[rows], tx[rows], tt[rows], np.ones(len(rows)))
            self.probs.append(ParetoNbdProblem(pat, 0.0))
            j = np.zeros((4, self.k))
            j[0, 0], j[1, 1], j[2, 2], j[3, 3] = 1.0, 1.0, 1.0, 1.0
            j[1, 4:4 + kp] = -zp[rows[0]]
            j[3, 4 + kp:] = -zd[rows[0]]
            self.jac.append(j)
            self.offset.append(np.array([0.0, math.log(pat.scale), 0.0, math.log(pat.scale)]))
            self.const += pat.sum_wx * math.log(pat.scale)  # back to the caller's time axis
        self.W = float(len(x))

    def evaluate(self, theta: FloatArray, order: int) -> tuple[float, FloatArray | None, FloatArray | None]:
        f, g, h = 0.0, np.zeros(self.k), np.zeros((self.k, self.k))
        for prob, j, off in zip(self.probs, self.jac, self.offset):
            fc, gc, hc = prob.evaluate(j @ theta + off, order, penalized=False)
            wc = prob.pat.W / self.W
            f += wc * fc
            if order >= 1:
                g += wc * (j.T @ gc)
            if order >= 2:
                h += wc * (j.T @ hc @ j)
        return f, (g if order >= 1 else None), (h if order >= 2 else None)

    def __call__(self, theta: FloatArray) -> tuple[float, FloatArray]:
        f, g, _ = self.evaluate(theta, 1)
        return f, g  # type: ignore[return-value]

    def value(self, theta: FloatArray) -> float:
        return self.evaluate(theta, 0)[0]

    def value_grad_hess(self, theta: FloatArray) -> tuple[float, FloatArray, FloatArray]:
        f, g, h = self.evaluate(theta, 2)
        return f, g, h  # type: ignore[return-value]


def fit_paretonbd_covariates(
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    purchase_covariates: ArrayLike,
    dropout_covariates: ArrayLike,
    *,
    purchase_names: Sequence[str],
    dropout_names: Sequence[str],
    initial: Any = None,
    min_customers: int = 10,
) -> CovariateFit:
    """Maximum-likelihood Pareto/NBD with categorical time-invariant covariates (module docstring).

    ``initial`` is a Pareto/NBD fit without covariates on the same customers (fitted here if omitted); the
    coefficients start at 0. Standard errors: delta method for r, alpha, s, beta, direct for coefficients.
    """
    from clvlayer.btyd import fit_paretonbd

    started = time.perf_counter()
    x, tx, tt, zp, zd = _covariate_inputs(frequency, recency, T, purchase_covariates, dropout_covariates,
                                          purchase_names, dropout_names, min_customers, "Pareto/NBD")
    prob = _ParetoCovProblem(x, tx, tt, zp, zd)
    base = initial if initial is not None else fit_paretonbd(x, tx, tt)
    start = np.concatenate([np.log([base.params[k] for k in ("r", "alpha", "s", "beta")]), np.zeros(zp.shape[1] + zd.shape[1])])
    names = (["r", "alpha", "s", "beta"] + [f"purchase:{n}" for n in purchase_names] + [f"dropout:{n}" for n in dropout_names])
    opt, converged, message = fit_newton(prob, prob, [start], names, quasi_newton=False)
    values = np.concatenate([np.exp(opt.theta[:4]), opt.theta[4:]])
    ll = -prob.value(opt.theta) * prob.W + prob.const
    cov = log_covariance(opt.hessian, prob.W)
    ses = _standard_errors(names, values, cov)
    return CovariateFit(
        params=dict(zip(names, (float(v) for v in values))), log_likelihood=float(ll), n_customers=len(x),
        converged=converged, message=message, fit_seconds=time.perf_counter() - started,
        purchase_names=tuple(purchase_names), dropout_names=tuple(dropout_names), standard_errors=ses, log_cov=cov,
        model="paretonbd_covariates",
    )
