"""Losses and sigmoid against ``torch.nn.functional`` (loss and autograd
gradient).  torch is computed in float64 from the very same inputs; float32
inputs are also compared (loosely) with torch in float32."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import fastsoftmax as fs

torch = pytest.importorskip("torch")
F = torch.nn.functional


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    # Small problems: torch's intra-op thread pool only adds overhead here.
    # torch.set_num_threads calls omp_set_num_threads, which our kernels see
    # too (same libgomp): restore it so no other module runs single-threaded.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


REDUCTIONS = ["none", "mean", "sum"]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _t(a, dtype=torch.float64, grad=False):
    t = torch.from_numpy(np.ascontiguousarray(a)).to(dtype)
    if grad:
        t.requires_grad_(True)
    return t


def _close(got, expect, dtype, what="", floor=1e-300):
    """rtol 1e-12 (float64) / 2e-6 (float32) plus an absolute tolerance relative to
    the largest |expected| value, or to `floor` when that is larger (rounding errors
    of exactly-zero results scale with the inputs, not with the result)."""
    got = np.asarray(got, dtype=np.float64)
    expect = np.asarray(expect, dtype=np.float64)
    finite = np.abs(expect[np.isfinite(expect)])
    scale = max(float(finite.max()), floor) if finite.size else 1.0
    if np.dtype(dtype) == np.float64:
        np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-14 * scale,
                                   equal_nan=True, err_msg=what)
    else:
        np.testing.assert_allclose(got, expect, rtol=2e-6, atol=2e-6 * scale,
                                   equal_nan=True, err_msg=what)


def _close_f32_loose(got, expect, what="", floor=1e-30):
    got = np.asarray(got, dtype=np.float64)
    expect = np.asarray(expect, dtype=np.float64)
    scale = float(np.abs(expect).max()) if expect.size else 1.0
    np.testing.assert_allclose(got, expect, rtol=1e-5, atol=1e-5 * max(scale, floor),
                               equal_nan=True, err_msg=what)


def _to_torch_layout(a, axis):
    """(N, ..., C, ...) with classes on `axis` -> torch's (N, C, d1, ...)."""
    if a.ndim == 1:
        return a
    return np.moveaxis(a, axis, 1)


def torch_ce(x, target, axis, weight, ignore_index, eps, reduction, tdtype=torch.float64):
    """torch loss and d(loss or sum(loss))/dx, back in our layout, as float64."""
    xt = _t(_to_torch_layout(x, axis), tdtype, grad=True)
    tgt = np.asarray(target)
    if tgt.dtype.kind in "iu":
        tt = torch.from_numpy(tgt.astype(np.int64))
    else:
        tt = _t(_to_torch_layout(tgt, axis), tdtype)
    wt = None if weight is None else _t(weight, tdtype)
    loss = F.cross_entropy(xt, tt, weight=wt, ignore_index=ignore_index,
                           label_smoothing=eps, reduction=reduction)
    (loss.sum() if reduction == "none" else loss).backward()
    g = np.moveaxis(xt.grad.double().numpy(), 1, axis) if x.ndim > 1 else xt.grad.double().numpy()
    return loss.detach().double().numpy(), g


def make_case(rng, shape, axis, kind, weighted, ignore, dtype):
    c = shape[axis]
    x = (2.0 * rng.standard_normal(shape)).astype(dtype)
    bshape = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    ii = -100 if ignore == "default" else (2 if c > 2 else 0)
    if kind == "index":
        y = rng.integers(0, c, size=bshape)
        mask = rng.random(bshape) < 0.25
        mask.reshape(-1)[0] = False
        y[mask] = ii
        if c == 1 and ii == 0:
            y[...] = 0
    else:
        # strictly positive: torch gives NaN for 0 * log(0) by design
        t = rng.uniform(0.05, 1.0, size=shape)
        y = (t / t.sum(axis=axis, keepdims=True)).astype(dtype)
    w = rng.uniform(0.25, 2.0, size=c).astype(dtype) if weighted else None
    return x, y, w, ii


CE_SHAPES = [((5, 3), -1), ((37, 53), -1), ((4, 6, 7), -1), ((4, 6, 7), 1), ((16, 3000), -1),
             ((1, 1), -1)]


