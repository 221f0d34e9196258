"""16-bit operands (float16, bfloat16) read directly by the losses and
gradients staged through float32 chunks: the focal losses, the divergences,
the softmax backwards and the gradient-boosting gradients.

The contract: bitwise "float32 copy, float32 computation, rounded once" --
the function on the float32 values of the 16-bit operands, its array
results rounded to the 16-bit type (NumPy's astype for float16, ml_dtypes'
for bfloat16); float16 keeps the result dtypes and bits of the float32-copy
route it always took (its reduced losses and per-sample focal losses rounded
from double, checked against the float32 drivers' double sums), bfloat16
gives bfloat16 arrays and float32 reduced losses.  1 and 2 threads bitwise
equal, every row-length class, layouts and mixed operand dtypes.  ml_dtypes
is optional: the bfloat16 tests skip without it.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from fastsoftmax._driver import core
from _helpers import make_base, with_layout

F16 = np.dtype(np.float16)
F32 = np.dtype(np.float32)
try:
    import ml_dtypes
    BF16: np.dtype | None = np.dtype(ml_dtypes.bfloat16)
except ImportError:  # pragma: no cover - ml_dtypes is an optional test dependency
    BF16 = None

NEEDS_BF16 = pytest.mark.skipif(BF16 is None, reason="needs ml_dtypes")
DTYPES = [pytest.param(F16, id="float16"), pytest.param(BF16, id="bfloat16", marks=NEEDS_BF16)]
# 1 class, short rows, the online pass, long rows (> 4096, > one chunk), many chunks
SHAPES = [(7, 1), (33, 20), (64, 100), (9, 1000), (3, 5000), (2, 20000), (40000, 10)]
THREADS = (1, 2)


def bits(a):
    return np.ascontiguousarray(np.asarray(a)).view(np.uint16)


def same(a, b):
    """Bitwise equal arrays or scalars of one dtype."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, (a.dtype, b.dtype, a.shape, b.shape)
    if a.dtype.itemsize == 2:
        np.testing.assert_array_equal(bits(a), bits(b))
    else:
        np.testing.assert_array_equal(a, b)


def rounded(ref, dt):
    """The float32 computation's array result rounded to dt."""
    return np.asarray(ref).astype(dt)


def logits(shape, dt, seed=0, scale=3.0):
    return make_base(shape, np.float32, seed=seed, scale=scale).astype(dt)


def targets(shape, seed=1, ignore=True):
    y = np.random.default_rng(seed).integers(0, shape[-1], shape[0])
    if ignore:
        y[::7] = -100
    return y


def wide(a):
    return np.asarray(a).astype(np.float32)


def check_reduced(got, want32, dt, double_value=None):
    """A reduced loss: bfloat16 -> the float32 result itself; float16 -> a
    float16 scalar, the double value rounded once (the float32-copy route)."""
    if dt == F16:
        assert isinstance(got, np.float16)
        if double_value is not None:
            with np.errstate(over="ignore"):   # a sum past float16's range: inf
                same(got, np.float16(double_value))
        else:   # within float16's rounding of the float32 value (inf past its range)
            with np.errstate(over="ignore"):
                np.testing.assert_allclose(np.float32(got), np.float32(np.float16(want32)),
                                           rtol=2e-3, atol=1e-6)
    else:
        assert isinstance(got, np.float32)
        same(got, want32)


def focal_double_total(x32, y, gamma, alpha, ignore=-100):
    """The float32 focal driver's double loss sum of float32 rows."""
    rows = np.ascontiguousarray(x32, np.float32)
    lr = np.empty(rows.shape[0])
    total = core.focal_index(rows, np.ascontiguousarray(y, np.int64), ignore_index=ignore,
                             alpha=alpha, gamma=gamma, scale=1.0, loss_rows=lr, grad=None,
                             n_threads=1)
    return total, lr


# ------------------------------------------------------------------ focal loss

