"""Shared maximum-likelihood layer: L-BFGS-B in log-parameter space, Newton polish, sanity checks, SEs.

Every model supplies ``value_and_grad(theta) -> (mean negative log-likelihood, gradient)`` in
log-parameter space; this module finds the optimum from the best of a few starts, polishes it with
Newton steps on a finite-difference Hessian of the analytic gradient, and judges convergence on the
gradient and the Hessian (a fit at the box boundary or at a saddle is ``converged=False`` with the
reason). The same Hessian gives asymptotic standard errors (delta method) and the covariance of the
log-parameters that :mod:`clvlayer.btyd.intervals` draws from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy import optimize

from clvlayer.btyd._core import ClvFitError, FloatArray

# Log-parameter box for the optimiser: exp(+-LOG_BOUND) ~ 1.4e-13 .. 7.2e12.
# A solution on this box is a boundary (non-identified) solution, reported as
# converged=False.
_LOG_BOUND = 30.0
_BOUND_TOL = 1e-3
# L-BFGS-B relative-reduction stopping rule; the Newton polish afterwards takes
# the solution to the optimum's numerical precision.
_FTOL = 1e-12


def _fd_hessian(grad_fn: Any, theta: FloatArray, step: float = 1e-5) -> FloatArray:
    """Central finite-difference Hessian of an analytic gradient (symmetrised)."""
    k = len(theta)
    hess = np.empty((k, k))
    for j in range(k):
        e = np.zeros(k)
        e[j] = step
        hess[:, j] = (grad_fn(theta + e) - grad_fn(theta - e)) / (2 * step)
    return 0.5 * (hess + hess.T)


@dataclass
class _OptResult:
    theta: FloatArray
    fun: float
    success: bool
    message: str
    iterations: int
    hessian: FloatArray
    grad: FloatArray


def _minimize(
    value_and_grad: Any,
    starts: list[FloatArray],
    *,
    max_iter: int,
    gtol: float,
) -> _OptResult:
    """L-BFGS-B on log-parameters from the best of ``starts``, then Newton polishing."""
    best_x0 = None
    best_f = math.inf
    for x0 in starts:
        f0, g0 = value_and_grad(x0)
        if math.isfinite(f0) and np.all(np.isfinite(g0)) and f0 < best_f:
            best_f, best_x0 = f0, x0
    if best_x0 is None:
        raise ClvFitError("the log-likelihood is not finite at any starting point; check the inputs")
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(best_x0)
    res = optimize.minimize(
        value_and_grad,
        best_x0,
        jac=True,
        method="L-BFGS-B",
        bounds=bounds,
        options={"maxiter": max_iter, "ftol": _FTOL, "gtol": gtol, "maxcor": 20},
    )
    theta = np.asarray(res.x, dtype=np.float64)
    fun = float(res.fun)
    iterations = int(res.nit)
    message = str(res.message)
    # L-BFGS-B frequently stops on "ABNORMAL" line-search termination when it is
    # already at the optimum to machine precision; judge convergence on the
    # gradient instead, after Newton polishing with the exact-gradient Hessian.

    def grad_only(t: FloatArray) -> FloatArray:
        return value_and_grad(t)[1]

    grad = grad_only(theta)
    hess = _fd_hessian(grad_only, theta)
    # Newton steps with the (fixed) finite-difference Hessian of the exact gradient.
    for _ in range(5):
        if not (np.all(np.isfinite(hess)) and np.all(np.isfinite(grad))) or np.max(np.abs(grad)) < 1e-12:
            break
        try:
            if np.linalg.eigvalsh(hess).min() <= 0:
                break
            step = -np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            break
        cand = np.clip(theta + step, -_LOG_BOUND, _LOG_BOUND)
        f_c, g_c = value_and_grad(cand)
        if not (math.isfinite(f_c) and f_c <= fun + 1e-15 * max(1.0, abs(fun))):
            break
        theta, fun, grad = cand, f_c, g_c
        iterations += 1
        if np.max(np.abs(step)) < 1e-10:
            break
    # (the polish moves theta by ~1e-6 at most: the Hessian is kept for the SEs)
    gnorm = float(np.max(np.abs(grad))) if np.all(np.isfinite(grad)) else math.inf
    success = bool(res.success) or gnorm <= max(gtol, 1e-7)
    if not res.success and success:
        message = (
            f"L-BFGS-B stopped with '{message.strip()}' but the optimum is verified: "
            f"max|gradient| = {gnorm:.1e} and the Hessian is checked for positive definiteness"
        )
    return _OptResult(theta, fun, success, message, iterations, hess, grad)


def _sanity(names: Sequence[str], theta: FloatArray, values: Sequence[float], ll: float, opt: _OptResult) -> tuple[bool, str]:
    problems = []
    if not math.isfinite(ll):
        problems.append("log-likelihood is not finite")
    if not all(math.isfinite(v) and v > 0 for v in values):
        problems.append("non-finite parameter estimate")
    at_bound = [n for n, t in zip(names, theta) if abs(t) >= _LOG_BOUND - _BOUND_TOL]
    if at_bound:
        problems.append(
            "parameter(s) " + ", ".join(at_bound) + " ran to the boundary of the search box "
            "(the MLE is at infinity/zero: the data do not identify the model; try a penalizer)"
        )
    try:
        if not np.all(np.linalg.eigvalsh(opt.hessian) > 0):
            problems.append("Hessian at the solution is not positive definite (not a strict maximum)")
    except np.linalg.LinAlgError:
        problems.append("Hessian at the solution could not be evaluated")
    if not opt.success:
        problems.append("optimizer did not converge: " + opt.message)
    if problems:
        return False, "; ".join(problems)
    return True, opt.message


def _standard_errors(names: Sequence[str], values: Sequence[float], hess_mean: FloatArray, n: float) -> dict[str, float]:
    """Delta-method SEs: Cov(log theta) = (n * H_mean)^-1, SE(theta) = theta * sqrt(diag)."""
    try:
        cov = np.linalg.inv(hess_mean * n)
        diag = np.diag(cov)
    except np.linalg.LinAlgError:
        return {k: math.nan for k in names}
    return {k: (float(v * math.sqrt(d)) if d > 0 else math.nan) for k, v, d in zip(names, values, diag)}


def log_covariance(hess_mean: FloatArray, n: float) -> FloatArray | None:
    """Asymptotic covariance of the log-parameters, ``(n * H_mean)^-1``; None unless positive definite.

    Shifting a log-parameter by a constant (the time/currency scaling the problems use internally)
    leaves this covariance unchanged, so it applies to the caller's units as well.
    """
    try:
        if not np.all(np.isfinite(hess_mean)) or np.linalg.eigvalsh(hess_mean).min() <= 0:
            return None
        cov = np.linalg.inv(hess_mean * n)
    except np.linalg.LinAlgError:
        return None
    return 0.5 * (cov + cov.T)


def fit_problem(
    value_and_grad: Any,
    starts: list[FloatArray],
    names: Sequence[str],
    *,
    max_iter: int = 2000,
    gtol: float = 1e-9,
) -> tuple[_OptResult, bool, str]:
    """Minimise from ``starts``; (optimum, converged, message) with the sanity checks applied.

    Raises :class:`ClvFitError` when the objective is not finite at any start.
    """
    opt = _minimize(value_and_grad, starts, max_iter=max_iter, gtol=gtol)
    f, _ = value_and_grad(opt.theta)
    values = tuple(float(v) for v in np.exp(opt.theta))
    converged, message = _sanity(names, opt.theta, values, -f, opt)
    return opt, converged, message
