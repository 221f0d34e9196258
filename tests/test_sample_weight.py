"""Per-sample weights (``sample_weight=``) of the cross-entropy losses.

Checked against: the unweighted per-sample losses and gradients weighted by
hand in float64 NumPy, the pure-NumPy reference (``fastsoftmax.slow``),
scikit-learn's ``log_loss(..., sample_weight=)``, torch autograd of
``(s * F.cross_entropy(..., reduction="none")).sum() / denominator`` and
finite differences; the edge cases (all-zero weights, ignored samples,
class weights, NaN rows), every option combined, axes, layouts, dtypes,
thread counts (bitwise) and the bad input.
"""
from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import assert_matches_reference, assert_same, make_base, with_layout

REDUCTIONS = ("none", "sum", "mean")
DTYPES = (np.float32, np.float64)
TOL = {np.dtype(np.float64): (1e-12, 1e-14), np.dtype(np.float32): (2e-5, 2e-6)}
CE = (fs.cross_entropy, fs.cross_entropy_and_grad)
BINARY = ("binary_cross_entropy", "binary_cross_entropy_and_grad",
          "binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_and_grad")


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _problem(key, shape=(37, 9), axis=-1, dtype=np.float64, prob=False, ignore=0.2,
             class_weight=True):
    """(logits, target, class weight or None, sample weight) of ``shape``."""
    rng = _rng(*key)
    x = make_base(shape, dtype, seed=int(rng.integers(2 ** 31)), scale=3.0)
    ax = axis % len(shape)
    c = shape[ax]
    batch = shape[:ax] + shape[ax + 1:]
    if prob:
        t = np.moveaxis(rng.dirichlet(np.ones(c), size=batch), -1, ax)
    else:
        t = rng.integers(0, c, size=batch)
        t[rng.random(batch) < ignore] = -100
    w = rng.uniform(0.25, 2.0, c) if class_weight else None
    s = rng.uniform(0.0, 3.0, batch)
    return x, t, w, s


def _denominator(t, w, s, prob):
    """sum_i s_i d_i, d_i the sample's share of the unweighted denominator."""
    if prob:
        return s.sum()
    keep = t != -100
    d = np.where(keep, 1.0 if w is None else w[np.where(keep, t, 0)], 0.0)
    return (s * d).sum()


def _by_hand(x, t, w, s, reduction, axis, prob, **kw):
    """The weighted loss and gradient from the unweighted "none" call."""
    loss, grad = fs.cross_entropy_and_grad(x.astype(np.float64), t, axis=axis, weight=w,
                                           reduction="none", **kw)
    d = _denominator(t, w, s, prob)
    scale = 1.0 if reduction != "mean" else (1.0 / d if d else 0.0)
    g = grad * np.expand_dims(s, axis) * scale
    if reduction == "none":
        return loss * s, g
    total = (loss * s).sum()
    return (total / d if reduction == "mean" else total), g


def _close(got, want, dtype, what=""):
    rtol, atol = TOL[np.dtype(dtype)]
    want = np.asarray(want, dtype=np.float64)
    mag = max(1.0, float(np.max(np.abs(want[np.isfinite(want)]), initial=0.0)))
    assert_matches_reference(np.asarray(got, dtype=np.float64), want, rtol=rtol,
                             atol=atol * mag, what=what)


# ------------------------------------------------------------ cross-entropy: definition

OPTIONS = [{}, {"label_smoothing": 0.1}, {"z_loss": 1e-2}, {"softcap": 4.0},
           {"label_smoothing": 0.2, "z_loss": 1e-3, "softcap": 3.0}]


