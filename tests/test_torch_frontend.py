"""``fastsoftmax.torch``: the autograd-aware torch operators.

Every function against ``torch.nn.functional`` / ``torch.logsumexp`` with
torch's own autograd (loss and every gradient, every option), finite
differences (``torch.autograd.gradcheck`` in float64), ``torch.compile``,
the zero-copy hand-over of tensors to the NumPy layer and the errors.
Skipped without torch.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zlib

import numpy as np
import pytest

torch = pytest.importorskip("torch")
F = torch.nn.functional

import fastsoftmax
import fastsoftmax.torch as fst

REDUCTIONS = ["none", "mean", "sum"]
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(autouse=True, scope="module")
def _torch_single_thread():
    # small problems: torch's thread pool only adds overhead (and the machine
    # is shared); restored so that no other module runs single-threaded
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(params=["function", "operator"])
def path(request, monkeypatch):
    """Run through both ways an operator is called: the eager
    ``autograd.Function`` and the registered torch operator (what tracing,
    dispatch modes and tensor subclasses get)."""
    if request.param == "operator":
        monkeypatch.setattr(fst._Operator, "__call__", lambda self, *args: self.op(*args))
    return request.param


def _gen(*key):
    return torch.Generator().manual_seed(zlib.crc32(repr(key).encode()))


def _close(got, expect, dtype, scale=1.0):
    tol = 1e-12 if dtype == torch.float64 else 2e-6
    torch.testing.assert_close(got.double(), expect.double(), rtol=tol, atol=tol * scale,
                               equal_nan=True)


def _leaf(x):
    return x.detach().clone().requires_grad_(True)


def _backward(out, gen):
    """Backpropagate a random incoming gradient (so that "none" reductions
    and the elementwise outputs are scaled per element)."""
    g = torch.rand(out.shape, generator=gen, dtype=out.dtype) + 0.5
    out.backward(g)


# ------------------------------------------------------------------ cross-entropy

CE_SHAPES = [(7,), (5, 3), (37, 53), (4, 6, 7), (3, 5, 2, 4), (1, 1), (0, 4)]


def _ce_case(shape, kind, dtype, gen, ignore_index=-100):
    cdim = 1 if len(shape) >= 2 else 0
    c = shape[cdim]
    x = 2.0 * torch.randn(shape, generator=gen, dtype=dtype)
    bshape = shape[:cdim] + shape[cdim + 1:]
    if kind == "index":
        y = torch.randint(0, c, bshape, generator=gen)
        mask = torch.rand(bshape, generator=gen) < 0.25
        y[mask] = ignore_index
    else:
        # strictly positive: torch gives NaN for 0 * log(0) by design
        t = torch.rand(shape, generator=gen, dtype=dtype) + 0.05
        y = t / t.sum(cdim, keepdim=True)
    return x, y


@pytest.mark.parametrize("shape", CE_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("weighted", [False, True], ids=["now", "w"])
@pytest.mark.parametrize("eps", [0.0, 0.1], ids=["ls0", "ls.1"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_matches_torch(shape, dtype, kind, weighted, eps, reduction, path):
    gen = _gen("ce", shape, dtype, kind, weighted, eps, reduction)
    x, y = _ce_case(shape, kind, dtype, gen)
    c = shape[1 if len(shape) >= 2 else 0]
    w = torch.rand(c, generator=gen, dtype=dtype) + 0.25 if weighted else None
    kw = dict(weight=w, label_smoothing=eps, reduction=reduction)
    ours, ref = _leaf(x), _leaf(x)
    lo = fst.cross_entropy(ours, y, **kw)
    lr = F.cross_entropy(ref, y, **kw)
    assert lo.dtype == lr.dtype and lo.shape == lr.shape
    _close(lo, lr, dtype)
    if lr.numel() and not lr.isnan().any():
        _backward(lo, _gen("g", shape))
        _backward(lr, _gen("g", shape))
        _close(ours.grad, ref.grad, dtype)


@pytest.mark.parametrize("ignore_index", [-100, 2])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_cross_entropy_ignore_index(ignore_index, reduction, path):
    gen = _gen("ii", ignore_index, reduction)
    x, y = _ce_case((40, 6, 3), "index", torch.float64, gen, ignore_index)
    w = torch.rand(6, generator=gen, dtype=torch.float64) + 0.5
    kw = dict(weight=w, ignore_index=ignore_index, label_smoothing=0.05, reduction=reduction)
    ours, ref = _leaf(x), _leaf(x)
    lo, lr = fst.cross_entropy(ours, y, **kw), F.cross_entropy(ref, y, **kw)
    _close(lo, lr, torch.float64)
    _backward(lo, _gen("g"))
    _backward(lr, _gen("g"))
    _close(ours.grad, ref.grad, torch.float64)


def test_cross_entropy_other_integer_targets_and_extras():
    gen = _gen("int")
    x = torch.randn(10, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 5, (10,), generator=gen)
    ref = F.cross_entropy(x, y)
    for dt in (torch.int32, torch.uint8, torch.int16):
        _close(fst.cross_entropy(x, y.to(dt)), ref, torch.float64)
    # z-loss and softcap are the NumPy layer's, gradient included
    xl = _leaf(x)
    loss = fst.cross_entropy(xl, y, z_loss=1e-3, softcap=2.0)
    loss.backward()
    el, eg = fastsoftmax.cross_entropy_and_grad(x.numpy(), y.numpy(), axis=1, z_loss=1e-3,
                                                softcap=2.0)
    assert loss.item() == el
    np.testing.assert_array_equal(xl.grad.numpy(), eg)


def test_cross_entropy_noncontiguous_and_float16(path):
    gen = _gen("layout")
    base = torch.randn(9, 12, generator=gen, dtype=torch.float64)
    x = base.t()[:, ::2]  # (12, 5), strided
    y = torch.randint(0, 5, (12,), generator=gen)
    ours = x.detach().requires_grad_()
    lo = fst.cross_entropy(ours, y)
    lo.backward()
    ref = _leaf(x)
    F.cross_entropy(ref, y).backward()
    _close(lo, F.cross_entropy(x, y), torch.float64)
    _close(ours.grad, ref.grad, torch.float64)
    # float16: computed in float32, returned in float16
    h = x.half()
    lh = fst.cross_entropy(h, y, reduction="none")
    assert lh.dtype == torch.float16
    torch.testing.assert_close(lh.float(), F.cross_entropy(h.float(), y, reduction="none"),
                               rtol=2e-3, atol=2e-3)


def test_cross_entropy_results_do_not_depend_on_threads():
    gen = _gen("threads")
    x = torch.randn(700, 300, generator=gen)  # above the serial threshold
    y = torch.randint(0, 300, (700,), generator=gen)
    res = []
    for n in (1, 2, 3):
        with fastsoftmax.num_threads(n):
            xl = _leaf(x)
            loss = fst.cross_entropy(xl, y, label_smoothing=0.1)
            loss.backward()
            res.append((loss.item(), xl.grad.clone()))
    for loss, grad in res[1:]:
        assert loss == res[0][0]
        assert torch.equal(grad, res[0][1])


def test_cross_entropy_no_gradient_computed_without_grad(monkeypatch):
    calls = []
    real = fst._losses.cross_entropy_and_grad
    monkeypatch.setattr(fst._losses, "cross_entropy_and_grad",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    x = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    with torch.no_grad():
        fst.cross_entropy(x, y)
    fst.cross_entropy(x.detach(), y)
    assert not calls
    fst.cross_entropy(x, y)
    assert calls == [1]


# ------------------------------------------------------------------ softmax family

SM_SHAPES = [((), 0), ((6,), 0), ((5, 7), 1), ((5, 7), 0), ((3, 4, 5), 1), ((3, 4, 5), -1),
             ((2, 0, 3), 1)]


@pytest.mark.parametrize("shape,dim", SM_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_matches_torch(shape, dim, dtype, name, path):
    gen = _gen(name, shape, dim, dtype)
    x = 3.0 * torch.randn(shape, generator=gen, dtype=dtype)
    ours, ref = _leaf(x), _leaf(x)
    yo, yr = getattr(fst, name)(ours, dim), getattr(torch, name)(ref, dim)
    assert yo.dtype == yr.dtype and yo.shape == yr.shape
    _close(yo, yr, dtype, scale=10.0)
    if x.numel():
        _backward(yo, _gen("g", shape))
        _backward(yr, _gen("g", shape))
        _close(ours.grad, ref.grad, dtype, scale=10.0)


@pytest.mark.parametrize("dim", [0, 2, -1, (0, 2), [1, 2], (0, 1, 2), (2, 0)], ids=str)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_logsumexp_matches_torch(dim, keepdim, dtype, path):
    gen = _gen("lse", dim, keepdim, dtype)
    x = 3.0 * torch.randn(3, 4, 5, generator=gen, dtype=dtype)
    ours, ref = _leaf(x), _leaf(x)
    yo, yr = fst.logsumexp(ours, dim, keepdim), torch.logsumexp(ref, dim, keepdim)
    assert yo.shape == yr.shape and yo.dtype == yr.dtype
    _close(yo, yr, dtype, scale=10.0)
    _backward(yo, _gen("g"))
    _backward(yr, _gen("g"))
    _close(ours.grad, ref.grad, dtype)


def test_softmax_family_strided_input(path):
    base = torch.randn(8, 10, dtype=torch.float64, generator=_gen("strided"))
    x = base.t()[::3]
    for name in ("softmax", "log_softmax"):
        _close(getattr(fst, name)(x, 1), getattr(torch, name)(x, 1), torch.float64)
    _close(fst.logsumexp(x, 0), torch.logsumexp(x, 0), torch.float64)
    _close(fst.logsumexp(x, (0, 1)), torch.logsumexp(x, (0, 1)), torch.float64)


def test_softmax_family_special_values_are_fastsoftmax_s():
    x = torch.tensor([1.0, float("inf")], dtype=torch.float64)
    assert torch.equal(fst.softmax(x, 0).isnan(), torch.tensor([True, True]))
    lo = fst.log_softmax(x, 0)
    assert lo[0] == -float("inf") and lo[1].isnan()   # torch: [nan, nan]
    assert fst.logsumexp(torch.tensor([0.0, -40.0], dtype=torch.float64), 0).item() > 0


# ------------------------------------------------------------------ BCE with logits

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("weights", ["none", "weight", "pos_weight", "both"])
def test_bce_with_logits_matches_torch(dtype, reduction, weights, path):
    gen = _gen("bce", dtype, reduction, weights)
    x = 3.0 * torch.randn(6, 4, 5, generator=gen, dtype=dtype)
    t = torch.rand(6, 4, 5, generator=gen, dtype=dtype)
    w = (torch.rand(4, 1, generator=gen, dtype=dtype) + 0.5
         if weights in ("weight", "both") else None)
    pw = (torch.rand(5, generator=gen, dtype=dtype) * 3
          if weights in ("pos_weight", "both") else None)
    ours, ref = _leaf(x), _leaf(x)
    kw = dict(reduction=reduction, pos_weight=pw)
    lo = fst.binary_cross_entropy_with_logits(ours, t, w, **kw)
    lr = F.binary_cross_entropy_with_logits(ref, t, w, **kw)
    assert lo.shape == lr.shape and lo.dtype == lr.dtype
    _close(lo, lr, dtype, scale=10.0)
    _backward(lo, _gen("g"))
    _backward(lr, _gen("g"))
    _close(ours.grad, ref.grad, dtype)


# ------------------------------------------------------------------ linear cross-entropy

@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize("opts", [{}, {"label_smoothing": 0.1, "ignore_index": 3},
                                  {"chunk_size": 4}], ids=str)
def test_linear_cross_entropy_matches_torch(dtype, reduction, bias, opts, path):
    gen = _gen("lin", dtype, reduction, bias, repr(opts))
    h = torch.randn(2, 5, 8, generator=gen, dtype=dtype)
    w = torch.randn(11, 8, generator=gen, dtype=dtype) / 3
    b = torch.randn(11, generator=gen, dtype=dtype) if bias else None
    y = torch.randint(0, 11, (2, 5), generator=gen)
    y[0, 0] = opts.get("ignore_index", -100)
    leaves_o = [_leaf(t) for t in (h, w) + ((b,) if bias else ())]
    leaves_r = [_leaf(t) for t in (h, w) + ((b,) if bias else ())]
    lo = fst.linear_cross_entropy(leaves_o[0], leaves_o[1], y,
                                  bias=leaves_o[2] if bias else None,
                                  reduction=reduction, **opts)
    ref_opts = {k: v for k, v in opts.items() if k != "chunk_size"}
    logits = F.linear(leaves_r[0], leaves_r[1], leaves_r[2] if bias else None)
    lr = F.cross_entropy(logits.reshape(-1, 11), y.reshape(-1), reduction=reduction,
                         **ref_opts)
    _close(lo, lr, dtype, scale=10.0)
    lo.backward(torch.tensor(1.5, dtype=dtype))
    lr.backward(torch.tensor(1.5, dtype=dtype))
    for a, r in zip(leaves_o, leaves_r):
        _close(a.grad, r.grad, dtype, scale=10.0)


def test_linear_cross_entropy_none():
    gen = _gen("lin-none")
    h = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    w = torch.randn(9, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 9, (6,), generator=gen)
    _close(fst.linear_cross_entropy(h, w, y, reduction="none"),
           F.cross_entropy(h @ w.T, y, reduction="none"), torch.float64)
    with pytest.raises(NotImplementedError, match="reduction='none'"):
        fst.linear_cross_entropy(h.requires_grad_(), w, y, reduction="none")


# ------------------------------------------------------------------ focal and divergence references

def _to64(*ts):
    return [None if t is None else t.detach().double() for t in ts]


def _grads_match(lo, lr, ours, refs, dtype, key, scale=1.0):
    """Backpropagate one random incoming gradient (per element for "none")
    through our loss and the float64 reference, and compare the gradients
    of every leaf."""
    g = (torch.rand(lo.shape, generator=_gen("g", key), dtype=torch.float64) + 0.5).to(dtype)
    lo.backward(g)
    lr.backward(g.double())
    for a, r in zip(ours, refs):
        assert a.grad.dtype == dtype and a.grad.shape == a.shape
        _close(a.grad, r.grad, dtype, scale)


def focal_reference(x, y, gamma=2.0, alpha=None, ignore_index=-100, reduction="mean"):
    """``-alpha[y] (1 - p_y)**gamma log p_y`` in torch operations; "mean" over
    the non-ignored samples."""
    cdim = 1 if x.dim() >= 2 else 0
    logp = torch.log_softmax(x, cdim)
    keep = y != ignore_index
    yy = torch.where(keep, y, 0)
    lp = logp.gather(cdim, yy.unsqueeze(cdim)).squeeze(cdim)
    a = torch.ones(x.shape[cdim], dtype=x.dtype) if alpha is None else alpha
    loss = torch.where(keep, -a[yy] * (1 - lp.exp()) ** gamma * lp, 0.0)
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / keep.sum()


def sigmoid_focal_reference(inputs, targets, alpha=0.25, gamma=2.0, reduction="none"):
    """``torchvision.ops.sigmoid_focal_loss`` as torchvision writes it."""
    p = torch.sigmoid(inputs)
    ce = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce * ((1 - p_t) ** gamma)
    if alpha is not None and alpha >= 0:
        loss = (alpha * targets + (1 - alpha) * (1 - targets)) * loss
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


def distillation_reference(s, t, temperature=1.0, target=None, alpha=0.5, ignore_index=-100):
    """The docstring's torch expression on rows: classes moved last and every
    other dimension a sample ("batchmean" over all of them)."""
    cdim = 1 if s.dim() >= 2 else 0
    c = s.shape[cdim]
    rs, rt = s.movedim(cdim, -1).reshape(-1, c), t.movedim(cdim, -1).reshape(-1, c)
    T = temperature
    soft = T ** 2 * F.kl_div(F.log_softmax(rs / T, dim=1), F.softmax(rt / T, dim=1),
                             reduction="batchmean")
    if target is None:
        return soft
    ce = F.cross_entropy(rs, target.reshape(-1), ignore_index=ignore_index)
    return alpha * ce + (1 - alpha) * soft


LOSS_SHAPES = [(7,), (5, 3), (37, 11), (4, 6, 7), (0, 4)]
GAMMAS = [0.0, 2.0, 1.5]


# ------------------------------------------------------------------ focal loss

@pytest.mark.parametrize("shape", LOSS_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("weighted", [False, True], ids=["noalpha", "alpha"])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_focal_loss_matches_torch(shape, dtype, gamma, weighted, reduction, path):
    gen = _gen("focal", shape, dtype, gamma, weighted, reduction)
    x, y = _ce_case(shape, "index", dtype, gen)   # a quarter of the targets ignored
    c = shape[1 if len(shape) >= 2 else 0]
    alpha = torch.rand(c, generator=gen, dtype=dtype) + 0.25 if weighted else None
    kw = dict(gamma=gamma, reduction=reduction)
    ours, ref = _leaf(x), _leaf(x.double())
    lo = fst.focal_loss(ours, y, alpha=alpha, **kw)
    lr = focal_reference(ref, y, alpha=None if alpha is None else alpha.double(), **kw)
    assert lo.dtype == dtype and lo.shape == lr.shape
    _close(lo, lr, dtype)
    if lr.numel() and not lr.isnan().any():
        _grads_match(lo, lr, [ours], [ref], dtype, shape)


@pytest.mark.parametrize("ignore_index", [-100, 2])
def test_focal_loss_ignore_index_and_gamma_zero(ignore_index, path):
    gen = _gen("focal-ii", ignore_index)
    x, y = _ce_case((30, 5, 3), "index", torch.float64, gen, ignore_index)
    assert (y == ignore_index).any()
    alpha = torch.rand(5, generator=gen, dtype=torch.float64) + 0.5
    ours, ref = _leaf(x), _leaf(x)
    lo = fst.focal_loss(ours, y, gamma=0.5, alpha=alpha, ignore_index=ignore_index)
    lr = focal_reference(ref, y, 0.5, alpha, ignore_index)
    _close(lo, lr, torch.float64)
    _grads_match(lo, lr, [ours], [ref], torch.float64, "ii")
    # the ignored samples' gradient rows are zeros
    assert (ours.grad.movedim(1, -1)[y == ignore_index] == 0).all()
    # gamma = 0: the weighted cross-entropy, per sample
    _close(fst.focal_loss(x, y, gamma=0.0, alpha=alpha, ignore_index=ignore_index,
                          reduction="none"),
           F.cross_entropy(x, y, alpha, ignore_index=ignore_index, reduction="none"),
           torch.float64)


def test_focal_loss_all_ignored_and_float16():
    x = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    y = torch.full((4,), -100)
    loss = fst.focal_loss(x, y)
    assert loss.isnan()   # 0 / 0, as the cross-entropy
    loss.backward()
    assert torch.equal(x.grad, torch.zeros(4, 3, dtype=torch.float64))
    # float16: computed in float32, returned as float16
    h = torch.randn(6, 5, generator=_gen("focal16")).half()
    t = torch.randint(0, 5, (6,), generator=_gen("focal16"))
    lh = fst.focal_loss(h, t, reduction="none")
    assert lh.dtype == torch.float16
    torch.testing.assert_close(lh.float(), focal_reference(h.float(), t, reduction="none"),
                               rtol=2e-3, atol=1e-3)


# ------------------------------------------------------------------ sigmoid focal loss

SFL_SHAPES = [(), (7,), (5, 3), (4, 6, 7), (0, 3)]


@pytest.mark.parametrize("shape", SFL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("alpha", [0.25, 0.8, -1.0, None], ids=str)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_sigmoid_focal_loss_matches_torchvision(shape, dtype, alpha, gamma, reduction, path):
    gen = _gen("sfl", shape, dtype, alpha, gamma, reduction)
    x = 3.0 * torch.randn(shape, generator=gen, dtype=dtype)
    soft = torch.rand(shape, generator=gen, dtype=dtype)
    t = torch.where(torch.rand(shape, generator=gen) < 0.5, soft, soft.round())
    kw = dict(alpha=alpha, gamma=gamma, reduction=reduction)
    ours, ref = _leaf(x), _leaf(x.double())
    lo = fst.sigmoid_focal_loss(ours, t, **kw)
    lr = sigmoid_focal_reference(ref, t.double(), **kw)
    assert lo.dtype == dtype and lo.shape == lr.shape
    _close(lo, lr, dtype)
    if lr.numel() and not lr.isnan().any():
        _grads_match(lo, lr, [ours], [ref], dtype, shape)


def test_sigmoid_focal_loss_defaults_targets_and_limits():
    gen = _gen("sfl-defaults")
    x = torch.randn(8, 3, generator=gen, dtype=torch.float64)
    t = (torch.rand(8, 3, generator=gen) < 0.3)
    expect = sigmoid_focal_reference(x, t.double())   # alpha 0.25, gamma 2, "none"
    for targets in (t, t.to(torch.int32), t.double()):  # bools and integers are cast
        _close(fst.sigmoid_focal_loss(x, targets), expect, torch.float64)
    # a saturated logit: the gradient is the limit, where torchvision's autograd gives NaN
    xi = torch.tensor([float("inf"), -float("inf"), 40.0], dtype=torch.float64,
                      requires_grad=True)
    fst.sigmoid_focal_loss(xi, torch.tensor([1.0, 0.0, 1.0], dtype=torch.float64)).sum().backward()
    assert torch.isfinite(xi.grad).all() and (xi.grad.abs() < 1e-15).all()


# ------------------------------------------------------------------ kl_div

KL_SHAPES = [(), (7,), (5, 3), (4, 6, 7), (0, 3), (3, 0)]
KL_REDUCTIONS = ["none", "mean", "sum", "batchmean"]


def _kl_case(shape, dtype, gen, log_target):
    cdim = 1 if len(shape) >= 2 else 0
    logq = torch.log_softmax(2.0 * torch.randn(shape, generator=gen, dtype=dtype),
                             cdim if shape else 0)
    t = torch.log_softmax(torch.randn(shape, generator=gen, dtype=dtype), cdim if shape else 0)
    return logq, (t if log_target else t.exp())


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("shape", KL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("reduction", KL_REDUCTIONS)
@pytest.mark.parametrize("log_target", [False, True], ids=["p", "logp"])
@pytest.mark.parametrize("grads", ["input", "both"])
def test_kl_div_matches_torch(shape, dtype, reduction, log_target, grads, path):
    gen = _gen("kl", shape, dtype, reduction, log_target)
    x, t = _kl_case(shape, dtype, gen, log_target)
    ours = [_leaf(x), _leaf(t) if grads == "both" else t]
    refs = [_leaf(x.double()), _leaf(t.double()) if grads == "both" else t.double()]
    kw = dict(reduction=reduction, log_target=log_target)
    lo, lr = fst.kl_div(*ours, **kw), F.kl_div(*refs, **kw)
    assert lo.dtype == dtype and lo.shape == lr.shape
    _close(lo, lr, dtype)
    if lr.numel() and not lr.isnan().any():
        leaves = slice(0, 2 if grads == "both" else 1)
        _grads_match(lo, lr, ours[leaves], refs[leaves], dtype, shape)


@pytest.mark.parametrize("log_target", [False, True], ids=["p", "logp"])
def test_kl_div_special_values_and_gradients_are_torch_s(log_target, path):
    inf = float("inf")
    x = torch.tensor([-1.0, -2.0, -inf, -0.5, -inf], dtype=torch.float64)
    t = torch.tensor([0.3, 0.0, 0.0, 0.7, 0.2], dtype=torch.float64)
    if log_target:
        t = torch.tensor([-1.0, -inf, -3.0, 0.0, -inf], dtype=torch.float64)
    ours, refs = [_leaf(x), _leaf(t)], [_leaf(x), _leaf(t)]
    lo = fst.kl_div(*ours, reduction="none", log_target=log_target)
    lr = F.kl_div(*refs, reduction="none", log_target=log_target)
    torch.testing.assert_close(lo, lr, equal_nan=True)
    assert lo.isnan().any()
    lo.sum().backward()
    lr.sum().backward()
    for a, r in zip(ours, refs):   # the NaN of a zero target's d/dtarget included
        torch.testing.assert_close(a.grad, r.grad, equal_nan=True)
    assert ours[1].grad.isnan().any() and not ours[0].grad.isnan().any()


def test_kl_div_batchmean_is_torch_s_for_every_shape():
    gen = _gen("kl-batchmean")
    for shape in [(7,), (3, 4, 5)]:   # 1-D: over 7 elements; 3-D: over 3 (torch's)
        x, t = _kl_case(shape, torch.float64, gen, False)
        got = fst.kl_div(x, t, reduction="batchmean")
        _close(got, F.kl_div(x, t, reduction="sum") / shape[0], torch.float64)
        _close(got, F.kl_div(x, t, reduction="batchmean"), torch.float64)


# ------------------------------------------------------------------ distillation

DISTILL_SHAPES = [(7,), (5, 3), (37, 11), (4, 6, 3), (0, 4)]


@pytest.mark.parametrize("shape", DISTILL_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("temperature", [1.0, 2.5])
@pytest.mark.parametrize("targets", ["none", "alpha.5", "alpha.2"])
def test_distillation_loss_matches_torch(shape, dtype, temperature, targets, path):
    gen = _gen("distill", shape, dtype, temperature, targets)
    s, y = _ce_case(shape, "index", dtype, gen)   # a quarter of the targets ignored
    t = 2.0 * torch.randn(shape, generator=gen, dtype=dtype)
    kw = dict(temperature=temperature)
    if targets != "none":
        kw.update(target=y, alpha=float(targets[len("alpha"):]))
    ours, ref = _leaf(s), _leaf(s.double())
    lo = fst.distillation_loss(ours, t, **kw)
    lr = distillation_reference(ref, t.double(), **kw)
    assert lo.dtype == dtype and lo.shape == ()
    _close(lo, lr, dtype)
    if not lr.isnan():
        _grads_match(lo, lr, [ours], [ref], dtype, shape)


def test_distillation_loss_ignore_index_layout_and_float16(path):
    gen = _gen("distill-ii")
    base = torch.randn(5, 12, generator=gen, dtype=torch.float64)
    s = base.t().detach().requires_grad_()   # (12, 5), classes not contiguous
    t = torch.randn(12, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 5, (12,), generator=gen)
    y[::3] = 4
    ref = _leaf(s)
    lo = fst.distillation_loss(s, t, temperature=3.0, target=y, alpha=0.3, ignore_index=4)
    lr = distillation_reference(ref, t, 3.0, y, 0.3, 4)
    _close(lo, lr, torch.float64)
    _grads_match(lo, lr, [s], [ref], torch.float64, "ii")
    assert s.grad.stride() == s.stride()   # the gradient in the student's layout
    h = fst.distillation_loss(s.detach().half(), t.half(), temperature=3.0)
    assert h.dtype == torch.float16
    torch.testing.assert_close(h.float(), distillation_reference(s.detach().float(),
                                                                  t.float(), 3.0),
                               rtol=2e-3, atol=1e-3)


# ------------------------------------------------------------------ focal and divergence threads

def test_focal_and_divergences_do_not_depend_on_threads():
    gen = _gen("threads-focal-divergences")
    x = torch.randn(700, 300, generator=gen)  # above the serial threshold
    t = torch.randn(700, 300, generator=gen)
    y = torch.randint(0, 300, (700,), generator=gen)
    calls = (lambda x: fst.focal_loss(x, y, gamma=1.5),
             lambda x: fst.sigmoid_focal_loss(x, t.sigmoid(), reduction="mean"),
             lambda x: fst.kl_div(x, t.softmax(1), reduction="batchmean"),
             lambda x: fst.distillation_loss(x, t, temperature=2.0, target=y),
             lambda x: fst.softmax(x, 1).mul(t).sum())
    for call in calls:
        res = []
        for n in (1, 2, 3):
            with fastsoftmax.num_threads(n):
                xl = _leaf(x)
                loss = call(xl)
                loss.backward()
                res.append((loss.item(), xl.grad.clone()))
        for loss, grad in res[1:]:
            assert loss == res[0][0]
            assert torch.equal(grad, res[0][1])


def test_fused_gradients_only_when_asked_for(monkeypatch):
    calls = []
    for module, name in ((fst._focal, "focal_loss_and_grad"),
                         (fst._focal, "sigmoid_focal_loss_and_grad"),
                         (fst._divergence, "distillation_loss_and_grad")):
        real = getattr(module, name)
        monkeypatch.setattr(module, name,
                            lambda *a, real=real, name=name, **k: calls.append(name)
                            or real(*a, **k))
    x = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    t = torch.rand(4, 3)

    def run(x):
        fst.focal_loss(x, y)
        fst.sigmoid_focal_loss(x, t)
        fst.distillation_loss(x, t, target=y)
    with torch.no_grad():
        run(x)
    run(x.detach())
    assert not calls
    run(x)
    assert calls == ["focal_loss_and_grad", "sigmoid_focal_loss_and_grad",
                     "distillation_loss_and_grad"]


# ------------------------------------------------------------------ softmax backwards

@pytest.mark.parametrize("shape,dim", SM_SHAPES, ids=str)
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_backward_functions_match_torch(shape, dim, dtype, name, path):
    gen = _gen("smb", shape, dim, dtype, name)
    y = getattr(torch, name)(3.0 * torch.randn(shape, generator=gen, dtype=dtype), dim)
    g = torch.randn(shape, generator=gen, dtype=dtype)
    got = getattr(fst, f"{name}_backward")(g, y, dim)
    ref = getattr(torch, f"_{name}_backward_data")(g, y, dim, dtype)
    assert got.dtype == dtype and got.shape == ref.shape
    _close(got, ref, dtype, scale=10.0)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_backward_runs_the_kernel_unless_create_graph(name, monkeypatch,
                                                                      path):
    calls = []
    real = getattr(fst._backward, f"{name}_backward")
    monkeypatch.setattr(fst._backward, f"{name}_backward",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    gen = _gen("kernel", name)
    x = torch.randn(6, 9, generator=gen, dtype=torch.float64)
    g = torch.randn(6, 9, generator=gen, dtype=torch.float64)
    xr = _leaf(x)
    (expect,) = torch.autograd.grad(getattr(torch, name)(xr, 1), xr, g)
    xo = _leaf(x)
    (got,) = torch.autograd.grad(getattr(fst, name)(xo, 1), xo, g)
    assert calls == [1]
    _close(got, expect, torch.float64)
    # create_graph: the torch-op formula, which differentiates again
    xo = _leaf(x)
    (got,) = torch.autograd.grad(getattr(fst, name)(xo, 1), xo, g, create_graph=True)
    assert calls == [1] and got.requires_grad
    _close(got, expect, torch.float64)


# ------------------------------------------------------------------ gradcheck

def _gradcheck_cases():
    gen = _gen("gradcheck")
    x = torch.randn(4, 5, dtype=torch.float64, generator=gen)
    x3 = torch.randn(3, 4, 2, dtype=torch.float64, generator=gen)
    y = torch.tensor([0, 4, -100, 2])
    y3 = torch.randint(0, 4, (3, 2), generator=gen)
    p = torch.softmax(torch.randn(4, 5, dtype=torch.float64, generator=gen), 1)
    w = torch.rand(5, dtype=torch.float64, generator=gen) + 0.5
    t = torch.rand(4, 5, dtype=torch.float64, generator=gen)
    h = torch.randn(3, 4, dtype=torch.float64, generator=gen)
    W = torch.randn(6, 4, dtype=torch.float64, generator=gen)
    b = torch.randn(6, dtype=torch.float64, generator=gen)
    yl = torch.tensor([1, 5, -100])
    cases = {}
    for red in REDUCTIONS:
        cases[f"ce-{red}"] = (lambda x, red=red: fst.cross_entropy(
            x, y, w, reduction=red, label_smoothing=0.1), (x,))
        cases[f"ce-prob-{red}"] = (lambda x, red=red: fst.cross_entropy(
            x, p, w, reduction=red, label_smoothing=0.2), (x,))
        cases[f"bce-{red}"] = (lambda x, red=red: fst.binary_cross_entropy_with_logits(
            x, t, w, reduction=red, pos_weight=w), (x,))
    cases["ce-3d"] = (lambda x: fst.cross_entropy(x, y3, z_loss=0.01), (x3,))
    cases["ce-1d"] = (lambda x: fst.cross_entropy(x, torch.tensor(2)), (x[0],))
    for red in ("mean", "sum"):
        cases[f"linear-{red}"] = (lambda h, W, b, red=red: fst.linear_cross_entropy(
            h, W, yl, bias=b, reduction=red, label_smoothing=0.1, z_loss=0.01), (h, W, b))
    for d in (0, 1, -1):
        cases[f"softmax-{d}"] = (lambda x, d=d: fst.softmax(x, d), (x3,))
        cases[f"log_softmax-{d}"] = (lambda x, d=d: fst.log_softmax(x, d), (x3,))
    cases["logsumexp-1"] = (lambda x: fst.logsumexp(x, 1), (x3,))
    cases["logsumexp-02-keep"] = (lambda x: fst.logsumexp(x, (0, 2), True), (x3,))
    # the focal losses, the divergences
    logq = torch.log_softmax(x, 1)
    for red in REDUCTIONS:
        cases[f"focal-{red}"] = (lambda x, red=red: fst.focal_loss(
            x, y, gamma=1.5, alpha=w, reduction=red), (x,))
        cases[f"sfl-{red}"] = (lambda x, red=red: fst.sigmoid_focal_loss(
            x, t, alpha=0.3, gamma=1.5, reduction=red), (x,))
    cases["focal-3d-gamma0"] = (lambda x: fst.focal_loss(x, y3, gamma=0.0), (x3,))
    cases["focal-1d"] = (lambda x: fst.focal_loss(x, torch.tensor(2)), (x[0],))
    for red in KL_REDUCTIONS:
        cases[f"kl-{red}"] = (lambda x, p, red=red: fst.kl_div(x, p, reduction=red),
                              (logq, p))
        cases[f"kl-log-{red}"] = (lambda x, lp, red=red: fst.kl_div(
            x, lp, reduction=red, log_target=True), (logq, torch.log(p)))
    cases["kl-3d"] = (lambda x, p: fst.kl_div(x, p, reduction="batchmean"),
                      (x3, torch.softmax(x3, 1)))
    cases["distill"] = (lambda s: fst.distillation_loss(s, x.flip(0), temperature=2.0),
                        (x,))
    cases["distill-target"] = (lambda s: fst.distillation_loss(
        s, x.flip(0), temperature=0.7, target=y, alpha=0.3), (x,))
    cases["distill-3d"] = (lambda s: fst.distillation_loss(
        s, x3.flip(1), temperature=1.5, target=y3), (x3,))
    return cases


GRADCHECK = _gradcheck_cases()


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck(name, path):
    fn, inputs = GRADCHECK[name]
    inputs = tuple(_leaf(t) for t in inputs)
    assert torch.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["softmax-1", "log_softmax-0", "logsumexp-02-keep",
                                  "kl-batchmean", "kl-log-none"])
def test_gradgradcheck_softmax_family_and_kl_div(name, path):
    fn, inputs = GRADCHECK[name]
    assert torch.autograd.gradgradcheck(fn, tuple(_leaf(t) for t in inputs))


@pytest.mark.parametrize("name", ["ce-mean", "ce-none", "bce-sum", "linear-mean", "focal-none",
                                  "sfl-mean", "distill-target"])
def test_losses_refuse_double_backward(name, path):
    fn, inputs = GRADCHECK[name]
    inputs = tuple(_leaf(t) for t in inputs)
    scale = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    out = fn(*inputs)
    grads = torch.autograd.grad((out * scale).sum(), inputs, create_graph=True)
    with pytest.raises(RuntimeError, match="no second derivative"):
        grads[0].sum().backward()


# ------------------------------------------------------------------ torch.compile

def _model(x, y, t):
    loss = fst.cross_entropy(x, y, label_smoothing=0.1)
    loss = loss + fst.binary_cross_entropy_with_logits(x, t, reduction="sum") / 10
    return loss + fst.logsumexp(fst.log_softmax(x, 1) * fst.softmax(x, 0), 1).sum()


def _reference_model(x, y, t):
    loss = F.cross_entropy(x, y, label_smoothing=0.1)
    loss = loss + F.binary_cross_entropy_with_logits(x, t, reduction="sum") / 10
    return loss + torch.logsumexp(torch.log_softmax(x, 1) * torch.softmax(x, 0), 1).sum()


def _losses_model(x, y, t):
    loss = fst.focal_loss(x, y, gamma=1.5) + fst.sigmoid_focal_loss(x, t, reduction="mean")
    # the divergence's gradient flows to both its input and its target
    loss = loss + fst.kl_div(fst.log_softmax(x, 1), fst.softmax(x.flip(0), 1),
                             reduction="batchmean")
    return loss + fst.distillation_loss(x, t, temperature=2.0, target=y, alpha=0.3)


def _reference_losses_model(x, y, t):
    loss = focal_reference(x, y, gamma=1.5) + sigmoid_focal_reference(x, t, reduction="mean")
    loss = loss + F.kl_div(torch.log_softmax(x, 1), torch.softmax(x.flip(0), 1),
                           reduction="batchmean")
    return loss + distillation_reference(x, t, temperature=2.0, target=y, alpha=0.3)


MODELS = {"front": (_model, _reference_model), "losses": (_losses_model,
                                                          _reference_losses_model)}


def _check_compiled(backend, model="front"):
    torch._dynamo.reset()
    ours_model, reference = MODELS[model]
    gen = _gen("compile")
    x = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 5, (6,), generator=gen)
    t = torch.rand(6, 5, generator=gen, dtype=torch.float64)
    compiled = torch.compile(ours_model, backend=backend, fullgraph=True)
    for _ in range(2):  # the second call runs the cached graph
        ours, ref = _leaf(x), _leaf(x)
        lo, lr = compiled(ours, y, t), reference(ref, y, t)
        lo.backward()
        lr.backward()
        _close(lo, lr, torch.float64, scale=10.0)
        _close(ours.grad, ref.grad, torch.float64, scale=10.0)
    with torch.no_grad():
        _close(compiled(x, y, t), reference(x, y, t), torch.float64, scale=10.0)


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
@pytest.mark.parametrize("model", list(MODELS))
def test_torch_compile(backend, model):
    _check_compiled(backend, model)


def test_compiled_backward_runs_the_softmax_backward_kernels():
    from functorch.compile import make_boxed_func
    from torch._functorch.aot_autograd import aot_module_simplified
    graphs = []

    def backend(gm, inputs):
        def keep(graph, _inputs):   # the forward's and the backward's traced graphs
            graphs.append({str(n.target) for n in graph.graph.nodes})
            return make_boxed_func(graph)
        return aot_module_simplified(gm, inputs, fw_compiler=keep, bw_compiler=keep)

    torch._dynamo.reset()
    compiled = torch.compile(lambda x: (fst.softmax(x, 1) * fst.log_softmax(x, 0)).sum(),
                             backend=backend, fullgraph=True)
    x = torch.randn(4, 5, dtype=torch.float64, generator=_gen("bw-graph"), requires_grad=True)
    compiled(x).backward()
    forward, backward = graphs
    assert {"fastsoftmax.softmax.default", "fastsoftmax.log_softmax.default"} <= forward
    assert {"fastsoftmax.softmax_backward.default",
            "fastsoftmax.log_softmax_backward.default"} <= backward
    ref = _leaf(x)
    (torch.softmax(ref, 1) * torch.log_softmax(ref, 0)).sum().backward()
    _close(x.grad, ref.grad, torch.float64)


@pytest.mark.slow
@pytest.mark.skipif(not os.environ.get("FASTSOFTMAX_TEST_INDUCTOR"),
                    reason="opt-in (FASTSOFTMAX_TEST_INDUCTOR=1): inductor's C++ build "
                           "takes a minute or more on a 2-core machine")
@pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                    reason="inductor needs a C++ compiler")
def test_torch_compile_inductor():
    _check_compiled("inductor")


def test_fake_tensors_give_the_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode
    with FakeTensorMode():
        x = torch.empty(4, 6, 3)
        y = torch.zeros(4, 3, dtype=torch.int64)
        assert fst.cross_entropy(x, y, reduction="none").shape == (4, 3)
        assert fst.cross_entropy(x, y).shape == ()
        assert fst.softmax(x, 1).shape == (4, 6, 3)
        assert fst.logsumexp(x, (0, 2), keepdim=True).shape == (1, 6, 1)
        h, w = torch.empty(2, 5, 8), torch.empty(11, 8)
        assert fst.linear_cross_entropy(h, w, torch.zeros(2, 5, dtype=torch.int64)).shape == ()
        assert fst.focal_loss(x, y, reduction="none").shape == (4, 3)
        assert fst.focal_loss(torch.empty(4, 6, 3, requires_grad=True), y).shape == ()
        assert fst.sigmoid_focal_loss(x, x).shape == (4, 6, 3)
        assert fst.sigmoid_focal_loss(x, x, reduction="sum").shape == ()
        assert fst.kl_div(x, x, reduction="none").shape == (4, 6, 3)
        assert fst.kl_div(x, x, reduction="batchmean").shape == ()
        assert fst.distillation_loss(x, x, target=y).shape == ()
        assert fst.softmax_backward(x, x, 1).shape == (4, 6, 3)
        assert fst.log_softmax_backward(x, x, 2).shape == (4, 6, 3)


# ------------------------------------------------------------------ no copies

def _spy(monkeypatch, module, name):
    """Record the arrays the NumPy layer receives and returns."""
    seen = {}
    real = getattr(module, name)

    def spy(*args, **kwargs):
        seen["args"] = args
        seen["out"] = real(*args, **kwargs)
        return seen["out"]
    monkeypatch.setattr(module, name, spy)
    return seen


@pytest.mark.parametrize("strided", [False, True])
def test_cross_entropy_hands_over_views_and_keeps_the_kernel_gradient(monkeypatch, strided,
                                                                       path):
    seen = _spy(monkeypatch, fst._losses, "cross_entropy_and_grad")
    gen = _gen("copy", strided)
    base = torch.randn(64, 50, generator=gen)
    x = (base.t() if strided else base).detach().requires_grad_()
    y = torch.randint(0, x.shape[1], (x.shape[0],), generator=gen)
    before = x.detach().clone()
    loss = fst.cross_entropy(x, y)
    xa, ya = seen["args"][:2]
    assert np.shares_memory(xa, x.detach().numpy()) and np.shares_memory(ya, y.numpy())
    assert xa.strides == x.detach().numpy().strides
    grad = seen["out"][1]
    loss.backward()
    # the kernel's gradient buffer itself (in x's layout) becomes x.grad
    # (incoming gradient 1)
    assert x.grad.data_ptr() == grad.ctypes.data
    assert x.grad.stride() == x.stride()
    assert torch.equal(x.detach(), before)  # the input is untouched


def test_softmax_result_is_the_numpy_buffer(monkeypatch):
    seen = _spy(monkeypatch, fst, "_np_softmax")
    x = torch.randn(5, 8)
    out = fst.softmax(x, 1)
    assert np.shares_memory(seen["args"][0], x.numpy())
    assert out.data_ptr() == seen["out"].ctypes.data


def test_eager_calls_take_the_function_path_and_modes_the_operator():
    from torch.utils._python_dispatch import TorchDispatchMode

    class Seen(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.append(str(func))
            return func(*args, **(kwargs or {}))

    x = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    assert "function" in type(fst.cross_entropy(x, y).grad_fn).__name__
    with Seen() as seen:
        loss = fst.cross_entropy(x, y)
    assert any("fastsoftmax.cross_entropy" in op for op in seen.ops)
    loss.backward()
    ref = _leaf(x)
    F.cross_entropy(ref, y).backward()
    _close(x.grad, ref.grad, torch.float32)


def test_import_fastsoftmax_does_not_import_torch():
    code = "import sys, fastsoftmax; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# ------------------------------------------------------------------ errors

def test_other_devices_raise():
    x = torch.empty(4, 3, device="meta")
    y = torch.zeros(4, dtype=torch.int64, device="meta")
    with pytest.raises(ValueError, match="on device 'meta'.*CPU tensors only"):
        fst.cross_entropy(x, y)
    with pytest.raises(ValueError, match="target is on device 'meta'"):
        fst.cross_entropy(torch.zeros(4, 3), y)
    for fn in (fst.softmax, fst.log_softmax, fst.logsumexp):
        with pytest.raises(ValueError, match="device 'meta'"):
            fn(x, 1)
    with pytest.raises(ValueError, match="device 'meta'"):
        fst.binary_cross_entropy_with_logits(x, x)
    with pytest.raises(ValueError, match="device 'meta'"):
        fst.linear_cross_entropy(x, torch.zeros(5, 3), torch.zeros(4, dtype=torch.int64))


def test_unsupported_dtypes_and_layouts_raise():
    y = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(TypeError, match=r"bfloat16.*\.float\(\)"):  # not read there
        b = torch.zeros(4, 3, dtype=torch.bfloat16)
        fst.binary_cross_entropy_with_logits(b, b)
    with pytest.raises(TypeError, match="float32, float64 or float16"):
        fst.softmax(torch.zeros(4, 3, dtype=torch.int64), 1)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        fst.cross_entropy(np.zeros((4, 3)), y)
    with pytest.raises(ValueError, match="dense"):
        fst.softmax(torch.zeros(4, 3).to_sparse(), 1)
    with pytest.raises(TypeError, match="weight has dtype torch.float64"):
        fst.cross_entropy(torch.zeros(4, 3), y, torch.ones(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="must match"):
        fst.linear_cross_entropy(torch.zeros(4, 3), torch.zeros(5, 3, dtype=torch.float64), y)


def test_gradients_fastsoftmax_does_not_have_raise():
    x = torch.randn(4, 3, requires_grad=True)
    p = torch.softmax(torch.randn(4, 3), 1).requires_grad_()
    with pytest.raises(NotImplementedError, match="no gradient with respect to target"):
        fst.cross_entropy(x, p)
    with pytest.raises(NotImplementedError, match="weight"):
        fst.cross_entropy(x, torch.zeros(4, dtype=torch.int64), torch.ones(3).requires_grad_())
    with pytest.raises(NotImplementedError, match="pos_weight"):
        fst.binary_cross_entropy_with_logits(x, torch.rand(4, 3),
                                             pos_weight=torch.ones(3).requires_grad_())
    with torch.no_grad():  # nothing is asked for: fine
        fst.cross_entropy(x, p)


def test_bad_arguments_raise_the_numpy_layers_errors(path):
    x = torch.randn(4, 3)
    y = torch.tensor([0, 1, 2, 0])
    with pytest.raises(ValueError, match="reduction must be one of"):
        fst.cross_entropy(x, y, reduction="avg")
    with pytest.raises(ValueError, match=r"label_smoothing must be in \[0, 1\]"):
        fst.cross_entropy(x, y, label_smoothing=1.5)
    with pytest.raises(TypeError, match="label_smoothing must be a real number"):
        fst.cross_entropy(x, y, label_smoothing="0.1")
    with pytest.raises(ValueError, match="softcap must be finite and > 0"):
        fst.cross_entropy(x, y, softcap=0.0)
    with pytest.raises(TypeError, match="ignore_index must be an integer"):
        fst.cross_entropy(x, y, ignore_index=1.5)
    with pytest.raises(IndexError, match=r"target\[1\] = 7 is not a class index"):
        fst.cross_entropy(x, torch.tensor([0, 7, 2, 0]))
    with pytest.raises(ValueError, match="target has shape"):
        fst.cross_entropy(x, torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="at least one dimension"):
        fst.cross_entropy(torch.tensor(1.0), torch.tensor(0))
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        fst.softmax(x, 2)
    with pytest.raises(TypeError, match="dim must be an integer"):
        fst.log_softmax(x, 1.0)
    with pytest.raises(ValueError, match="names a dimension twice"):
        fst.logsumexp(x, (1, -1))
    with pytest.raises(ValueError, match="at least one dimension"):
        fst.logsumexp(x, ())


def test_focal_and_divergences_on_other_devices_raise():
    x = torch.empty(4, 3, device="meta")
    y = torch.zeros(4, dtype=torch.int64, device="meta")
    cpu = torch.zeros(4, 3)
    calls = {
        "focal_loss": lambda: fst.focal_loss(x, y),
        "focal_loss target": lambda: fst.focal_loss(cpu, y),
        "focal_loss alpha": lambda: fst.focal_loss(cpu, torch.zeros(4, dtype=torch.int64),
                                                   alpha=torch.ones(3, device="meta")),
        "sigmoid_focal_loss": lambda: fst.sigmoid_focal_loss(x, cpu),
        "kl_div": lambda: fst.kl_div(cpu, x),
        "distillation_loss": lambda: fst.distillation_loss(cpu, x),
    }
    for name, call in calls.items():
        with pytest.raises(ValueError, match=f"{name.split()[0]}: .* on device 'meta'"):
            call()


def test_focal_and_divergences_reject_dtypes_and_types():
    b = torch.zeros(4, 3, dtype=torch.bfloat16)
    x, x64 = torch.zeros(4, 3), torch.zeros(4, 3, dtype=torch.float64)
    y = torch.zeros(4, dtype=torch.int64)
    for call in (lambda: fst.focal_loss(b, y), lambda: fst.sigmoid_focal_loss(b, x),
                 lambda: fst.kl_div(b, b), lambda: fst.distillation_loss(b, b),
                 lambda: fst.sigmoid_focal_loss(x, b)):
        with pytest.raises(TypeError, match="bfloat16"):
            call()
    with pytest.raises(TypeError, match="float32, float64 or float16"):
        fst.focal_loss(y.reshape(2, 2), y[:2])
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        fst.focal_loss(x, y.float())
    with pytest.raises(TypeError, match="target must hold integer class indices"):
        fst.distillation_loss(x, x, target=y.bool())
    with pytest.raises(TypeError, match="alpha has dtype torch.float64"):
        fst.focal_loss(x, y, alpha=torch.ones(3, dtype=torch.float64))
    with pytest.raises(TypeError, match="targets has dtype torch.float64"):
        fst.sigmoid_focal_loss(x, x64)
    with pytest.raises(TypeError, match="target has dtype torch.float64"):
        fst.kl_div(x, x64)
    with pytest.raises(TypeError, match="teacher_logits has dtype torch.float64"):
        fst.distillation_loss(x, x64)
    with pytest.raises(TypeError, match="must be a torch.Tensor"):
        fst.kl_div(x, np.zeros((4, 3), dtype=np.float32))


def test_focal_and_divergences_refuse_gradients_they_do_not_have():
    x = torch.randn(4, 3, requires_grad=True)
    y = torch.tensor([0, 1, 2, 0])
    t = torch.rand(4, 3, requires_grad=True)
    cases = [
        ("alpha", lambda: fst.focal_loss(x, y, alpha=torch.ones(3, requires_grad=True))),
        ("targets", lambda: fst.sigmoid_focal_loss(x, t)),
        ("teacher_logits", lambda: fst.distillation_loss(x, t)),
    ]
    for name, call in cases:
        with pytest.raises(NotImplementedError, match=f"no gradient with respect to {name} "):
            call()
    with torch.no_grad():  # nothing is asked for: fine
        assert fst.distillation_loss(x, t).isfinite()
        assert fst.sigmoid_focal_loss(x, t).shape == (4, 3)
    # the teacher detached, as a frozen one is: the student's gradient only
    loss = fst.distillation_loss(x, t.detach(), target=y)
    loss.backward()
    assert x.grad is not None and t.grad is None
    # kl_div has both gradients
    fst.kl_div(torch.log_softmax(x, 1), t).backward()
    assert t.grad is not None and t.grad.shape == (4, 3)


def test_focal_and_divergences_bad_arguments_raise(path):
    x = torch.randn(4, 3)
    y = torch.tensor([0, 1, 2, 0])
    cases = [
        (ValueError, "gamma must be finite and >= 0", lambda: fst.focal_loss(x, y, gamma=-1.0)),
        (TypeError, "gamma must be a real number",
         lambda: fst.sigmoid_focal_loss(x, x, gamma="2")),
        (ValueError, "reduction must be one of", lambda: fst.focal_loss(x, y,
                                                                         reduction="batchmean")),
        (ValueError, "reduction must be one of", lambda: fst.kl_div(x, x, reduction="avg")),
        (TypeError, "log_target must be True or False", lambda: fst.kl_div(x, x, log_target=1)),
        (ValueError, "alpha must have shape \\(3,\\)",
         lambda: fst.focal_loss(x, y, alpha=torch.ones(4))),
        (IndexError, "target\\[1\\] = 7 is not a class index",
         lambda: fst.focal_loss(x, torch.tensor([0, 7, 2, 0]))),
        (ValueError, "target has shape", lambda: fst.focal_loss(x, y[:2])),
        (ValueError, "at least one dimension", lambda: fst.focal_loss(x[0, 0], y[0])),
        (ValueError, "alpha must be finite",
         lambda: fst.sigmoid_focal_loss(x, x, alpha=float("inf"))),
        (TypeError, "alpha must be None or a real number",
         lambda: fst.sigmoid_focal_loss(x, x, alpha="0.25")),
        (ValueError, "targets has shape \\(4, 1\\), expected \\(4, 3\\)",
         lambda: fst.sigmoid_focal_loss(x, x[:, :1])),
        (ValueError, "target has shape \\(3, 4\\)", lambda: fst.kl_div(x, x.t())),
        (ValueError, "temperature must be finite and > 0",
         lambda: fst.distillation_loss(x, x, temperature=0.0)),
        (ValueError, "alpha must be finite",
         lambda: fst.distillation_loss(x, x, alpha=float("nan"))),
        (ValueError, "teacher_logits has shape",
         lambda: fst.distillation_loss(x, x[:2])),
        (ValueError, "at least one dimension",
         lambda: fst.distillation_loss(x[0, 0], x[0, 0])),
        (TypeError, "ignore_index must be an integer",
         lambda: fst.distillation_loss(x, x, target=y, ignore_index=0.5)),
        (IndexError, "dim 2 is out of range", lambda: fst.softmax_backward(x, x, 2)),
    ]
    for exc, match, call in cases:
        with pytest.raises(exc, match=match):
            call()


def test_backward_functions_raise():
    x, x64 = torch.randn(4, 3), torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(NotImplementedError, match="no gradient with respect to grad_output "):
        fst.softmax_backward(x.clone().requires_grad_(), x, 1)
    with pytest.raises(NotImplementedError, match="no gradient with respect to output "):
        fst.log_softmax_backward(x, x.clone().requires_grad_(), 1)
    with pytest.raises(TypeError, match="output has dtype torch.float64"):
        fst.log_softmax_backward(x, x64, 1)
    with pytest.raises(TypeError, match="bfloat16"):
        fst.softmax_backward(x.bfloat16(), x.bfloat16(), 1)
    with pytest.raises(ValueError, match="output has shape"):
        fst.softmax_backward(x, x[:2], 1)
    with pytest.raises(ValueError, match="device 'meta'"):
        fst.softmax_backward(x, torch.empty(4, 3, device="meta"), 1)
