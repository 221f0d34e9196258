"""cross_entropy_gradient_hessian and binary_cross_entropy_gradient_hessian
against scikit-learn's HalfMultinomialLoss / HalfBinomialLoss (skipped
without it), the reference ``fastsoftmax.slow`` and finite differences of
``cross_entropy(reduction="none")``: dtypes, sample weights, class axes,
layouts, out= arrays, special values and thread counts (bitwise)."""
from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import LAYOUTS, WRITABLE_LAYOUTS, assert_matches_reference, assert_same, \
    make_base, with_layout

inf, nan = np.inf, np.nan
FLOATS = (np.float64, np.float32)
# rows of 1..FSM_SLANES classes take the short-row path; longer ones the online pass
SHAPES = [(1, 1), (7, 2), (9, 5), (33, 8), (20, 16), (6, 17), (11, 100), (3, 5000),
          (2, 40000)]
TOL = {np.dtype(np.float64): (1e-13, 1e-15), np.dtype(np.float32): (2e-6, 2e-7)}


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _problem(shape, dtype, seed, scale=3.0, weights=True):
    rng = _rng("gh", shape, np.dtype(dtype).name, seed)
    x = (scale * rng.standard_normal(shape)).astype(dtype)
    y = rng.integers(0, shape[-1], shape[:-1]).astype(np.float64)
    w = rng.uniform(0.0, 2.0, shape[:-1]) if weights else None
    return x, y, w


def _sklearn():
    return pytest.importorskip("sklearn._loss.loss")


# ------------------------------------------------------------ scikit-learn parity

@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_multinomial_matches_sklearn(shape, dtype, weighted):
    loss = _sklearn()
    if shape[1] == 1:
        pytest.skip("scikit-learn cannot dispatch (n, 1) predictions (C and F contiguous)")
    x, y, w = _problem(shape, dtype, 0, weights=weighted)
    dt = np.dtype(dtype)
    # scikit-learn takes labels and weights of the predictions' dtype
    want_g, want_h = loss.HalfMultinomialLoss(n_classes=shape[1]).gradient_hessian(
        y.astype(dt), x, None if w is None else w.astype(dt))
    g, h = fs.cross_entropy_gradient_hessian(x, y, sample_weight=w)
    rtol, atol = TOL[dt]
    assert g.dtype == h.dtype == dt and g.shape == h.shape == shape
    np.testing.assert_allclose(g, want_g, rtol=rtol, atol=atol)
    np.testing.assert_allclose(h, want_h, rtol=rtol, atol=atol)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("scale", [1.0, 30.0])
def test_binomial_matches_sklearn(scale, dtype, weighted):
    loss = _sklearn()
    rng = _rng("bgh", scale, np.dtype(dtype).name, weighted)
    dt = np.dtype(dtype)
    x = (scale * rng.standard_normal(3001)).astype(dt)
    y = rng.random(3001).astype(dt)
    y[::3] = np.round(y[::3])
    w = rng.uniform(0, 2, 3001).astype(dt) if weighted else None
    want_g, want_h = loss.HalfBinomialLoss().gradient_hessian(y, x, w)
    g, h = fs.binary_cross_entropy_gradient_hessian(x, y, sample_weight=w)
    rtol, atol = TOL[dt]
    assert g.dtype == h.dtype == dt
    np.testing.assert_allclose(g, want_g, rtol=rtol, atol=atol)
    # the hessian has full relative precision down to the tiniest values
    np.testing.assert_allclose(h, want_h, rtol=rtol * 10, atol=0)


def test_binomial_column_predictions_take_flat_targets():
    loss = _sklearn()
    x = make_base((50, 1), seed=3, scale=4.0)
    y = (_rng("col").random(50) < 0.5).astype(np.float64)
    g, h = fs.binary_cross_entropy_gradient_hessian(x, y)
    want_g, want_h = loss.HalfBinomialLoss().gradient_hessian(y, x[:, 0])
    assert g.shape == (50, 1)
    np.testing.assert_allclose(g[:, 0], want_g, rtol=1e-13, atol=1e-16)
    np.testing.assert_allclose(h[:, 0], want_h, rtol=1e-13, atol=0)


