"""Cross-entropy, nll and categorical cross-entropy against the reference
``fastsoftmax.slow`` and the documented formulas and special cases
(docs/semantics.md): options, target dtypes, ignored and empty batches,
-inf / NaN logits, layouts, gradients by finite differences.  No torch needed."""
from __future__ import annotations

import itertools
import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow

try:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st
    HAVE_HYPOTHESIS = True
except ImportError:  # pragma: no cover
    HAVE_HYPOTHESIS = False

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64,
              np.uint8, np.uint16, np.uint32, np.uint64]
REDUCTIONS = ["none", "mean", "sum"]

# (shape, axis): axis=1 on the 3-D shape puts the classes in the middle
SHAPES = [((1, 1), -1), ((5, 3), -1), ((37, 53), -1), ((4, 6, 7), -1),
          ((4, 6, 7), 1), ((1000, 10), -1), ((16, 3000), -1)]


# ----------------------------------------------------------------------------
# small generators (deterministic: the seed is derived from the test's options)
# ----------------------------------------------------------------------------
def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make_logits(rng, shape, dtype=np.float64, scale=2.0):
    return (scale * rng.standard_normal(shape)).astype(dtype)


def make_index_target(rng, shape, axis, n_ignore=None, dtype=np.int64, frac=0.2):
    """Class indices in [0, C) with about `frac` of them set to `n_ignore`
    (never the first sample, so that not everything is ignored)."""
    c = shape[axis]
    bshape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    y = rng.integers(0, c, size=bshape)
    if n_ignore is not None:
        mask = rng.random(bshape) < frac
        mask.reshape(-1)[0] = False
        y[mask] = n_ignore
    if np.dtype(dtype).kind == "u":
        assert (y >= 0).all()
    return y.astype(dtype)


def make_prob_target(rng, shape, axis, dtype=np.float64, zeros=True):
    t = rng.random(shape)
    if zeros:
        t[rng.random(shape) < 0.2] = 0.0
        # keep at least one positive entry per row
        first = [slice(None)] * len(shape)
        first[axis] = 0
        t[tuple(first)] += 0.1
    t /= t.sum(axis=axis, keepdims=True)
    return t.astype(dtype)


def make_weight(rng, c, dtype=np.float64):
    return rng.uniform(0.25, 2.0, size=c).astype(dtype)


def ref_loss_grad(x, target, axis, **kw):
    """The reference loss and gradient (``fastsoftmax.slow`` on float64 copies)
    for `x` with the classes on `axis`, and the gradient's natural scale
    max_i s_i * sum_c q[i, c] (the size of the terms whose difference the
    gradient is; rounding errors are relative to it, not to the possibly much
    smaller result)."""
    x64 = np.asarray(x, dtype=np.float64)
    t = np.asarray(target)
    if t.dtype.kind == "f":
        t = t.astype(np.float64)
    w = kw.pop("weight", None)
    if w is not None:
        w = np.asarray(w, dtype=np.float64)
    loss, grad = slow.cross_entropy_and_grad(x64, t, axis=axis, weight=w, **kw)
    tm = t if t.dtype.kind != "f" else np.moveaxis(t, axis, -1)
    return np.asarray(loss), grad, _grad_floor(np.moveaxis(x64, axis, -1), tm, w, **kw)


def _grad_floor(xm, t, w, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    c = xm.shape[-1]
    w = np.ones(c) if w is None else w
    eps = label_smoothing
    if t.dtype.kind in "iu":
        keep = t != ignore_index
        y = np.where(keep, t, 0).astype(np.intp)
        sq = ((1 - eps) * w[y] + eps / c * w.sum()) * keep
        denom = (w[y] * keep).sum()
    else:
        sq = (w * ((1 - eps) * t + eps / c)).sum(axis=-1)
        denom = sq.size
    if sq.size == 0:
        return 1.0
    s = 1.0 / denom if reduction == "mean" and denom != 0 else 1.0
    return float(s * np.max(sq))


def assert_loss_close(got, ref, dtype, scale=None):
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if scale is None:
        finite = ref[np.isfinite(ref)]
        scale = max(1.0, float(np.max(np.abs(finite)))) if finite.size else 1.0
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14 * scale, equal_nan=True)
    else:
        np.testing.assert_allclose(got, ref, rtol=2e-6, atol=1e-6 * scale, equal_nan=True)


def assert_grad_close(got, ref, dtype, floor=0.0):
    got = np.asarray(got, dtype=np.float64)
    scale = max(float(np.max(np.abs(ref))) if ref.size else 1.0, floor)
    scale = scale if scale > 0 else 1.0
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-14 * scale)
    else:
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6 * scale)


# ----------------------------------------------------------------------------
# the option grid against the reference
# ----------------------------------------------------------------------------
def _ignore_value(ignore, c):
    if ignore == "default":
        return -100
    return 2 if c > 2 else 0          # a valid class id


@pytest.mark.parametrize("shape,axis", SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0], ids=["ls0", "ls.1", "ls1"])
@pytest.mark.parametrize("ignore", ["default", "class"])
def test_cross_entropy_index_vs_reference(shape, axis, dtype, weighted, eps, ignore):
    rng = _rng("idx", shape, axis, dtype, weighted, eps, ignore)
    c = shape[axis]
    ii = _ignore_value(ignore, c)
    x = make_logits(rng, shape, dtype)
    if ignore == "default":
        y = make_index_target(rng, shape, axis, n_ignore=-100)
    else:
        y = make_index_target(rng, shape, axis, n_ignore=ii, frac=0.3)
        if c == 1:     # ignore_index == the only class: everything ignored
            y[...] = 0
    w = make_weight(rng, c, dtype) if weighted else None
    for reduction in REDUCTIONS:
        kw = dict(weight=w, ignore_index=ii, label_smoothing=eps, reduction=reduction)
        ref_l, ref_g, gfloor = ref_loss_grad(x, y, axis, **kw)
        loss = fs.cross_entropy(x, y, axis=axis, **kw)
        loss2, grad = fs.cross_entropy_and_grad(x, y, axis=axis, **kw)
        if reduction == "none":
            assert isinstance(loss, np.ndarray)
            assert loss.shape == y.shape
            assert loss.dtype == dtype
        else:
            assert isinstance(loss, np.generic) and loss.dtype == dtype
        assert grad.shape == x.shape and grad.dtype == dtype
        assert_loss_close(loss, ref_l, dtype)
        np.testing.assert_array_equal(loss, loss2)
        assert_grad_close(grad, ref_g, dtype, gfloor)