@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_focal_bitwise(dt, shape, reduction):
    x = logits(shape, dt)
    y = targets(shape)
    x32 = wide(x)
    l32, g32 = fs.focal_loss_and_grad(x32, y, reduction=reduction)
    total, lr = focal_double_total(x32, y, 2.0, None)
    kept = float(np.count_nonzero(y != -100))
    for nt in THREADS:
        loss, grad = fs.focal_loss_and_grad(x, y, reduction=reduction, num_threads=nt)
        assert grad.dtype == dt
        same(grad, rounded(g32, dt))
        if reduction == "none":
            assert loss.dtype == dt
            same(loss, lr.astype(F16) if dt == F16 else rounded(l32, dt))
        else:
            value = total / kept if reduction == "mean" else total
            check_reduced(loss, l32, dt, value)
        alone = fs.focal_loss(x, y, reduction=reduction, num_threads=nt)
        same(alone, loss)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0])
@pytest.mark.parametrize("with_alpha", [False, True])
def test_focal_options(dt, gamma, with_alpha):
    shape = (300, 37)
    x, y = logits(shape, dt, seed=3), targets(shape, seed=4)
    alpha = np.linspace(0.1, 2.0, shape[1]) if with_alpha else None
    l32, g32 = fs.focal_loss_and_grad(wide(x), y, gamma=gamma, alpha=alpha, reduction="sum")
    loss, grad = fs.focal_loss_and_grad(x, y, gamma=gamma, alpha=alpha, reduction="sum")
    same(grad, rounded(g32, dt))
    a32 = None if alpha is None else alpha.astype(np.float32)
    check_reduced(loss, l32, dt, focal_double_total(wide(x), y, gamma, a32)[0])


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("layout", ["C", "strided", "F"])
@pytest.mark.parametrize("axis", [0, -1])
def test_focal_layouts(dt, layout, axis):
    base = logits((50, 12), dt, seed=5)
    x = with_layout(base if axis == -1 else base.T, layout)
    y = targets((50, 12), seed=6)
    l32, g32 = fs.focal_loss_and_grad(wide(x), y, axis=axis, reduction="none")
    loss, grad = fs.focal_loss_and_grad(x, y, axis=axis, reduction="none")
    same(grad, rounded(g32, dt))
    if dt != F16:
        same(loss, rounded(l32, dt))


@pytest.mark.parametrize("dt", DTYPES)
def test_focal_special_values(dt):
    x = logits((6, 40), dt, seed=7)
    x[1, 3] = np.nan
    x[2, 5] = np.inf
    x[3, :] = -np.inf
    x[4, 0] = -np.inf
    y = np.array([0, 1, 2, 3, 4, 5])
    l32, g32 = fs.focal_loss_and_grad(wide(x), y, reduction="none")
    loss, grad = fs.focal_loss_and_grad(x, y, reduction="none")
    same(grad, rounded(g32, dt))
    assert np.isnan(wide(loss)[[1, 2, 3]]).all() and np.isfinite(wide(loss)[[0, 4, 5]]).all()


@NEEDS_BF16
def test_focal_bfloat16_near_reference():
    x = logits((200, 50), BF16, seed=8)
    y = targets((200, 50), seed=9)
    loss, grad = fs.focal_loss_and_grad(x, y, alpha=np.linspace(0.5, 1.5, 50))
    rl, rg = slow.focal_loss_and_grad(wide(x).astype(np.float64), y,
                                      alpha=np.linspace(0.5, 1.5, 50))
    np.testing.assert_allclose(loss, rl, rtol=1e-5)
    np.testing.assert_allclose(wide(grad), rg, rtol=2 ** -7, atol=1e-7)


# ------------------------------------------------------------------ kl_div

def _kl_inputs(shape, dt_x, dt_t, seed=10, log_target=False):
    z = make_base(shape, np.float64, seed=seed, scale=2.0)
    logq = slow.log_softmax(z)
    p = slow.softmax(make_base(shape, np.float64, seed=seed + 1, scale=2.0))
    return logq.astype(dt_x), (np.log(p) if log_target else p).astype(dt_t)


