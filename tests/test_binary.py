"""binary_cross_entropy(_with_logits) and sigmoid / log_sigmoid against the
reference ``fastsoftmax.slow`` (torch's formulas, docs/semantics.md) and
scipy.special.expit / log_expit: weights and their broadcasting, pos_weight,
exact 0 and 1, extreme logits, dtypes, validation, gradients by finite
differences, out=."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow

scipy_special = pytest.importorskip("scipy.special")
expit, log_expit = scipy_special.expit, scipy_special.log_expit

REDUCTIONS = ["none", "mean", "sum"]
SHAPES = [(1,), (9,), (6, 5), (3, 4, 5), (257, 3)]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def reference(fname, *args, **kw):
    """``fastsoftmax.slow``'s answer for float64 copies of the array arguments."""
    def f64(a):
        return None if a is None else np.asarray(a, dtype=np.float64)
    return getattr(slow, fname)(*map(f64, args), **{k: f64(v) if k.endswith("weight") else v
                                                    for k, v in kw.items()})


def _gscale(n, reduction):
    return 1.0 / n if reduction == "mean" else 1.0


def _close(got, expect, dtype, floor=1.0):
    got = np.asarray(got, dtype=np.float64)
    expect = np.asarray(expect, dtype=np.float64)
    scale = max(float(np.abs(expect).max()) if expect.size else 1.0, floor)
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(got, expect, rtol=1e-13, atol=1e-15 * scale)
    else:
        np.testing.assert_allclose(got, expect, rtol=2e-6, atol=1e-6 * scale)


def _weights(rng, shape, how, dtype):
    if how == "none":
        return None
    if how == "scalar":
        return np.asarray(0.7, dtype=dtype)
    if how == "last":
        return rng.uniform(0.2, 2.0, size=shape[-1:]).astype(dtype)
    if how == "col" and len(shape) >= 2:
        return rng.uniform(0.2, 2.0, size=shape[:-1] + (1,)).astype(dtype)
    return rng.uniform(0.2, 2.0, size=shape).astype(dtype)


# ----------------------------------------------------------------------------
# binary_cross_entropy
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("wmode", ["none", "scalar", "last", "col", "full"])
def test_bce_vs_reference(shape, dtype, wmode):
    rng = _rng("bce", shape, dtype, wmode)
    p = rng.uniform(0.001, 0.999, size=shape).astype(dtype)
    t = rng.random(shape).astype(dtype)
    t.reshape(-1)[::3] = np.round(t.reshape(-1)[::3])        # some hard labels
    w = _weights(rng, shape, wmode, dtype)
    for reduction in REDUCTIONS:
        ref, gref = reference("binary_cross_entropy_and_grad", p, t, weight=w,
                              reduction=reduction)
        loss = fs.binary_cross_entropy(p, t, weight=w, reduction=reduction)
        loss2, grad = fs.binary_cross_entropy_and_grad(p, t, weight=w, reduction=reduction)
        np.testing.assert_array_equal(loss, loss2)
        if reduction == "none":
            assert isinstance(loss, np.ndarray) and loss.shape == shape
        else:
            assert isinstance(loss, np.generic)
        assert np.asarray(loss).dtype == dtype
        assert grad.shape == shape and grad.dtype == dtype
        _close(loss, ref, dtype)
        _close(grad, gref, dtype, floor=_gscale(p.size, reduction))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bce_exact_zero_and_one(dtype):
    """log clamped at -100: p = 0 or 1 gives a finite loss."""
    p = np.array([0.0, 0.0, 1.0, 1.0, 0.0, 1.0], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.25], dtype=dtype)
    loss, grad = fs.binary_cross_entropy_and_grad(p, t, reduction="none")
    np.testing.assert_array_equal(loss, np.array([100, 0, 100, 0, 50, 75], dtype=dtype))
    assert np.isfinite(grad).all()
    np.testing.assert_allclose(
        grad, reference("binary_cross_entropy_and_grad", p, t, reduction="none")[1], rtol=1e-7)
    # p = 0, t = 1 -> -1/1e-12 (torch's clamp)
    assert abs(grad[0] / -1e12 - 1) < 1e-6
    assert grad[1] == 0 and grad[3] == 0
    assert fs.binary_cross_entropy(p, t) == dtype(325 / 6)
    # tiny p: log(p) below -100 is clamped too
    np.testing.assert_array_equal(
        fs.binary_cross_entropy(np.array([1e-50, 1 - 1e-16]), np.array([1.0, 0.0]),
                                reduction="none"),
        [100.0, -np.log1p(-(1 - 1e-16))])