@pytest.mark.parametrize("shape,axis", SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0], ids=["ls0", "ls.1", "ls1"])
def test_cross_entropy_prob_vs_reference(shape, axis, dtype, weighted, eps):
    rng = _rng("prob", shape, axis, dtype, weighted, eps)
    c = shape[axis]
    x = make_logits(rng, shape, dtype)
    t = make_prob_target(rng, shape, axis, dtype)
    w = make_weight(rng, c, dtype) if weighted else None
    for reduction in REDUCTIONS:
        # ignore_index must not apply to probability targets
        kw = dict(weight=w, label_smoothing=eps, reduction=reduction)
        ref_l, ref_g, gfloor = ref_loss_grad(x, t, axis, **kw)
        loss = fs.cross_entropy(x, t, axis=axis, ignore_index=0, **kw)
        loss2, grad = fs.cross_entropy_and_grad(x, t, axis=axis, **kw)
        assert np.asarray(loss).dtype == dtype
        assert_loss_close(loss, ref_l, dtype)
        np.testing.assert_array_equal(loss, loss2)
        assert_grad_close(grad, ref_g, dtype, gfloor)


@pytest.mark.parametrize("tdtype", INT_DTYPES, ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("ignore", ["default", "class"])
def test_cross_entropy_target_int_dtypes(tdtype, ignore):
    rng = _rng("dtypes", tdtype, ignore)
    shape = (50, 7)
    x = make_logits(rng, shape)
    w = make_weight(rng, 7)
    if ignore == "class":
        y64 = make_index_target(rng, shape, -1, n_ignore=2, frac=0.3)
        ii = 2
    elif np.dtype(tdtype).kind == "i":
        y64 = make_index_target(rng, shape, -1, n_ignore=-100)
        ii = -100
    else:   # unsigned targets cannot hold -100; default ignore_index just never matches
        y64 = make_index_target(rng, shape, -1)
        ii = -100
    y = y64.astype(tdtype)
    for reduction in REDUCTIONS:
        for eps in (0.0, 0.2):
            kw = dict(weight=w, ignore_index=ii, label_smoothing=eps, reduction=reduction)
            expect_l, expect_g = fs.cross_entropy_and_grad(x, y64, **kw)
            got_l, got_g = fs.cross_entropy_and_grad(x, y, **kw)
            np.testing.assert_array_equal(got_l, expect_l)
            np.testing.assert_array_equal(got_g, expect_g)
            ref_l, ref_g, gfloor = ref_loss_grad(x, y64, -1, **kw)
            assert_loss_close(got_l, ref_l, np.float64)
            assert_grad_close(got_g, ref_g, np.float64, gfloor)
        lp = slow.log_softmax(x)
        got = fs.nll_loss(lp, y, weight=w, ignore_index=ii, reduction=reduction)
        ref = slow.nll_loss(lp, y64, weight=w, ignore_index=ii, reduction=reduction)
        assert_loss_close(got, ref, np.float64)


def test_cross_entropy_int_logits_compute_in_float64():
    rng = _rng("intlogits")
    x = rng.integers(-5, 6, size=(20, 4))
    y = rng.integers(0, 4, size=20)
    loss, grad = fs.cross_entropy_and_grad(x, y)
    assert loss.dtype == np.float64 and grad.dtype == np.float64
    ref_l, ref_g, gfloor = ref_loss_grad(x, y, -1)
    assert_loss_close(loss, ref_l, np.float64)
    assert_grad_close(grad, ref_g, np.float64, gfloor)


def test_cross_entropy_float16_logits():
    rng = _rng("f16")
    x = make_logits(rng, (30, 5), np.float16)
    y = rng.integers(0, 5, size=30)
    loss, grad = fs.cross_entropy_and_grad(x, y, reduction="none")
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    ref_l, ref_g, gfloor = ref_loss_grad(x, y, -1, reduction="none")
    np.testing.assert_allclose(loss.astype(np.float64), ref_l, rtol=2e-3, atol=2e-3)
    np.testing.assert_allclose(grad.astype(np.float64), ref_g, atol=2e-3)


def test_cross_entropy_list_inputs():
    loss = fs.cross_entropy([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]], [0, 1])
    ref = slow.cross_entropy(np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]]), np.array([0, 1]))
    assert_loss_close(loss, ref, np.float64)