def _kl_double_total(x32, t32, log_target):
    return core.kl_div(np.ascontiguousarray(x32).reshape(-1),
                       np.ascontiguousarray(t32).reshape(-1), None,
                       log_target=log_target, n_threads=1)


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(7, 1), (33, 20), (9, 1000), (2, 20000), (40000, 10)],
                         ids=str)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum", "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_bitwise(dt, shape, reduction, log_target):
    x, t = _kl_inputs(shape, dt, dt, log_target=log_target)
    ref = fs.kl_div(wide(x), wide(t), reduction=reduction, log_target=log_target)
    total = _kl_double_total(wide(x), wide(t), log_target)
    denominator = {"sum": 1.0, "mean": float(x.size), "batchmean": float(shape[0])}
    for nt in THREADS:
        got = fs.kl_div(x, t, reduction=reduction, log_target=log_target, num_threads=nt)
        if reduction == "none":
            assert got.dtype == dt
            same(got, rounded(ref, dt))
        else:
            check_reduced(got, ref, dt, total / denominator[reduction])


@pytest.mark.parametrize("dx,dt_,result", [
    pytest.param("bf16", "f32", "bf16", marks=NEEDS_BF16, id="bf16-input-f32-target"),
    pytest.param("f32", "bf16", "f32", marks=NEEDS_BF16, id="f32-input-bf16-target"),
    pytest.param("f64", "bf16", "f64", marks=NEEDS_BF16, id="f64-input-bf16-target"),
    pytest.param("f16", "bf16", "f16", marks=NEEDS_BF16, id="f16-input-bf16-target"),
    pytest.param("f16", "f64", "f16", id="f16-input-f64-target"),
    pytest.param("f32", "f16", "f32", id="f32-input-f16-target"),
])
def test_kl_div_mixed_dtypes(dx, dt_, result):
    """The input fixes the computation and result dtypes; the target is
    converted to the computation dtype (16-bit targets read directly)."""
    dts = {"bf16": BF16, "f16": F16, "f32": F32, "f64": np.dtype(np.float64)}
    x, t = _kl_inputs((64, 30), dts[dx], dts[dt_])
    compute = np.float64 if dx == "f64" else np.float32
    xc = np.asarray(x).astype(compute)
    tc = np.asarray(t).astype(compute)
    got = fs.kl_div(x, t, reduction="none")
    assert got.dtype == dts[result]
    same(got, rounded(fs.kl_div(xc, tc, reduction="none"), dts[result]))
    s = fs.kl_div(x, t, reduction="sum")
    ref = fs.kl_div(xc, tc, reduction="sum")
    if result == "f16":
        same(s, np.float16(_kl_double_total(xc, tc, False)))
    else:
        same(s, ref)


@pytest.mark.parametrize("dt", DTYPES)
def test_kl_div_special_values(dt):
    x = np.array([0.0, -1.0, -np.inf, np.nan, -2.0, -np.inf, 1.0], np.float32).astype(dt)
    t = np.array([0.0, 0.5, 0.0, 0.2, -0.1, 0.3, np.nan], np.float32).astype(dt)
    got = fs.kl_div(x, t, reduction="none")
    same(got, rounded(fs.kl_div(wide(x), wide(t), reduction="none"), dt))
    w = wide(got)
    assert np.isnan(w[[2, 3, 4, 6]]).all() and w[0] == 0 and w[5] == np.inf


# ------------------------------------------------------------------ distillation