@pytest.mark.parametrize("opts", OPTIONS, ids=str)
@pytest.mark.parametrize("prob", [False, True], ids=["index", "prob"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_is_the_hand_weighted_sum(dtype, reduction, prob, opts):
    for shape, axis in (((37, 9), -1), ((300, 3), -1), ((5, 40), 0), ((4, 6, 7), 1)):
        x, t, w, s = _problem(("hand", shape, prob), shape, axis, dtype, prob)
        want_loss, want_grad = _by_hand(x, t, w, s, reduction, axis, prob, **opts)
        loss = fs.cross_entropy(x, t, axis=axis, weight=w, reduction=reduction,
                                sample_weight=s, **opts)
        l2, grad = fs.cross_entropy_and_grad(x, t, axis=axis, weight=w, reduction=reduction,
                                             sample_weight=s, **opts)
        assert_same(loss, l2)
        assert np.asarray(loss).dtype == dtype and grad.dtype == dtype
        _close(loss, want_loss, dtype, f"loss {shape}")
        _close(grad, want_grad, dtype, f"grad {shape}")
        # the reference, written on its own
        rl, rg = slow.cross_entropy_and_grad(x, t, axis=axis, weight=w, reduction=reduction,
                                             sample_weight=s, **opts)
        _close(loss, rl, dtype, "loss vs slow")
        _close(grad, rg, dtype, "grad vs slow")


def test_the_slow_reference_is_the_hand_weighted_sum():
    x, t, w, s = _problem(("slow-ref",))
    per = slow.cross_entropy(x, t, weight=w, reduction="none")
    keep = t != -100
    d = (s * np.where(keep, w[np.where(keep, t, 0)], 0.0)).sum()
    got = slow.cross_entropy(x, t, weight=w, sample_weight=s)
    np.testing.assert_allclose(got, (s * per).sum() / d, rtol=1e-14)
    _, g = slow.cross_entropy_and_grad(x, t, weight=w, reduction="sum", sample_weight=s)
    _, g0 = slow.cross_entropy_and_grad(x, t, weight=w, reduction="sum")
    np.testing.assert_allclose(g, g0 * s[:, None], rtol=1e-14, atol=0)


@pytest.mark.parametrize("prob", [False, True], ids=["index", "prob"])
@pytest.mark.parametrize("class_weight", [False, True])
def test_unit_weights_are_bitwise_no_weights(prob, class_weight):
    """s = 1 changes nothing: the weighted formulas reduce exactly to the
    unweighted ones (x * 1.0 is x; the denominators are the same sums)."""
    for dtype in DTYPES:
        x, t, w, _ = _problem(("ones", prob, class_weight), dtype=dtype, prob=prob,
                              class_weight=class_weight)
        ones = np.ones(t.shape[:1] if prob else t.shape)
        for reduction in REDUCTIONS:
            for opts in OPTIONS:
                a = fs.cross_entropy_and_grad(x, t, weight=w, reduction=reduction, **opts)
                b = fs.cross_entropy_and_grad(x, t, weight=w, reduction=reduction,
                                              sample_weight=ones, **opts)
                assert_same(a[0], b[0])
                assert_same(a[1], b[1])


def test_weights_scale_like_repeated_samples():
    """An integer weight k is the sample repeated k times."""
    x, t, w, _ = _problem(("repeat",), shape=(12, 5), ignore=0.25)
    k = _rng("k").integers(0, 4, 12)
    xr, tr = np.repeat(x, k, axis=0), np.repeat(t, k)
    for reduction in ("sum", "mean"):
        for opts in OPTIONS:
            got = fs.cross_entropy_and_grad(x, t, weight=w, reduction=reduction,
                                            sample_weight=k, **opts)
            want = fs.cross_entropy_and_grad(xr, tr, weight=w, reduction=reduction, **opts)
            np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
            # the gradient of a repeated row is the sum over its copies
            gsum = np.add.reduceat(want[1], np.r_[0, np.cumsum(k)[:-1]], axis=0) \
                if want[1].size else want[1]
            gsum[k == 0] = 0.0
            np.testing.assert_allclose(got[1], gsum, rtol=1e-12, atol=1e-15)


def test_mean_is_invariant_to_the_weights_scale():
    x, t, w, s = _problem(("scale",))
    a = fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=s)
    b = fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=7.5 * s)
    np.testing.assert_allclose(a[0], b[0], rtol=1e-14)
    np.testing.assert_allclose(a[1], b[1], rtol=1e-13, atol=1e-17)


