"""The fit result of the newer count models and the one routine that produces it."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from clvlayer.btyd._core import FloatArray
from clvlayer.btyd._optim import _standard_errors, fit_newton, fit_problem, log_covariance
from clvlayer.btyd._patterns import Patterns


@dataclass(frozen=True)
class CountFit:
    """A fitted count model (MBG/NBD, Pareto/NBD, BG/NBD with covariates), parameters in the caller's time unit.

    ``log_likelihood`` is the total unpenalised log-likelihood at the estimate; ``standard_errors`` are
    delta-method SEs from the Hessian; ``log_cov`` is the covariance of the log-parameters (None when the
    Hessian is not positive definite); ``converged=False`` carries the reason in ``message``.
    """

    model: str
    params: dict[str, float]
    log_likelihood: float
    n_customers: int
    converged: bool
    iterations: int
    fit_seconds: float
    message: str
    n_patterns: int
    penalizer: float = 0.0
    standard_errors: dict[str, float] = field(default_factory=dict)
    log_cov: FloatArray | None = field(default=None, repr=False, compare=False)

    def values(self) -> tuple[float, ...]:
        return tuple(self.params.values())


def run_fit(
    model: str,
    names: Sequence[str],
    pat: Patterns,
    objective: Callable[[FloatArray, bool], tuple[float, FloatArray]],
    starts: list[FloatArray],
    time_rates: Sequence[int],
    penalizer: float,
    started: float,
    max_iter: int = 2000,
    start_objective: Callable[[FloatArray], tuple[float, FloatArray]] | None = None,
) -> CountFit:
    """Minimise ``objective(theta, penalized)`` and express the result on the caller's time axis.

    ``time_rates`` are the indices of parameters with the unit of time (alpha, beta): divided by the scale.
    The log-likelihood moves back to the original axis by ``sum(w x) ln(scale)`` (a density in x purchase
    times). An objective with an analytic Hessian (``value_grad_hess``) is solved by Newton's method after a
    quasi-Newton start on ``start_objective`` (:func:`clvlayer.btyd._optim.fit_newton`); others by L-BFGS-B
    with a finite-difference Hessian (:func:`clvlayer.btyd._optim.fit_problem`).
    """
    if hasattr(objective, "value_grad_hess"):
        opt, converged, message = fit_newton(objective, start_objective or objective, starts, names, max_iter=max_iter)
    else:
        opt, converged, message = fit_problem(lambda th: objective(th, True), starts, names, max_iter=max_iter)
    values = np.exp(opt.theta)
    for i in time_rates:
        values[i] /= pat.scale
    f_unpen, _ = objective(opt.theta, False)
    ll = -f_unpen * pat.W + pat.sum_wx * math.log(pat.scale)
    if not math.isfinite(ll):
        converged, message = False, "log-likelihood is not finite at the estimate; " + message
    vals = tuple(float(v) for v in values)
    return CountFit(
        model=model,
        params=dict(zip(names, vals)),
        log_likelihood=float(ll),
        n_customers=int(round(pat.W)),
        converged=converged,
        iterations=opt.iterations,
        fit_seconds=time.perf_counter() - started,
        message=message,
        n_patterns=pat.n_patterns,
        penalizer=float(penalizer),
        standard_errors=_standard_errors(names, vals, opt.hessian, pat.W),
        log_cov=log_covariance(opt.hessian, pat.W),
    )