# ----------------------------------------------------------------------------
# finite differences (float64, small case, every option)
# ----------------------------------------------------------------------------
def _fd_grad(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp = x.copy()
        xm = x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


FD_CASES = (
    [("index", w, e, ig, r) for w, e, ig, r in itertools.product(
        [False, True], [0.0, 0.1, 1.0], ["default", "class"], REDUCTIONS)]
    + [("prob", w, e, None, r) for w, e, r in itertools.product(
        [False, True], [0.0, 0.1, 1.0], REDUCTIONS)])


@pytest.mark.parametrize("kind,weighted,eps,ignore,reduction", FD_CASES,
                         ids=lambda v: str(v))
@pytest.mark.parametrize("shape,axis", [((4, 5), -1), ((2, 4, 3), 1)], ids=["2d", "3d-ax1"])
def test_cross_entropy_grad_finite_differences(kind, weighted, eps, ignore, reduction,
                                               shape, axis):
    rng = _rng("fd", kind, weighted, eps, ignore, reduction, shape)
    c = shape[axis]
    x = make_logits(rng, shape, scale=1.0)
    if kind == "index":
        ii = _ignore_value(ignore, c)
        y = make_index_target(rng, shape, axis, n_ignore=ii, frac=0.3)
    else:
        ii = -100
        y = make_prob_target(rng, shape, axis, zeros=False)
    w = make_weight(rng, c) if weighted else None
    kw = dict(axis=axis, weight=w, ignore_index=ii, label_smoothing=eps, reduction=reduction)

    def f(z):
        return float(np.sum(fs.cross_entropy(z, y, **kw)))

    _, grad = fs.cross_entropy_and_grad(x, y, **kw)
    np.testing.assert_allclose(grad, _fd_grad(f, x), rtol=1e-5, atol=1e-8)


# ----------------------------------------------------------------------------
# threads, grad_out
# ----------------------------------------------------------------------------
THREAD_CASES = [
    dict(dtype=np.float64, kind="index", weight=True, label_smoothing=0.1, reduction="mean"),
    dict(dtype=np.float32, kind="index", weight=False, label_smoothing=0.0, reduction="sum"),
    dict(dtype=np.float64, kind="index", weight=False, label_smoothing=0.0, reduction="none"),
    dict(dtype=np.float32, kind="prob", weight=True, label_smoothing=0.2, reduction="mean"),
    dict(dtype=np.float64, kind="prob", weight=False, label_smoothing=0.0, reduction="sum"),
]


# 64 classes: the general row path; 10 and 16: the short-row chunk path
@pytest.mark.parametrize("n_classes", [64, 10, 16])
@pytest.mark.parametrize("case", THREAD_CASES, ids=lambda c: "-".join(map(str, c.values())))
def test_cross_entropy_bitwise_identical_across_threads(case, n_classes):
    rng = _rng("threads", tuple(case.items()), n_classes)
    shape = (7000, n_classes)
    dtype = case["dtype"]
    x = make_logits(rng, shape, dtype)
    if case["kind"] == "index":
        y = make_index_target(rng, shape, -1, n_ignore=-100)
    else:
        y = make_prob_target(rng, shape, -1, dtype)
    w = make_weight(rng, n_classes, dtype) if case["weight"] else None
    kw = dict(weight=w, label_smoothing=case["label_smoothing"], reduction=case["reduction"])
    results = [fs.cross_entropy_and_grad(x, y, num_threads=nt, **kw) for nt in (1, 2, 3, 8)]
    plain = [fs.cross_entropy(x, y, num_threads=nt, **kw) for nt in (1, 2, 3, 8)]
    l0, g0 = results[0]
    for (l, g), lp in zip(results[1:], plain[1:]):
        assert np.asarray(l).tobytes() == np.asarray(l0).tobytes()
        assert g.tobytes() == g0.tobytes()
        assert np.asarray(lp).tobytes() == np.asarray(plain[0]).tobytes()
    assert np.asarray(plain[0]).tobytes() == np.asarray(l0).tobytes()
    ref_l, ref_g, gfloor = ref_loss_grad(x, y, -1, **kw)
    assert_loss_close(l0, ref_l, dtype)
    assert_grad_close(g0, ref_g, dtype, gfloor)


def _grad_out_layouts(shape, dtype):
    yield "C", np.empty(shape, dtype=dtype)
    yield "F", np.empty(shape, dtype=dtype, order="F")
    big = np.empty(shape[:-1] + (2 * shape[-1],), dtype=dtype)
    yield "strided", big[..., ::2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("shape,axis", [((30, 9), -1), ((4, 6, 7), 1), ((4, 6, 7), -1)],
                         ids=["2d", "3d-ax1", "3d"])
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_grad_out(dtype, shape, axis, kind):
    rng = _rng("gradout", dtype, shape, axis, kind)
    x = make_logits(rng, shape, dtype)
    y = (make_index_target(rng, shape, axis, n_ignore=-100) if kind == "index"
         else make_prob_target(rng, shape, axis, dtype))
    kw = dict(axis=axis, weight=make_weight(rng, shape[axis], dtype), label_smoothing=0.1)
    l0, g0 = fs.cross_entropy_and_grad(x, y, **kw)
    for name, out in _grad_out_layouts(shape, dtype):
        out[...] = np.nan
        l, g = fs.cross_entropy_and_grad(x, y, grad_out=out, **kw)
        assert g is out, name
        assert l == l0
        np.testing.assert_array_equal(out, g0, err_msg=name)


def test_grad_out_validation():
    x = np.zeros((3, 4))
    y = np.array([0, 1, 2])
    with pytest.raises(ValueError, match="shape"):
        fs.cross_entropy_and_grad(x, y, grad_out=np.empty((3, 5)))
    with pytest.raises(TypeError, match="dtype"):
        fs.cross_entropy_and_grad(x, y, grad_out=np.empty((3, 4), dtype=np.float32))
    ro = np.empty((3, 4))
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        fs.cross_entropy_and_grad(x, y, grad_out=ro)


# ----------------------------------------------------------------------------
# edge cases
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_all_samples_ignored(dtype, weighted, eps):
    rng = _rng("allign", dtype, weighted, eps)
    x = make_logits(rng, (6, 5), dtype)
    w = make_weight(rng, 5, dtype) if weighted else None
    for ii, y in ((-100, np.full(6, -100)), (3, np.full(6, 3, dtype=np.uint8))):
        kw = dict(weight=w, label_smoothing=eps, ignore_index=ii)
        lm, gm = fs.cross_entropy_and_grad(x, y, reduction="mean", **kw)
        assert np.isnan(lm) and lm.dtype == dtype
        assert np.isnan(fs.cross_entropy(x, y, reduction="mean", **kw))
        ls, gs = fs.cross_entropy_and_grad(x, y, reduction="sum", **kw)
        assert ls == 0 and ls.dtype == dtype
        ln, gn = fs.cross_entropy_and_grad(x, y, reduction="none", **kw)
        np.testing.assert_array_equal(ln, np.zeros(6, dtype))
        for g in (gm, gs, gn):
            assert not np.isnan(g).any()
            np.testing.assert_array_equal(g, np.zeros_like(x))
        assert np.isnan(fs.nll_loss(slow.log_softmax(x), y, weight=w, ignore_index=ii))
        assert fs.nll_loss(slow.log_softmax(x), y, weight=w, ignore_index=ii,
                           reduction="sum") == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_empty_batch(dtype, kind):
    x = np.zeros((0, 4), dtype=dtype)
    y = np.zeros(0, dtype=np.int64) if kind == "index" else np.zeros((0, 4), dtype=dtype)
    lm, gm = fs.cross_entropy_and_grad(x, y, reduction="mean")
    assert np.isnan(lm) and lm.dtype == dtype
    assert gm.shape == (0, 4)
    assert fs.cross_entropy(x, y, reduction="sum") == 0
    ln = fs.cross_entropy(x, y, reduction="none")
    assert isinstance(ln, np.ndarray) and ln.shape == (0,) and ln.dtype == dtype
    # 3-D, classes in the middle
    x3 = np.zeros((2, 4, 0), dtype=dtype)
    y3 = np.zeros((2, 0), dtype=np.int64) if kind == "index" else x3.copy()
    assert fs.cross_entropy(x3, y3, axis=1, reduction="none").shape == (2, 0)
    assert np.isnan(fs.cross_entropy(x3, y3, axis=1))
    if kind == "index":
        assert np.isnan(fs.nll_loss(x, y))
        assert fs.nll_loss(x, y, reduction="sum") == 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("weighted", [False, True])
def test_prob_target_zero_where_logit_is_minus_inf(dtype, weighted):
    """xlogy convention: t == 0 contributes 0 even where log p = -inf."""
    x = np.array([[0.5, -np.inf, 1.0, 0.0],
                  [-np.inf, -np.inf, 2.0, 1.0],
                  [0.1, 0.2, 0.3, -np.inf]], dtype=dtype)
    t = np.array([[0.25, 0.0, 0.75, 0.0],
                  [0.0, 0.0, 0.5, 0.5],
                  [0.2, 0.3, 0.5, 0.0]], dtype=dtype)
    w = np.array([1.0, 2.0, 0.5, 1.5], dtype=dtype) if weighted else None
    for reduction in REDUCTIONS:
        loss, grad = fs.cross_entropy_and_grad(x, t, weight=w, reduction=reduction)
        assert np.isfinite(loss).all(), reduction
        assert np.isfinite(grad).all(), reduction
        ref_l, ref_g, gfloor = ref_loss_grad(x, t, -1, weight=w, reduction=reduction)
        assert np.isfinite(ref_l).all()
        assert_loss_close(loss, ref_l, dtype)
        assert_grad_close(grad, ref_g, dtype, gfloor)
        # the -inf entries have p = 0: gradient exactly 0 there (no smoothing)
        assert (grad[np.isneginf(x)] == 0).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_minus_inf_in_non_target_class(dtype):
    x = np.array([[1.0, -np.inf, 0.0], [-np.inf, 2.0, -np.inf], [0.0, 0.0, -np.inf]],
                 dtype=dtype)
    y = np.array([0, 1, 1])
    for reduction in REDUCTIONS:
        loss, grad = fs.cross_entropy_and_grad(x, y, reduction=reduction)
        assert np.isfinite(loss).all() and np.isfinite(grad).all()
        ref_l, ref_g, gfloor = ref_loss_grad(x, y, -1, reduction=reduction)
        assert np.isfinite(ref_l).all() and np.isfinite(ref_g).all()
        assert_loss_close(loss, ref_l, dtype)
        assert_grad_close(grad, ref_g, dtype, gfloor)
    # a single finite class with the target on it: loss 0, grad 0
    ln, gn = fs.cross_entropy_and_grad(x, y, reduction="none")
    assert ln[1] == 0
    np.testing.assert_array_equal(gn[1], np.zeros(3, dtype))
    # the target on a -inf class: infinite loss
    assert fs.cross_entropy(x, np.array([1, 1, 1]), reduction="none")[0] == np.inf


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", ["index", "prob"])
def test_nan_row_only_poisons_its_own_sample(dtype, kind):
    rng = _rng("nanrow", dtype, kind)
    x = make_logits(rng, (6, 5), dtype)
    x[2, 3] = np.nan
    y = (make_index_target(rng, x.shape, -1) if kind == "index"
         else make_prob_target(rng, x.shape, -1, dtype, zeros=False))
    loss, grad = fs.cross_entropy_and_grad(x, y, reduction="none", label_smoothing=0.1)
    assert np.isnan(loss[2]) and np.isnan(grad[2]).all()
    keep = np.arange(6) != 2
    ref_l, ref_g, gfloor = ref_loss_grad(x[keep], y[keep], -1, reduction="none",
                                 label_smoothing=0.1)
    assert_loss_close(loss[keep], ref_l, dtype)
    assert_grad_close(grad[keep], ref_g, dtype, gfloor)
    assert np.isnan(fs.cross_entropy(x, y)) and np.isnan(fs.cross_entropy(x, y, reduction="sum"))


def test_zero_target_weights_mean():
    """Sum of the target weights is 0: mean is NaN (0/0) and, as for all-ignored
    batches, the gradient is 0 (the reference's convention; torch gives NaN)."""
    x = np.random.default_rng(0).standard_normal((5, 4))
    y = np.zeros(5, dtype=np.int64)
    w = np.array([0.0, 1.0, 1.0, 1.0])
    loss, grad = fs.cross_entropy_and_grad(x, y, weight=w)
    assert np.isnan(loss)
    np.testing.assert_array_equal(grad, slow.cross_entropy_and_grad(x, y, weight=w)[1])
    np.testing.assert_array_equal(grad, np.zeros_like(x))
    assert fs.cross_entropy(x, y, weight=w, reduction="sum") == 0


def test_grad_out_may_alias_the_logits():
    rng = _rng("alias")
    x = make_logits(rng, (20, 6))
    y = make_index_target(rng, x.shape, -1, n_ignore=-100)
    l0, g0 = fs.cross_entropy_and_grad(x, y, label_smoothing=0.1)
    x2 = x.copy()
    l, g = fs.cross_entropy_and_grad(x2, y, label_smoothing=0.1, grad_out=x2)
    assert g is x2 and l == l0
    np.testing.assert_array_equal(x2, g0)
    # a partially overlapping view of the logits
    buf = np.concatenate([x, x[:1]])
    l, g = fs.cross_entropy_and_grad(buf[:-1], y, label_smoothing=0.1, grad_out=buf[1:])
    assert l == l0
    np.testing.assert_array_equal(buf[1:], g0)


def test_large_logits_stay_finite():
    x = np.array([[1000.0, -1000.0, 0.0], [-1e300, 1e300, 0.0]])
    y = np.array([1, 1])
    loss, grad = fs.cross_entropy_and_grad(x, y, reduction="none")
    np.testing.assert_allclose(loss, [2000.0, 0.0], rtol=1e-15)
    assert np.isfinite(grad).all()
    xf = np.array([[80.0, -80.0, 0.0]], dtype=np.float32)
    lf = fs.cross_entropy(xf, np.array([1]), reduction="none")
    np.testing.assert_allclose(lf, [160.0], rtol=1e-6)


def test_docstring_examples():
    logits = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    # (-log softmax([2, 1, .1])[0] - log softmax([.5, 2.5, .3])[1]) / 2 = 0.318540...
    # NOTE: the docstrings of cross_entropy / nll_loss print 0.32064, which is wrong.
    expect = (np.log(np.exp(logits).sum(1)) - logits[[0, 1], [0, 1]]).mean()
    np.testing.assert_allclose(fs.cross_entropy(logits, np.array([0, 1])), expect, rtol=1e-14)
    assert round(float(expect), 5) == 0.31854
    np.testing.assert_allclose(
        fs.cross_entropy(logits, np.array([0, -100]), reduction="none"),
        [np.log(np.exp(logits[0]).sum()) - 2.0, 0.0], rtol=1e-14)
    loss, grad = fs.cross_entropy_and_grad(np.array([[0.0, 0.0]]), np.array([1]))
    assert np.isclose(loss, np.log(2), rtol=1e-15)
    np.testing.assert_array_equal(grad, [[0.5, -0.5]])


def test_onehot_float_vs_index_weighted_mean_differ():
    """"mean" divides probability targets by N, index targets by sum w[y]
    (docs/semantics.md)."""
    rng = _rng("onehot")
    x = make_logits(rng, (8, 4))
    y = rng.integers(0, 4, size=8)
    onehot = np.eye(4)[y]
    w = np.array([1.0, 2.0, 3.0, 4.0])
    np.testing.assert_allclose(fs.cross_entropy(x, onehot, reduction="sum", weight=w),
                               fs.cross_entropy(x, y, reduction="sum", weight=w), rtol=1e-13)
    np.testing.assert_allclose(fs.cross_entropy(x, onehot, reduction="mean", weight=w),
                               fs.cross_entropy(x, y, reduction="sum", weight=w) / 8,
                               rtol=1e-13)
    np.testing.assert_allclose(fs.cross_entropy(x, y, reduction="mean", weight=w),
                               fs.cross_entropy(x, y, reduction="sum", weight=w) / w[y].sum(),
                               rtol=1e-13)
    # unweighted: both means agree
    np.testing.assert_allclose(fs.cross_entropy(x, onehot), fs.cross_entropy(x, y), rtol=1e-13)


def test_label_smoothing_matches_formula():
    rng = _rng("lsformula")
    x = make_logits(rng, (10, 6))
    y = rng.integers(0, 6, size=10)
    w = make_weight(rng, 6)
    eps = 0.3
    logp = slow.log_softmax(x)
    li = (1 - eps) * w[y] * -logp[np.arange(10), y] + eps / 6 * (w * -logp).sum(-1)
    np.testing.assert_allclose(
        fs.cross_entropy(x, y, weight=w, label_smoothing=eps, reduction="none"), li,
        rtol=1e-13)
    np.testing.assert_allclose(
        fs.cross_entropy(x, y, weight=w, label_smoothing=eps), li.sum() / w[y].sum(),
        rtol=1e-13)


def test_ignore_index_class_still_in_denominator():
    x = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, 1.0]])
    y = np.array([0, 2])
    ln = fs.cross_entropy(x, y, ignore_index=2, reduction="none")
    assert ln[1] == 0
    np.testing.assert_allclose(ln[0], -slow.log_softmax(x)[0, 0], rtol=1e-14)
    np.testing.assert_allclose(fs.cross_entropy(x, y, ignore_index=2), ln[0], rtol=1e-14)