# ------------------------------------------------------------ against other libraries

def test_cross_entropy_is_sklearn_log_loss():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = _rng("sklearn-ce")
    p = rng.dirichlet(np.ones(5), 200)
    y = rng.integers(0, 5, 200)
    s = rng.uniform(0.0, 4.0, 200)
    want = metrics.log_loss(y, p, sample_weight=s, labels=range(5))
    got = fs.cross_entropy(np.log(p), y, sample_weight=s)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # probability (one-hot) targets give the same weighted mean
    got = fs.cross_entropy(np.log(p), np.eye(5)[y], sample_weight=s)
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # negative weights: scikit-learn accepts them, so do we
    s[::7] = -0.5
    np.testing.assert_allclose(fs.cross_entropy(np.log(p), y, sample_weight=s),
                               metrics.log_loss(y, p, sample_weight=s, labels=range(5)),
                               rtol=1e-11)


def test_binary_cross_entropy_is_sklearn_log_loss():
    metrics = pytest.importorskip("sklearn.metrics")
    rng = _rng("sklearn-bce")
    p = rng.uniform(0.02, 0.98, 300)
    y = rng.integers(0, 2, 300)
    s = rng.uniform(0.0, 2.0, 300)
    want = metrics.log_loss(y, p, sample_weight=s)
    np.testing.assert_allclose(fs.binary_cross_entropy(p, y, sample_weight=s), want,
                               rtol=1e-12)
    logit = np.log(p) - np.log1p(-p)
    np.testing.assert_allclose(fs.binary_cross_entropy_with_logits(logit, y, sample_weight=s),
                               want, rtol=1e-11)


def _torch():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


