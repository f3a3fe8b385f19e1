"""Shared maximum-likelihood layer: L-BFGS-B or Newton in log-parameter space, sanity checks, SEs.

Every model supplies ``value_and_grad(theta) -> (mean negative log-likelihood, gradient)`` in
log-parameter space; :func:`fit_problem` finds the optimum from the best of a few starts, polishes it with
Newton steps on a finite-difference Hessian of the analytic gradient, and judges convergence on the
gradient and the Hessian (a fit at the box boundary or at a saddle is ``converged=False`` with the
reason). Models that also supply an analytic Hessian (``value_grad_hess``) go through :func:`fit_newton`:
a quasi-Newton start on a subsample, then Newton's method on all data (a handful of full-data
evaluations instead of ~40), with :func:`fit_problem` as the fallback. The Hessian gives asymptotic
standard errors (delta method) and the covariance of the log-parameters that
:mod:`clvlayer.btyd.intervals` draws from.
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
# Relative rounding noise of a mean negative log-likelihood built from log-gamma differences of large arguments.
_OBJECTIVE_NOISE = 1e-10


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


def _best_start(value_and_grad: Any, starts: Sequence[FloatArray]) -> FloatArray:
    """The start with the lowest finite objective (and a finite gradient); a loud error when there is none."""
    best_x0, best_f = None, math.inf
    for x0 in starts:
        f0, g0 = value_and_grad(x0)
        if math.isfinite(f0) and np.all(np.isfinite(g0)) and f0 < best_f:
            best_f, best_x0 = f0, x0
    if best_x0 is None:
        raise ClvFitError("the log-likelihood is not finite at any starting point; check the inputs")
    return best_x0


def _polish_step_accepted(fun: float, grad: FloatArray, f_c: float, g_c: FloatArray) -> bool:
    """Whether a Newton polishing step (positive-definite Hessian) is taken: the objective falls, or, next to the
    optimum, where the decrease the step promises is below the rounding noise of the objective (a mean of
    log-gamma differences: ~1e-11 here), it does not rise beyond that noise while the gradient falls tenfold.
    Without the second rule the polish stalls wherever the objective is flat in one direction (a near-constant
    spend makes the Gamma-Gamma p large and poorly identified) and the summation order of the data decides
    whether the fit is reported converged."""
    if not (math.isfinite(f_c) and np.all(np.isfinite(g_c))):
        return False
    if f_c <= fun + 1e-15 * max(1.0, abs(fun)):
        return True
    within_noise = f_c <= fun + _OBJECTIVE_NOISE * max(1.0, abs(fun))
    return within_noise and float(np.max(np.abs(g_c))) <= 0.1 * float(np.max(np.abs(grad)))


def _minimize(
    value_and_grad: Any,
    starts: list[FloatArray],
    *,
    max_iter: int,
    gtol: float,
) -> _OptResult:
    """L-BFGS-B on log-parameters from the best of ``starts``, then Newton polishing."""
    best_x0 = _best_start(value_and_grad, starts)
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
        if not _polish_step_accepted(fun, grad, f_c, g_c):
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


def _newton(
    value_grad_hess: Any,
    value: Any,
    theta0: FloatArray,
    *,
    gtol: float,
    max_iter: int = 40,
) -> _OptResult:
    """Newton's method with the analytic Hessian, a backtracking (Armijo) line search on ``value`` and, where
    the Hessian is not positive definite, a shifted Hessian (modified Newton). ``success`` means
    max|gradient| <= gtol at a point with a positive-definite Hessian; the returned Hessian is the one at
    ``theta`` (exact, used for the standard errors)."""
    theta = np.asarray(theta0, dtype=np.float64).copy()
    f, g, h = value_grad_hess(theta)
    if not (math.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
        return _OptResult(theta, f, False, "objective not finite at the Newton start", 0, h, g)
    message = "maximum number of Newton iterations reached"
    iterations = 0
    for iterations in range(1, max_iter + 1):
        if float(np.max(np.abs(g))) <= gtol and np.linalg.eigvalsh(h).min() > 0:
            message = f"Newton: max|gradient| = {float(np.max(np.abs(g))):.1e} <= {gtol:.0e}"
            iterations -= 1
            break
        eig = np.linalg.eigvalsh(h)
        shift = 0.0 if eig.min() > 1e-10 * max(eig.max(), 1e-300) else (1e-8 + abs(eig.min()) + 1e-6 * abs(eig.max()))
        step = -np.linalg.solve(h + shift * np.eye(len(theta)), g)
        biggest = float(np.max(np.abs(step)))
        if biggest > 2.0:  # at most a factor e^2 per parameter and iteration
            step *= 2.0 / biggest
        slope = float(g @ step)
        t, accepted = 1.0, False
        while t >= 1e-8:
            cand = np.clip(theta + t * step, -_LOG_BOUND, _LOG_BOUND)
            f_c = value(cand)
            if math.isfinite(f_c) and f_c <= f + 1e-4 * t * slope + 1e-15 * max(1.0, abs(f)):
                accepted = True
                break
            t *= 0.5
        if not accepted:
            message = "Newton line search failed (no decrease along the Newton direction)"
            break
        theta = cand
        f, g, h = value_grad_hess(theta)
        if not (math.isfinite(f) and np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
            message = "objective not finite during Newton iterations"
            break
    gnorm = float(np.max(np.abs(g))) if np.all(np.isfinite(g)) else math.inf
    success = gnorm <= gtol and bool(np.all(np.isfinite(h))) and np.linalg.eigvalsh(h).min() > 0
    if success and not message.startswith("Newton:"):
        message = f"Newton: max|gradient| = {gnorm:.1e} <= {gtol:.0e}"
    return _OptResult(theta, f, success, message, iterations, h, g)


def _quasi_newton_start(value_and_grad: Any, starts: list[FloatArray], *, ftol: float = 1e-8, max_iter: int = 500) -> FloatArray:
    """L-BFGS-B from the best of ``starts`` to a moderate precision (relative reduction 1e-8, max|gradient|
    1e-5): a starting point inside Newton's region of quadratic convergence, not the optimum."""
    best_x0 = _best_start(value_and_grad, starts)
    res = optimize.minimize(
        value_and_grad, best_x0, jac=True, method="L-BFGS-B", bounds=[(-_LOG_BOUND, _LOG_BOUND)] * len(best_x0),
        options={"maxiter": max_iter, "ftol": ftol, "gtol": 1e-5, "maxcor": 20},
    )
    return np.asarray(res.x, dtype=np.float64)


