"""sigmoid_focal_loss and sigmoid_focal_loss_and_grad: torchvision's
definition, written in torch (its six lines) and differentiated by autograd,
float64 tight and float32 against float64; gamma = 0 is the binary
cross-entropy with logits; soft targets, alpha on and off, reductions,
special and saturated logits, the reference ``fastsoftmax.slow``, finite
differences, layouts and thread counts (bitwise)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import LAYOUTS, assert_matches_reference, assert_same, with_layout

inf, nan = np.inf, np.nan
REDUCTIONS = ["none", "mean", "sum"]
GAMMAS = [0.0, 0.5, 1.0, 2.0, 3.5]
ALPHAS = [0.25, -1.0, None, 0.9]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make(shape=(13, 17), dtype=np.float64, seed=0, scale=4.0, soft=True):
    rng = _rng("sfocal", shape, seed)
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    t = rng.random(shape) if soft else rng.integers(0, 2, shape).astype(float)
    if soft:
        t.reshape(-1)[::3] = np.round(t.reshape(-1)[::3])    # some hard labels
    return x, t.astype(dtype)


def torchvision_focal(x, t, alpha, gamma, reduction):
    """torchvision.ops.sigmoid_focal_loss, in float64, and its autograd gradient."""
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    inputs = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    targets = torch.tensor(np.asarray(t, dtype=np.float64))
    p = torch.sigmoid(inputs)
    ce_loss = F.binary_cross_entropy_with_logits(inputs, targets, reduction="none")
    p_t = p * targets + (1 - p) * (1 - targets)
    loss = ce_loss * ((1 - p_t) ** gamma)
    if alpha is not None and alpha >= 0:
        alpha_t = alpha * targets + (1 - alpha) * (1 - targets)
        loss = alpha_t * loss
    if reduction == "mean":
        loss = loss.mean()
    elif reduction == "sum":
        loss = loss.sum()
    (loss.sum() if reduction == "none" else loss).backward()
    return loss.detach().numpy(), inputs.grad.numpy()


def test_torchvision_itself_if_installed():
    torch = pytest.importorskip("torch")
    try:     # a torchvision built for another torch fails to load its operators
        import torchvision.ops as tv_ops
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"torchvision not usable: {exc}")
    x, t = make((6, 5))
    for alpha, gamma in ((0.25, 2.0), (-1.0, 0.5)):
        want = tv_ops.sigmoid_focal_loss(torch.tensor(x), torch.tensor(t), alpha=alpha,
                                         gamma=gamma).numpy()
        got = fs.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma)
        np.testing.assert_allclose(got, want, rtol=1e-12)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("alpha", ALPHAS)
def test_matches_torch_autograd_float64(alpha, gamma, reduction):
    x, t = make(scale=2.0)   # moderate logits: torch's 1 - p_t does not cancel much
    want_loss, want_grad = torchvision_focal(x, t, alpha, gamma, reduction)
    loss, grad = fs.sigmoid_focal_loss_and_grad(x, t, alpha=alpha, gamma=gamma,
                                                reduction=reduction)
    assert_matches_reference(loss, want_loss, rtol=1e-11, atol=1e-15)
    assert_matches_reference(grad, want_grad, rtol=1e-10, atol=1e-15)
    assert_same(fs.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma, reduction=reduction),
                loss)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
@pytest.mark.parametrize("alpha", [0.25, None])
def test_float32_within_1e6_of_float64_torch(alpha, gamma):
    x, t = make((200, 33), np.float32, seed=1, scale=2.0)
    want_loss, want_grad = torchvision_focal(x, t, alpha, gamma, "none")
    loss, grad = fs.sigmoid_focal_loss_and_grad(x, t, alpha=alpha, gamma=gamma)
    assert loss.dtype == grad.dtype == np.float32
    np.testing.assert_allclose(loss, want_loss, rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(grad, want_grad, rtol=2e-6, atol=1e-7 * np.abs(want_grad).max())
    np.testing.assert_allclose(fs.sigmoid_focal_loss(x, t, alpha=alpha, gamma=gamma,
                                                     reduction="sum"),
                               want_loss.sum(), rtol=2e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gamma_zero_is_bce_with_logits(dtype):
    x, t = make(dtype=dtype, seed=2)
    for red in REDUCTIONS:
        fl, fg = fs.sigmoid_focal_loss_and_grad(x, t, alpha=None, gamma=0.0, reduction=red)
        # (float32: against the float64 answer; the BCE's float32 gradient
        # sigmoid(x) - t is formed in float32 and cancels)
        bl, bg = fs.binary_cross_entropy_with_logits_and_grad(x.astype(np.float64), t,
                                                              reduction=red)
        rtol = 1e-14 if dtype == np.float64 else 1e-6
        np.testing.assert_allclose(fl, bl, rtol=rtol, atol=1e-15)
        np.testing.assert_allclose(fg, bg, rtol=rtol, atol=rtol * 1e-2)


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma", GAMMAS)
def test_matches_slow_reference(gamma, reduction, dtype):
    x, t = make((7, 29), dtype=dtype, seed=3, scale=8.0)
    got = fs.sigmoid_focal_loss_and_grad(x, t, gamma=gamma, reduction=reduction)
    want = slow.sigmoid_focal_loss_and_grad(x, t, gamma=gamma, reduction=reduction)
    rtol = {np.float64: 1e-12, np.float32: 2e-6, np.float16: 2e-3}[dtype]
    for g, w in zip(got, want):
        assert_matches_reference(g, w, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_finite_differences(gamma):
    x, t = make((4, 5), seed=4, scale=2.0)
    _, grad = fs.sigmoid_focal_loss_and_grad(x, t, gamma=gamma, reduction="mean")
    h = 1e-6
    num = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = (fs.sigmoid_focal_loss(xp, t, gamma=gamma, reduction="mean")
                    - fs.sigmoid_focal_loss(xm, t, gamma=gamma, reduction="mean")) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-10)


def test_saturated_logits_keep_precision():
    # confident and right: torch's 1 - p_t cancels; ours is sigmoid(-|x|)
    x = np.array([10.0, 30.0, 100.0, 700.0, -10.0, -30.0, -100.0, -700.0])
    t = np.array([1.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0])
    for gamma in (0.5, 2.0):
        loss, grad = fs.sigmoid_focal_loss_and_grad(x, t, alpha=None, gamma=gamma)
        e = np.exp(-np.abs(x))
        w = e / (1 + e)
        ce = np.log1p(e)
        np.testing.assert_allclose(loss, ce * w ** gamma, rtol=1e-14, atol=1e-300)
        d = np.where(t == 1, -1.0, 1.0) * w * w ** gamma * (1 + gamma * ce / w * (1 - w))
        np.testing.assert_allclose(grad, d, rtol=1e-13, atol=1e-300)
        assert np.isfinite(grad).all()


def test_special_values():
    x = np.array([inf, inf, -inf, -inf, nan, 1e30, -1e30, 800.0, 0.0])
    t = np.array([1.0, 0.0, 1.0, 0.0, 1.0, 1.0, 1.0, 0.0, nan])
    loss, grad = fs.sigmoid_focal_loss_and_grad(x, t, alpha=0.25)
    # the loss is torch's: NaN for 0 * inf, inf where the target opposes +inf
    want_loss, _ = torchvision_focal(x, t, 0.25, 2.0, "none")
    assert_matches_reference(loss, want_loss, rtol=1e-12, atol=0)
    # the gradient is the limit (torch: NaN at every infinite logit)
    np.testing.assert_allclose(grad[:4], [0.0, 0.75, -0.25, 0.0])
    assert np.isnan(grad[4]) and np.isnan(grad[8])
    np.testing.assert_allclose(grad[5:8], [0.0, -0.25, 0.75])
    assert_matches_reference(grad, slow.sigmoid_focal_loss_and_grad(x, t, alpha=0.25)[1],
                             rtol=1e-12, atol=0)


def test_reductions_and_empty():
    x, t = make()
    loss = fs.sigmoid_focal_loss(x, t)
    assert loss.shape == x.shape
    assert fs.sigmoid_focal_loss(x, t, reduction="sum") == pytest.approx(loss.sum(), rel=1e-14)
    assert fs.sigmoid_focal_loss(x, t, reduction="mean") == pytest.approx(loss.mean(), rel=1e-14)
    _, g = fs.sigmoid_focal_loss_and_grad(x, t, reduction="mean")
    _, gs = fs.sigmoid_focal_loss_and_grad(x, t, reduction="sum")
    np.testing.assert_allclose(g, gs / x.size, rtol=1e-15)
    e = np.zeros((0, 3))
    assert np.isnan(fs.sigmoid_focal_loss(e, e, reduction="mean"))
    assert fs.sigmoid_focal_loss(e, e, reduction="sum") == 0.0
    assert fs.sigmoid_focal_loss(e, e).shape == (0, 3)
    s = fs.sigmoid_focal_loss(0.0, 1.0)
    assert isinstance(s, np.float64) and s == pytest.approx(0.25 * 0.25 * np.log(2))


def test_alpha_off_values():
    x, t = make()
    off = fs.sigmoid_focal_loss(x, t, alpha=None)
    assert_same(fs.sigmoid_focal_loss(x, t, alpha=-1), off)
    assert_same(fs.sigmoid_focal_loss(x, t, alpha=-0.5), off)
    assert not np.array_equal(fs.sigmoid_focal_loss(x, t, alpha=0.0), off)


def test_target_dtypes():
    x, t = make(soft=False)
    want = fs.sigmoid_focal_loss(x, t)
    assert_same(fs.sigmoid_focal_loss(x, t.astype(bool)), want)
    assert_same(fs.sigmoid_focal_loss(x, t.astype(np.int8)), want)
    assert_same(fs.sigmoid_focal_loss(x, t.astype(np.float32)), want)


def test_argument_errors():
    x, t = make()
    with pytest.raises(ValueError, match="gamma must be finite and >= 0"):
        fs.sigmoid_focal_loss(x, t, gamma=-1.0)
    with pytest.raises(ValueError, match="alpha must be finite"):
        fs.sigmoid_focal_loss(x, t, alpha=nan)
    with pytest.raises(TypeError, match="alpha must be None or a real number"):
        fs.sigmoid_focal_loss(x, t, alpha="x")
    with pytest.raises(ValueError, match=r"target has shape \(13,\), expected \(13, 17\)"):
        fs.sigmoid_focal_loss(x, t[:, 0])
    with pytest.raises(ValueError, match="reduction must be one of"):
        fs.sigmoid_focal_loss(x, t, reduction="avg")


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layouts_bitwise(layout, dtype):
    x, t = make((21, 11), dtype=dtype, seed=5)
    want = fs.sigmoid_focal_loss_and_grad(x, t, gamma=1.5)
    got = fs.sigmoid_focal_loss_and_grad(with_layout(x, layout), with_layout(t, layout),
                                         gamma=1.5)
    for g, w in zip(got, want):
        assert_same(g, w)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("gamma", [2.0, 0.7])
def test_thread_counts_bitwise(dtype, gamma):
    x, t = make((300, 333), dtype=dtype, seed=6)
    x.reshape(-1)[::1001] = inf
    for red in REDUCTIONS:
        results = [fs.sigmoid_focal_loss_and_grad(x, t, gamma=gamma, reduction=red,
                                                  num_threads=n) for n in (1, 2, 3)]
        for r in results[1:]:
            for g, w in zip(r, results[0]):
                assert_same(g, w)


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_the_reference_itself_is_torchvisions(reduction):
    x, t = make((9, 8), seed=7, scale=2.0)
    for alpha, gamma in ((0.25, 2.0), (None, 0.5), (0.6, 0.0)):
        want = torchvision_focal(x, t, alpha, gamma, reduction)
        got = slow.sigmoid_focal_loss_and_grad(x, t, alpha=alpha, gamma=gamma,
                                               reduction=reduction)
        for g, w in zip(got, want):
            assert_matches_reference(g, w, rtol=1e-11, atol=1e-15)