@pytest.mark.parametrize("opts", [{}, {"label_smoothing": 0.1}], ids=str)
@pytest.mark.parametrize("prob", [False, True], ids=["index", "prob"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_is_torch_autograd(reduction, prob, opts):
    torch, F = _torch()
    x, t, w, s = _problem(("torch", prob), shape=(23, 6), prob=prob)
    xt = torch.tensor(x, requires_grad=True)
    per = F.cross_entropy(xt, torch.tensor(t), weight=torch.tensor(w), reduction="none",
                          **opts)
    weighted = torch.tensor(s) * per
    if reduction == "none":
        want = weighted
        weighted.sum().backward()
    else:
        want = weighted.sum()
        if reduction == "mean":
            want = want / _denominator(t, w, s, prob)
        want.backward()
    loss, grad = fs.cross_entropy_and_grad(x, t, weight=w, reduction=reduction,
                                           sample_weight=s, **opts)
    np.testing.assert_allclose(loss, want.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(grad, xt.grad.numpy(), rtol=1e-11, atol=1e-14)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_binary_cross_entropies_are_torch_autograd(reduction):
    torch, F = _torch()
    rng = _rng("torch-bce", reduction)
    p, x = rng.uniform(0.05, 0.95, (9, 4)), 4 * rng.standard_normal((9, 4))
    t, s = rng.random((9, 4)), rng.uniform(0.0, 2.0, (9, 4))
    w, pw = rng.uniform(0.2, 2.0, 4), rng.uniform(0.5, 3.0, 4)
    cases = [
        ("binary_cross_entropy_and_grad", p, {"weight": w},
         lambda a: F.binary_cross_entropy(a, torch.tensor(t), weight=torch.tensor(w),
                                          reduction="none")),
        ("binary_cross_entropy_with_logits_and_grad", x, {"weight": w, "pos_weight": pw},
         lambda a: F.binary_cross_entropy_with_logits(
             a, torch.tensor(t), weight=torch.tensor(w), pos_weight=torch.tensor(pw),
             reduction="none")),
    ]
    for name, inp, kw, per_fn in cases:
        at = torch.tensor(inp, requires_grad=True)
        weighted = torch.tensor(s) * per_fn(at)
        want = weighted if reduction == "none" else weighted.sum()
        if reduction == "mean":
            want = want / s.sum()
        (want.sum() if reduction == "none" else want).backward()
        loss, grad = getattr(fs, name)(inp, t, reduction=reduction, sample_weight=s, **kw)
        np.testing.assert_allclose(loss, want.detach().numpy(), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(grad, at.grad.numpy(), rtol=1e-11, atol=1e-14)
        rl, rg = getattr(slow, name)(inp, t, reduction=reduction, sample_weight=s, **kw)
        np.testing.assert_allclose(loss, rl, rtol=1e-13)
        np.testing.assert_allclose(grad, rg, rtol=1e-13)


@pytest.mark.parametrize("prob", [False, True], ids=["index", "prob"])
def test_gradient_is_the_finite_difference(prob):
    x, t, w, s = _problem(("fd", prob), shape=(6, 5), prob=prob)
    opts = {"label_smoothing": 0.1, "z_loss": 1e-2, "softcap": 5.0}
    _, grad = fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=s, **opts)
    h = 1e-6
    fd = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        fd[idx] = (float(fs.cross_entropy(xp, t, weight=w, sample_weight=s, **opts))
                   - float(fs.cross_entropy(xm, t, weight=w, sample_weight=s, **opts))) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-8)


# ------------------------------------------------------------ edge cases

@pytest.mark.parametrize("prob", [False, True], ids=["index", "prob"])
def test_all_zero_weights(prob):
    """The zero-denominator rule of an all-ignored batch: "mean" 0 / 0 = NaN,
    "sum" 0, "none" zeros, every gradient 0."""
    x, t, w, s = _problem(("zeros", prob), prob=prob)
    z = np.zeros_like(s)
    for opts in OPTIONS:
        loss, grad = fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=z, **opts)
        assert np.isnan(loss)
        assert_same(grad, np.zeros_like(x))
        assert fs.cross_entropy(x, t, sample_weight=z, reduction="sum", **opts) == 0
        assert_same(fs.cross_entropy(x, t, sample_weight=z, reduction="none", **opts), z)


def test_zero_denominator_with_a_nonzero_numerator():
    """Negative weights can cancel the denominator: "mean" is the IEEE
    quotient (here -inf), the gradient 0, as for a zero summed class weight."""
    x = np.array([[0.0, 1.0], [2.0, 0.0]])
    t = np.array([0, 0])
    rows = fs.cross_entropy(x, t, reduction="none")
    assert rows[0] > rows[1]
    loss, grad = fs.cross_entropy_and_grad(x, t, sample_weight=[-1.0, 1.0])
    assert loss == -np.inf
    assert_same(grad, np.zeros_like(x))


def test_weights_of_ignored_samples_do_not_matter():
    x, t, w, s = _problem(("ignored",), ignore=0.4)
    s2 = s.copy()
    s2[t == -100] = 1e6
    for reduction in REDUCTIONS:
        a = fs.cross_entropy_and_grad(x, t, weight=w, reduction=reduction, sample_weight=s)
        b = fs.cross_entropy_and_grad(x, t, weight=w, reduction=reduction, sample_weight=s2)
        assert_same(a[0], b[0])
        assert_same(a[1], b[1])


def test_class_and_sample_weights_share_the_denominator():
    x = np.zeros((3, 2))
    t = np.array([0, 1, -100])
    w, s = np.array([2.0, 0.5]), np.array([3.0, 4.0, 10.0])
    # rows of log 2 each; d = [2, 0.5, 0]; numerator sum_i s_i w[y_i] log 2
    got = fs.cross_entropy(x, t, weight=w, sample_weight=s)
    np.testing.assert_allclose(got, np.log(2.0), rtol=1e-15)
    got = fs.cross_entropy(x, t, weight=w, sample_weight=s, reduction="sum")
    np.testing.assert_allclose(got, (3 * 2 + 4 * 0.5) * np.log(2.0), rtol=1e-15)


def test_a_zero_weight_does_not_mask_a_nan_row():
    """A weight multiplies the loss: NaN * 0 is NaN (ignore_index is what
    removes a sample whatever its logits)."""
    x = np.array([[0.0, np.nan], [1.0, 2.0]])
    loss, grad = fs.cross_entropy_and_grad(x, np.array([0, 1]), sample_weight=[0.0, 1.0],
                                           reduction="none")
    assert np.isnan(loss[0]) and np.isfinite(loss[1])
    assert np.isnan(grad[0]).all() and np.isfinite(grad[1]).all()


def test_float16_logits():
    x, t, w, s = _problem(("f16",), dtype=np.float16)
    loss, grad = fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=s)
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    want = fs.cross_entropy_and_grad(x.astype(np.float32), t, weight=w, sample_weight=s)
    assert_same(loss, want[0].astype(np.float16))
    assert_same(grad, want[1].astype(np.float16))