# ----------------------------------------------------------------------------
# hypothesis
# ----------------------------------------------------------------------------
if HAVE_HYPOTHESIS:
    @st.composite
    def _ce_problem(draw):
        ndim = draw(st.integers(1, 3))
        shape = tuple(draw(st.lists(st.integers(1, 9), min_size=ndim, max_size=ndim)))
        axis = draw(st.integers(-ndim, ndim - 1))
        dtype = draw(st.sampled_from([np.float32, np.float64]))
        kind = draw(st.sampled_from(["index", "prob"]))
        weighted = draw(st.booleans())
        eps = draw(st.sampled_from([0.0, 0.05, 0.5, 1.0]))
        reduction = draw(st.sampled_from(REDUCTIONS))
        tdtype = draw(st.sampled_from(INT_DTYPES))
        ignore = draw(st.sampled_from(["default", "class"]))
        seed = draw(st.integers(0, 2**32 - 1))
        return shape, axis, dtype, kind, weighted, eps, reduction, tdtype, ignore, seed

    # derandomize: the same 50 examples on every run (no example database)
    @settings(max_examples=50, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(_ce_problem())
    def test_cross_entropy_hypothesis(problem):
        shape, axis, dtype, kind, weighted, eps, reduction, tdtype, ignore, seed = problem
        rng = np.random.default_rng(seed)
        c = shape[axis]
        x = make_logits(rng, shape, dtype)
        ii = -100
        if kind == "index":
            if ignore == "class":
                ii = int(rng.integers(0, c))
                y = make_index_target(rng, shape, axis, n_ignore=ii, frac=0.3)
            elif np.dtype(tdtype).kind == "i":
                y = make_index_target(rng, shape, axis, n_ignore=-100, frac=0.3)
            else:
                y = make_index_target(rng, shape, axis)
            y = y.astype(tdtype)
        else:
            y = make_prob_target(rng, shape, axis, dtype)
        w = make_weight(rng, c, dtype) if weighted else None
        kw = dict(weight=w, ignore_index=ii, label_smoothing=eps, reduction=reduction)
        loss, grad = fs.cross_entropy_and_grad(x, y, axis=axis, **kw)
        ref_l, ref_g, gfloor = ref_loss_grad(x, y.astype(np.int64) if kind == "index" else y,
                                     axis, **kw)
        assert_loss_close(loss, ref_l, dtype)
        assert_grad_close(grad, ref_g, dtype, gfloor)
        np.testing.assert_array_equal(fs.cross_entropy(x, y, axis=axis, **kw), loss)


# ----------------------------------------------------------------------------
# validation
# ----------------------------------------------------------------------------
X3 = np.array([[0.1, 0.2, 0.3], [1.0, 0.0, -1.0], [0.5, 0.5, 0.5]])


@pytest.mark.parametrize("fn", ["cross_entropy", "cross_entropy_and_grad", "nll_loss"])
def test_target_out_of_range(fn):
    f = getattr(fs, fn)
    with pytest.raises(IndexError, match=r"\[1\].*5"):
        f(X3, np.array([0, 5, 1]))
    with pytest.raises(IndexError, match=r"\[2\].*-1"):
        f(X3, np.array([0, 1, -1]))
    with pytest.raises(IndexError, match=r"\[0\].*3"):
        f(X3, np.array([3, 1, 1], dtype=np.uint8))
    # -100 is fine (ignored), but not when ignore_index is changed
    f(X3, np.array([0, -100, 1]))
    with pytest.raises(IndexError, match=r"-100"):
        f(X3, np.array([0, -100, 1]), ignore_index=-1)
    # positions in a multi-dimensional batch
    x = np.zeros((2, 3, 4))
    y = np.zeros((2, 3), dtype=np.int32)
    y[1, 2] = 7
    with pytest.raises(IndexError, match=r"\[1, 2\].*7"):
        f(x, y)


def test_huge_uint64_target_rejected():
    with pytest.raises(IndexError, match=str(2**63 + 5)):
        fs.cross_entropy(X3, np.array([0, 2**63 + 5, 1], dtype=np.uint64))


def test_float_labels_with_index_shape():
    with pytest.raises(TypeError, match="integer"):
        fs.cross_entropy(X3, np.array([0.0, 1.0, 2.0]))
    with pytest.raises(TypeError, match="integer"):
        fs.cross_entropy_and_grad(X3, np.array([0.0, 1.0, 2.0], dtype=np.float32))
    with pytest.raises(TypeError):
        fs.nll_loss(X3, np.array([0.0, 1.0, 2.0]))


def test_bool_target():
    with pytest.raises(TypeError):
        fs.cross_entropy(X3, np.array([True, False, True]))
    with pytest.raises(TypeError):
        fs.cross_entropy(X3, np.ones((3, 3), dtype=bool))
    with pytest.raises(TypeError):
        fs.nll_loss(X3, np.array([True, False, True]))


def test_shape_mismatch():
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        fs.cross_entropy(X3, np.array([0, 1, 2, 0]))
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 3\)"):
        fs.cross_entropy(X3, np.full((3, 4), 0.25))
    with pytest.raises(ValueError, match=r"\(3, 2\).*\(2, 4\)"):
        fs.cross_entropy(np.zeros((2, 3, 4)), np.zeros((3, 2), dtype=int), axis=1)
    with pytest.raises(ValueError, match=r"\(4,\).*\(3,\)"):
        fs.nll_loss(X3, np.array([0, 1, 2, 0]))