def test_bce_targets_of_any_real_dtype():
    p = np.array([0.2, 0.6, 0.9])
    ref = fs.binary_cross_entropy(p, np.array([0.0, 1.0, 1.0]), reduction="none")
    for t in (np.array([0, 1, 1]), np.array([False, True, True]),
              np.array([0, 1, 1], dtype=np.uint8), [0, 1, 1], np.array([0, 1, 1], "f4")):
        np.testing.assert_array_equal(fs.binary_cross_entropy(p, t, reduction="none"), ref)


def test_bce_dtype_rules():
    p64 = np.array([0.2, 0.6])
    t = np.array([0.0, 1.0])
    assert fs.binary_cross_entropy(p64.astype(np.float32), t).dtype == np.float32
    assert fs.binary_cross_entropy(p64, t.astype(np.float32)).dtype == np.float64
    l16 = fs.binary_cross_entropy(p64.astype(np.float16), t, reduction="none")
    assert l16.dtype == np.float16
    np.testing.assert_allclose(
        l16, reference("binary_cross_entropy", p64.astype(np.float16), t, reduction="none"),
        rtol=2e-3)
    # integer "probabilities" 0/1 compute in float64
    li = fs.binary_cross_entropy(np.array([0, 1]), np.array([0, 1]))
    assert li.dtype == np.float64 and li == 0