def test_one_sample_and_empty_batches():
    # 1-D logits: the batch shape is (), the sample weight 0-d
    x = np.array([1.0, 2.0, 0.5])
    np.testing.assert_allclose(fs.cross_entropy(x, 1, sample_weight=2.5, reduction="sum"),
                               2.5 * fs.cross_entropy(x, 1, reduction="sum"), rtol=1e-15)
    loss, grad = fs.cross_entropy_and_grad(np.empty((0, 4)), np.empty(0, np.int64),
                                           sample_weight=np.empty(0))
    assert np.isnan(loss) and grad.shape == (0, 4)


# ------------------------------------------------------------ layouts and threads

@pytest.mark.parametrize("layout", ["F", "strided", "negative", "byteswapped", "unaligned"])
def test_layouts_are_bitwise_the_contiguous_answer(layout):
    for shape, axis in (((40, 7), -1), ((5, 6, 9), 1), ((9, 30), 0)):
        x, t, w, s = _problem(("layout", shape), shape, axis)
        want = fs.cross_entropy_and_grad(x, t, axis=axis, weight=w, sample_weight=s,
                                         reduction="none")
        got = fs.cross_entropy_and_grad(with_layout(x, layout), t, axis=axis, weight=w,
                                        sample_weight=with_layout(s, layout), reduction="none")
        assert_same(got[0], want[0])
        assert_same(got[1], want[1])


@pytest.mark.parametrize("prob", [False, True], ids=["index", "prob"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_thread_counts_are_bitwise_identical(dtype, prob):
    if not fs.openmp_enabled():
        pytest.skip("a serial build")
    for shape, opts in (((3000, 40), {}), ((20000, 5), {"label_smoothing": 0.1}),
                        ((600, 300), {"softcap": 5.0, "z_loss": 1e-3})):
        x, t, w, s = _problem(("threads", shape, prob), shape, dtype=dtype, prob=prob)
        for reduction in REDUCTIONS:
            want = fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=s,
                                             reduction=reduction, num_threads=1, **opts)
            for n in (2, 3):
                got = fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=s,
                                                reduction=reduction, num_threads=n, **opts)
                assert_same(got[0], want[0])
                assert_same(got[1], want[1])


def test_softcap_chunks_offset_the_weights(monkeypatch):
    """With a softcap the driver runs chunks of capped rows: each chunk's
    rows get their own weights (here many chunks against one)."""
    from fastsoftmax import _core
    x, t, w, s = _problem(("softcap-chunks",), shape=(3000, 7))
    want = fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=s, softcap=3.0,
                                     reduction="none")
    monkeypatch.setattr(_core, "SOFTCAP_CHUNK_BYTES", 7 * 8 * 3000 // 5)
    got = fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=s, softcap=3.0,
                                    reduction="none")
    assert_same(got[0], want[0])
    assert_same(got[1], want[1])


