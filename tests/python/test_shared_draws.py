"""int_customers_clv_predicted and int_segments_clv_intervals share the chosen model's count draws in one process
(clvlayer.btyd.intervals._SharedGroupDraws): the second caller with the same inputs reuses the first one's group
quantities, and its numbers are those it would compute itself; other inputs are never served from the slot.
Also the count tables' column-by-column cumulative sums (clvlayer.btyd._predict.cumsum_rows)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import btyd_oracles as oracle  # noqa: E402

from clvlayer.btyd import bgnbd, clv_intervals, fit_gamma_gamma  # noqa: E402
from clvlayer.btyd import intervals  # noqa: E402
from clvlayer.btyd._predict import cumsum_rows  # noqa: E402

BG = (0.243, 4.414, 0.793, 2.426)
ARGS = dict(months=6, periods_per_month=4.345, monthly_discount_rate=0.01, n_draws=8)


@pytest.fixture(scope="module")
def data():
    x, tx, T, _ = oracle.simulate_bg(600, 5, *BG, 1.0)
    m = np.where(x > 0, np.random.default_rng(3).gamma(6.0, 5.0, len(x)), 0.0)
    kinds = [np.where(x > 2, "freq\x1fhi", "freq\x1flo"), np.array([f"id\x1f{i % 3}" for i in range(len(x))])]
    return x, tx, T, m, kinds, bgnbd.fit_bgnbd(x, tx, T), fit_gamma_gamma(x, m)


@pytest.fixture()
def slot(monkeypatch):
    shared = intervals._SharedGroupDraws()
    monkeypatch.setattr(intervals, "SHARED_GROUP_DRAWS", shared)
    return shared


def _score_then_segments(data, T_segments=None, **segment_args):
    """The scoring call (per customer, shared) and then the segment call (shared), as the two models make them."""
    x, tx, T, m, kinds, bg, gg = data
    scored = clv_intervals("bgnbd", bg, gg, x, tx, T, m, expected=False, share_draws=True, **ARGS)
    T2 = T if T_segments is None else T_segments
    segments = clv_intervals("bgnbd", bg, gg, x, tx, T2, m, segments=kinds, per_customer=False, share_draws=True,
                             **{**ARGS, **segment_args})
    return scored, segments


def _alone(data, T=None, **segment_args):
    x, tx, T0, m, kinds, bg, gg = data
    return clv_intervals("bgnbd", bg, gg, x, tx, T0 if T is None else T, m, segments=kinds, per_customer=False,
                         **{**ARGS, **segment_args})


def test_the_segment_call_reuses_the_scoring_draws_and_gets_its_own_numbers(data, slot):
    scored, segments = _score_then_segments(data)
    assert (slot.computed, slot.reused) == (1, 1)
    pd.testing.assert_frame_equal(segments.segments, _alone(data).segments, check_exact=True)
    x, tx, T, m, _, bg, gg = data
    own = clv_intervals("bgnbd", bg, gg, x, tx, T, m, **ARGS)  # the scoring numbers without sharing
    np.testing.assert_array_equal(scored.lower, own.lower)
    np.testing.assert_array_equal(scored.upper, own.upper)
    assert np.isnan(scored.clv).all() and np.isnan(scored.expected_lower).all()  # expected=False: not computed
    # a hit empties the slot: the next caller computes again
    _score_then_segments(data)
    assert (slot.computed, slot.reused) == (2, 2)


@pytest.mark.parametrize("change", ["T", "months", "discount", "draws"])
def test_other_inputs_are_not_served_from_the_slot(data, slot, change):
    """A segment call whose groups, horizon, discount or draws differ from the scoring call's computes its own."""
    T = data[2]
    later = T + 1.0 / 7.0  # every customer a day older (the next night): the same frequencies, other T
    args = {"T": ({}, later), "months": ({"months": 7}, None), "discount": ({"monthly_discount_rate": 0.02}, None),
            "draws": ({"n_draws": 9}, None)}[change]
    _, segments = _score_then_segments(data, T_segments=args[1], **args[0])
    assert (slot.computed, slot.reused) == (2, 0)
    pd.testing.assert_frame_equal(segments.segments, _alone(data, T=args[1], **args[0]).segments, check_exact=True)


def test_shared_group_quantities_are_read_only(data, slot):
    x, tx, T, m, _, bg, gg = data
    clv_intervals("bgnbd", bg, gg, x, tx, T, m, expected=False, share_draws=True, **ARGS)
    assert slot._value is not None
    with pytest.raises(ValueError):
        slot._value.discounted[0, 0] = 1.0


@pytest.mark.parametrize("shape", [(5000, 4), (300, 5), (40, 200), (1, 1), (3, 0), (700, 2)])
def test_cumsum_rows_is_numpys_cumsum_to_the_last_bit(shape):
    values = np.random.default_rng(8).gamma(0.5, 1e-3, shape) * 10.0 ** np.random.default_rng(9).integers(-8, 8, shape)
    np.testing.assert_array_equal(cumsum_rows(values), np.cumsum(values, axis=1))
    out = np.empty((shape[0], 2, shape[1]))[:, 1, :]  # a strided view, as the count tables pass
    cumsum_rows(values, out=out)
    np.testing.assert_array_equal(out, np.cumsum(values, axis=1))


@pytest.mark.parametrize("model", sorted(intervals._NONE_AT_ZERO))
def test_models_that_skip_the_discounted_sums_first_term_have_exactly_zero_there(model):
    """The discounted sums of these models start from C(0) = 0.0 without evaluating it: it must be exactly 0.0 for
    any draw and group (else the sums would differ in the last bit)."""
    from clvlayer.btyd import get_model

    rng = np.random.default_rng(11)
    gx, gT = rng.integers(0, 300, 2000).astype(float), np.r_[0.0, rng.uniform(0.0, 2000.0, 1999)]
    for params in np.exp(rng.normal(np.log([0.5, 30.0, 0.8, 2.5]), 1.5, (40, 4))):
        values = get_model(model).alive_expected_purchases(params, 0.0, gx, gT)
        assert (values == 0.0).all(), params