def _distill_double(s32, t32, y, temperature, alpha):
    """The float32-copy route's double loss value (its float16 result rounds it once)."""
    ce, kl = core.distill(np.ascontiguousarray(s32), np.ascontiguousarray(t32),
                          None if y is None else np.ascontiguousarray(y, np.int64),
                          ignore_index=-100, inv_temperature=1.0 / temperature, ce_scale=0.0,
                          kl_scale=0.0, grad=None, n_threads=1)
    nrows = s32.shape[0]
    klm = np.float64(kl) / np.float64(nrows)
    if y is None:
        return temperature ** 2 * klm
    n_valid = np.count_nonzero(y != -100)
    return alpha * (np.float64(ce) / np.float64(n_valid)) + (1 - alpha) * temperature ** 2 * klm


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("with_target", [False, True])
def test_distillation_bitwise(dt, shape, with_target):
    s, t = logits(shape, dt, seed=11), logits(shape, dt, seed=12)
    y = targets(shape, seed=13) if with_target else None
    l32, g32 = fs.distillation_loss_and_grad(wide(s), wide(t), target=y, temperature=2.0,
                                             alpha=0.3)
    value = _distill_double(wide(s), wide(t), y, 2.0, 0.3)
    for nt in THREADS:
        loss, grad = fs.distillation_loss_and_grad(s, t, target=y, temperature=2.0,
                                                   alpha=0.3, num_threads=nt)
        assert grad.dtype == dt
        same(grad, rounded(g32, dt))
        check_reduced(loss, l32, dt, value)
        same(fs.distillation_loss(s, t, target=y, temperature=2.0, alpha=0.3,
                                  num_threads=nt), loss)


@pytest.mark.parametrize("ds,dt_,result", [
    pytest.param("bf16", "f32", "bf16", marks=NEEDS_BF16, id="bf16-student-f32-teacher"),
    pytest.param("f32", "bf16", "f32", marks=NEEDS_BF16, id="f32-student-bf16-teacher"),
    pytest.param("f64", "bf16", "f64", marks=NEEDS_BF16, id="f64-student-bf16-teacher"),
    pytest.param("bf16", "f16", "bf16", marks=NEEDS_BF16, id="bf16-student-f16-teacher"),
    pytest.param("f16", "f32", "f16", id="f16-student-f32-teacher"),
    pytest.param("f32", "f16", "f32", id="f32-student-f16-teacher"),
])
@pytest.mark.parametrize("layout", ["C", "strided"])
def test_distillation_mixed_dtypes(ds, dt_, result, layout):
    """The student fixes the computation and result dtypes; the teacher is
    converted to the computation dtype (16-bit teachers read directly)."""
    dts = {"bf16": BF16, "f16": F16, "f32": F32, "f64": np.dtype(np.float64)}
    shape = (70, 25)
    s = with_layout(logits(shape, dts[ds], seed=14), layout)
    t = with_layout(logits(shape, dts[dt_], seed=15), layout)
    y = targets(shape, seed=16)
    compute = np.float64 if ds == "f64" else np.float32
    sc, tc = np.asarray(s).astype(compute), np.asarray(t).astype(compute)
    l_ref, g_ref = fs.distillation_loss_and_grad(sc, tc, target=y)
    loss, grad = fs.distillation_loss_and_grad(s, t, target=y)
    assert grad.dtype == dts[result]
    same(grad, rounded(g_ref, dts[result]))
    if result == "f16":
        same(loss, np.float16(_distill_double(sc, tc, y, 1.0, 0.5)))
    elif result == "bf16":
        same(loss, l_ref)
    else:
        same(loss, l_ref)


@pytest.mark.parametrize("dt", DTYPES)
def test_distillation_axis0_and_special_values(dt):
    s, t = logits((40, 9), dt, seed=17), logits((40, 9), dt, seed=18)
    s[3, 2] = np.nan
    t[5, :] = -np.inf
    y = targets((40, 9), seed=19)
    sT, tT = s.T, t.T
    l32, g32 = fs.distillation_loss_and_grad(wide(sT), wide(tT), target=y, axis=0)
    loss, grad = fs.distillation_loss_and_grad(sT, tT, target=y, axis=0)
    same(grad, rounded(g32, dt))
    assert np.isnan(wide(grad)[:, 3]).all()


# ------------------------------------------------------------------ gradient boosting

@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_gradient_hessian_bitwise(dt, shape, weighted):
    x = logits(shape, dt, seed=20)
    y = targets(shape, seed=21, ignore=False)
    sw = np.linspace(0.5, 2.0, shape[0]) if weighted else None
    g32, h32 = fs.cross_entropy_gradient_hessian(wide(x), y, sample_weight=sw)
    for nt in THREADS:
        g, h = fs.cross_entropy_gradient_hessian(x, y, sample_weight=sw, num_threads=nt)
        assert g.dtype == dt and h.dtype == dt
        same(g, rounded(g32, dt))
        same(h, rounded(h32, dt))