def test_bce_validation():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fs.binary_cross_entropy(np.array([0.5, 1.5]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        fs.binary_cross_entropy_and_grad(np.array([-1e-9, 0.5]), np.array([1.0, 0.0]))
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        fs.binary_cross_entropy(np.array([0.5, 0.5]), np.array([1.0, 0.0, 1.0]))
    with pytest.raises(ValueError, match="shape"):
        fs.binary_cross_entropy(np.full((2, 3), 0.5), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="weight"):
        fs.binary_cross_entropy(np.full((2, 3), 0.5), np.zeros((2, 3)), weight=np.ones(2))
    with pytest.raises(ValueError, match=r"'none'.*'mean'.*'sum'"):
        fs.binary_cross_entropy(np.array([0.5]), np.array([1.0]), reduction="batchmean")
    with pytest.raises(TypeError):
        fs.binary_cross_entropy(np.array([0.5 + 0j]), np.array([1.0]))
    with pytest.raises(TypeError):
        fs.binary_cross_entropy(np.array([0.5]), np.array(["a"]))


def test_bce_empty():
    p = np.zeros((0, 3))
    assert np.isnan(fs.binary_cross_entropy(p, p))
    assert fs.binary_cross_entropy(p, p, reduction="sum") == 0
    assert fs.binary_cross_entropy(p, p, reduction="none").shape == (0, 3)
    loss, grad = fs.binary_cross_entropy_and_grad(p, p)
    assert np.isnan(loss) and grad.shape == (0, 3)
    loss, grad = fs.binary_cross_entropy_with_logits_and_grad(p, p, reduction="sum")
    assert loss == 0 and grad.shape == (0, 3)


def test_bce_nan_propagates():
    loss = fs.binary_cross_entropy(np.array([np.nan, 0.5]), np.array([1.0, 0.0]),
                                   reduction="none")
    assert np.isnan(loss[0]) and np.isfinite(loss[1])


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
def test_bce_grad_finite_differences(reduction, weighted):
    rng = _rng("bcefd", reduction, weighted)
    p = rng.uniform(0.05, 0.95, size=(4, 5))
    t = rng.random((4, 5))
    w = rng.uniform(0.5, 2.0, size=5) if weighted else None
    _, grad = fs.binary_cross_entropy_and_grad(p, t, weight=w, reduction=reduction)
    np.testing.assert_allclose(
        grad, _fd(lambda z: np.sum(fs.binary_cross_entropy(z, t, weight=w,
                                                           reduction=reduction)), p),
        rtol=1e-5, atol=1e-9)


# ----------------------------------------------------------------------------
# binary_cross_entropy_with_logits
# ----------------------------------------------------------------------------
def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp = x.copy()
        xm = x.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (f(xp) - f(xm)) / (2 * h)
    return g


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("wmode", ["none", "scalar", "last", "col", "full"])
@pytest.mark.parametrize("pwmode", ["none", "scalar", "last"])
def test_bce_with_logits_vs_reference(shape, dtype, wmode, pwmode):
    rng = _rng("bcel", shape, dtype, wmode, pwmode)
    x = (5.0 * rng.standard_normal(shape)).astype(dtype)
    t = rng.random(shape).astype(dtype)
    t.reshape(-1)[::3] = np.round(t.reshape(-1)[::3])
    w = _weights(rng, shape, wmode, dtype)
    pw = (None if pwmode == "none" else np.asarray([3.0], dtype=dtype) if pwmode == "scalar"
          else rng.uniform(0.2, 4.0, size=shape[-1:]).astype(dtype))
    for reduction in REDUCTIONS:
        kw = dict(weight=w, pos_weight=pw, reduction=reduction)
        ref, gref = reference("binary_cross_entropy_with_logits_and_grad", x, t, **kw)
        loss = fs.binary_cross_entropy_with_logits(x, t, **kw)
        loss2, grad = fs.binary_cross_entropy_with_logits_and_grad(x, t, **kw)
        np.testing.assert_array_equal(loss, loss2)
        assert np.asarray(loss).dtype == dtype and grad.dtype == dtype
        assert grad.shape == shape
        if reduction == "none":
            assert loss.shape == shape
        _close(loss, ref, dtype)
        _close(grad, gref, dtype, floor=_gscale(x.size, reduction))


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bce_with_logits_extremes(dtype):
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0, 1000.0, 0.0, 1e30, -1e30], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.0, 1.0], dtype=dtype)
    loss, grad = fs.binary_cross_entropy_with_logits_and_grad(x, t, reduction="none")
    assert np.isfinite(loss).all() and np.isfinite(grad).all()
    np.testing.assert_allclose(loss, [0, 0, 1000, 1000, 500, np.log(2), 1e30, 1e30],
                               rtol=1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_array_equal(grad, np.array([0, 0, 1, -1, 0.5, 0, 1, -1], dtype=dtype))
    # with pos_weight
    pw = np.array([4.0], dtype=dtype)
    lp, gp = fs.binary_cross_entropy_with_logits_and_grad(x, t, pos_weight=pw,
                                                          reduction="none")
    assert np.isfinite(lp).all() and np.isfinite(gp).all()
    ref, gref = reference("binary_cross_entropy_with_logits_and_grad", x, t, pos_weight=pw,
                          reduction="none")
    np.testing.assert_allclose(lp, ref, rtol=1e-6 if dtype == np.float32 else 1e-15)
    np.testing.assert_allclose(gp, gref, atol=1e-6)


def test_bce_with_logits_pos_weight_one_is_plain():
    rng = _rng("pw1")
    x = 3 * rng.standard_normal((7, 4))
    t = rng.random((7, 4))
    np.testing.assert_allclose(
        fs.binary_cross_entropy_with_logits(x, t, pos_weight=np.ones(4), reduction="none"),
        np.maximum(x, 0) - x * t + np.log1p(np.exp(-np.abs(x))), rtol=1e-14)
    # hard targets: equals binary_cross_entropy of the sigmoid (away from the clamp)
    th = (t > 0.5).astype(float)
    np.testing.assert_allclose(fs.binary_cross_entropy_with_logits(x, th),
                               fs.binary_cross_entropy(expit(x), th), rtol=1e-12)


def test_bce_with_logits_pos_weight_along_last_axis():
    x = np.zeros((2, 3))
    t = np.ones((2, 3))
    pw = np.array([1.0, 2.0, 3.0])
    loss = fs.binary_cross_entropy_with_logits(x, t, pos_weight=pw, reduction="none")
    np.testing.assert_allclose(loss, np.log(2) * np.array([[1, 2, 3], [1, 2, 3]]),
                               rtol=1e-15)
    with pytest.raises(ValueError, match="pos_weight"):
        fs.binary_cross_entropy_with_logits(x, t, pos_weight=np.ones(2))
    with pytest.raises(ValueError, match="weight"):
        fs.binary_cross_entropy_with_logits(x, t, weight=np.ones(2))


def test_bce_with_logits_validation():
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        fs.binary_cross_entropy_with_logits(np.zeros(2), np.zeros(3))
    with pytest.raises(ValueError, match="shape"):
        fs.binary_cross_entropy_with_logits_and_grad(np.zeros((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"'none'.*'mean'.*'sum'"):
        fs.binary_cross_entropy_with_logits(np.zeros(2), np.zeros(2), reduction="Mean")
    with pytest.raises(TypeError):
        fs.binary_cross_entropy_with_logits(np.zeros(2, dtype=complex), np.zeros(2))
    # logits are unbounded: values outside [0, 1] are fine
    fs.binary_cross_entropy_with_logits(np.array([-5.0, 5.0]), np.array([0.0, 1.0]))


@pytest.mark.parametrize("fn,kw", [
    ("binary_cross_entropy", "weight"),
    ("binary_cross_entropy_and_grad", "weight"),
    ("binary_cross_entropy_with_logits", "weight"),
    ("binary_cross_entropy_with_logits", "pos_weight")])
def test_weight_broadcasting_must_not_enlarge_the_input(fn, kw):
    p = np.array([0.2, 0.5, 0.7])
    t = np.array([0.0, 1.0, 1.0])
    with pytest.raises(ValueError):
        getattr(fs, fn)(p, t, **{kw: np.ones((2, 1))}, reduction="none")


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("pos_weighted", [False, True])
def test_bce_with_logits_grad_finite_differences(reduction, weighted, pos_weighted):
    rng = _rng("bcelfd", reduction, weighted, pos_weighted)
    x = 3 * rng.standard_normal((4, 5))
    t = rng.random((4, 5))
    w = rng.uniform(0.5, 2.0, size=(4, 1)) if weighted else None
    pw = rng.uniform(0.5, 3.0, size=5) if pos_weighted else None
    kw = dict(weight=w, pos_weight=pw, reduction=reduction)
    _, grad = fs.binary_cross_entropy_with_logits_and_grad(x, t, **kw)
    np.testing.assert_allclose(
        grad, _fd(lambda z: np.sum(fs.binary_cross_entropy_with_logits(z, t, **kw)), x),
        rtol=1e-5, atol=1e-9)


def test_binary_inputs_never_modified():
    rng = _rng("nomod")
    p = rng.uniform(0, 1, (5, 4))
    p[0, 0] = 0.0
    p[0, 1] = 1.0
    x = rng.standard_normal((5, 4))
    t = rng.random((5, 4))
    w = rng.random(4)
    pw = rng.random(4) + 0.5
    arrays = (p, x, t, w, pw)
    copies = [a.copy() for a in arrays]
    for r in REDUCTIONS:
        fs.binary_cross_entropy_and_grad(p, t, weight=w, reduction=r)
        fs.binary_cross_entropy_with_logits_and_grad(x, t, weight=w, pos_weight=pw,
                                                     reduction=r)
        fs.sigmoid(x)
        fs.log_sigmoid(x)
    for a, b in zip(arrays, copies):
        np.testing.assert_array_equal(a, b)


# ----------------------------------------------------------------------------
# sigmoid / log_sigmoid
# ----------------------------------------------------------------------------
def _sigmoid_inputs():
    rng = _rng("sig")
    return np.concatenate([
        rng.standard_normal(3000) * 5,
        rng.standard_normal(3000) * 300,
        np.linspace(-760, 760, 15201),
        [0.0, -0.0, 1e-300, -1e-300, 5e-324, 1000.0, -1000.0, 36.7, -36.7, 709.78, -709.78,
         745.1, -745.1, 1e308, -1e308],
    ])


def test_sigmoid_float64_vs_scipy():
    x = _sigmoid_inputs()
    s = fs.sigmoid(x)
    ref = expit(x)
    normal = ref >= np.finfo(np.float64).tiny
    np.testing.assert_allclose(s[normal], ref[normal], rtol=1e-15, atol=0)
    # subnormal results: keep full precision where scipy gives 0 (expit computes
    # 1 / (1 + exp(-x)), and exp(-x) overflows); the reference does not flush
    np.testing.assert_allclose(s[~normal], slow.sigmoid(x[~normal]), rtol=1e-15,
                               atol=2 * 5e-324)
    assert (s[(x > -745) & ~normal] > 0).all()
    assert fs.sigmoid(np.array([-708.0]))[0] > 0


def test_log_sigmoid_float64_vs_scipy():
    x = _sigmoid_inputs()
    np.testing.assert_allclose(fs.log_sigmoid(x), log_expit(x), rtol=1e-15, atol=5e-324)
    # never -inf for finite x
    assert np.isfinite(fs.log_sigmoid(np.array([-1e308, -1000.0, -800.0]))).all()
    np.testing.assert_array_equal(fs.log_sigmoid(np.array([-1000.0, -1e308])),
                                  [-1000.0, -1e308])


def test_sigmoid_float32_within_few_ulp():
    x64 = _sigmoid_inputs()
    with np.errstate(over="ignore"):
        x = x64.astype(np.float32)
    x = x[np.isfinite(x)]
    s = fs.sigmoid(x)
    ls = fs.log_sigmoid(x)
    assert s.dtype == np.float32 and ls.dtype == np.float32
    ref_s = slow.sigmoid(x)
    ref_ls = log_expit(x.astype(np.float64)).astype(np.float32)
    eps = np.finfo(np.float32).eps
    sub = np.finfo(np.float32).smallest_subnormal
    np.testing.assert_allclose(s, ref_s, rtol=4 * eps, atol=4 * sub)
    np.testing.assert_allclose(ls, ref_ls, rtol=4 * eps, atol=4 * sub)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_sigmoid_special_values(dtype):
    x = np.array([np.inf, -np.inf, np.nan, 1000.0, -1000.0, 0.0], dtype=dtype)
    np.testing.assert_array_equal(fs.sigmoid(x), np.array([1, 0, np.nan, 1, 0, 0.5], dtype))
    np.testing.assert_allclose(fs.log_sigmoid(x),
                               np.array([0, -np.inf, np.nan, 0, -1000, -np.log(2)], dtype),
                               rtol=1e-7)
    np.testing.assert_array_equal(fs.sigmoid(x), expit(x))
    np.testing.assert_array_equal(fs.log_sigmoid(x)[:5], log_expit(x)[:5])


def test_sigmoid_dtypes_and_scalars():
    assert fs.sigmoid(np.array([1, 2], dtype=np.int8)).dtype == np.float64
    assert fs.sigmoid(np.array([0.5], dtype=np.float16)).dtype == np.float16
    s = fs.sigmoid(0.0)
    assert np.ndim(s) == 0 and s == 0.5
    assert fs.log_sigmoid(np.float32(0)).dtype == np.float32
    np.testing.assert_allclose(fs.sigmoid([-2.0, 2.0]), expit([-2.0, 2.0]), rtol=1e-15)
    np.testing.assert_allclose(fs.sigmoid(3), expit(3.0), rtol=1e-15)
    with pytest.raises(TypeError):
        fs.sigmoid(np.array([1j]))


@pytest.mark.parametrize("fn", ["sigmoid", "log_sigmoid"])
def test_sigmoid_out(fn):
    f = getattr(fs, fn)
    x = np.linspace(-30, 30, 24).reshape(4, 6)
    expect = f(x)
    out = np.empty_like(x)
    assert f(x, out=out) is out
    np.testing.assert_array_equal(out, expect)
    outF = np.empty_like(x, order="F")
    assert f(x, out=outF) is outF
    np.testing.assert_array_equal(outF, expect)
    strided = np.empty((4, 12))[:, ::2]
    assert f(x, out=strided) is strided
    np.testing.assert_array_equal(strided, expect)
    # in place
    y = x.copy()
    assert f(y, out=y) is y
    np.testing.assert_array_equal(y, expect)
    with pytest.raises(ValueError, match="shape"):
        f(x, out=np.empty((6, 4)))
    with pytest.raises(TypeError, match="dtype"):
        f(x, out=np.empty((4, 6), dtype=np.float32))
    with pytest.raises(TypeError):
        f(x, out=[0.0] * 24)