# ------------------------------------------------------------ the binary losses

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_losses_are_the_hand_weighted_sum(dtype, name, reduction):
    rng = _rng("binary", name)
    shape = (7, 5)
    inp = (rng.uniform(0.0, 1.0, shape) if "logits" not in name
           else 4 * rng.standard_normal(shape)).astype(dtype)
    t = rng.random(shape).astype(dtype)
    s = rng.uniform(0.0, 2.0, shape)
    kw = {"weight": rng.uniform(0.5, 2.0, 5)}
    fn = getattr(fs, name)
    per = fn(inp, t, reduction="none", **kw)
    per = per[0] if isinstance(per, tuple) else per
    got = fn(inp, t, reduction=reduction, sample_weight=s, **kw)
    if name.endswith("_and_grad"):
        _, g0 = fn(inp, t, reduction="sum", **kw)
        loss, grad = got
        scale = 1.0 / s.sum() if reduction == "mean" else 1.0
        _close(grad, g0.astype(np.float64) * s * scale, dtype, "gradient")
    else:
        loss = got
    per = per.astype(np.float64) * s
    want = per if reduction == "none" else per.sum() / (s.sum() if reduction == "mean" else 1)
    _close(loss, want, dtype, "loss")
    assert np.asarray(loss).dtype == dtype
    ref = getattr(slow, name)(inp, t, reduction=reduction, sample_weight=s, **kw)
    for a, b in zip(got if isinstance(got, tuple) else (got,),
                    ref if isinstance(ref, tuple) else (ref,)):
        _close(a, b, dtype, "vs slow")


@pytest.mark.parametrize("name", BINARY)
def test_binary_all_zero_weights_and_unit_weights(name):
    rng = _rng("binary-edge", name)
    x = rng.uniform(0.1, 0.9, (4, 3))
    t = rng.random((4, 3))
    fn = getattr(fs, name)
    got = fn(x, t, sample_weight=np.zeros((4, 3)))
    if isinstance(got, tuple):
        assert np.isnan(got[0])
        np.testing.assert_array_equal(got[1], 0.0)   # (signed zeros: s * g with s = 0)
    else:
        assert np.isnan(got)
    a, b = fn(x, t), fn(x, t, sample_weight=np.ones((4, 3)))
    if isinstance(a, tuple):
        assert_same(a[0], b[0])
        np.testing.assert_allclose(a[1], b[1], rtol=1e-15)
    else:
        assert_same(a, b)


# ------------------------------------------------------------ linear and Dask

