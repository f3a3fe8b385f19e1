"""Segment-sum intervals that carry model error, estimated on the fit's own holdout (issue 23).

The library's segment-sum interval (:func:`clvlayer.btyd.intervals.clv_intervals` with segments) carries the
uncertainty of one fit's parameters and the process noise of the customers' purchases, assuming the model is right.
With 10^4-10^5 buyers per segment the process noise averages out, and the interval is narrower than the error the
model itself makes (a few percent at 1M orders: the backtest's coverage was 0.51 for a target of 0.80).

Model error, estimated honestly: at a date, the same model is fitted on the data up to a holdout split before the
date (``calibration_*``: the RFM summary as of the split) and predicts the segment sums of what the buyers then made
up to the date, with the same interval; everything read lies on or before the date, never the actuals the interval
is then scored against.

:func:`widen` adds a relative model error ``s`` to each side of an interval in quadrature, as an independent normal
error with standard deviation ``s P`` (P the prediction, [L, U] the library's interval, z the normal (1 + level) / 2
quantile): ``P - sqrt((P - L)^2 + (z s P)^2)`` and ``P + sqrt((U - P)^2 + (z s P)^2)``, a lower end that was not
negative kept at 0 or above. Linear rather than log space: the lower end of a small segment's normal-mixture
interval can be 0 or below, where a log has no meaning; for s of a few percent the two agree.

:func:`segment_model_errors` is the ``s`` calibrated on the holdout's segment cells, per segment type
(DECISIONLOG "Segment intervals carry their segment type's model error"):

1. the shift every segment shares: ``c`` = |A / P - 1| of the holdout's 'overall' cell (the whole holdout's miss);
2. that shift taken out of every holdout cell (prediction and interval times A / P of the overall cell), each cell
   needs some further ``e`` to be held (0 when its interval already holds it, :func:`required_model_error`);
3. per segment type, ``s_type``: the ``level`` quantile of ``e`` over its own holdout cells, shrunk towards ``s0``
   (the same over the cells of every segment type fixed at the first purchase or customer attributes but 'overall')
   as if ``s0`` came from SHRINK_CELLS more cells, ``(n q + SHRINK_CELLS s0) / (n + SHRINK_CELLS)``; a type without
   holdout cells (loyalty, rfm_segment, cvm_stage, preferred_category) gets ``s0``, and so does 'overall' (its one
   cell is the shift of step 1, no further evidence). SHRINK_CELLS is 0: shrinking by
   2, 5 or 10 cells made the types cut on value (value tier, first order value band: their own error is the
   structural one) under-cover on every shop measured, without helping the others (docs/benchmarks.md);
4. a segment's interval is widened by ``s = sqrt(c^2 + s_type^2)``.

A quantile, not a likelihood: a few segment types the model gets structurally wrong (first_order_value_band,
residuals of 20-60%) would pull a normal-error fit of s up for every cell, and the target is the coverage itself; per
type, those types get their own wider error and the others keep theirs. The shared shift apart: on a big shop every
segment moves with it, and a quantile of cells would count it only in the big segments. The cells of a segment
type share customers with the other types' cells, so their number overstates the evidence.
One ``s`` per date and segment type (the holdout's length, clv_holdout_days) is applied to every horizon: the
relative error the 1M backtest showed is of the same size at 3, 6 and 12 months. Only the date's own holdout: pooling
the holdouts of earlier cut-offs (all ended by the date) was measured and covered worse (docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from clvlayer.btyd import ClvFitError

#: the columns of int_customers_rfm_backtest that hold a buyer's holdout as of the date -> the RFM names the fits read
CALIBRATION_COLUMNS: dict[str, str] = {
    "calibration_frequency": "frequency",
    "calibration_recency": "recency",
    "calibration_t": "t",
    "calibration_monetary_value": "monetary_value",
    "calibration_total_spend": "total_spend",
    "calibration_total_margin": "total_margin",
}

#: the segment types whose label as of the date is the buyer's label at the split too: fixed at the first purchase or
#: customer attributes. The others (loyalty, rfm_segment, cvm_stage, value_tier, preferred_category) are read from
#: purchases up to the date, the holdout's own among them: a buyer who bought in the holdout is 'active' or a higher
#: tier, so their holdout cells would measure that label's hindsight (residuals of 50-100% on the sample), not the
#: model's error.
HOLDOUT_SEGMENT_TYPES: tuple[str, ...] = ("overall", "acquisition_channel", "cohort_month", "region", "age_band",
                                          "first_category", "first_product", "first_order_discount",
                                          "first_order_value_band")
#: behaviour types whose label at the holdout split is in the holdout rows (calibration_<type>): their holdout cells
#: are labelled as the build would have labelled them then, not with the holdout's hindsight
SPLIT_LABELLED_TYPES: tuple[str, ...] = ("value_tier",)
#: the base error ``s0`` counts as this many holdout cells when a segment type's own error is shrunk towards it (0:
#: not shrunk, the measured choice; module docstring)
SHRINK_CELLS = 0

#: (calibration summary, holdout actual per buyer, holdout length) -> the holdout's segment cells (predicted_total,
#: predicted_lower, predicted_upper, actual_total)
SegmentSums = Callable[[pd.DataFrame, np.ndarray, float], pd.DataFrame]


def _z(level: float) -> float:
    return float(ndtri((1.0 + level) / 2.0))


def _holdout_labels(frame: pd.DataFrame) -> list[str]:
    """The columns segment_<type> of ``frame`` whose type is one of the HOLDOUT_SEGMENT_TYPES."""
    return [c for c in frame.columns if c.startswith("segment_") and c.removeprefix("segment_") in HOLDOUT_SEGMENT_TYPES]


def holdout_inputs(summary: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, float] | None:
    """From a date's rows of int_customers_rfm_backtest: the calibration RFM summary of the buyers who had bought by
    the split (with their labels of the HOLDOUT_SEGMENT_TYPES as of the date and of the SPLIT_LABELLED_TYPES as of
    the split), their holdout margin and the holdout's length in time units; None when the rows carry no holdout (no
    buyer before the split)."""
    if "calibration_frequency" not in summary.columns:
        return None
    rows = summary[summary["calibration_frequency"].notna()]
    if rows.empty:
        return None
    labels = _holdout_labels(rows)
    calibration = rows[["customer_id", *labels, *CALIBRATION_COLUMNS]].rename(columns=CALIBRATION_COLUMNS)
    for kind in SPLIT_LABELLED_TYPES:
        if f"calibration_{kind}" in rows.columns:
            calibration[f"segment_{kind}"] = rows[f"calibration_{kind}"]
    actual = rows["holdout_margin"].astype("Float64").fillna(0.0).to_numpy(float)
    return calibration.reset_index(drop=True), actual, float(rows["holdout_length"].iloc[0])


def _values(cells: pd.DataFrame, column: str) -> np.ndarray:
    return cells[column].astype("Float64").to_numpy(float, na_value=np.nan)


def _usable(cells: pd.DataFrame) -> np.ndarray:
    """The holdout cells with a positive prediction, an interval and an actual."""
    p, lo, hi, a = (_values(cells, c) for c in ("predicted_total", "predicted_lower", "predicted_upper", "actual_total"))
    return np.isfinite(p) & (p > 0) & np.isfinite(lo) & np.isfinite(hi) & np.isfinite(a)


def required_model_error(cells: pd.DataFrame, level: float) -> np.ndarray:
    """Per holdout segment cell with a positive prediction and an actual: the smallest relative model error ``s``
    with which :func:`widen` makes its interval hold the actual (0 for a cell the interval already holds)."""
    cells = cells[_usable(cells)]
    p, lo, hi, a = (_values(cells, c) for c in ("predicted_total", "predicted_lower", "predicted_upper", "actual_total"))
    short = np.where(a < p, (p - a) ** 2 - (p - lo) ** 2, (a - p) ** 2 - (hi - p) ** 2)
    return np.sqrt(np.maximum(short, 0.0)) / (_z(level) * p)


def relative_model_error(cells: pd.DataFrame, level: float) -> float:
    """The relative model error of holdout segment cells (prediction, interval, actual): the ``level`` quantile of
    the cells' :func:`required_model_error`, so that the widened interval holds the actual in ``level`` of the
    cells; 0 without cells."""
    needed = required_model_error(cells, level)
    return float(np.quantile(needed, level)) if len(needed) else 0.0


@dataclass(frozen=True)
class ModelErrors:
    """A date's relative model error per segment type (module docstring): the ``shared`` shift and the further
    error of each type's segments (``by_type``; ``base`` for a type without holdout cells)."""

    shared: float
    base: float
    by_type: dict[str, float]

    def of(self, segment_type: str) -> float:
        return float(np.hypot(self.shared, self.by_type.get(segment_type, self.base)))


