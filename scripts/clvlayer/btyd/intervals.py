"""Intervals that carry parameter uncertainty and process uncertainty.

Parameter uncertainty: ``n_draws`` parameter vectors from the MLE's asymptotic normal in log-parameter space,
``N(ln theta_hat, (n H)^-1)`` (``fit.log_cov``, from the same Hessian as the standard errors).

Purchase counts (:func:`purchase_intervals`): the predictive distribution of a customer's number of purchases
in the next ``t`` time units is the mixture over the draws of the model's conditional distribution
``(1 - P(alive)) [k == 0] + P(alive) q_k``, i.e. parameter AND process uncertainty. The interval at
``level`` is ``[lower, upper]`` with lower/upper the ``(1-level)/2`` and ``(1+level)/2`` quantiles of that
integer distribution.

Discreteness, honestly: an interval of integers cannot hold exactly 80% of a discrete distribution (a
one-time buyer with P(0 purchases) = 0.88 has the interval [0, 1], which holds 97%). Calibration is therefore
judged with the randomized probability integral transform: for an actual count y, PIT is uniform on
``[F(y-1), F(y)]``; if the model is right PIT ~ U(0, 1) and ``P((1-level)/2 <= PIT <= (1+level)/2) = level``
exactly. ``coverage`` below is the expectation of that indicator over the randomisation (no random numbers:
the share of ``[F(y-1), F(y)]`` inside the central band), so its mean over customers is the calibrated
coverage; ``covered_integer`` is the plain ``lower <= y <= upper`` (conservative, >= level).

Segment sums: per draw the sum of independent customers' counts is approximated by a normal with the
summed conditional means and variances (E[Y] and E[Y^2] from the models' closed-form alive moments, not from
truncated tables); the interval is the quantiles of the mixture over draws, and with ``actual`` the segment
table also holds the PIT of the actual sum under that mixture (uniform when calibrated).

CLV (:func:`clv_intervals`): the realised discounted value ``R = margin sum_i delta(t_i) z_i`` of a customer's
purchases over the horizon (``z_i`` the spend of purchase i, ``delta`` the monthly discount factor):

* ``expected_lower`` / ``expected_upper``: the interval of the *expected* CLV over the parameter draws of the
  count and Gamma-Gamma models (parameter uncertainty only);
* ``lower`` / ``upper``: a predictive interval of R itself (parameter + process uncertainty). Given the
  parameters, the count N is the model's conditional distribution and the spend of each purchase is
  Gamma(p, nu) with nu | (x, m) ~ Gamma(p x + q, v + x m) (the Gamma-Gamma posterior), so the first two
  moments of R are closed forms of E[N], E[N^2], E[1/nu], E[1/nu^2] (the discount of each purchase replaced by
  the average discount of the customer's expected purchases, ``c = E[discounted N] / E[N]``: 0.89-0.99 for
  12 months at 1%/month, so the variance is off by at most that spread). Mixed over the parameter draws
  (independent for the two models), R is represented as an atom P(N = 0) at 0 plus a Gamma distribution
  with the mixture's conditional mean and variance for N >= 1; the interval is its quantiles. The
  simulation benchmark (``bench_btyd.py clv-calibration``) checks the coverage on realised values.

All work is per distinct (x, t_x, T) pattern and per distinct (x, T) group, then mapped to customers.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import cached_property
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.special import gammainc, gammaincinv, ndtr, ndtri

from clvlayer.btyd import _core
from clvlayer.btyd._core import (ClvFitError, FloatArray, _as_1d_float, aggregate_rfm, halves, map_draws, unique_codes,
                                 validate_rfm)
from clvlayer.btyd._predict import cumsum_rows, discounted_sum, nbd_upper
from clvlayer.btyd.gammagamma import GammaGammaFit
from clvlayer.btyd.registry import ModelSpec, get_model

DEFAULT_LEVEL = 0.8
DEFAULT_DRAWS = 40
_CELLS = 4_000_000  # bound of the (draws, patterns, k) and (draws, customers) temporaries


def parameter_draws(fit: Any, spec_parameters: tuple[str, ...], n_draws: int = DEFAULT_DRAWS, seed: int = 0) -> FloatArray:
    """``n_draws`` x k parameter vectors from N(ln theta_hat, log_cov), exponentiated (caller's units)."""
    if n_draws < 1:
        raise ClvFitError("n_draws must be >= 1")
    cov = getattr(fit, "log_cov", None)
    if cov is None:
        raise ClvFitError(
            "the fit has no positive-definite Hessian (log_cov is None): parameter uncertainty is undefined; "
            "refit with a penalizer or check convergence"
        )
    params = fit.params
    theta = np.log([params[k] for k in spec_parameters])
    rng = np.random.default_rng(seed)
    return np.exp(rng.multivariate_normal(theta, cov, size=n_draws, method="cholesky"))


@dataclass
class _Layout:
    """Customers -> distinct patterns (x, t_x, T) -> distinct groups (x, T)."""

    px: FloatArray
    ptx: FloatArray
    pT: FloatArray
    cust_to_pat: np.ndarray
    gx: FloatArray
    gT: FloatArray
    pat_to_grp: np.ndarray


def _layout(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> _Layout:
    x, tx, tt = validate_rfm(frequency, recency, T)
    (px, ptx, pT), _, inv = aggregate_rfm(x, tx, tt)
    (gx, gT), _, ginv = aggregate_rfm(px, pT)
    return _Layout(px, ptx, pT, inv, gx, gT, ginv)


def _check_level(level: float) -> float:
    if not (0.0 < level < 1.0):
        raise ClvFitError(f"level must be in (0, 1), got {level}")
    return (1.0 - level) / 2.0


def _group_kmax(spec: ModelSpec, draws: FloatArray, gx: FloatArray, gT: FloatArray, t: float) -> np.ndarray:
    """Per group, a k beyond which every draw's alive-customer count has negligible probability."""
    r_i, a_i = spec.parameters.index("r"), spec.parameters.index("alpha")
    k = np.zeros(len(gx))
    for d in draws:
        k = np.maximum(k, nbd_upper(d[r_i] + gx, d[a_i] + gT, np.full(len(gx), t)))
    return np.maximum(k, 1).astype(np.int64)


def _quantiles_over_draws(values: FloatArray, a: float) -> tuple[FloatArray, FloatArray]:
    """Per column, the a and 1 - a quantiles (linear interpolation) of a draws x columns array."""
    lo, hi = np.quantile(values, [a, 1.0 - a], axis=0)
    return lo, hi


@dataclass
class PurchaseIntervals:
    """Per-customer results of :func:`purchase_intervals` (arrays in input order) and segment sums.

    ``expected``, ``expected_lower`` and ``expected_upper`` are computed on first use (the quantiles over the
    parameter draws of every pattern cost a second or more on a million customers; the warehouse reads none), and
    so is ``e_draw`` (held as its two factors: one draws x patterns array less while the tables are made)."""

    level: float
    lower: np.ndarray  # interval of the count (parameter + process uncertainty)
    upper: np.ndarray
    alive_t: FloatArray = field(repr=False)  # patterns x draws: P(alive | data, draw)
    alive_mean: FloatArray = field(repr=False)  # draws x groups: E[Y | alive, draw], closed form
    pat_to_grp: np.ndarray = field(repr=False)
    cust_to_pat: np.ndarray = field(repr=False)
    coverage: FloatArray | None = None  # expected randomized-PIT coverage per customer (needs actual)
    covered_integer: np.ndarray | None = None
    pit: FloatArray | None = None
    segments: pd.DataFrame | None = None

    @cached_property
    def e_draw(self) -> FloatArray:
        """Draws x patterns: E[Y | data, draw] = P(alive | data, draw) E[Y | alive, draw]."""
        return self.alive_t.T * self.alive_mean[:, self.pat_to_grp]

    @property
    def expected(self) -> FloatArray:
        """Predictive mean: the mean over draws of E[Y | data, draw]."""
        return self.e_draw.mean(axis=0)[self.cust_to_pat]

    @cached_property
    def _expected_interval(self) -> tuple[FloatArray, FloatArray]:
        e_lo, e_hi = _quantiles_over_draws(self.e_draw, _check_level(self.level))
        return e_lo[self.cust_to_pat], e_hi[self.cust_to_pat]

    @property
    def expected_lower(self) -> FloatArray:
        """Interval of E[Y] over the parameter draws: lower end."""
        return self._expected_interval[0]

    @property
    def expected_upper(self) -> FloatArray:
        """Interval of E[Y] over the parameter draws: upper end."""
        return self._expected_interval[1]


def purchase_intervals(
    model: str,
    fit: Any,
    t: float,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    *,
    level: float = DEFAULT_LEVEL,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    actual: ArrayLike | None = None,
    segments: ArrayLike | Sequence[ArrayLike] | None = None,
) -> PurchaseIntervals:
    """Intervals on each customer's purchases in (T, T + t] (module docstring), optionally scored against
    ``actual`` counts, and intervals on segment sums when ``segments`` (a label per customer, or a list of such
    partitions: see _segment_codes) is given."""
    spec = get_model(model)
    a = _check_level(level)
    if not (math.isfinite(t) and t >= 0):
        raise ClvFitError("t must be finite and >= 0")
    lay = _layout(frequency, recency, T)
    n_cust = len(lay.cust_to_pat)
    draws = parameter_draws(fit, spec.parameters, n_draws, seed)
    P = len(lay.px)
    y = None if actual is None else np.asarray(actual, dtype=np.float64)
    if y is not None and (len(y) != n_cust or (y < 0).any() or (y != np.round(y)).any()):
        raise ClvFitError("actual must hold one whole, non-negative purchase count per customer")
    pa = spec.p_alive_draws(draws, lay.px, lay.ptx, lay.pT)  # J x P
    pa_dead = 1.0 - pa.mean(axis=0)  # mixture weight of "dead at T" (count 0)
    pa_t = np.ascontiguousarray(pa.T)  # patterns x draws: the count tables' weights; pa itself is not kept
    del pa
    if segments is None:  # E[Y | alive] only (closed form)
        m1 = np.stack(map_draws(lambda d: spec.alive_expected_purchases(d, t, lay.gx, lay.gT), list(draws)))
        second = None
    else:  # and E[Y^2 | alive] for the segment variances; closed forms / quadrature, no truncation; J x G
        _, m1, second = spec.alive_moments_draws(draws, t, lay.gx, lay.gT)
    res = {k: np.zeros(P) for k in ("lower", "upper")}
    # for scoring, per customer F(y-1) and F(y)
    f_lo = np.zeros(n_cust) if y is not None else None
    f_hi = np.zeros(n_cust) if y is not None else None
    tables = _CountTables(spec, draws, lay, t, pa_t, pa_dead, y, f_lo, f_hi, res)
    full = _bucket(_group_kmax(spec, draws, lay.gx, lay.gT, t))
    # each group's table only as long as its interval and actual counts need (exact, see _CountTables): a guess,
    # doubled for the groups of the patterns whose upper end lies beyond it, up to the full table
    length = np.minimum(_length_class(_group_guess_k(spec, draws, lay, t, a, y)), full)
    todo = np.arange(P)
    while todo.size:
        todo = tables.run(length, full, todo, a)
        grow = np.unique(lay.pat_to_grp[todo])
        length[grow] = np.minimum(_length_class(2 * length[grow]), full[grow])
    out = PurchaseIntervals(
        level=level,
        lower=res["lower"][lay.cust_to_pat].astype(np.int64),
        upper=res["upper"][lay.cust_to_pat].astype(np.int64),
        alive_t=pa_t,
        alive_mean=m1,
        pat_to_grp=lay.pat_to_grp,
        cust_to_pat=lay.cust_to_pat,
    )
    if y is not None:
        assert f_lo is not None and f_hi is not None
        out.coverage = pit_coverage(f_lo, f_hi, level)
        out.covered_integer = (out.lower <= y) & (y <= out.upper)
        rng = np.random.default_rng(seed + 1)
        out.pit = f_lo + rng.random(n_cust) * (f_hi - f_lo)
    if segments is not None:
        assert second is not None
        var_draw = pa_t.T * second[:, lay.pat_to_grp] - out.e_draw**2
        out.segments = _segment_sums(segments, lay.cust_to_pat, out.e_draw, var_draw, level, seed, y)
    return out


def _bucket(k: np.ndarray) -> np.ndarray:
    """Table length class of a k range: the power of two >= k + 1 (at least 2), so groups share table shapes."""
    return np.maximum(2, 2 ** np.ceil(np.log2(k + 1))).astype(np.int64)


def _length_class(k: np.ndarray) -> np.ndarray:
    """A table length class >= k (at least 2): k rounded up to a multiple of 2^(floor(log2 k) - 2), so lengths
    overshoot by at most a quarter and groups share a few dozen table shapes."""
    k = np.maximum(np.asarray(k, dtype=np.float64), 2.0)
    step = 2.0 ** np.maximum(np.floor(np.log2(k)) - 2.0, 0.0)
    return (np.ceil(k / step) * step).astype(np.int64)


def _group_guess_k(spec: ModelSpec, draws: FloatArray, lay: _Layout, t: float, a: float, y: FloatArray | None) -> np.ndarray:
    """Per group, a first table length: the largest over draws of a normal-approximation 1 - a quantile of the
    alive count's upper bound, the NBD count without dropout (mean + 1.5 sd + 1), and at least the largest actual
    count of the group's customers. Only a guess: :class:`_CountTables` finds the patterns it is too short for."""
    r_i, a_i = spec.parameters.index("r"), spec.parameters.index("alpha")
    k = np.zeros(len(lay.gx))
    z = 1.5 * max(float(ndtri(1.0 - a)), 0.0) / 1.2815515655446004
    for d in draws:
        ratio = t / (d[a_i] + lay.gT)
        mean = (d[r_i] + lay.gx) * ratio
        k = np.maximum(k, np.ceil(mean + z * np.sqrt(mean * (1.0 + ratio)) + 1.0))
    if y is not None:
        k_y = np.zeros(len(lay.gx))
        np.maximum.at(k_y, lay.pat_to_grp[lay.cust_to_pat], y)
        k = np.maximum(k, k_y)
    return k


class _CountTables:
    """The mixture CDF over draws, ``(1 - mean P(alive)) + mean_j P_j(alive) Q_j(k)`` per pattern, from per-group
    tables of each draw's alive-count CDF Q_j (k = 0..bucket), read into the interval ends (the number of k with
    CDF < a and < 1 - a) and, with actual counts, the customers' F(y - 1) and F(y).

    Shorter tables give the same numbers: the CDF is non-decreasing in k and a table's values do not depend on its
    length (cumulative sums and products along k), so once a pattern's CDF reaches 1 - a inside a short table the
    counts are those of the full table, and every actual count of the group lies inside it. :meth:`run` returns the
    patterns of shortened tables whose CDF stays below 1 - a to the end, for a pass with the full tables."""

    def __init__(self, spec: ModelSpec, draws: FloatArray, lay: _Layout, t: float, pa_t: FloatArray,
                 pa_dead: FloatArray, y: FloatArray | None, f_lo: FloatArray | None, f_hi: FloatArray | None,
                 res: dict[str, FloatArray]):
        self.spec, self.draws, self.lay, self.t, self.y = spec, draws, lay, t, y
        self.f_lo, self.f_hi, self.res = f_lo, f_hi, res
        self.pa_dead = pa_dead  # mixture weight of "dead at T" (count 0): 1 - the draws' mean P(alive)
        self.pa_t = pa_t  # patterns x draws
        self.pat_order = np.argsort(lay.pat_to_grp, kind="stable")
        count = np.bincount(lay.cust_to_pat, minlength=len(lay.px))
        self.by_pattern = (np.argsort(lay.cust_to_pat, kind="stable"), np.cumsum(count) - count, count)

    def _alive_part(self, pats: np.ndarray, local: np.ndarray, cdf: FloatArray) -> FloatArray:
        """sum_j P_j(alive) Q_j(k) for patterns sorted by group: one (patterns x draws) @ (draws x k) product per
        group (BLAS, no gathered copy of the group tables)."""
        grp = local[self.lay.pat_to_grp[pats]]
        cut = np.flatnonzero(np.diff(grp)) + 1
        out = np.empty((len(pats), cdf.shape[2]))
        weights = self.pa_t[pats]
        for lo, hi, g in zip([0, *cut.tolist()], [*cut.tolist(), len(pats)], grp[np.r_[0, cut]].tolist()):
            np.matmul(weights[lo:hi], cdf[g], out=out[lo:hi])
        return out

    def run(self, bucket: np.ndarray, full: np.ndarray, patterns: np.ndarray, a: float) -> np.ndarray:
        lay, J = self.lay, len(self.draws)
        wanted = np.zeros(len(lay.px), dtype=bool)
        wanted[patterns] = True
        # the wanted patterns in group order, then by table length (stable: group order within a length)
        ordered = self.pat_order[wanted[self.pat_order]]
        ordered = ordered[np.argsort(bucket[lay.pat_to_grp[ordered]], kind="stable")]
        lengths, first = np.unique(bucket[lay.pat_to_grp[ordered]], return_index=True)
        unresolved = []
        for kb, lo, hi in zip(lengths.tolist(), first.tolist(), [*first[1:].tolist(), len(ordered)]):
            pats = ordered[lo:hi]
            groups = np.unique(lay.pat_to_grp[pats])
            cdf = np.empty((len(groups), J, int(kb) + 1))  # group x draw x k: one group's table is contiguous

            def fill(j: int, groups: np.ndarray = groups, cdf: FloatArray = cdf, kb: int = int(kb)) -> None:
                pmf = self.spec.alive_count_pmf(self.draws[j], self.t, lay.gx[groups], lay.gT[groups], kb)
                cumsum_rows(pmf, out=cdf[:, j, :])

            map_draws(fill, list(range(J)))  # threads over the draws, each writing its own slice
            local = np.full(len(lay.gx), -1)
            local[groups] = np.arange(len(groups))
            step = max(1, _CELLS // (J * (kb + 1)))
            for i in range(0, len(pats), step):
                pp = pats[i:i + step]
                mix = self.pa_dead[pp][:, None] + self._alive_part(pp, local, cdf) / J
                mix = np.minimum(mix, 1.0)
                self.res["lower"][pp] = (mix < a).sum(axis=1)
                self.res["upper"][pp] = (mix < 1.0 - a).sum(axis=1)
                if self.y is not None:
                    assert self.f_lo is not None and self.f_hi is not None
                    _score(mix, pp, self.by_pattern, self.y, self.f_lo, self.f_hi)
                short = (kb < full[lay.pat_to_grp[pp]]) & (mix[:, -1] < 1.0 - a)
                unresolved.append(pp[short])
        return np.concatenate(unresolved) if unresolved else np.zeros(0, dtype=np.int64)


def _score(mix: FloatArray, pats: np.ndarray, by_pattern: tuple[np.ndarray, np.ndarray, np.ndarray], y: FloatArray,
           f_lo: FloatArray, f_hi: FloatArray) -> None:
    """F(y - 1) and F(y) of the customers whose pattern is in ``pats`` (F = 1 beyond the table).
    ``by_pattern``: customers sorted by pattern, each pattern's first position in that order and its customer count."""
    order, start, count = by_pattern
    n = count[pats]
    row = np.repeat(np.arange(len(pats)), n)
    offset = np.arange(int(n.sum())) - np.repeat(np.cumsum(n) - n, n)
    cust = order[np.repeat(start[pats], n) + offset]
    kmax = mix.shape[1] - 1
    yc = y[cust].astype(np.int64)
    hi = np.where(yc <= kmax, mix[row, np.minimum(yc, kmax)], 1.0)
    lo = np.where(yc == 0, 0.0, np.where(yc - 1 <= kmax, mix[row, np.clip(yc - 1, 0, kmax)], 1.0))
    f_lo[cust], f_hi[cust] = lo, hi


def pit_coverage(f_lo: FloatArray, f_hi: FloatArray, level: float) -> FloatArray:
    """E[1{(1-level)/2 <= PIT <= (1+level)/2}] with PIT ~ U(F(y-1), F(y)): the share of [F(y-1), F(y)] in the band."""
    a = _check_level(level)
    width = f_hi - f_lo
    overlap = np.clip(np.minimum(f_hi, 1.0 - a) - np.maximum(f_lo, a), 0.0, None)
    inside = ((f_lo >= a) & (f_hi <= 1.0 - a)).astype(np.float64)
    return np.where(width > 1e-15, overlap / np.where(width > 1e-15, width, 1.0), inside)


def _segment_codes(segments: ArrayLike | Sequence[ArrayLike], n: int) -> tuple[list[np.ndarray], pd.Index]:
    """Per partition, each customer's segment index into the sorted labels of all partitions. ``segments`` is one
    label per customer, or a list of such label arrays: several partitions of the same customers (e.g. one per
    segment type, labels distinct across partitions) scored once and summed into one table."""
    sets = list(segments) if _is_partition_list(segments) else [segments]
    local = []
    for labels in sets:  # a Categorical is factorized by its codes (its categories sorted: the same codes)
        series = pd.Series(labels if isinstance(labels, pd.Categorical) else np.asarray(labels))
        if len(series) != n:
            raise ClvFitError("segments must hold one label per customer")
        if series.isna().any():
            raise ClvFitError("segments contain missing labels")
        local.append(pd.factorize(series, sort=True))
    names = pd.Index(np.concatenate([uniques.to_numpy(object) for _, uniques in local])).unique().sort_values()
    if len(names) != sum(len(uniques) for _, uniques in local):
        raise ClvFitError("segments: a label appears in more than one partition (prefix each partition's labels)")
    return [names.get_indexer(uniques)[codes] for codes, uniques in local], names


def _is_partition_list(segments: ArrayLike | Sequence[ArrayLike]) -> bool:
    return isinstance(segments, (list, tuple)) and len(segments) > 0 and np.ndim(segments[0]) == 1


#: bound of the cells of a pack of partitions (:func:`_pack`): its per-cell sums fit in the L1 cache
_PACK_CELLS = 4096


@dataclass(frozen=True)
class _Pack:
    """Some partitions of the customers crossed into cells: each customer's cell and, per partition of the pack,
    the segment (index into all partitions' segments) of each cell."""

    cell: np.ndarray
    n_cells: int
    segment_of_cell: list[np.ndarray]


def _pack(codes: list[np.ndarray], max_cells: int = _PACK_CELLS) -> list[_Pack]:
    """The partitions' segment codes (:func:`_segment_codes`) grouped, in order, into packs of at most ``max_cells``
    cells, so a segment sum is one pass over the customers per pack (a bincount by cell) instead of one per
    partition, then the cells' sums per segment (14 segment types at 10M: 4 passes over 1.27M customers, not 14)."""
    packs: list[_Pack] = []
    group: list[tuple[np.ndarray, np.ndarray]] = []  # (each customer's local code, the local codes' segments)
    for partition in [*codes, None]:
        local = None if partition is None else unique_codes(partition)
        cells = math.prod(len(segs) for _, segs in group)
        if group and (local is None or cells * len(local[0]) > max_cells):
            cell = np.zeros(len(group[0][0]), dtype=np.int64)
            for inverse, segs in group:
                cell = cell * len(segs) + inverse
            grid = np.indices([len(segs) for _, segs in group]).reshape(len(group), -1)
            packs.append(_Pack(cell, cells, [segs[g] for (_, segs), g in zip(group, grid)]))
            group = []
        if local is not None:
            group.append((local[1], local[0]))
    return packs


def _by_segment(packs: list[_Pack], size: int, weights: FloatArray | None = None) -> np.ndarray:
    """Sum of ``weights`` (or a count) per segment over every partition (each segment lies in one partition): per
    pack the sums per cell, then the cells' sums added into their segments."""
    total = np.zeros(size)
    for pack in packs:
        per_cell = np.bincount(pack.cell, weights=weights, minlength=pack.n_cells)
        for segment in pack.segment_of_cell:
            total += np.bincount(segment, weights=per_cell, minlength=size)
    return total


def _segment_sums(
    segments: ArrayLike | Sequence[ArrayLike], cust_to_pat: np.ndarray, mean_draw: FloatArray, var_draw: FloatArray | None,
    level: float, seed: int, actual: FloatArray | None, n_normal: int = 400,
) -> pd.DataFrame:
    """Per segment: expected sum, interval (mixture over draws of normals, or draw quantiles without variance)."""
    codes, names = _segment_codes(segments, len(cust_to_pat))
    codes, S = _pack(codes), len(names)
    mu = np.stack([_by_segment(codes, S, m[cust_to_pat]) for m in mean_draw])  # J x S
    var = None
    if var_draw is not None:
        var = np.stack([_by_segment(codes, S, v[cust_to_pat]) for v in var_draw])
    actual_sums = None if actual is None else _by_segment(codes, S, actual)
    return _segment_frame(names, _by_segment(codes, S).astype(np.int64), mu, var, level, seed, actual_sums, n_normal)


def _segment_frame(
    names: pd.Index, customers: np.ndarray, mu: FloatArray, var: FloatArray | None, level: float, seed: int,
    actual: FloatArray | None, n_normal: int = 400,
) -> pd.DataFrame:
    """Segment table from per-draw sums ``mu`` and variances ``var`` (draws x segments); ``actual``: the actual
    sum per segment."""
    a = _check_level(level)
    S = len(names)
    rng = np.random.default_rng(seed + 2)
    if var is not None:
        samples = mu[:, None, :] + np.sqrt(np.maximum(var, 0.0))[:, None, :] * rng.standard_normal((len(mu), n_normal, S))
        samples = samples.reshape(-1, S)
    else:
        samples = mu
    frame = pd.DataFrame({
        "segment": names,
        "customers": customers,
        "expected": samples.mean(axis=0),
        "lower": np.quantile(samples, a, axis=0),
        "upper": np.quantile(samples, 1.0 - a, axis=0),
    })
    if actual is not None:
        frame["actual"] = actual
        frame["covered"] = (frame["lower"] <= frame["actual"]) & (frame["actual"] <= frame["upper"])
        if var is not None:  # probability integral transform of the actual sum under the normal mixture
            sd = np.sqrt(np.maximum(var, 1e-300))
            frame["pit"] = ndtr((frame["actual"].to_numpy()[None, :] - mu) / sd).mean(axis=0)
    return frame


# --------------------------------------------------------------------------------------------------------- #
# CLV
# --------------------------------------------------------------------------------------------------------- #
@dataclass
class ClvIntervals:
    """Per-customer discounted CLV (point estimate), the interval of the expected CLV over parameter draws
    (``expected_lower`` / ``expected_upper``) and the predictive interval of the realised value
    (``lower`` / ``upper``, parameter + process uncertainty), with segment sums of both kinds."""

    level: float
    clv: FloatArray  # at the point estimates
    expected_lower: FloatArray
    expected_upper: FloatArray
    lower: FloatArray
    upper: FloatArray
    p_zero: FloatArray  # predictive probability of no purchase in the horizon (the atom of R at 0)
    gamma_shape: FloatArray  # the Gamma that represents R given at least one purchase
    gamma_scale: FloatArray
    segments: pd.DataFrame | None = None

    def cdf(self, value: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """(F(value-), F(value)) of each customer's predictive distribution of the realised value."""
        v = np.asarray(value, dtype=np.float64)
        g = gammainc(self.gamma_shape, np.maximum(v, 0.0) / self.gamma_scale)
        hi = np.where(v < 0, 0.0, self.p_zero + (1.0 - self.p_zero) * np.where(v > 0, g, 0.0))
        lo = np.where(v > 0, hi, 0.0)
        return lo, hi

    def coverage(self, value: ArrayLike) -> FloatArray:
        """Expected randomized-PIT coverage of each customer's realised value (as for counts: a value of 0 sits
        on the atom [0, P(no purchase)])."""
        lo, hi = self.cdf(value)
        return pit_coverage(lo, hi, self.level)


@dataclass
class _CountDraws:
    """Per draw (rows) and pattern (columns) of the count model over the CLV horizon."""

    discounted: FloatArray  # E[discounted number of purchases] = P(alive) sum_i dE_i / (1+d)^i
    p_zero: FloatArray  # P(N = 0)
    second: FloatArray  # c^2 E[N^2], c = discounted / E[N] (average discount factor of the purchases)
    first_c2: FloatArray  # c^2 E[N]


@dataclass(frozen=True)
class _GroupDraws:
    """Per draw (rows) and (x, T) group (columns) of the count model over the CLV horizon, read-only: the discounted
    expected purchases given alive and the alive moments P(Y = 0), E[Y], E[Y^2] at the horizon."""

    discounted: FloatArray
    q0: FloatArray
    m1: FloatArray
    m2: FloatArray


def _group_draws(spec: ModelSpec, draws: FloatArray, lay: _Layout, months: int, periods_per_month: float,
                 monthly_discount_rate: float) -> _GroupDraws:
    """The draws' group quantities (most of the interval cost: 36 2F1 passes per draw for the discounted sums, the
    quadrature of E[Y(Y-1)]); threads over the draws, each draw's row computed alone."""
    q0, m1, m2 = spec.alive_moments_draws(draws, months * periods_per_month, lay.gx, lay.gT)

    def discounted(d: FloatArray) -> FloatArray:
        return _discounted_groups(spec, d, lay, months, periods_per_month, monthly_discount_rate)

    disc = np.stack(map_draws(discounted, list(draws)))
    for values in (disc, q0, m1, m2):
        values.flags.writeable = False  # shared between callers (_SharedGroupDraws)
    return _GroupDraws(disc, q0, m1, m2)


class _SharedGroupDraws:
    """The last :func:`_group_draws` result of a caller that asked to share it, for the next caller with the same
    inputs in this process: int_customers_clv_predicted (the chosen model's intervals) and int_segments_clv_intervals
    (its segment sums) need the same draws' group quantities (same fit, seed, draws, horizon, discount and (x, T)
    groups), and dbt runs both in one process. The key is the inputs' bytes, so a hit is the same numbers; a hit
    empties the slot (two users), and callers at once wait for the one computing (a lock)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: bytes | None = None
        self._value: _GroupDraws | None = None
        self.computed = 0  # counters, for the tests
        self.reused = 0

    def get(self, spec: ModelSpec, draws: FloatArray, lay: _Layout, months: int, periods_per_month: float,
            monthly_discount_rate: float) -> _GroupDraws:
        key = b"\x1f".join([spec.name.encode(), repr((draws.shape, len(lay.gx), int(months), float(periods_per_month),
                                                        float(monthly_discount_rate))).encode(),
                            *(np.ascontiguousarray(v, dtype=np.float64).tobytes() for v in (draws, lay.gx, lay.gT))])
        with self._lock:
            if self._key == key and self._value is not None:
                value, self._key, self._value = self._value, None, None
                self.reused += 1
                return value
            self._key = self._value = None  # free the old slot before computing the new one
            value = _group_draws(spec, draws, lay, months, periods_per_month, monthly_discount_rate)
            self._key, self._value = key, value
            self.computed += 1
            return value


SHARED_GROUP_DRAWS = _SharedGroupDraws()


def _count_draws(spec: ModelSpec, draws: FloatArray, lay: _Layout, months: int, periods_per_month: float,
                 monthly_discount_rate: float, keep_draws: bool, share: bool = False,
                 mean_discounted: bool = False) -> _CountDraws:
    """Count-model quantities per draw; ``p_zero``, ``second`` and ``first_c2`` only as their mean over the
    draws (one row) unless ``keep_draws`` (segment sums pair them with spend draws), ``discounted`` too when
    ``mean_discounted`` (a caller that reads only its mean). ``share``: take the group quantities from / leave them
    to :data:`SHARED_GROUP_DRAWS`. P(alive) is made a block of draws at a time (:func:`_draw_blocks`) and every
    mean is the draws' rows summed in draw order, then divided by J (as ``mean(axis=0)`` of the rows sums them)."""
    J, P, g = len(draws), len(lay.px), lay.pat_to_grp
    rows = J if keep_draws else 1
    disc = np.zeros((1 if mean_discounted else J, P))
    p0, sec, fc2 = (np.zeros((rows, P)) for _ in range(3))
    gd = _group_quantities(spec, draws, lay, months, periods_per_month, monthly_discount_rate, share)
    for lo, hi in _draw_blocks(J, P):
        pa = spec.p_alive_draws(draws[lo:hi], lay.px, lay.ptx, lay.pT)
        for i, j in enumerate(range(lo, hi)):  # summed in draw order
            row = j if keep_draws else 0
            d_j, s_j, f_j = _pattern_row(gd, j, pa[i], g)
            if mean_discounted:
                disc[0] += d_j
            else:
                disc[j] = d_j
            p0[row] += 1.0 - pa[i] + pa[i] * gd.q0[j][g]
            sec[row] += s_j
            fc2[row] += f_j
    if not keep_draws:
        p0, sec, fc2 = p0 / J, sec / J, fc2 / J
    return _CountDraws(disc / J if mean_discounted else disc, p0, sec, fc2)


def _group_quantities(spec: ModelSpec, draws: FloatArray, lay: _Layout, months: int, periods_per_month: float,
                      monthly_discount_rate: float, share: bool) -> _GroupDraws:
    """:func:`_group_draws`, from / for :data:`SHARED_GROUP_DRAWS` when ``share``."""
    args = (spec, draws, lay, months, periods_per_month, monthly_discount_rate)
    return SHARED_GROUP_DRAWS.get(*args) if share else _group_draws(*args)


def _pattern_row(gd: _GroupDraws, j: int, pa_j: FloatArray, g: np.ndarray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Draw ``j``'s (discounted, c^2 E[N^2], c^2 E[N]) per pattern from its P(alive) row and group quantities."""
    g_disc, m1, m2 = gd.discounted[j], gd.m1[j], gd.m2[j]
    c2 = np.where(m1 > 0, g_disc / np.where(m1 > 0, m1, 1.0), 1.0) ** 2
    return pa_j * g_disc[g], pa_j * (c2 * m2)[g], pa_j * (c2 * m1)[g]


#: the blocks of draws a streamed caller holds at once: (draws in a block) x patterns <= this many cells per array
_STREAM_CELLS = 4_000_000


def _draw_blocks(n_draws: int, n_patterns: int) -> list[tuple[int, int]]:
    """Contiguous (lo, hi) blocks of the draws with at most ``_STREAM_CELLS`` (draw, pattern) cells each (at least
    one draw per thread), so what the streamed segment path holds does not grow with customers x draws."""
    size = max(_core.THREADS, _STREAM_CELLS // max(n_patterns, 1), 1)
    return [(lo, min(lo + size, n_draws)) for lo in range(0, n_draws, size)]


def _streamed_rows(spec: ModelSpec, draws: FloatArray, lay: _Layout, gd: _GroupDraws
                   ) -> Callable[[int, int], tuple[FloatArray, FloatArray, FloatArray]]:
    """``block(lo, hi)``: draws lo..hi-1's (discounted, second, first_c2) rows per pattern, the rows
    ``_count_draws(..., keep_draws=True)`` holds for every draw at once (the same numbers: each row is computed
    from its own draw's P(alive) row and group quantities)."""

    def block(lo: int, hi: int) -> tuple[FloatArray, FloatArray, FloatArray]:
        pa = spec.p_alive_draws(draws[lo:hi], lay.px, lay.ptx, lay.pT)
        out = [np.empty(pa.shape) for _ in range(3)]
        for i in range(hi - lo):
            out[0][i], out[1][i], out[2][i] = _pattern_row(gd, lo + i, pa[i], lay.pat_to_grp)
        return out[0], out[1], out[2]

    return block


def _discounted_groups(spec: ModelSpec, d: FloatArray, lay: _Layout, months: int, periods_per_month: float,
                       monthly_discount_rate: float) -> FloatArray:
    """Per (x, T) group, sum_i (E[Y(i k) | alive] - E[Y((i-1) k) | alive]) / (1+d)^i for one parameter row."""
    at_zero = np.zeros(len(lay.gx)) if spec.name in _NONE_AT_ZERO else None
    return discounted_sum(lambda tm: spec.alive_expected_purchases(d, tm, lay.gx, lay.gT), months,
                          periods_per_month, monthly_discount_rate, at_zero)


#: models whose E[Y(0) | alive] is exactly 0.0 (BG-type: the 2F1 argument t / (alpha + T + t) is exactly 0, scipy's
#: hyp2f1 returns exactly 1 there and the power of (alpha + T) / (alpha + T) is 1): their discounted sums skip that
#: evaluation (cur - 0.0 == cur, the same sums; test_shared_draws checks the zeros)
_NONE_AT_ZERO = frozenset({"bgnbd", "mbgnbd"})


def _point_discounted(spec: ModelSpec, point: FloatArray, lay: _Layout, months: int, periods_per_month: float,
                      monthly_discount_rate: float) -> FloatArray:
    """``_count_draws(...).discounted[0]`` for the one row ``point`` (patterns), without the moments that only the
    intervals read."""
    pa = spec.p_alive_draws(point, lay.px, lay.ptx, lay.pT)[0]
    per_group = _discounted_groups(spec, point[0], lay, months, periods_per_month, monthly_discount_rate)
    return pa * per_group[lay.pat_to_grp]


def _spend_coefficients(gg_draws: FloatArray, xs: FloatArray) -> dict[str, FloatArray]:
    """Per distinct frequency, polynomial coefficients in the customer's mean spend m of the spend moments,
    averaged over the Gamma-Gamma draws (p, q, v):

    * E[z | x, m] = p (v + x m) / (p x + q - 1)            -> ``mean0 + mean1 m``
    * p^2 E[1/nu^2] = p^2 (v + x m)^2 / ((p x + q - 1)(p x + q - 2))  -> ``sq0 + sq1 m + sq2 m^2``
    * p E[1/nu^2]   = p (v + x m)^2 / ((p x + q - 1)(p x + q - 2))    -> ``one0 + one1 m + one2 m^2``

    (nu | x, m ~ Gamma(p x + q, v + x m); the second moments need p x + q > 2, else +inf.)
    Also per draw ``mean0_d`` / ``mean1_d`` (draws x frequencies) for the paired evaluation.
    """
    p, q, v = (gg_draws[:, i][:, None] for i in range(3))
    x = xs[None, :]
    a1 = p * x + q - 1.0
    a2 = p * x + q - 2.0
    with np.errstate(divide="ignore", invalid="ignore"):
        inv2 = np.where(a2 > 0, 1.0 / (a1 * a2), np.inf)
    mean0_d, mean1_d = p * v / a1, p * x / a1
    out = {"mean0_d": mean0_d, "mean1_d": mean1_d, "mean0": mean0_d.mean(axis=0), "mean1": mean1_d.mean(axis=0)}
    for name, f in (("sq", p**2 * inv2), ("one", p * inv2)):
        with np.errstate(invalid="ignore"):
            out[name + "0"] = (f * v**2).mean(axis=0)
            out[name + "1"] = (f * 2.0 * v * x).mean(axis=0)
            out[name + "2"] = (f * x**2).mean(axis=0)
        out[name + "0_d"], out[name + "1_d"], out[name + "2_d"] = f * v**2, f * 2.0 * v * x, f * x**2
    return out


def _gg_draws_usable(gg_fit: GammaGammaFit, n_draws: int, seed: int) -> FloatArray:
    """Gamma-Gamma parameter draws with a finite population mean spend (q > 1), recycled to ``n_draws``."""
    gg_draws = parameter_draws(gg_fit, ("p", "q", "v"), n_draws, seed)
    gg_ok = gg_draws[gg_draws[:, 1] > 1.0]
    if len(gg_ok) == len(gg_draws):
        return gg_draws
    return np.resize(gg_ok, gg_draws.shape) if len(gg_ok) else np.tile([gg_fit.p, gg_fit.q, gg_fit.v], (n_draws, 1))


def clv_intervals(
    model: str,
    fit: Any,
    gg_fit: GammaGammaFit,
    frequency: ArrayLike,
    recency: ArrayLike,
    T: ArrayLike,
    monetary_value: ArrayLike,
    *,
    months: int = 12,
    monthly_discount_rate: float = 0.01,
    margin: float = 1.0,
    periods_per_month: float = 30.0,
    level: float = DEFAULT_LEVEL,
    n_draws: int = DEFAULT_DRAWS,
    seed: int = 0,
    segments: ArrayLike | Sequence[ArrayLike] | None = None,
    actual: ArrayLike | None = None,
    per_customer: bool = True,
    expected: bool = True,
    share_draws: bool = False,
) -> ClvIntervals:
    """Discounted CLV (month-by-month, as :func:`customer_lifetime_value`) with the interval of its expectation
    over parameter draws and a predictive interval of the realised value (module docstring).

    CLV = margin x E[spend | x, m] x P(alive) x sum_i (E[Y(i k) | alive] - E[Y((i-1) k) | alive]) / (1+d)^i.
    ``actual`` (realised discounted values, e.g. on a holdout) adds them to the segment table with ``covered``.
    ``per_customer=False`` (with ``segments``: only the segment table is wanted) leaves the customers' point CLV and
    interval bounds NaN instead of computing them (with ``segments`` also ``p_zero`` and the Gamma's shape and
    scale, and the draws' per-pattern rows are made a block of draws at a time, :func:`_draw_blocks`: the memory
    does not grow with customers x draws); the segment table is the same. ``expected=False`` leaves the
    point CLV and the expected-CLV bounds NaN (a caller that reads only ``lower`` / ``upper``). ``share_draws``: the
    count draws' group quantities are left to, or taken from, the next / previous caller with the same inputs in
    this process (:class:`_SharedGroupDraws`); the numbers are the same either way.
    """
    spec = get_model(model)
    a = _check_level(level)
    if months < 1 or int(months) != months:
        raise ClvFitError("months must be a whole number >= 1")
    lay = _layout(frequency, recency, T)
    x = lay.px[lay.cust_to_pat]
    m = _as_1d_float(monetary_value, "monetary_value")
    if len(m) != len(x) or not np.isfinite(m).all() or (m < 0).any():
        raise ClvFitError("monetary_value must hold one finite, non-negative value per customer")
    draws = parameter_draws(fit, spec.parameters, n_draws, seed)
    gg_draws = _gg_draws_usable(gg_fit, n_draws, seed + 3)
    xs, ix = np.unique(x, return_inverse=True)
    sp = _spend_coefficients(gg_draws, xs)
    c2p = lay.cust_to_pat
    if segments is not None and not per_customer:  # the segment table only: the draws' rows a block at a time
        gd = _group_quantities(spec, draws, lay, months, periods_per_month, monthly_discount_rate, share_draws)
        nan = np.full(len(x), np.nan)
        out = ClvIntervals(level, nan, nan, nan, nan, nan, nan, nan, nan)
        out.segments = _clv_segments(segments, lay, ix, m, margin, len(draws), _streamed_rows(spec, draws, lay, gd),
                                     sp, level, seed, None if actual is None else _as_1d_float(actual, "actual"))
        return out
    expected = expected and per_customer
    cd = _count_draws(spec, draws, lay, months, periods_per_month, monthly_discount_rate, segments is not None,
                      share_draws, mean_discounted=not expected and segments is None)
    if expected:
        point = np.array(spec.values(fit))[None, :]
        pt = _point_discounted(spec, point, lay, months, periods_per_month, monthly_discount_rate)
        sp_point = _spend_coefficients(np.array([[gg_fit.p, gg_fit.q, gg_fit.v]]), xs)
        clv = margin * pt[c2p] * (sp_point["mean0"][ix] + sp_point["mean1"][ix] * m)
    else:
        clv = np.full(len(x), np.nan)
    e_lo, e_hi = _expected_clv_interval(cd, sp, c2p, ix, m, a) if expected else (np.full(len(x), np.nan),) * 2
    # predictive interval: mixture moments (count and spend draws independent) -> atom at 0 + Gamma
    p0 = cd.p_zero.mean(axis=0)[c2p]  # (one row unless kept per draw)
    m1 = margin * cd.discounted.mean(axis=0)[c2p] * (sp["mean0"][ix] + sp["mean1"][ix] * m)
    m2 = margin**2 * (cd.second.mean(axis=0)[c2p] * (sp["sq0"][ix] + sp["sq1"][ix] * m + sp["sq2"][ix] * m**2)
                      + cd.first_c2.mean(axis=0)[c2p] * (sp["one0"][ix] + sp["one1"][ix] * m + sp["one2"][ix] * m**2))
    shape, scale = _zero_inflated_gamma(p0, m1, m2)
    if per_customer:
        lower, upper = _zero_inflated_gamma_quantiles(p0, shape, scale, a)
    else:
        lower, upper = e_lo, e_hi
    out = ClvIntervals(level, clv, margin * e_lo, margin * e_hi, lower, upper, p0, shape, scale)
    if segments is not None:
        out.segments = _clv_segments(segments, lay, ix, m, margin, len(draws),
                                     lambda lo, hi: (cd.discounted[lo:hi], cd.second[lo:hi], cd.first_c2[lo:hi]),
                                     sp, level, seed, None if actual is None else _as_1d_float(actual, "actual"))
    return out


def _expected_clv_interval(cd: _CountDraws, sp: dict[str, FloatArray], c2p: np.ndarray, ix: np.ndarray,
                           m: FloatArray, a: float) -> tuple[FloatArray, FloatArray]:
    """Per customer, the parameter-only interval of the expected CLV (before the margin): quantiles over the
    paired draws, customers in chunks."""
    e_lo, e_hi = np.empty(len(m)), np.empty(len(m))
    step = max(1, _CELLS // cd.discounted.shape[0])
    for i in range(0, len(m), step):
        sl = slice(i, i + step)
        vals = cd.discounted[:, c2p[sl]] * (sp["mean0_d"][:, ix[sl]] + sp["mean1_d"][:, ix[sl]] * m[sl])
        e_lo[sl], e_hi[sl] = _quantiles_over_draws(vals, a)
    return e_lo, e_hi


def _zero_inflated_gamma(p0: FloatArray, m1: FloatArray, m2: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(shape, scale) of the Gamma that, with an atom ``p0`` at 0, has the mixture's first two moments
    ``m1``, ``m2``: conditional mean m1 / (1 - p0) and second moment m2 / (1 - p0). Customers without any
    chance of a purchase get shape = scale = 1 (unused: their interval is [0, 0]); an infinite second
    moment (Gamma-Gamma p x + q <= 2) gives scale = inf."""
    pos = np.maximum(1.0 - p0, 1e-300)
    live = (m1 > 0) & (p0 < 1.0)
    mean = np.where(live, m1 / pos, 1.0)
    var = np.where(live, np.maximum(m2 / pos - mean**2, 1e-12 * mean**2), 1.0)
    return mean**2 / var, var / mean


def _zero_inflated_gamma_quantiles(p0: FloatArray, shape: FloatArray, scale: FloatArray, a: float) -> tuple[FloatArray, FloatArray]:
    """Quantiles a and 1 - a of ``p0 * delta_0 + (1 - p0) * Gamma(shape, scale)``; the customers in halves on the
    draws' threads (elementwise: the same numbers on any thread count)."""
    lower, upper = np.empty(len(p0)), np.empty(len(p0))

    def part(rows: slice) -> None:
        lower[rows], upper[rows] = _zero_inflated_gamma_quantiles_of(p0[rows], shape[rows], scale[rows], a)

    map_draws(part, halves(len(p0)))
    return lower, upper


def _zero_inflated_gamma_quantiles_of(p0: FloatArray, shape: FloatArray, scale: FloatArray,
                                      a: float) -> tuple[FloatArray, FloatArray]:
    pos = np.maximum(1.0 - p0, 1e-300)
    out = []
    for u in (a, 1.0 - a):
        cond = np.clip((u - p0) / pos, 0.0, 1.0)
        with np.errstate(invalid="ignore", over="ignore"):
            qv = np.where(u <= p0, 0.0, scale * gammaincinv(shape, cond))
        out.append(np.where(p0 < 1.0, np.nan_to_num(qv, nan=np.inf), 0.0))
    return out[0], out[1]


def _clv_segments(
    segments: ArrayLike | Sequence[ArrayLike], lay: _Layout, ix: np.ndarray, m: FloatArray, margin: float, J: int,
    block_rows: Callable[[int, int], tuple[FloatArray, FloatArray, FloatArray]], sp: dict[str, FloatArray],
    level: float, seed: int, actual: FloatArray | None,
) -> pd.DataFrame:
    """Segment sums of the realised value: per paired draw (count draw j, spend draw j) the sum of the
    customers' conditional means and variances (customers independent given the parameters), then the
    normal mixture over draws as for counts; the segment sum of the expected value alone is in
    ``expected_lower`` / ``expected_upper`` (draw quantiles). ``block_rows(lo, hi)``: the count draws lo..hi-1's
    (discounted, second, first_c2) rows per pattern (:class:`_CountDraws`), asked for in :func:`_draw_blocks`."""
    codes, names = _segment_codes(segments, len(m))
    codes, S = _pack(codes), len(names)
    c2p = lay.cust_to_pat
    mu, var = np.empty((J, S)), np.empty((J, S))
    for lo, hi in _draw_blocks(J, len(lay.px)):
        disc, second, first_c2 = block_rows(lo, hi)

        def one_draw(j: int, lo: int = lo, disc: FloatArray = disc, second: FloatArray = second,
                     first_c2: FloatArray = first_c2) -> None:  # each draw writes its own rows: any thread count
            mean_spend = sp["mean0_d"][j, ix] + sp["mean1_d"][j, ix] * m
            e_r = margin * disc[j - lo, c2p] * mean_spend
            e_r2 = margin**2 * (second[j - lo, c2p] * (sp["sq0_d"][j, ix] + sp["sq1_d"][j, ix] * m + sp["sq2_d"][j, ix] * m**2)
                                + first_c2[j - lo, c2p] * (sp["one0_d"][j, ix] + sp["one1_d"][j, ix] * m + sp["one2_d"][j, ix] * m**2))
            mu[j] = _by_segment(codes, S, e_r)
            var[j] = _by_segment(codes, S, np.maximum(e_r2 - e_r**2, 0.0))

        map_draws(one_draw, list(range(lo, hi)))
        del disc, second, first_c2
    actual_sums = None if actual is None else _by_segment(codes, S, actual)
    frame = _segment_frame(names, _by_segment(codes, S).astype(np.int64), mu, var, level, seed, actual_sums)
    a = _check_level(level)
    frame.insert(3, "expected_lower", np.quantile(mu, a, axis=0))
    frame.insert(4, "expected_upper", np.quantile(mu, 1.0 - a, axis=0))
    return frame
