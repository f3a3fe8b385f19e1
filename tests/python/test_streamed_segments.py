"""The segment-only CLV path (clv_intervals with segments and per_customer=False, as int_segments_clv_intervals and
the backtest call it) makes the draws' per-pattern rows a block of draws at a time (clvlayer.btyd.intervals.
_draw_blocks), so its memory does not grow with customers x draws: its segment table must be the one the
all-draws path (per_customer=True, every draw's rows held at once) gives, to the last bit, for any block size."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
import btyd_oracles as oracle  # noqa: E402

from clvlayer.btyd import clv_intervals, fit_gamma_gamma, get_model  # noqa: E402
from clvlayer.btyd import intervals  # noqa: E402

TRUTH = {"bgnbd": (0.243, 4.414, 0.793, 2.426), "paretonbd": (0.55, 10.58, 0.61, 11.67)}
ARGS = dict(months=5, periods_per_month=4.345, monthly_discount_rate=0.01, n_draws=7, margin=0.4)


@pytest.fixture(scope="module", params=["bgnbd", "paretonbd"])
def data(request):
    model = request.param
    x, tx, T, m, _ = oracle.simulate_value(model, 900, 10, TRUTH[model], (6.25, 3.74, 15.44), 5, 4.345, 0.01)
    kinds = [np.where(x > 2, "freq\x1fhi", "freq\x1flo"), np.array([f"id\x1f{i % 4}" for i in range(len(x))])]
    return model, x, tx, T, m, kinds, get_model(model).fit(x, tx, T), fit_gamma_gamma(x, m)


@pytest.mark.parametrize("cells", [1, 100, 10**9])  # one draw per block (threads: at least THREADS), a few, all
def test_streamed_segment_table_is_the_all_draws_table(data, cells, monkeypatch):
    model, x, tx, T, m, kinds, fit, gg = data
    actual = np.random.default_rng(5).gamma(1.0, 20.0, len(x))
    reference = clv_intervals(model, fit, gg, x, tx, T, m, segments=kinds, actual=actual, **ARGS)
    monkeypatch.setattr(intervals, "_STREAM_CELLS", cells)
    blocks = intervals._draw_blocks(ARGS["n_draws"], len(np.unique(np.c_[x, tx, T], axis=0)))
    assert (len(blocks) > 1) == (cells < 10**9)
    streamed = clv_intervals(model, fit, gg, x, tx, T, m, segments=kinds, actual=actual, per_customer=False, **ARGS)
    pd.testing.assert_frame_equal(streamed.segments, reference.segments, check_exact=True)
    assert np.isnan(streamed.p_zero).all() and np.isnan(streamed.lower).all()  # not computed on this path


def test_draw_blocks_cover_the_draws_in_order(monkeypatch):
    monkeypatch.setattr(intervals, "_STREAM_CELLS", 1000)
    blocks = intervals._draw_blocks(30, 300)
    assert [lo for lo, _ in blocks] == list(range(0, 30, max(intervals._core.THREADS, 3)))
    assert blocks[-1][1] == 30 and all(hi == lo2 for (_, hi), (lo2, _) in zip(blocks, blocks[1:]))


@pytest.mark.parametrize("cells", [1, 10**9])
def test_scoring_without_the_expected_bounds_sums_the_draws_as_the_mean_does(data, cells, monkeypatch):
    """The scoring call (expected=False) keeps only the running sum of the draws' discounted rows: its bounds are
    those of the call that holds every draw's rows and takes their mean (expected=True), to the last bit."""
    model, x, tx, T, m, _, fit, gg = data
    reference = clv_intervals(model, fit, gg, x, tx, T, m, **ARGS)
    monkeypatch.setattr(intervals, "_STREAM_CELLS", cells)
    scored = clv_intervals(model, fit, gg, x, tx, T, m, expected=False, **ARGS)
    for name in ("lower", "upper", "p_zero", "gamma_shape", "gamma_scale"):
        np.testing.assert_array_equal(getattr(scored, name), getattr(reference, name))