def test_weight_wrong_length():
    with pytest.raises(ValueError, match=r"\(3,\).*\(4,\)"):
        fs.cross_entropy(X3, np.array([0, 1, 2]), weight=np.ones(4))
    with pytest.raises(ValueError, match="weight"):
        fs.cross_entropy(X3, np.full((3, 3), 1 / 3), weight=np.ones(2))
    with pytest.raises(ValueError, match="weight"):
        fs.nll_loss(X3, np.array([0, 1, 2]), weight=np.ones((3, 1)))


@pytest.mark.parametrize("fn", ["cross_entropy", "cross_entropy_and_grad", "nll_loss",
                                "categorical_cross_entropy", "binary_cross_entropy",
                                "binary_cross_entropy_with_logits"])
def test_unknown_reduction(fn):
    f = getattr(fs, fn)
    if fn.startswith("binary"):
        args = (np.array([0.5, 0.2]), np.array([1.0, 0.0]))
    else:
        args = (np.full((2, 3), 1 / 3), np.array([0, 1]))
    with pytest.raises(ValueError, match=r"'none'.*'mean'.*'sum'"):
        f(*args, reduction="avg")
    with pytest.raises(ValueError, match="reduction"):
        f(*args, reduction=None)


def test_label_smoothing_out_of_range():
    for bad in (1.5, -0.1):
        with pytest.raises(ValueError, match="label_smoothing"):
            fs.cross_entropy(X3, np.array([0, 1, 2]), label_smoothing=bad)
        with pytest.raises(ValueError, match="label_smoothing"):
            fs.cross_entropy_and_grad(X3, np.full((3, 3), 1 / 3), label_smoothing=bad)


