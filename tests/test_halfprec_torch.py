"""fastsoftmax.torch with bfloat16 and float16 CPU tensors: read by the
kernels as 16-bit storage (bfloat16 as its raw codes: no ml_dtypes needed).

Bitwise "compute in float32, then round once" against the same function on
``x.float()`` rounded by torch's ``.to(dtype)`` (round to nearest even), and
close to torch's own bfloat16 / float16 results and autograd gradients."""
from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
import fastsoftmax  # noqa: E402
import fastsoftmax.torch as fst  # noqa: E402

DTYPES = [torch.bfloat16, torch.float16]


def same16(a, b):
    assert a.dtype == b.dtype and a.shape == b.shape
    assert torch.equal(a.contiguous().view(torch.int16), b.contiguous().view(torch.int16))


def logits(shape, dtype, seed=0, scale=4.0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(shape, generator=g, dtype=torch.float32) * scale).to(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [0, 1, 2])
def test_softmax_family_bitwise(dtype, name, dim):
    f = getattr(fst, name)
    for x in (logits((6, 33, 5), dtype), logits((5, 33, 6), dtype).transpose(0, 2)):
        y = f(x, dim)
        assert y.dtype == dtype and y.shape == x.shape
        same16(y, f(x.float(), dim).to(dtype))
        ref = getattr(torch, name)(x.float(), dim)
        torch.testing.assert_close(y.float(), ref, atol=0.02 if name == "log_softmax" else 4e-3,
                                   rtol=1e-2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dim", [1, [0, 2]])
@pytest.mark.parametrize("keepdim", [False, True])
def test_logsumexp_bitwise(dtype, dim, keepdim):
    x = logits((4, 70, 3), dtype, seed=1)
    y = fst.logsumexp(x, dim, keepdim)
    assert y.dtype == dtype
    same16(y, fst.logsumexp(x.float(), dim, keepdim).to(dtype))
    torch.testing.assert_close(y.float(), torch.logsumexp(x.float(), dim, keepdim),
                               atol=0.1, rtol=1e-2)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [3, 50, 32000])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_against_autograd(dtype, n, reduction):
    rows = 8 if n < 32000 else 2
    x = logits((rows, n), dtype, seed=n).requires_grad_()
    t = torch.randint(0, n, (rows,), generator=torch.Generator().manual_seed(2))
    t[0] = -100
    loss = fst.cross_entropy(x, t, reduction=reduction, label_smoothing=0.05)
    assert loss.dtype == dtype
    loss.sum().backward()
    assert x.grad.dtype == dtype
    xf = x.detach().float().requires_grad_()
    lf = fst.cross_entropy(xf, t, reduction=reduction, label_smoothing=0.05)
    lf.sum().backward()
    same16(x.grad, xf.grad.to(dtype))       # the gradient: float32's, rounded once
    assert torch.equal(loss.detach(), lf.detach().to(dtype))
    xt = x.detach().clone().requires_grad_()
    lt = torch.nn.functional.cross_entropy(xt.float(), t, reduction=reduction,
                                           label_smoothing=0.05)
    lt.sum().backward()
    torch.testing.assert_close(x.grad.float(), xt.grad.float(), atol=2e-3, rtol=2e-2)