@pytest.mark.parametrize("shape,axis", CE_SHAPES, ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind,ignore", [("index", "default"), ("index", "class"),
                                         ("prob", "default")])
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("eps", [0.0, 0.1, 1.0], ids=["ls0", "ls.1", "ls1"])
def test_cross_entropy_vs_torch(shape, axis, dtype, kind, ignore, weighted, eps):
    rng = _rng("ce", shape, axis, dtype, kind, ignore, weighted, eps)
    x, y, w, ii = make_case(rng, shape, axis, kind, weighted, ignore, dtype)
    for reduction in REDUCTIONS:
        kw = dict(weight=w, ignore_index=ii, label_smoothing=eps, reduction=reduction)
        loss, grad = fs.cross_entropy_and_grad(x, y, axis=axis, **kw)
        tl, tg = torch_ce(x, y, axis, w, ii, eps, reduction)
        gfloor = 1.0 / max(1, y.size if kind == "index" else y.size // shape[axis])
        _close(loss, tl, dtype, f"loss {reduction}", floor=1.0)
        _close(grad, tg, dtype, f"grad {reduction}", floor=gfloor)
        if dtype == np.float32:
            tl32, tg32 = torch_ce(x, y, axis, w, ii, eps, reduction, torch.float32)
            _close_f32_loose(loss, tl32, f"loss f32 {reduction}", floor=1.0)
            _close_f32_loose(grad, tg32, f"grad f32 {reduction}", floor=gfloor)


@pytest.mark.parametrize("tdtype", [np.int32, np.uint8, np.int8, np.uint64])
def test_cross_entropy_int_targets_vs_torch(tdtype):
    rng = _rng("intt", tdtype)
    x = rng.standard_normal((40, 6))
    y = rng.integers(0, 6, size=40).astype(tdtype)
    w = rng.uniform(0.5, 2, size=6)
    for reduction in REDUCTIONS:
        kw = dict(weight=w, ignore_index=3, label_smoothing=0.05, reduction=reduction)
        loss, grad = fs.cross_entropy_and_grad(x, y, **kw)
        tl, tg = torch_ce(x, y.astype(np.int64), -1, w, 3, 0.05, reduction)
        _close(loss, tl, np.float64)
        _close(grad, tg, np.float64)


def test_cross_entropy_all_ignored_vs_torch():
    x = np.random.default_rng(3).standard_normal((4, 3))
    y = np.full(4, -100)
    for reduction in REDUCTIONS:
        loss, grad = fs.cross_entropy_and_grad(x, y, reduction=reduction)
        tl, tg = torch_ce(x, y, -1, None, -100, 0.0, reduction)
        _close(loss, tl, np.float64)
        _close(grad, tg, np.float64)


def test_cross_entropy_prob_target_zero_differs_from_torch():
    """A deliberate difference (docs/semantics.md): a probability target of 0
    contributes 0 where log p = -inf (xlogy); torch gives NaN."""
    x = np.array([[0.0, -np.inf, 1.0]])
    t = np.array([[0.5, 0.0, 0.5]])
    tl, _ = torch_ce(x, t, -1, None, -100, 0.0, "mean")
    assert np.isnan(tl)
    loss, grad = fs.cross_entropy_and_grad(x, t)
    assert np.isfinite(loss) and np.isfinite(grad).all()
    # but with finite logits and a zero target entry both agree
    x2 = np.array([[0.0, -3.0, 1.0]])
    tl2, tg2 = torch_ce(x2, t, -1, None, -100, 0.0, "mean")
    l2, g2 = fs.cross_entropy_and_grad(x2, t)
    _close(l2, tl2, np.float64)
    _close(g2, tg2, np.float64)


def test_cross_entropy_plus_inf_logit_like_torch():
    x = np.array([[np.inf, 0.0, 1.0], [0.0, 1.0, 2.0]])
    y = np.array([1, 0])
    tl, tg = torch_ce(x, y, -1, None, -100, 0.0, "none")
    assert np.isnan(tl[0]) and np.isnan(tg[0]).all()
    loss, grad = fs.cross_entropy_and_grad(x, y, reduction="none")
    assert np.isnan(grad[0]).all()
    _close(loss[1:], tl[1:], np.float64)
    assert np.isnan(loss[0])          # fails: loss[0] == inf


# ----------------------------------------------------------------------------
# nll_loss
# ----------------------------------------------------------------------------
@pytest.mark.parametrize("shape,axis", [((5, 3), -1), ((37, 53), -1), ((4, 6, 7), 1),
                                        ((4, 6, 7), -1)], ids=lambda v: str(v))
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("ignore", ["default", "class"])
def test_nll_loss_vs_torch(shape, axis, dtype, weighted, ignore):
    rng = _rng("nll", shape, axis, dtype, weighted, ignore)
    x, y, w, ii = make_case(rng, shape, axis, "index", weighted, ignore, dtype)
    lp = torch.log_softmax(_t(x), dim=axis).numpy().astype(dtype)
    for reduction in REDUCTIONS:
        got = fs.nll_loss(lp, y, axis=axis, weight=w, ignore_index=ii, reduction=reduction)
        expect = F.nll_loss(_t(_to_torch_layout(lp, axis)), torch.from_numpy(y),
                            weight=None if w is None else _t(w), ignore_index=ii,
                            reduction=reduction).numpy()
        assert np.asarray(got).dtype == dtype
        _close(got, expect, dtype, reduction)


# ----------------------------------------------------------------------------
# binary cross-entropy
# ----------------------------------------------------------------------------
BIN_SHAPES = [(7,), (6, 5), (3, 4, 5)]


def _weight_for(rng, shape, how, dtype):
    if how == "none":
        return None
    if how == "full":
        return rng.uniform(0.2, 2.0, size=shape).astype(dtype)
    if how == "last":
        return rng.uniform(0.2, 2.0, size=shape[-1:]).astype(dtype)
    return np.asarray(1.7, dtype=dtype)  # scalar


@pytest.mark.parametrize("shape", BIN_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("wmode", ["none", "full", "last", "scalar"])
@pytest.mark.parametrize("soft", [False, True], ids=["hard", "soft"])
def test_bce_vs_torch(shape, dtype, wmode, soft):
    rng = _rng("bce", shape, dtype, wmode, soft)
    p = rng.uniform(0.01, 0.99, size=shape).astype(dtype)
    t = (rng.random(shape) if soft else (rng.random(shape) < 0.5)).astype(dtype)
    w = _weight_for(rng, shape, wmode, dtype)
    for reduction in REDUCTIONS:
        loss = fs.binary_cross_entropy(p, t, weight=w, reduction=reduction)
        loss2, grad = fs.binary_cross_entropy_and_grad(p, t, weight=w, reduction=reduction)
        np.testing.assert_array_equal(loss, loss2)
        assert np.asarray(loss).dtype == dtype and grad.dtype == dtype
        for tdt in (torch.float64, torch.float32) if dtype == np.float32 else (torch.float64,):
            pt = _t(p, tdt, grad=True)
            tl = F.binary_cross_entropy(pt, _t(t, tdt), weight=None if w is None else _t(w, tdt),
                                        reduction=reduction)
            (tl.sum() if reduction == "none" else tl).backward()
            if tdt == torch.float64:
                _close(loss, tl.detach().numpy(), dtype, reduction)
                _close(grad, pt.grad.numpy(), dtype, reduction)
            else:
                _close_f32_loose(loss, tl.detach().numpy(), reduction)
                _close_f32_loose(grad, pt.grad.numpy(), reduction)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_bce_extreme_probs_vs_torch(dtype):
    """p exactly 0 / 1: the -100 log clamp (loss) and the 1e-12 clamp (grad)."""
    p = np.array([0.0, 0.0, 1.0, 1.0, 0.5, 1e-30, 1 - 1e-7], dtype=dtype)
    t = np.array([0.0, 1.0, 0.0, 1.0, 0.3, 1.0, 0.0], dtype=dtype)
    for reduction in REDUCTIONS:
        loss, grad = fs.binary_cross_entropy_and_grad(p, t, reduction=reduction)
        pt = _t(p, torch.float64, grad=True)
        tl = F.binary_cross_entropy(pt, _t(t), reduction=reduction)
        (tl.sum() if reduction == "none" else tl).backward()
        assert np.isfinite(loss).all() and np.isfinite(grad).all()
        _close(loss, tl.detach().numpy(), dtype, reduction)
        _close(grad, pt.grad.numpy(), dtype, reduction)


@pytest.mark.parametrize("shape", BIN_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("wmode", ["none", "full", "last"])
@pytest.mark.parametrize("pwmode", ["none", "last", "scalar"])
def test_bce_with_logits_vs_torch(shape, dtype, wmode, pwmode):
    rng = _rng("bcel", shape, dtype, wmode, pwmode)
    x = (4.0 * rng.standard_normal(shape)).astype(dtype)
    x.reshape(-1)[:2] = [30.0, -30.0]
    t = rng.random(shape).astype(dtype)
    t.reshape(-1)[2:4] = [0.0, 1.0]
    w = _weight_for(rng, shape, wmode, dtype)
    pw = (None if pwmode == "none" else
          rng.uniform(0.3, 3.0, size=shape[-1:]).astype(dtype) if pwmode == "last"
          else np.asarray([2.5], dtype=dtype))
    for reduction in REDUCTIONS:
        kw = dict(weight=w, pos_weight=pw, reduction=reduction)
        loss = fs.binary_cross_entropy_with_logits(x, t, **kw)
        loss2, grad = fs.binary_cross_entropy_with_logits_and_grad(x, t, **kw)
        np.testing.assert_array_equal(loss, loss2)
        assert np.asarray(loss).dtype == dtype and grad.dtype == dtype
        for tdt in (torch.float64, torch.float32) if dtype == np.float32 else (torch.float64,):
            xt = _t(x, tdt, grad=True)
            tl = F.binary_cross_entropy_with_logits(
                xt, _t(t, tdt), weight=None if w is None else _t(w, tdt),
                pos_weight=None if pw is None else _t(pw, tdt), reduction=reduction)
            (tl.sum() if reduction == "none" else tl).backward()
            if tdt == torch.float64:
                _close(loss, tl.detach().numpy(), dtype, reduction)
                _close(grad, xt.grad.numpy(), dtype, reduction)
            else:
                _close_f32_loose(loss, tl.detach().numpy(), reduction)
                _close_f32_loose(grad, xt.grad.numpy(), reduction)


def test_bce_with_logits_extremes_vs_torch():
    x = np.array([-1000.0, -100.0, -20.0, 0.0, 20.0, 100.0, 1000.0])
    for tv in (0.0, 0.25, 1.0):
        t = np.full_like(x, tv)
        pw = np.array([3.0])
        for kw in (dict(), dict(pos_weight=pw)):
            loss, grad = fs.binary_cross_entropy_with_logits_and_grad(x, t, reduction="sum",
                                                                      **kw)
            xt = _t(x, grad=True)
            tl = F.binary_cross_entropy_with_logits(
                xt, _t(t), reduction="sum",
                **({} if not kw else dict(pos_weight=_t(pw))))
            tl.backward()
            assert np.isfinite(loss) and np.isfinite(grad).all()
            _close(loss, tl.detach().numpy(), np.float64)
            _close(grad, xt.grad.numpy(), np.float64)


@pytest.mark.parametrize("fn,kw", [
    ("binary_cross_entropy", "weight"),
    ("binary_cross_entropy_with_logits", "weight"),
    ("binary_cross_entropy_with_logits", "pos_weight")])
def test_bce_weight_must_not_enlarge_input_like_torch(fn, kw):
    p = np.array([0.2, 0.5, 0.7])
    t = np.array([0.0, 1.0, 1.0])
    big = np.ones((2, 1))
    tfn = getattr(F, fn)
    with pytest.raises(RuntimeError):
        tfn(_t(p), _t(t), **{kw: _t(big)}, reduction="none")
    with pytest.raises(ValueError):
        getattr(fs, fn)(p, t, **{kw: big}, reduction="none")


# ----------------------------------------------------------------------------
# sigmoid / log_sigmoid
# ----------------------------------------------------------------------------
def _special_inputs(dtype):
    rng = _rng("sig", dtype)
    x = np.concatenate([
        rng.standard_normal(500) * 10,
        np.linspace(-800, 800, 401),
        [0.0, -0.0, 1e-300, -1e-300, 1000.0, -1000.0, 88.7, -88.7, 103.0, -103.0,
         709.0, -709.0, 745.0, -745.0, 36.0, -36.0, 17.0, -17.0],
    ])
    with np.errstate(over="ignore"):
        return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
def test_sigmoid_vs_torch(dtype):
    x = _special_inputs(dtype)
    tdt = torch.float32 if dtype == np.float32 else torch.float64
    s = fs.sigmoid(x)
    ls = fs.log_sigmoid(x)
    assert s.dtype == dtype and ls.dtype == dtype
    ts = torch.sigmoid(_t(x, tdt)).numpy()
    tls = F.logsigmoid(_t(x, tdt)).numpy()
    # torch's own results are only accurate to a few ulp; scale tolerance accordingly
    tiny = np.finfo(dtype).tiny
    if dtype == np.float64:
        np.testing.assert_allclose(s, ts, rtol=1e-14, atol=tiny)
        np.testing.assert_allclose(ls, tls, rtol=1e-14, atol=tiny)
    else:
        np.testing.assert_allclose(s, ts, rtol=4e-7, atol=tiny)
        np.testing.assert_allclose(ls, tls, rtol=4e-7, atol=tiny)
    # special values
    sp = np.array([np.inf, -np.inf, np.nan], dtype=dtype)
    np.testing.assert_array_equal(fs.sigmoid(sp), torch.sigmoid(_t(sp, tdt)).numpy())
    np.testing.assert_array_equal(fs.log_sigmoid(sp), F.logsigmoid(_t(sp, tdt)).numpy())