@pytest.mark.parametrize("dt", DTYPES)
def test_cross_entropy_gradient_hessian_layouts_and_out(dt):
    base = logits((40, 9), dt, seed=22)
    y = targets((40, 9), seed=23, ignore=False)
    xT = with_layout(base.T, "strided")          # classes on axis 0, non-contiguous
    g32, h32 = fs.cross_entropy_gradient_hessian(wide(xT), y, axis=0)
    go, ho = np.empty((9, 40), dt), np.empty((9, 40), dt)
    g, h = fs.cross_entropy_gradient_hessian(xT, y, axis=0, gradient_out=go, hessian_out=ho)
    assert g is go and h is ho
    same(g, rounded(g32, dt))
    same(h, rounded(h32, dt))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("n", [1, 31, 1000, 40000])
def test_binary_gradient_hessian_bitwise(dt, n):
    x = logits((n,), dt, seed=24, scale=5.0)
    x[0] = np.inf if n > 3 else x[0]
    t = (np.random.default_rng(25).random(n) > 0.5).astype(np.float32)
    sw = np.random.default_rng(26).random(n).astype(np.float32)
    g32, h32 = fs.binary_cross_entropy_gradient_hessian(wide(x), t, sample_weight=sw)
    for nt in THREADS:
        g, h = fs.binary_cross_entropy_gradient_hessian(x, t, sample_weight=sw, num_threads=nt)
        assert g.dtype == dt
        same(g, rounded(g32, dt))
        same(h, rounded(h32, dt))


@pytest.mark.parametrize("dx,dother,result", [
    pytest.param("bf16", "bf16", "bf16", marks=NEEDS_BF16, id="all-bf16"),
    pytest.param("f32", "bf16", "f32", marks=NEEDS_BF16, id="f32-x-bf16-target-weight"),
    pytest.param("f64", "bf16", "f64", marks=NEEDS_BF16, id="f64-x-bf16-target-weight"),
    pytest.param("f16", "f64", "f16", id="f16-x-f64-target-weight"),
])
def test_binary_gradient_hessian_mixed_dtypes(dx, dother, result):
    dts = {"bf16": BF16, "f16": F16, "f32": F32, "f64": np.dtype(np.float64)}
    rng = np.random.default_rng(27)
    x = (rng.standard_normal(500) * 4).astype(dts[dx])
    t = rng.random(500).astype(dts[dother])
    sw = (rng.random(500) + 0.5).astype(dts[dother])
    compute = np.float64 if dx == "f64" else np.float32
    g_ref, h_ref = fs.binary_cross_entropy_gradient_hessian(
        x.astype(compute), t.astype(compute), sample_weight=sw.astype(compute))
    g, h = fs.binary_cross_entropy_gradient_hessian(x, t, sample_weight=sw)
    assert g.dtype == dts[result]
    same(g, rounded(g_ref, dts[result]))
    same(h, rounded(h_ref, dts[result]))


@pytest.mark.parametrize("dt", DTYPES)
def test_binary_gradient_hessian_bad_16_bit_target(dt):
    t = np.array([0.0, 1.0, 1.5, 0.5], np.float32).astype(dt)
    with pytest.raises(ValueError, match=r"\[0, 1\], got 1.5 \(element 2\)"):
        fs.binary_cross_entropy_gradient_hessian(np.zeros(4, dt), t)


# ------------------------------------------------------------------ softmax backward

@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("log", [False, True])
def test_backward_bitwise(dt, shape, log):
    f = fs.log_softmax_backward if log else fs.softmax_backward
    g = logits(shape, dt, seed=28, scale=1.0)
    y = (fs.log_softmax if log else fs.softmax)(logits(shape, np.float32, seed=29)).astype(dt)
    ref = f(wide(g), wide(y))
    for nt in THREADS:
        got = f(g, y, num_threads=nt)
        assert got.dtype == dt
        same(got, rounded(ref, dt))