@pytest.mark.parametrize("dtype", DTYPES)
def test_cross_entropy_weights_probabilities_softcap(dtype):
    x = logits((4, 7, 3), dtype, seed=3)          # classes on dim 1
    t = torch.randint(0, 7, (4, 3), generator=torch.Generator().manual_seed(4))
    w = torch.rand(7, generator=torch.Generator().manual_seed(5)).to(dtype)
    for kw in (dict(weight=w), dict(softcap=2.0)):
        got = fst.cross_entropy(x, t, **kw)
        kwf = {k: (v.float() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()}
        assert got.dtype == dtype
        assert torch.equal(got, fst.cross_entropy(x.float(), t, **kwf).to(dtype))
    p = torch.softmax(logits((4, 7, 3), torch.float32, seed=6), 1).to(dtype)
    got = fst.cross_entropy(x, p)
    assert torch.equal(got, fst.cross_entropy(x.float(), p.float()).to(dtype))


def test_bfloat16_threads_bitwise():
    x = logits((3000, 40), torch.bfloat16, seed=7)
    ys = []
    for nt in (1, 2, 3):
        with fastsoftmax.num_threads(nt):
            ys.append(fst.softmax(x, 1))
    for y in ys[1:]:
        same16(y, ys[0])


def test_other_functions_reject_bfloat16():
    b = torch.zeros(4, 3, dtype=torch.bfloat16)
    y = torch.zeros(4, dtype=torch.int64)
    with pytest.raises(TypeError, match="bfloat16"):
        fst.binary_cross_entropy_with_logits(b, b)
    for call in (lambda: fst.focal_loss(b, y), lambda: fst.sigmoid_focal_loss(b, b),
                 lambda: fst.kl_div(b, b), lambda: fst.distillation_loss(b, b),
                 lambda: fst.softmax_backward(b, b, 1)):
        with pytest.raises(TypeError, match="bfloat16"):
            call()
    with pytest.raises(TypeError, match="bfloat16"):
        fst.linear_cross_entropy(b, torch.zeros(5, 3, dtype=torch.bfloat16),
                                 torch.zeros(4, dtype=torch.int64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_zero_dim_and_empty(dtype):
    x = torch.tensor(1.5, dtype=dtype)
    same16(fst.logsumexp(x, 0), fst.logsumexp(x.float(), 0).to(dtype))
    same16(fst.softmax(x, 0), torch.tensor(1.0, dtype=dtype))
    same16(fst.log_softmax(x, 0), torch.tensor(0.0, dtype=dtype))
    e = torch.zeros(3, 0, dtype=dtype)
    assert torch.isneginf(fst.logsumexp(e, 1)).all() and fst.softmax(e, 1).shape == (3, 0)


def _grad16(loss_fn, x):
    """(loss, gradient) of ``loss_fn`` at 16-bit ``x`` and at ``x.float()``."""
    out = []
    for leaf in (x.detach().clone().requires_grad_(), x.detach().float().requires_grad_()):
        loss = loss_fn(leaf)
        loss.sum().backward()
        out.append((loss.detach(), leaf.grad))
    return out


def test_float16_losses_gradients_bitwise():
    # float16 is read by the staged kernels: the gradient is bitwise
    # float32's rounded once; the losses are close (rounded from double)
    x = logits((6, 40, 3), torch.float16, seed=8)
    t = logits((6, 40, 3), torch.float16, seed=9)
    y = torch.randint(0, 40, (6, 3), generator=torch.Generator().manual_seed(10))
    y[0, 0] = -100
    p = t.float().sigmoid().half()   # the same soft targets for both (widened exactly)
    calls = (lambda x: fst.focal_loss(x, y, gamma=1.5, reduction="none"),
             lambda x: fst.sigmoid_focal_loss(x, p.to(x.dtype), reduction="mean"),
             lambda x: fst.distillation_loss(x, t.to(x.dtype), temperature=2.0, target=y))
    for call in calls:
        (l16, g16), (l32, g32) = _grad16(call, x)
        assert l16.dtype == torch.float16 and g16.dtype == torch.float16
        same16(g16, g32.to(torch.float16))
        torch.testing.assert_close(l16.float(), l32, rtol=1e-3, atol=1e-4)
    lp = torch.log_softmax(x.float(), 1)
    got = fst.kl_div(lp.half(), t.float().softmax(1).half(), reduction="none")
    same16(got, fst.kl_div(lp.half().float(), t.float().softmax(1).half().float(),
                           reduction="none").to(torch.float16))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family_backward_16bit(dtype, name):
    # float16: the backward kernel, bitwise float32's rounded once; bfloat16
    # (not read by the backward kernels): torch operations in bfloat16
    x = logits((5, 70), dtype, seed=11).requires_grad_()
    g = logits((5, 70), dtype, seed=12, scale=1.0)
    y = getattr(fst, name)(x, 1)
    (got,) = torch.autograd.grad(y, x, g)
    assert got.dtype == dtype
    if dtype == torch.float16:
        backward = getattr(fastsoftmax, f"{name}_backward")
        same16(got, torch.from_numpy(backward(g.float().numpy(), y.detach().float().numpy(),
                                              axis=1)).to(dtype))
    xr = x.detach().float().requires_grad_()
    (ref,) = torch.autograd.grad(getattr(torch, name)(xr, 1), xr, g.float())
    torch.testing.assert_close(got.float(), ref, atol=0.05 if name == "log_softmax" else 4e-3,
                               rtol=2e-2)