def test_purchase_intervals_e_draw_is_p_alive_times_the_alive_mean(data):
    """purchase_intervals keeps E[Y | data, draw] as its two factors (P(alive) per pattern and draw, E[Y | alive] per
    group and draw) and multiplies them on first use: the product the draws' own functions give, to the last bit."""
    from clvlayer.btyd import purchase_intervals

    model, x, tx, T, _, _, fit, _ = data
    spec = get_model(model)
    counts = purchase_intervals(model, fit, 13.0, x, tx, T, n_draws=6)
    draws = intervals.parameter_draws(fit, spec.parameters, 6, 0)
    lay = intervals._layout(x, tx, T)
    own = spec.p_alive_draws(draws, lay.px, lay.ptx, lay.pT) * np.stack(
        [spec.alive_expected_purchases(d, 13.0, lay.gx, lay.gT) for d in draws])[:, lay.pat_to_grp]
    np.testing.assert_array_equal(counts.e_draw, own)
    np.testing.assert_array_equal(counts.expected, own.mean(axis=0)[lay.cust_to_pat])


def test_segment_labels_as_categoricals_give_the_object_labels_table(data):
    """backtest._partitions hands each segment type's labels over as a Categorical (sorted categories, coded once):
    its segment codes, names and table are those of the same labels as a string per customer, missing -> 'unknown'."""
    from clvlayer.backtest import _partitions

    model, x, tx, T, m, _, fit, gg = data
    rng = np.random.default_rng(7)
    frame = pd.DataFrame({"segment_b": np.array(["é", "Z", "", None, "alpha", "beta"], dtype=object)[
        rng.integers(0, 6, len(x))], "segment_a": np.where(x > 1, "hi", "lo")})
    cats = _partitions(frame, ["b", "a"])
    strings = [np.array([f"b\x1f{'unknown' if pd.isna(v) else v}" for v in frame["segment_b"]], dtype=object),
               np.array([f"a\x1f{v}" for v in frame["segment_a"]], dtype=object)]
    assert all(isinstance(c, pd.Categorical) for c in cats)
    assert [list(np.asarray(c)) for c in cats] == [list(s) for s in strings]
    codes, names = intervals._segment_codes(cats, len(x))
    ref_codes, ref_names = intervals._segment_codes(strings, len(x))
    assert list(names) == list(ref_names) and all(np.array_equal(a, b) for a, b in zip(codes, ref_codes))
    args = dict(per_customer=False, **ARGS)
    pd.testing.assert_frame_equal(clv_intervals(model, fit, gg, x, tx, T, m, segments=cats, **args).segments,
                                  clv_intervals(model, fit, gg, x, tx, T, m, segments=strings, **args).segments,
                                  check_exact=True)


@pytest.mark.parametrize("model", ["bgnbd", "mbgnbd"])
def test_p_alive_draws_on_threads_are_the_rows_computed_one_by_one(data, model, monkeypatch):
    """ModelSpec.p_alive_draws computes the draws' rows on the draws' threads: each row is p_alive of its draw."""
    from clvlayer.btyd import _core

    _, x, tx, T, _, _, _, _ = data
    spec = get_model(model)
    draws = np.array([[0.24, 4.4, 0.79, 2.4], [0.3, 5.0, 0.5, 3.0], [0.2, 3.9, 1.1, 2.0]])
    monkeypatch.setattr(_core, "THREADS", 2)
    rows = spec.p_alive_draws(draws, x, tx, T)
    np.testing.assert_array_equal(rows, np.stack([spec.p_alive(d, x, tx, T) for d in draws]))


def test_the_gamma_quantiles_in_halves_are_those_of_the_whole(monkeypatch):
    """The customers' zero-inflated Gamma quantiles, computed in halves on two threads, equal one pass over all."""
    from clvlayer.btyd import _core

    rng = np.random.default_rng(11)
    p0, shape, scale = rng.uniform(0, 1, 10_001), rng.gamma(2.0, 1.0, 10_001), rng.gamma(2.0, 30.0, 10_001)
    p0[:50] = 1.0
    monkeypatch.setattr(_core, "THREADS", 2)
    halves = intervals._zero_inflated_gamma_quantiles(p0, shape, scale, 0.1)
    whole = intervals._zero_inflated_gamma_quantiles_of(p0, shape, scale, 0.1)
    for one, two in zip(halves, whole, strict=True):
        np.testing.assert_array_equal(one, two)