def fit_newton(
    problem: Any,
    start_problem: Any,
    starts: list[FloatArray],
    names: Sequence[str],
    *,
    max_iter: int = 2000,
    gtol: float = 1e-9,
    quasi_newton: bool = True,
) -> tuple[_OptResult, bool, str]:
    """Staged maximum likelihood for problems with an analytic Hessian (``value_grad_hess``, ``value``, and
    ``__call__`` = value and gradient):

    1. L-BFGS-B on ``start_problem`` (the same model on a subsample of customers, or the full data when it is
       small) from the best of ``starts``, to moderate precision;
    2. Newton on ``problem`` from there (quadratic convergence: typically 3-5 full-data evaluations);
    3. if Newton does not reach ``gtol`` (e.g. a boundary solution), the quasi-Newton route of
       :func:`fit_problem` from the best point seen, so failures are diagnosed as before.

    ``quasi_newton=False`` skips step 1 (the first start is already close, e.g. a fit without covariates).
    Returns (optimum, converged, message) with the sanity checks of :func:`fit_problem` applied.
    """
    theta0 = _quasi_newton_start(start_problem, starts) if quasi_newton else np.asarray(starts[0], dtype=np.float64)
    opt = _newton(problem.value_grad_hess, problem.value, theta0, gtol=gtol)
    if not opt.success:
        fallback = [opt.theta] if np.all(np.isfinite(opt.theta)) and math.isfinite(opt.fun) else []
        return fit_problem(problem, fallback + [theta0], names, max_iter=max_iter, gtol=gtol)
    values = tuple(float(v) for v in np.exp(opt.theta))
    converged, message = _sanity(names, opt.theta, values, -opt.fun, opt)
    return opt, converged, message


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