def test_zero_dim_logits():
    with pytest.raises(ValueError, match="dimension"):
        fs.cross_entropy(np.float64(1.0), np.array(0))
    with pytest.raises(ValueError, match="dimension"):
        fs.nll_loss(np.array(1.0), np.array(0))
    with pytest.raises(ValueError, match="dimension"):
        fs.categorical_cross_entropy(np.array(0.5), np.array(0))


def test_complex_logits():
    with pytest.raises(TypeError):
        fs.cross_entropy(X3.astype(complex), np.array([0, 1, 2]))
    with pytest.raises(TypeError):
        fs.cross_entropy_and_grad(X3.astype(complex), np.array([0, 1, 2]))
    with pytest.raises(TypeError):
        fs.nll_loss(X3.astype(complex), np.array([0, 1, 2]))


def test_bad_axis():
    with pytest.raises(np.exceptions.AxisError):
        fs.cross_entropy(X3, np.array([0, 1, 2]), axis=2)
    with pytest.raises(TypeError):
        fs.cross_entropy(X3, np.array([0, 1, 2]), axis=None)


def test_bad_ignore_index_type():
    with pytest.raises(TypeError, match="ignore_index"):
        fs.cross_entropy(X3, np.array([0, 1, 2]), ignore_index=1.5)