# ------------------------------------------------------------ the reference, layouts, axes

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_multinomial_matches_reference(shape, dtype):
    x, y, w = _problem(shape, dtype, 1)
    got = fs.cross_entropy_gradient_hessian(x, y, sample_weight=w)
    want = slow.cross_entropy_gradient_hessian(x, y, sample_weight=w)
    rtol, atol = TOL[np.dtype(dtype)]
    for a, b in zip(got, want):
        assert_matches_reference(a, b, rtol=rtol, atol=atol)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("shape", [(9, 5), (11, 100)], ids=str)
def test_multinomial_layouts_are_bitwise_the_contiguous_answer(shape, layout):
    x, y, w = _problem(shape, np.float32, 2)
    want = fs.cross_entropy_gradient_hessian(x, y, sample_weight=w)
    got = fs.cross_entropy_gradient_hessian(with_layout(x, layout), with_layout(y, layout),
                                            sample_weight=with_layout(w, layout))
    for a, b in zip(got, want):
        assert_same(a, b.astype(a.dtype))


@pytest.mark.parametrize("axis", [0, 1, -3])
def test_multinomial_class_axis(axis):
    x = make_base((4, 6, 5), seed=4, scale=2.0)
    c = x.shape[axis]
    batch = tuple(n for k, n in enumerate(x.shape) if k != axis % 3)
    y = _rng("axis", axis).integers(0, c, batch)
    w = _rng("axisw", axis).random(batch)
    g, h = fs.cross_entropy_gradient_hessian(x, y, sample_weight=w, axis=axis)
    xl = np.moveaxis(x, axis, -1)
    gl, hl = fs.cross_entropy_gradient_hessian(np.ascontiguousarray(xl), y, sample_weight=w)
    assert_same(g, np.moveaxis(gl, -1, axis))
    assert_same(h, np.moveaxis(hl, -1, axis))


@pytest.mark.parametrize("dtype", FLOATS)
def test_float16_and_integer_inputs(dtype):
    x = make_base((8, 7), seed=5).astype(np.float16)
    y = np.arange(8) % 7
    g, h = fs.cross_entropy_gradient_hessian(x, y)
    assert g.dtype == h.dtype == np.float16
    g32, h32 = fs.cross_entropy_gradient_hessian(x.astype(np.float32), y)
    assert_same(g, g32.astype(np.float16))
    assert_same(h, h32.astype(np.float16))
    xi = np.arange(12).reshape(3, 4) % 5
    gi, hi = fs.cross_entropy_gradient_hessian(xi, np.array([0, 1, 3]))
    assert gi.dtype == np.float64
    assert_same(gi, fs.cross_entropy_gradient_hessian(xi.astype(np.float64),
                                                      np.array([0, 1, 3]))[0])


@pytest.mark.parametrize("layout", WRITABLE_LAYOUTS)
@pytest.mark.parametrize("shape", [(9, 5), (11, 100)], ids=str)
def test_out_arrays_are_filled_and_returned(shape, layout):
    x, y, w = _problem(shape, np.float64, 6)
    want = fs.cross_entropy_gradient_hessian(x, y, sample_weight=w)
    go = with_layout(np.zeros(shape), layout)
    ho = with_layout(np.zeros(shape), layout)
    g, h = fs.cross_entropy_gradient_hessian(x, y, sample_weight=w, gradient_out=go,
                                             hessian_out=ho)
    assert g is go and h is ho
    assert_same(g, want[0])
    assert_same(h, want[1])
    xb = make_base((40,), seed=7, scale=5.0)
    yb = (_rng("b-out").random(40) < 0.5).astype(np.float64)
    wb = fs.binary_cross_entropy_gradient_hessian(xb, yb)
    go, ho = with_layout(np.zeros(40), layout), with_layout(np.zeros(40), layout)
    g, h = fs.binary_cross_entropy_gradient_hessian(xb, yb, gradient_out=go, hessian_out=ho)
    assert g is go and h is ho
    assert_same(g, wb[0])
    assert_same(h, wb[1])


def test_out_arrays_that_overlap_are_refused():
    x, y, _ = _problem((6, 5), np.float64, 8)
    buf = np.zeros((2, 6, 5))
    with pytest.raises(ValueError, match="gradient_out and hessian_out must not share memory"):
        fs.cross_entropy_gradient_hessian(x, y, gradient_out=buf[0], hessian_out=buf[0])
    with pytest.raises(ValueError, match="gradient_out must not share memory with "
                                         "raw_prediction"):
        fs.cross_entropy_gradient_hessian(x, y, gradient_out=x)
    # interleaved but disjoint views are fine
    big = np.zeros((6, 10))
    g, h = fs.cross_entropy_gradient_hessian(x, y, gradient_out=big[:, ::2],
                                             hessian_out=big[:, 1::2])
    assert_same(g, fs.cross_entropy_gradient_hessian(x, y)[0])