def segment_model_errors(cells: pd.DataFrame, level: float) -> ModelErrors:
    """The relative model error per segment type of holdout segment cells (segment_type, prediction, interval,
    actual): the overall cell's miss shared by every segment, and per type the ``level`` quantile of what its cells
    need beyond that, shrunk towards the fixed types' (module docstring, steps 1-4)."""
    cells = cells[_usable(cells)]
    overall = cells[cells["segment_type"] == "overall"]
    ratio = float(overall["actual_total"].iloc[0] / overall["predicted_total"].iloc[0]) if len(overall) == 1 else 1.0
    shifted = cells.assign(**{c: cells[c] * ratio for c in ("predicted_total", "predicted_lower", "predicted_upper")})
    shifted = shifted[shifted["segment_type"] != "overall"]  # its one cell is the shift: no further evidence
    base = relative_model_error(shifted[shifted["segment_type"].isin(HOLDOUT_SEGMENT_TYPES)], level)
    by_type = {str(kind): (len(group) * relative_model_error(group, level) + SHRINK_CELLS * base)
               / (len(group) + SHRINK_CELLS) for kind, group in shifted.groupby("segment_type", sort=True)}
    return ModelErrors(shared=abs(ratio - 1.0), base=base, by_type=by_type)


def widen(rows: pd.DataFrame, s: float | np.ndarray | None, level: float) -> pd.DataFrame:
    """``rows`` (predicted_total, predicted_lower, predicted_upper) with the relative model error ``s`` (one for
    every row, or one per row; null: none) added to each side of the interval (module docstring); ``s`` = 0 leaves
    them as they are."""
    if s is None:
        return rows
    s = np.nan_to_num(np.broadcast_to(np.asarray(s, dtype=float), (len(rows),)))
    if not (s > 0).any():
        return rows
    out = rows.copy()
    p, lo, hi = (_values(out, c) for c in ("predicted_total", "predicted_lower", "predicted_upper"))
    extra = (_z(level) * s * p) ** 2
    out["predicted_lower"] = np.maximum(p - np.sqrt((p - lo) ** 2 + extra), np.minimum(lo, 0.0))
    out["predicted_upper"] = p + np.sqrt((hi - p) ** 2 + extra)
    return out