def test_inputs_never_modified():
    rng = _rng("nomod")
    x = make_logits(rng, (4, 6, 5))
    x[0, 0, 0] = -np.inf
    y = make_index_target(rng, x.shape, 1, n_ignore=-100).astype(np.int32)
    t = make_prob_target(rng, x.shape, 1)
    w = make_weight(rng, 6)
    xf = x.astype(np.float32)
    copies = [a.copy() for a in (x, y, t, w, xf)]
    for xx in (x, xf):
        for target in (y, t):
            for reduction in REDUCTIONS:
                kw = dict(axis=1, weight=w, label_smoothing=0.1, reduction=reduction)
                fs.cross_entropy(xx, target, **kw)
                fs.cross_entropy_and_grad(xx, target, **kw)
        fs.nll_loss(xx, y, axis=1, weight=w)
    p = slow.softmax(np.moveaxis(x, 1, -1))
    p_copy = p.copy()
    fs.categorical_cross_entropy(p, np.moveaxis(t, 1, -1))
    yc = np.where(y < 0, 0, y)
    fs.categorical_cross_entropy(p, yc)
    for a, b in zip((x, y, t, w, xf), copies):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(p, p_copy)


def test_inputs_noncontiguous_and_big_endian():
    rng = _rng("layouts")
    x = make_logits(rng, (20, 12))
    y = rng.integers(0, 6, size=20)
    xs = x[:, ::2]                     # non-contiguous
    xb = xs.astype(">f8")              # non-native byte order
    xF = np.asfortranarray(xs)
    ref = fs.cross_entropy_and_grad(np.ascontiguousarray(xs), y, reduction="none")
    for xx in (xs, xb, xF):
        l, g = fs.cross_entropy_and_grad(xx, y, reduction="none")
        np.testing.assert_array_equal(l, ref[0])
        np.testing.assert_array_equal(g, ref[1])
    yb = y.astype(">i4")
    np.testing.assert_array_equal(fs.cross_entropy(xs, yb, reduction="none"), ref[0])


# ----------------------------------------------------------------------------
# nll_loss
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ignore", ["default", "class"])
@pytest.mark.parametrize("shape,axis", [((5, 3), -1), ((37, 53), -1), ((4, 6, 7), 1)],
                         ids=lambda v: str(v))
def test_nll_loss_vs_reference(dtype, weighted, ignore, shape, axis):
    rng = _rng("nll", dtype, weighted, ignore, shape, axis)
    c = shape[axis]
    ii = _ignore_value(ignore, c)
    x = make_logits(rng, shape, dtype)
    lp = slow.log_softmax(x.astype(np.float64), axis=axis).astype(dtype)
    y = make_index_target(rng, shape, axis, n_ignore=ii, frac=0.3)
    w = make_weight(rng, c, dtype) if weighted else None
    for reduction in REDUCTIONS:
        got = fs.nll_loss(lp, y, axis=axis, weight=w, ignore_index=ii, reduction=reduction)
        ref = slow.nll_loss(lp.astype(np.float64), y, axis=axis, weight=w, ignore_index=ii,
                            reduction=reduction)
        assert np.asarray(got).dtype == dtype
        if reduction == "none":
            assert got.shape == y.shape
        assert_loss_close(got, ref, dtype)
        # consistency with the fused cross-entropy
        ce = fs.cross_entropy(x, y, axis=axis, weight=w, ignore_index=ii, reduction=reduction)
        assert_loss_close(got, ce, dtype)


def test_nll_loss_formula():
    lp = np.log(np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]]))
    y = np.array([2, 0])
    w = np.array([1.0, 2.0, 4.0])
    np.testing.assert_allclose(fs.nll_loss(lp, y, reduction="none"),
                               [-np.log(0.5), -np.log(0.6)], rtol=1e-15)
    np.testing.assert_allclose(fs.nll_loss(lp, y, weight=w),
                               (-4 * np.log(0.5) - np.log(0.6)) / 5, rtol=1e-15)
    # takes log-probs verbatim (no normalisation)
    np.testing.assert_allclose(fs.nll_loss(np.array([[3.0, 7.0]]), np.array([1])), -7.0)