@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("log", [False, True])
def test_backward_in_place_axis0_special(dt, log):
    f = fs.log_softmax_backward if log else fs.softmax_backward
    g = logits((12, 30), dt, seed=30)
    y = (fs.log_softmax if log else fs.softmax)(logits((12, 30), np.float32, seed=31)).astype(dt)
    g[2, 4] = np.nan
    y[5, 1] = np.inf
    ref = f(wide(g), wide(y), axis=0)
    same(f(g, y, axis=0), rounded(ref, dt))
    gc = g.copy()
    assert f(gc, y, axis=0, out=gc) is gc
    same(gc, rounded(ref, dt))
    yc = y.copy()
    f(g, yc, axis=0, out=yc)
    same(yc, rounded(ref, dt))


@pytest.mark.parametrize("dg,dy,result", [
    pytest.param("bf16", "bf16", "bf16", marks=NEEDS_BF16, id="bf16-bf16"),
    pytest.param("bf16", "f32", "f32", marks=NEEDS_BF16, id="bf16-f32"),
    pytest.param("f16", "bf16", "f32", marks=NEEDS_BF16, id="f16-bf16"),
    pytest.param("bf16", "f64", "f64", marks=NEEDS_BF16, id="bf16-f64"),
    pytest.param("f16", "f32", "f32", id="f16-f32"),
    pytest.param("f16", "f16", "f16", id="f16-f16"),
])
def test_backward_promotion(dg, dy, result):
    """The operands promote together (bfloat16 as float16 does)."""
    dts = {"bf16": BF16, "f16": F16, "f32": F32, "f64": np.dtype(np.float64)}
    g = logits((20, 50), dts[dg], seed=32)
    y = fs.softmax(logits((20, 50), np.float32, seed=33)).astype(dts[dy])
    compute = np.float64 if result == "f64" else np.float32
    ref = fs.softmax_backward(g.astype(compute), y.astype(compute))
    got = fs.softmax_backward(g, y)
    assert got.dtype == dts[result]
    same(got, rounded(ref, dts[result]))


# ------------------------------------------------------------------ sigmoid focal loss

@pytest.mark.parametrize("dt", DTYPES)
@pytest.mark.parametrize("shape", [(1,), (31,), (64, 100), (40000, 3)], ids=str)
@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("alpha", [0.25, None])
def test_sigmoid_focal_bitwise(dt, shape, reduction, alpha):
    x = logits(shape, dt, seed=34)
    t = (np.random.default_rng(35).random(shape) > 0.6).astype(np.float32)
    l32, g32 = fs.sigmoid_focal_loss_and_grad(wide(x), t, alpha=alpha, reduction=reduction)
    for nt in THREADS:
        loss, grad = fs.sigmoid_focal_loss_and_grad(x, t, alpha=alpha, reduction=reduction,
                                                    num_threads=nt)
        same(grad, rounded(g32, dt))
        if reduction == "none":
            same(loss, rounded(l32, dt))
        else:
            check_reduced(loss, l32, dt)
        same(fs.sigmoid_focal_loss(x, t, alpha=alpha, reduction=reduction, num_threads=nt),
             loss)


@pytest.mark.parametrize("dt", DTYPES)
def test_sigmoid_focal_special_and_16_bit_targets(dt):
    x = np.array([0.0, np.inf, -np.inf, np.nan, 3.0, -2.0], np.float32).astype(dt)
    t = np.array([1.0, 1.0, 0.0, 1.0, 0.25, 0.75], np.float32).astype(dt)
    l32, g32 = fs.sigmoid_focal_loss_and_grad(wide(x), wide(t))
    loss, grad = fs.sigmoid_focal_loss_and_grad(x, t)
    same(loss, rounded(l32, dt))
    same(grad, rounded(g32, dt))
    assert np.isnan(wide(loss)[3]) and np.isfinite(wide(grad)[:3]).all()