@pytest.mark.parametrize("rows", ["none", "a column all null", "values"])
def test_segmented_frame_reads_the_labels_plain_df_reads(rows):
    """backtest.segmented_frame (segment columns as ENUM -> Categorical) gives the partitions a plain .df() gives,
    also with no rows and with a segment column that holds only NULLs (left VARCHAR: no ENUM of nothing)."""
    import duckdb

    from clvlayer.backtest import _partitions, segmented_frame

    body = {"none": "select * from v where false",
            "a column all null": "select customer_id, segment_x, null::varchar as segment_y from v",
            "values": "select * from v"}[rows]
    con = duckdb.connect()
    con.execute("create view v as select * from (values ('C2', 'b', 'it''s'), ('C1', null, 'x'), ('C3', 'a', ''),"
                " ('C4', 'unknown', null)) t(customer_id, segment_x, segment_y)")
    read, plain = segmented_frame(con.sql(body), "customer_id"), con.sql(body + " order by customer_id").df()
    assert list(read["customer_id"]) == list(plain["customer_id"])
    for one, two in zip(_partitions(read, ["x", "y"]), _partitions(plain, ["x", "y"]), strict=True):
        assert list(map(str, one)) == list(map(str, two)) and list(one.categories) == list(two.categories)


@pytest.mark.parametrize("max_cells", [1, 12, 4096])  # one partition per pack, some packs, all in one
def test_packed_segment_sums_are_the_per_partition_sums(max_cells):
    """The segment sums by packs of partitions crossed into cells (one bincount per pack, then the cells into their
    segments) are the per-partition bincounts: the counts exactly, the weighted sums to float rounding (another
    order of the same additions); no pack holds more than max_cells cells (checked to fail with a wrong cell
    stride)."""
    rng = np.random.default_rng(5)
    sizes = [1, 6, 3, 5, 2]  # partitions of 5,000 customers; segment indices of all partitions, as _segment_codes
    offsets = np.cumsum([0, *sizes[:-1]])
    codes = [rng.integers(0, size, 5_000) + offset for size, offset in zip(sizes, offsets)]
    codes[2][codes[2] == offsets[2] + 1] = offsets[2]  # a segment of no customer
    weights = rng.gamma(2.0, 10.0, 5_000)
    packs = intervals._pack(codes, max_cells)
    assert all(pack.n_cells <= max(max_cells, 6) for pack in packs)
    assert len(packs) == {1: 5, 12: 2, 4096: 1}[max_cells]  # 12: (1, 6, 2 present) and (5, 2)
    S = sum(sizes)
    want_counts = sum(np.bincount(c, minlength=S) for c in codes)
    want = sum(np.bincount(c, weights=weights, minlength=S) for c in codes)
    np.testing.assert_array_equal(intervals._by_segment(packs, S), want_counts)
    np.testing.assert_allclose(intervals._by_segment(packs, S, weights), want, rtol=1e-13, atol=0)


@pytest.mark.parametrize("n", [0, 1, 5_000])
def test_unique_codes_is_numpys_unique_with_inverse(n):
    """clvlayer.btyd.unique_codes (a table over the code range, no sort; the segment codes of the partitions and of
    backtest._value_codes) gives np.unique(codes, return_inverse=True): the codes present ascending, the inverse."""
    from clvlayer.btyd import unique_codes

    codes = np.random.default_rng(n).integers(0, 9, n) * 3 + 1  # gaps: codes 0, 2, 3, 5, ... never present
    want, got = np.unique(codes, return_inverse=True), unique_codes(codes)
    for one, two in zip(got, want, strict=True):
        np.testing.assert_array_equal(one, two)
        assert one.dtype == two.dtype