# ----------------------------------------------------------------------------
# categorical_cross_entropy
# ----------------------------------------------------------------------------
def test_cce_seed_example():
    y = np.array([0, 1, 0, 0])
    y_hat = np.array([0.1, 0.7, 0.1, 0.1])
    np.testing.assert_allclose(fs.categorical_cross_entropy(y_hat, y), -np.log(0.7),
                               rtol=1e-15)
    # as a batch of one, with float one-hot, with class index
    np.testing.assert_allclose(fs.categorical_cross_entropy(y_hat[None], y[None]),
                               -np.log(0.7), rtol=1e-15)
    np.testing.assert_allclose(fs.categorical_cross_entropy(y_hat, y.astype(float)),
                               -np.log(0.7), rtol=1e-15)
    np.testing.assert_allclose(fs.categorical_cross_entropy(y_hat[None], np.array([1])),
                               -np.log(0.7), rtol=1e-15)
    np.testing.assert_allclose(fs.categorical_cross_entropy(y_hat, np.array(1)),
                               -np.log(0.7), rtol=1e-15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("tkind", ["soft", "onehot-int", "onehot-bool", "index"])
@pytest.mark.parametrize("shape,axis", [((8, 5), -1), ((3, 5, 4), 1)], ids=["2d", "3d-ax1"])
def test_cce_vs_reference(dtype, tkind, shape, axis):
    rng = _rng("cce", dtype, tkind, shape)
    c = shape[axis]
    p = slow.softmax(make_logits(rng, shape), axis=axis).astype(dtype)
    y = make_index_target(rng, shape, axis)
    if tkind == "soft":
        t = make_prob_target(rng, shape, axis)
    else:
        t = np.moveaxis(np.eye(c, dtype=np.int64)[y], -1, axis)
        if tkind == "onehot-bool":
            t = t.astype(bool)
    target = y if tkind == "index" else t
    for reduction in REDUCTIONS:
        got = fs.categorical_cross_entropy(p, target, axis=axis, reduction=reduction)
        ref = slow.categorical_cross_entropy(p.astype(np.float64), target, axis=axis,
                                             reduction=reduction)
        assert np.asarray(got).dtype == dtype
        tol = 1e-13 if dtype == np.float64 else 2e-6
        np.testing.assert_allclose(got, ref, rtol=tol)


def test_cce_clipping():
    p = np.array([[0.0, 1.0, 0.0], [0.5, 0.5, 0.0]])
    t = np.array([[1, 0, 0], [0, 0, 1]])
    np.testing.assert_allclose(fs.categorical_cross_entropy(p, t, reduction="none"),
                               [-np.log(1e-7), -np.log(1e-7)], rtol=1e-14)
    # t = 0 on a p = 0 class contributes nothing; p = 1 is clipped to 1 - eps
    np.testing.assert_allclose(
        fs.categorical_cross_entropy(p, np.array([[0, 1, 0], [1, 0, 0]]), reduction="none"),
        [-np.log(1 - 1e-7), -np.log(0.5)], rtol=1e-14)
    np.testing.assert_allclose(
        fs.categorical_cross_entropy(p, np.array([0, 2]), eps=1e-3, reduction="none"),
        [-np.log(1e-3), -np.log(1e-3)], rtol=1e-14)
    with np.errstate(divide="ignore"):   # eps=0: log(0) is allowed to warn
        assert fs.categorical_cross_entropy(p, t, eps=0.0) == np.inf


def test_cce_validation():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fs.categorical_cross_entropy(np.array([[0.5, 1.5]]), np.array([1]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fs.categorical_cross_entropy(np.array([[-0.1, 1.1]]), np.array([[0, 1]]))
    with pytest.raises(IndexError, match=r"\[0\].*2"):
        fs.categorical_cross_entropy(np.array([[0.5, 0.5]]), np.array([2]))
    with pytest.raises(IndexError):
        fs.categorical_cross_entropy(np.array([[0.5, 0.5]]), np.array([-100]))
    with pytest.raises(TypeError):
        fs.categorical_cross_entropy(np.array([[0.5, 0.5]]), np.array([1.0]))
    with pytest.raises(ValueError, match="shape"):
        fs.categorical_cross_entropy(np.array([[0.5, 0.5]]), np.array([[1, 0, 0]]))
    with pytest.raises(ValueError, match="eps"):
        fs.categorical_cross_entropy(np.array([[0.5, 0.5]]), np.array([1]), eps=0.5)
    with pytest.raises(ValueError, match="eps"):
        fs.categorical_cross_entropy(np.array([[0.5, 0.5]]), np.array([1]), eps=-1e-3)


@pytest.mark.parametrize("name", ["cross_entropy", "cross_entropy_and_grad", "nll_loss",
                                  "categorical_cross_entropy"])
@pytest.mark.parametrize("shape", [(4, 5, 6), (2, 3, 4, 5)])
def test_torch_layout_without_axis_gets_a_hint(name, shape):
    """(N, C, d1, ...) logits with (N, d1, ...) targets and the default
    axis=-1: the error says to pass axis=1, and axis=1 then works."""
    x = np.random.default_rng(0).random(shape)  # (probabilities too, for the last)
    y = np.zeros(shape[:1] + shape[2:], dtype=np.int64)
    fn = getattr(fs, name)
    with pytest.raises(ValueError, match=r"torch's layout .* pass axis=1$"):
        fn(x, y)
    fn(x, y, axis=1)


def test_no_torch_layout_hint_for_other_shapes():
    x = np.zeros((4, 5, 6))
    with pytest.raises(ValueError) as err:
        fs.cross_entropy(x, np.zeros((4, 7), dtype=np.int64))
    assert "axis=1" not in str(err.value)
    with pytest.raises(ValueError) as err:  # 2-D: class axis 1 is the last axis already
        fs.cross_entropy(np.zeros((4, 5)), np.zeros(5, dtype=np.int64))
    assert "axis=1" not in str(err.value)