@NEEDS_BF16
def test_sigmoid_focal_float32_logits_bfloat16_targets():
    x = logits((300,), F32, seed=36)
    t = np.random.default_rng(37).random(300).astype(BF16)
    loss, grad = fs.sigmoid_focal_loss_and_grad(x, t, reduction="sum")
    l_ref, g_ref = fs.sigmoid_focal_loss_and_grad(x, wide(t), reduction="sum")
    same(loss, l_ref)
    same(grad, g_ref)


# ------------------------------------------------------------------ every ISA level

ISA_CHILD = r'''
import numpy as np, ml_dtypes
import fastsoftmax as fs
from fastsoftmax import _core
bad = []
rng = np.random.default_rng(0)
for dt in (np.dtype(np.float16), np.dtype(ml_dtypes.bfloat16)):
    for n in (1, 7, 33, 300, 5000):
        x = (rng.standard_normal((40, n)) * 3).astype(dt)
        x[1, 0] = np.nan
        x32 = x.astype(np.float32)
        y = rng.integers(0, n, 40)
        p = fs.softmax(x32).astype(dt)
        checks = {
            "focal": (fs.focal_loss_and_grad(x, y)[1], fs.focal_loss_and_grad(x32, y)[1]),
            "kl": (fs.kl_div(fs.log_softmax(x), p, reduction="none"),
                   fs.kl_div(fs.log_softmax(x).astype(np.float32), p.astype(np.float32),
                             reduction="none")),
            "distill": (fs.distillation_loss_and_grad(x, x[::-1], target=y)[1],
                        fs.distillation_loss_and_grad(x32, x32[::-1], target=y)[1]),
            "gh": (fs.cross_entropy_gradient_hessian(x, y)[1],
                   fs.cross_entropy_gradient_hessian(x32, y)[1]),
            "backward": (fs.softmax_backward(x, p), fs.softmax_backward(x32, p.astype(np.float32))),
            "sigmoid_focal": (fs.sigmoid_focal_loss(x, (x32 > 0).astype(np.float32)),
                              fs.sigmoid_focal_loss(x32, (x32 > 0).astype(np.float32))),
        }
        for name, (got, ref) in checks.items():
            if not np.array_equal(got.view(np.uint16), ref.astype(dt).view(np.uint16)):
                bad.append((name, dt.name, n))
print("ISA", _core.isa_selected())
print("BAD", bad)
'''


@NEEDS_BF16
@pytest.mark.parametrize("level", ["avx512", "avx2", "baseline"])
def test_every_isa_level(level):
    from _subproc import run_python
    p = run_python(ISA_CHILD, timeout=300, env={"FASTSOFTMAX_ISA": level})
    if "not available" in p.stderr:
        pytest.skip(f"{level} not available here")
    assert p.returncode == 0, p.stderr
    assert "BAD []" in p.stdout, p.stdout


# ------------------------------------------------------------------ memory

MEMORY_SCRIPT = r'''
import json
import numpy as np, ml_dtypes
import fastsoftmax as fs
N, C = 2048, 32000
x = np.zeros((N, C), ml_dtypes.bfloat16)
x[...] = 1.0                                     # touched: part of the baseline
y = np.arange(N) % C

def status(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024

fs.focal_loss_and_grad(x[:8], y[:8], num_threads=2)
with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
base = status("VmRSS")
loss, grad = fs.focal_loss_and_grad(x, y, num_threads=2)
peak = status("VmHWM")
print(json.dumps({"extra": peak - base, "grad_bytes": grad.nbytes}))
'''


@NEEDS_BF16
def test_focal_bfloat16_peak_memory_is_the_gradient(tmp_path):
    if not os.path.exists("/proc/self/clear_refs"):
        pytest.skip("needs /proc/self/clear_refs to reset the peak RSS")
    import json
    from _subproc import run_file
    script = tmp_path / "mem.py"
    script.write_text(MEMORY_SCRIPT)
    proc = run_file(script, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    # the bfloat16 gradient plus O(threads x chunk) scratch, never a float32
    # copy of the logits (twice the gradient)
    assert res["extra"] < res["grad_bytes"] + (16 << 20), res
