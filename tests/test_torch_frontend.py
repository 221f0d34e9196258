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
    return cases


GRADCHECK = _gradcheck_cases()


@pytest.mark.parametrize("name", list(GRADCHECK))
def test_gradcheck(name, path):
    fn, inputs = GRADCHECK[name]
    inputs = tuple(_leaf(t) for t in inputs)
    assert torch.autograd.gradcheck(fn, inputs)


@pytest.mark.parametrize("name", ["softmax-1", "log_softmax-0", "logsumexp-02-keep"])
def test_gradgradcheck_softmax_family(name, path):
    fn, inputs = GRADCHECK[name]
    assert torch.autograd.gradgradcheck(fn, tuple(_leaf(t) for t in inputs))


@pytest.mark.parametrize("name", ["ce-mean", "ce-none", "bce-sum", "linear-mean"])
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


def _check_compiled(backend):
    torch._dynamo.reset()
    gen = _gen("compile")
    x = torch.randn(6, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 5, (6,), generator=gen)
    t = torch.rand(6, 5, generator=gen, dtype=torch.float64)
    compiled = torch.compile(_model, backend=backend, fullgraph=True)
    for _ in range(2):  # the second call runs the cached graph
        ours, ref = _leaf(x), _leaf(x)
        lo, lr = compiled(ours, y, t), _reference_model(ref, y, t)
        lo.backward()
        lr.backward()
        _close(lo, lr, torch.float64, scale=10.0)
        _close(ours.grad, ref.grad, torch.float64, scale=10.0)
    with torch.no_grad():
        _close(compiled(x, y, t), _reference_model(x, y, t), torch.float64, scale=10.0)


@pytest.mark.parametrize("backend", ["eager", "aot_eager"])
def test_torch_compile(backend):
    _check_compiled(backend)


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