@pytest.mark.parametrize("chunk_size", [None, 3, 64])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_linear_cross_entropy(reduction, chunk_size):
    rng = _rng("linear", reduction, chunk_size)
    h, W, b = (rng.standard_normal(sh) for sh in ((2, 19, 8), (50, 8), (50,)))
    y = rng.integers(0, 50, (2, 19))
    y[:, ::4] = -100
    s = rng.uniform(0.0, 2.0, (2, 19))
    opts = {"label_smoothing": 0.1, "z_loss": 1e-2, "softcap": 3.0}
    loss, gh, gw, gb = fs.linear_cross_entropy_and_grad(
        h, W, y, bias=b, reduction=reduction, chunk_size=chunk_size, sample_weight=s, **opts)
    logits = h @ W.T + b
    want, g = fs.cross_entropy_and_grad(logits, y, reduction=reduction, sample_weight=s,
                                        **opts)
    np.testing.assert_allclose(loss, want, rtol=1e-12)
    np.testing.assert_allclose(gh, g @ W, rtol=1e-10, atol=1e-14)
    g2 = g.reshape(-1, 50)
    np.testing.assert_allclose(gw, g2.T @ h.reshape(-1, 8), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(gb, g2.sum(0), rtol=1e-10, atol=1e-14)
    assert_same(fs.linear_cross_entropy(h, W, y, bias=b, reduction=reduction,
                                        chunk_size=chunk_size, sample_weight=s, **opts),
                fs.linear_cross_entropy(h, W, y, bias=b, reduction=reduction,
                                        chunk_size=chunk_size, sample_weight=s, num_threads=1,
                                        **opts))
    ref = slow.linear_cross_entropy_and_grad(h, W, y, bias=b, reduction=reduction,
                                             sample_weight=s, **opts)
    for a, r in zip((loss, gh, gw, gb), ref):
        np.testing.assert_allclose(a, r, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("chunk_size", [None, 7])
def test_linear_row_blocks_offset_the_weights(monkeypatch, chunk_size):
    """Several blocks of rows (a small tile budget): each block's rows get
    their own weights, in both tilings."""
    from fastsoftmax import linear
    rng = _rng("linear-blocks", chunk_size)
    h, W = rng.standard_normal((40, 6)), rng.standard_normal((20, 6))
    y = rng.integers(0, 20, 40)
    y[::6] = -100
    s = rng.uniform(0.0, 2.0, 40)
    want = fs.cross_entropy_and_grad(h @ W.T, y, sample_weight=s, label_smoothing=0.1)
    monkeypatch.setattr(linear, "TILE_BYTES", 20 * 8 * 6)     # 6 rows of logits a block
    monkeypatch.setattr(linear, "MIN_BLOCK_ROWS", 1)
    loss, gh, gw = fs.linear_cross_entropy_and_grad(h, W, y, sample_weight=s,
                                                    label_smoothing=0.1, chunk_size=chunk_size)
    np.testing.assert_allclose(loss, want[0], rtol=1e-12)
    np.testing.assert_allclose(gh, want[1] @ W, rtol=1e-10, atol=1e-15)
    np.testing.assert_allclose(gw, want[1].T @ h, rtol=1e-10, atol=1e-15)
    rows = fs.linear_cross_entropy(h, W, y, sample_weight=s, label_smoothing=0.1,
                                   chunk_size=chunk_size, reduction="none")
    np.testing.assert_allclose(rows, fs.cross_entropy(h @ W.T, y, sample_weight=s,
                                                      label_smoothing=0.1, reduction="none"),
                               rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("prob", [False, True], ids=["index", "prob"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_dask_equals_in_memory(reduction, prob):
    pytest.importorskip("dask.array")
    import dask
    import dask.array as da

    from fastsoftmax import dask as fsd
    x, t, w, s = _problem(("dask", prob), shape=(50, 6), prob=prob)
    X = da.from_array(x, chunks=(9, 6))
    want = fs.cross_entropy_and_grad(x, t, weight=w, reduction=reduction, sample_weight=s)
    for sw in (s, da.from_array(s, chunks=17)):
        loss = fsd.cross_entropy(X, t, weight=w, reduction=reduction, sample_weight=sw)
        np.testing.assert_allclose(loss.compute(), want[0], rtol=1e-13)
        got = dask.compute(*fsd.cross_entropy_and_grad(X, t, weight=w, reduction=reduction,
                                                       sample_weight=sw))
        np.testing.assert_allclose(got[0], want[0], rtol=1e-13)
        np.testing.assert_allclose(got[1], want[1], rtol=1e-13, atol=1e-17)
    with pytest.raises(ValueError, match=r"sample_weight has shape \(49,\), expected \(50,\)"):
        fsd.cross_entropy(X, t, sample_weight=np.ones(49))
    with pytest.raises(TypeError, match="sample_weight must be real numbers"):
        fsd.cross_entropy(X, t, sample_weight=np.ones(50, complex))
    with pytest.raises(ValueError, match="sample_weight must be finite"):
        fsd.cross_entropy(X, t, sample_weight=np.r_[np.ones(49), np.nan]).compute()


# ------------------------------------------------------------ bad input

def _calls():
    """(function, args, kwargs, batch shape) of a valid call of every loss."""
    x, t, _, _ = _problem(("bad",), shape=(6, 5))
    p = _rng("bad-p").uniform(0.1, 0.9, (6, 5))
    h, W = make_base((6, 4), seed=1), make_base((5, 4), seed=2)
    return [
        (fs.cross_entropy, (x, t), {}, (6,)),
        (fs.cross_entropy_and_grad, (x, t), {}, (6,)),
        (fs.cross_entropy_and_grad, (x, np.full((6, 5), 0.2)), {}, (6,)),
        (fs.cross_entropy, (x.T, t), {"axis": 0}, (6,)),
        (fs.binary_cross_entropy, (p, p), {}, (6, 5)),
        (fs.binary_cross_entropy_and_grad, (p, p), {}, (6, 5)),
        (fs.binary_cross_entropy_with_logits, (x, p), {}, (6, 5)),
        (fs.binary_cross_entropy_with_logits_and_grad, (x, p), {}, (6, 5)),
        (fs.linear_cross_entropy, (h, W, np.arange(6) % 5), {}, (6,)),
        (fs.linear_cross_entropy_and_grad, (h, W, np.arange(6) % 5), {}, (6,)),
    ]


CALLS = _calls()
IDS = [f"{f.__name__}-{i}" for i, (f, *_rest) in enumerate(CALLS)]


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_wrong_shapes_raise_naming_sample_weight(call):
    fn, args, kw, batch = call
    wrong = [batch[:-1] + (batch[-1] + 1,), batch[:-1] + (1,), (), batch + (1,),
             batch[::-1] if len(batch) > 1 else (1,) + batch]
    for shape in wrong:
        with pytest.raises(ValueError, match=re.escape(
                f"sample_weight has shape {shape}, expected {batch} (")):
            fn(*args, sample_weight=np.ones(shape), **kw)


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_bad_values_and_types_raise(call):
    fn, args, kw, batch = call
    for bad in (np.nan, np.inf, -np.inf):
        s = np.ones(batch)
        s.reshape(-1)[-1] = bad
        with pytest.raises(ValueError, match=r"sample_weight must be finite"):
            fn(*args, sample_weight=s, **kw)
    with pytest.raises(TypeError, match=r"sample_weight must be real numbers, got dtype "
                                        r"complex128"):
        fn(*args, sample_weight=np.ones(batch, complex), **kw)
    with pytest.raises(TypeError, match=r"sample_weight must be real numbers, got dtype <U1"):
        fn(*args, sample_weight=np.full(batch, "a"), **kw)
    with pytest.raises(TypeError, match=r"sample_weight: masked arrays are not supported"):
        fn(*args, sample_weight=np.ma.ones(batch), **kw)
    with pytest.raises(TypeError, match=r"sample_weight must be real numbers, got dtype object"):
        fn(*args, sample_weight=np.full(batch, None), **kw)


@pytest.mark.parametrize("call", CALLS, ids=IDS)
def test_real_dtypes_and_negative_weights_are_accepted(call):
    fn, args, kw, batch = call
    rng = _rng("dtypes", fn.__name__)
    s = rng.uniform(-1.0, 2.0, batch)
    want = getattr(slow, fn.__name__)(*args, sample_weight=s, **kw)
    got = fn(*args, sample_weight=s, **kw)
    for a, b in zip(got if isinstance(got, tuple) else (got,),
                    want if isinstance(want, tuple) else (want,)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-13)
    ints = rng.integers(0, 4, batch)
    for sw in (ints.astype(np.uint8), ints.astype(np.int32), ints.astype(np.float32),
               ints.astype(">f8"), ints.astype(bool), ints.tolist()):
        got = fn(*args, sample_weight=sw, **kw)
        want = fn(*args, sample_weight=ints.astype(bool) if np.asarray(sw).dtype == bool
                  else ints.astype(np.float64), **kw)
        for a, b in zip(got if isinstance(got, tuple) else (got,),
                        want if isinstance(want, tuple) else (want,)):
            assert_same(a, b)


def test_inputs_are_not_written():
    x, t, w, s = _problem(("readonly",))
    copies = [a.copy() for a in (x, t, w, s)]
    fs.cross_entropy_and_grad(x, t, weight=w, sample_weight=s)
    for a, c in zip((x, t, w, s), copies):
        assert_same(a, c)