def widen_segments(rows: pd.DataFrame, errors: ModelErrors | None, level: float) -> pd.DataFrame:
    """Segment rows (segment_type, predicted_total, predicted_lower, predicted_upper) widened by their segment
    type's model error (:func:`widen`), which is kept in ``relative_model_error`` (null: no estimate, the library's
    interval)."""
    s = None if errors is None else np.array([errors.of(kind) for kind in rows["segment_type"]], dtype=float)
    out = widen(rows, s, level)
    out = out.copy() if out is rows else out
    out["relative_model_error"] = np.nan if s is None else s
    return out


def current_holdout_inputs(calibrated: pd.DataFrame, labelled: pd.DataFrame, length: float,
                           tiers: pd.DataFrame | None = None) -> tuple[pd.DataFrame, np.ndarray, float] | None:
    """The current date's holdout (the one the model choice is made on): int_customers_rfm_calibrated's RFM summary as
    of the split with the customers' labels of the HOLDOUT_SEGMENT_TYPES (int_customers_rfm_labelled, as of the
    date; a customer without one reads 'unknown') and of the SPLIT_LABELLED_TYPES at the split (``tiers``:
    int_customers_holdout_tiered, customer_id and calibration_<type>), their holdout spend and the holdout's
    ``length`` in time units; None without calibration customers. Spend, not margin: the calibrated summary holds no
    holdout margin, and a relative error does not see the constant margin rate the published CLV multiplies by."""
    if calibrated is None or calibrated.empty:
        return None
    calibrated = calibrated.rename(columns=str.lower)
    labels = _holdout_labels(labelled)
    rows = calibrated.merge(labelled[["customer_id", *labels]], on="customer_id", how="left", validate="one_to_one")
    split_labels = []
    if tiers is not None:
        tiers = tiers.rename(columns=str.lower)
        split_labels = [f"segment_{kind}" for kind in SPLIT_LABELLED_TYPES if f"calibration_{kind}" in tiers.columns]
        at_split = tiers.rename(columns={f"calibration_{kind}": f"segment_{kind}" for kind in SPLIT_LABELLED_TYPES})
        rows = rows.merge(at_split[["customer_id", *split_labels]], on="customer_id", how="left", validate="one_to_one")
    rows = rows.sort_values("customer_id", kind="stable").reset_index(drop=True)
    actual = rows["holdout_spend"].astype("Float64").fillna(0.0).to_numpy(float)
    return rows[["customer_id", *labels, *split_labels, *CALIBRATION_COLUMNS.values()]], actual, float(length)


def holdout_model_errors(inputs: tuple[pd.DataFrame, np.ndarray, float] | None, level: float,
                         sums: SegmentSums) -> ModelErrors | None:
    """The relative model error per segment type of one date: ``sums(*inputs)`` (the caller's fit on the calibration
    summary and its segment sums over the holdout, scored against the actual of ``inputs``: :func:`holdout_inputs`,
    :func:`current_holdout_inputs`) read by :func:`segment_model_errors`; None (no estimate: the interval stays as
    the library gives it) without a holdout or when its fit fails."""
    if inputs is None:
        return None
    try:
        return segment_model_errors(sums(*inputs), level)
    except ClvFitError:
        return None