# ------------------------------------------------------------ special values

def test_special_values():
    x = np.array([[0.0, 1.0, 2.0], [nan, 0.0, 1.0], [inf, 0.0, 1.0], [-inf, -inf, -inf],
                  [-inf, 0.0, 0.0], [1e300, 1e300, -1e300]])
    y = np.array([2, 0, 0, 1, 0, 1])
    g, h = fs.cross_entropy_gradient_hessian(x, y)
    want = slow.cross_entropy_gradient_hessian(x, y)
    assert_matches_reference(g, want[0], rtol=1e-14, atol=1e-16)
    assert_matches_reference(h, want[1], rtol=1e-14, atol=1e-16)
    assert np.isnan(g[1:4]).all() and np.isnan(h[1:4]).all()
    np.testing.assert_array_equal(g[4], [-1.0, 0.5, 0.5])
    np.testing.assert_array_equal(g[5], [0.5, -0.5, 0.0])
    xb = np.array([nan, inf, -inf, 800.0, -800.0, 0.0, -0.0])
    yb = np.array([1.0, 0.25, 0.25, 1.0, 1.0, 0.5, 0.5])
    g, h = fs.binary_cross_entropy_gradient_hessian(xb, yb)
    assert np.isnan(g[0]) and np.isnan(h[0])
    np.testing.assert_array_equal(g[1:], [0.75, -0.25, 0.0, -1.0, 0.0, 0.0])
    np.testing.assert_array_equal(h[1:], [0.0, 0.0, 0.0, 0.0, 0.25, 0.25])


def test_labels_as_floats_are_checked():
    x = make_base((3, 4))
    for bad, exc, msg in [(np.array([0.0, 1.5, 2.0]), ValueError, r"target\[1\] = 1.5 is not "
                           r"a class label: labels must be integers in \[0, 4\)"),
                          (np.array([0.0, nan, 2.0]), ValueError, r"target\[1\] = nan"),
                          (np.array([0.0, 4.0, 2.0]), IndexError, r"target\[1\] = 4.0 is not "
                           r"a class index in \[0, 4\)"),
                          (np.array([0, -1, 2]), IndexError, r"target\[1\] = -1")]:
        with pytest.raises(exc, match=msg):
            fs.cross_entropy_gradient_hessian(x, bad)
    g, _ = fs.cross_entropy_gradient_hessian(x, np.array([0.0, 3.0, 2.0], np.float32))
    assert_same(g, fs.cross_entropy_gradient_hessian(x, np.array([0, 3, 2]))[0])



# the kernel finds a bad binary target in its pass: the first one anywhere
# (the first element, a vector's tail lanes, a later chunk of a threaded call)
@pytest.mark.parametrize("num_threads", [1, 2])
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("n, positions", [(1, [0]), (13, [12]), (13, [5, 12]),
                                          (300001, [300000]), (300001, [170000, 299999])])
@pytest.mark.parametrize("value", [1.5, -1e-30, nan, inf, 1.0000001])
def test_binary_targets_outside_0_1_name_the_first(n, positions, value, dtype, num_threads):
    x = make_base((n,), dtype)
    t = np.linspace(0.0, 1.0, n)
    if value == 1.0000001 and dtype == np.float32:
        value = float(np.nextafter(np.float32(1), np.float32(2)))
    t[positions] = value
    tt = t.astype(dtype)
    shown = re.escape(f"{tt[positions[0]]}")
    with pytest.raises(ValueError, match=rf"got {shown} \(element {positions[0]}\)"):
        fs.binary_cross_entropy_gradient_hessian(x, tt, num_threads=num_threads)
    t[positions] = [1.0] * len(positions)   # the limits themselves are targets
    g, h = fs.binary_cross_entropy_gradient_hessian(x, t.astype(dtype), num_threads=num_threads)
    assert np.isfinite(g).all() and np.isfinite(h).all()

# ------------------------------------------------------------ derivatives

def test_gradient_is_the_derivative_of_cross_entropy():
    """Central differences of the weighted per-sample loss, and of its
    gradient for the hessian's diagonal."""
    x, y, w = _problem((5, 7), np.float64, 9, scale=1.5)
    yi = y.astype(np.int64)
    g, h = fs.cross_entropy_gradient_hessian(x, y, sample_weight=w)
    eps = 1e-6
    for i in range(5):
        for c in range(7):
            xp, xm = x.copy(), x.copy()
            xp[i, c] += eps
            xm[i, c] -= eps
            lp = fs.cross_entropy(xp, yi, reduction="none")[i] * w[i]
            lm = fs.cross_entropy(xm, yi, reduction="none")[i] * w[i]
            assert abs((lp - lm) / (2 * eps) - g[i, c]) < 1e-8
            gp = fs.cross_entropy_gradient_hessian(xp, y, sample_weight=w)[0][i, c]
            gm = fs.cross_entropy_gradient_hessian(xm, y, sample_weight=w)[0][i, c]
            assert abs((gp - gm) / (2 * eps) - h[i, c]) < 1e-7


def test_binary_gradient_is_the_derivative_of_bce_with_logits():
    rng = _rng("bfd")
    x = 3 * rng.standard_normal(12)
    t = rng.random(12)
    w = rng.uniform(0.5, 2.0, 12)
    g, h = fs.binary_cross_entropy_gradient_hessian(x, t, sample_weight=w)
    eps = 1e-6
    for k in range(12):
        xp, xm = x.copy(), x.copy()
        xp[k] += eps
        xm[k] -= eps
        lp = fs.binary_cross_entropy_with_logits(xp, t, weight=w, reduction="none")[k]
        lm = fs.binary_cross_entropy_with_logits(xm, t, weight=w, reduction="none")[k]
        assert abs((lp - lm) / (2 * eps) - g[k]) < 1e-8
        gp = fs.binary_cross_entropy_gradient_hessian(xp, t, sample_weight=w)[0][k]
        gm = fs.binary_cross_entropy_gradient_hessian(xm, t, sample_weight=w)[0][k]
        assert abs((gp - gm) / (2 * eps) - h[k]) < 1e-7


# ------------------------------------------------------------ threads

@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(40000, 10), (5000, 100), (9, 40000)], ids=str)
def test_thread_counts_give_bitwise_the_same_answer(shape, dtype):
    x, y, w = _problem(shape, dtype, 10)
    x.reshape(-1)[::997] = nan        # rows that leave the short-row path
    want = fs.cross_entropy_gradient_hessian(x, y, sample_weight=w, num_threads=1)
    for n in (2, 3):
        got = fs.cross_entropy_gradient_hessian(x, y, sample_weight=w, num_threads=n)
        assert_same(got[0], want[0])
        assert_same(got[1], want[1])
    xb = x.reshape(-1)[:300001]
    tb = (_rng("bt").random(xb.size) < 0.5).astype(dtype)
    want = fs.binary_cross_entropy_gradient_hessian(xb, tb, num_threads=1)
    for n in (2, 3):
        got = fs.binary_cross_entropy_gradient_hessian(xb, tb, num_threads=n)
        assert_same(got[0], want[0])
        assert_same(got[1], want[1])


def test_empty_inputs():
    g, h = fs.cross_entropy_gradient_hessian(np.zeros((0, 4)), np.zeros(0))
    assert g.shape == h.shape == (0, 4)
    g, h = fs.binary_cross_entropy_gradient_hessian(np.zeros(0, np.float32), np.zeros(0))
    assert g.shape == (0,) and g.dtype == np.float32


def test_as_xgboost_custom_objective_it_reproduces_multi_softprob():
    """With the factor 2 on the hessian (XGBoost's convention), a custom
    objective gives the built-in objective's margins (skipped without XGBoost)."""
    xgb = pytest.importorskip("xgboost")

    def softprob_obj(predt, dtrain):
        grad, hess = fs.cross_entropy_gradient_hessian(predt, dtrain.get_label())
        return grad, np.maximum(2.0 * hess, 1e-6)

    rng = _rng("xgboost")
    X, y = rng.standard_normal((200, 5)), rng.integers(0, 3, 200)
    params = {"num_class": 3, "max_depth": 2, "base_score": np.full(3, 1 / 3)}
    dm = xgb.DMatrix(X, label=y)
    custom = xgb.train(dict(params, disable_default_eval_metric=True), dm,
                       num_boost_round=5, obj=softprob_obj)
    native = xgb.train(dict(params, objective="multi:softprob"), dm, num_boost_round=5)
    np.testing.assert_allclose(custom.predict(dm, output_margin=True),
                               native.predict(dm, output_margin=True), atol=1e-5)
