"""focal_loss and focal_loss_and_grad (the softmax focal loss): against torch
autograd of the defining expression (float64 tight, float32 against float64),
the reference ``fastsoftmax.slow``, finite differences and the
cross-entropy (gamma = 0); alpha, ignored samples, special values, p_y near
1, large logits, axes, layouts and thread counts (bitwise)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import LAYOUTS, assert_matches_reference, assert_same, with_layout

inf, nan = np.inf, np.nan
REDUCTIONS = ["mean", "sum", "none"]
GAMMAS = [0.0, 0.5, 1.0, 2.0, 3.7]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make(shape=(40, 7), axis=-1, dtype=np.float64, seed=0, scale=3.0, n_ignored=4):
    rng = _rng("focal", shape, axis, seed)
    x = (rng.standard_normal(shape) * scale).astype(dtype)
    c = shape[axis]
    batch = shape[:axis % len(shape)] + shape[axis % len(shape) + 1:]
    y = rng.integers(0, c, size=batch)
    flat = y.reshape(-1)
    flat[rng.permutation(flat.size)[:n_ignored]] = -100
    return x, y


def _torch():
    return pytest.importorskip("torch")


def torch_focal(x, y, gamma, alpha=None, axis=-1, reduction="mean", ignore_index=-100):
    """The focal loss written in torch (float64), and its autograd gradient."""
    torch = _torch()
    xt = torch.tensor(np.asarray(x, dtype=np.float64), requires_grad=True)
    xm = torch.movedim(xt, axis, -1)
    yt = torch.tensor(np.asarray(y))
    keep = yt != ignore_index
    yy = torch.where(keep, yt, torch.zeros_like(yt))
    logp = torch.log_softmax(xm, dim=-1)
    logp_y = torch.gather(logp, -1, yy[..., None])[..., 0]
    p_y = logp_y.exp()
    a = torch.ones(xm.shape[-1], dtype=torch.float64) if alpha is None else torch.tensor(alpha)
    per = -a[yy] * (1 - p_y) ** gamma * logp_y
    per = torch.where(keep, per, torch.zeros_like(per))
    if reduction == "none":
        loss, total = per, per.sum()
    elif reduction == "sum":
        loss = total = per.sum()
    else:
        loss = total = per.sum() / keep.sum()
    total.backward()
    return loss.detach().numpy(), xt.grad.numpy()


# ------------------------------------------------------------ torch autograd

@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma", GAMMAS)
@pytest.mark.parametrize("with_alpha", [False, True])
def test_matches_torch_autograd_float64(gamma, reduction, with_alpha):
    x, y = make()
    alpha = _rng("alpha").uniform(0.2, 2.0, x.shape[-1]) if with_alpha else None
    want_loss, want_grad = torch_focal(x, y, gamma, alpha, reduction=reduction)
    loss, grad = fs.focal_loss_and_grad(x, y, gamma=gamma, alpha=alpha, reduction=reduction)
    assert_matches_reference(loss, want_loss, rtol=1e-12, atol=1e-15)
    assert_matches_reference(grad, want_grad, rtol=1e-11, atol=1e-15)
    assert_same(fs.focal_loss(x, y, gamma=gamma, alpha=alpha, reduction=reduction), loss)


@pytest.mark.parametrize("shape", [(300, 5), (64, 16), (9, 1000)])
@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_float32_within_1e6_of_float64_torch(shape, gamma):
    x, y = make(shape, seed=1)
    x32 = x.astype(np.float32)
    want_loss, want_grad = torch_focal(x32, y, gamma, reduction="none")
    loss, grad = fs.focal_loss_and_grad(x32, y, gamma=gamma, reduction="none")
    assert loss.dtype == grad.dtype == np.float32
    np.testing.assert_allclose(loss, want_loss, rtol=2e-6, atol=1e-30)
    np.testing.assert_allclose(grad, want_grad, rtol=0, atol=2e-6 * np.abs(want_grad).max())
    total = fs.focal_loss(x32, y, gamma=gamma, reduction="sum")
    np.testing.assert_allclose(total, want_loss.sum(), rtol=2e-6)


@pytest.mark.parametrize("axis", [0, 1, -1])
def test_axis_and_leading_dimensions(axis):
    x, y = make((4, 6, 5), axis=axis, seed=2)
    want_loss, want_grad = torch_focal(x, y, 2.0, axis=axis, reduction="none")
    loss, grad = fs.focal_loss_and_grad(x, y, axis=axis, reduction="none")
    assert loss.shape == y.shape and grad.shape == x.shape
    assert_matches_reference(loss, want_loss, rtol=1e-12, atol=1e-15)
    assert_matches_reference(grad, want_grad, rtol=1e-11, atol=1e-15)


# ------------------------------------------------------------ the reference and gamma = 0

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("gamma", GAMMAS)
def test_matches_slow_reference(gamma, reduction, dtype):
    x, y = make((33, 11), dtype=dtype, seed=3)
    alpha = _rng("a2").uniform(0.5, 1.5, 11)
    got = fs.focal_loss_and_grad(x, y, gamma=gamma, alpha=alpha, reduction=reduction)
    want = slow.focal_loss_and_grad(x, y, gamma=gamma, alpha=alpha, reduction=reduction)
    rtol = {np.float64: 1e-12, np.float32: 2e-6, np.float16: 2e-3}[dtype]
    for g, w in zip(got, want):
        assert_matches_reference(g, w, rtol=rtol, atol=rtol * 1e-3)


@pytest.mark.parametrize("shape", [(50, 8), (20, 300)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gamma_zero_is_the_weighted_cross_entropy(shape, dtype):
    x, y = make(shape, dtype=dtype, seed=4)
    alpha = _rng("a3").uniform(0.2, 2.0, shape[-1]).astype(dtype)
    rows = np.flatnonzero(y != -100)
    at_target = np.zeros(x.shape, dtype=bool)
    at_target[rows, y[rows]] = True
    for red in ("sum", "none"):
        fl, fg = fs.focal_loss_and_grad(x, y, gamma=0.0, alpha=alpha, reduction=red)
        cl, cg = fs.cross_entropy_and_grad(x, y, weight=alpha, reduction=red)
        assert_same(fl, cl)     # the same formula, term by term
        # away from the target too; there the focal loss forms -alpha (1 - p_y)
        # directly, the cross-entropy alpha p_y - alpha
        assert_same(fg[~at_target], cg[~at_target])
        tol = 1e-15 if dtype == np.float64 else 1e-7
        np.testing.assert_allclose(fg, cg, rtol=0, atol=tol * np.abs(alpha).max())
    # "mean" without alpha divides by the same count; with alpha it does not
    np.testing.assert_allclose(fs.focal_loss_and_grad(x, y, gamma=0.0)[1],
                               fs.cross_entropy_and_grad(x, y)[1], rtol=0,
                               atol=1e-15 if dtype == np.float64 else 1e-7)
    np.testing.assert_allclose(fs.focal_loss(x, y, gamma=0.0), fs.cross_entropy(x, y),
                               rtol=1e-6 if dtype == np.float32 else 1e-15)
    kept = np.count_nonzero(y != -100)
    np.testing.assert_allclose(fs.focal_loss(x, y, gamma=0.0, alpha=alpha),
                               fs.cross_entropy(x, y, weight=alpha, reduction="sum") / kept,
                               rtol=1e-6 if dtype == np.float32 else 1e-15)


def test_mean_divides_by_the_count_not_the_alphas():
    x, y = make((10, 4), seed=5, n_ignored=3)
    alpha = np.array([0.25, 4.0, 1.0, 2.0])
    total = fs.focal_loss(x, y, alpha=alpha, reduction="sum")
    assert fs.focal_loss(x, y, alpha=alpha) == np.float64(total) / 7


@pytest.mark.parametrize("gamma", [0.5, 2.0])
def test_finite_differences(gamma):
    x, y = make((6, 5), seed=6, n_ignored=1)
    alpha = np.array([0.5, 1.0, 2.0, 1.5, 0.75])
    _, grad = fs.focal_loss_and_grad(x, y, gamma=gamma, alpha=alpha, reduction="mean")
    h = 1e-6
    num = np.empty_like(x)
    for idx in np.ndindex(x.shape):
        xp, xm = x.copy(), x.copy()
        xp[idx] += h
        xm[idx] -= h
        num[idx] = (fs.focal_loss(xp, y, gamma=gamma, alpha=alpha)
                    - fs.focal_loss(xm, y, gamma=gamma, alpha=alpha)) / (2 * h)
    np.testing.assert_allclose(grad, num, rtol=1e-6, atol=1e-9)


# ------------------------------------------------------------ edge cases

def test_all_ignored_and_empty():
    x = make((5, 4))[0]
    y = np.full(5, -100)
    loss, grad = fs.focal_loss_and_grad(x, y)
    assert np.isnan(loss) and isinstance(loss, np.float64)
    assert_same(grad, np.zeros_like(x))
    assert fs.focal_loss(x, y, reduction="sum") == 0.0
    assert_same(fs.focal_loss(x, y, reduction="none"), np.zeros(5))
    e = np.zeros((0, 4))
    loss, grad = fs.focal_loss_and_grad(e, np.zeros(0, np.int64))
    assert np.isnan(loss) and grad.shape == (0, 4)
    assert fs.focal_loss(e, np.zeros(0, np.int64), reduction="sum") == 0.0
    # no classes: every target must be ignore_index
    loss, grad = fs.focal_loss_and_grad(np.zeros((3, 0)), np.full(3, -100), reduction="sum")
    assert loss == 0.0 and grad.shape == (3, 0)


def test_ignored_rows_with_garbage_are_zero():
    x, y = make((6, 5))
    x[1] = nan
    x[2, 0] = inf
    y[1] = y[2] = -100
    loss, grad = fs.focal_loss_and_grad(x, y, reduction="none")
    assert loss[1] == loss[2] == 0.0
    assert (grad[1:3] == 0).all() and np.isfinite(grad).all()


def test_special_values():
    x = np.array([[1.0, nan, 0.0], [inf, 0.0, 1.0], [-inf, -inf, -inf],
                  [-inf, 2.0, 0.0], [0.0, 2.0, -inf], [1e300, -1e300, 0.0]])
    y = np.array([0, 1, 2, 0, 1, 0])
    loss, grad = fs.focal_loss_and_grad(x, y, reduction="none")
    assert np.isnan(loss[:3]).all() and np.isnan(grad[:3]).all()
    assert loss[3] == inf and np.isfinite(grad[3]).all()      # -inf at the target
    # the limit at p_y = 0: K = alpha, the cross-entropy's gradient
    np.testing.assert_allclose(grad[3], fs.cross_entropy_and_grad(x[3:4], y[3:4])[1][0])
    assert np.isfinite(loss[4]) and grad[4, 2] == 0.0           # -inf elsewhere: 0 there
    assert loss[5] == 0.0 and (grad[5] == 0).all()              # p_y = 1 exactly
    want = slow.focal_loss_and_grad(x, y, reduction="none")
    for g, w in zip((loss, grad), want):
        assert_matches_reference(g, w, rtol=1e-12, atol=1e-300)


@pytest.mark.parametrize("gamma", [0.0, 0.25, 0.5, 1.0, 2.0])
def test_p_y_near_one_keeps_precision(gamma):
    # target logit far above the others: 1 - p_y ~ 1e-17 .. 1e-300
    gaps = np.array([5.0, 20.0, 40.0, 100.0, 300.0, 700.0])
    x = np.stack([np.zeros(6), -gaps, -gaps - 1.0], axis=1)
    y = np.zeros(6, dtype=np.int64)
    loss, grad = fs.focal_loss_and_grad(x, y, gamma=gamma, reduction="none")
    # exact: q = e1 + e2 (to first order), -log p_y = q (to first order)
    e = np.exp(-gaps) * (1 + np.exp(-1.0))
    q = e / (1 + e)
    nlp = np.log1p(e)
    np.testing.assert_allclose(loss, q ** gamma * nlp, rtol=1e-14, atol=1e-300)
    k = q ** gamma * (1 + gamma * (1 - q) * nlp / q)
    np.testing.assert_allclose(grad[:, 0], -k * q, rtol=1e-13, atol=1e-300)
    np.testing.assert_allclose(grad[:, 1], k * np.exp(-gaps) / (1 + e), rtol=1e-13, atol=1e-300)
    assert np.isfinite(grad).all()
    # float32 (subnormal results aside) is the float64 answer rounded
    l32, g32 = fs.focal_loss_and_grad(x[:3].astype(np.float32), y[:3], gamma=gamma,
                                      reduction="none")
    np.testing.assert_allclose(l32, loss[:3], rtol=2e-6, atol=1e-44)


def test_p_y_near_one_against_torch():
    x = np.array([[0.0, -30.0, -31.0], [10.0, -5.0, 0.0], [0.0, -700.0, -700.0]])
    y = np.array([0, 0, 0])
    for gamma in (0.5, 2.0):
        want_loss, want_grad = torch_focal(x, y, gamma, reduction="none")
        loss, grad = fs.focal_loss_and_grad(x, y, gamma=gamma, reduction="none")
        # torch rounds 1 - p_y = 2.6e-13 (first row) to ~1e-16 absolute: a 1e-3
        # relative error there, which ours has not (test above)
        np.testing.assert_allclose(loss, want_loss, rtol=5e-3, atol=1e-300)
        np.testing.assert_allclose(grad[:2], want_grad[:2], rtol=5e-3, atol=1e-15)
        # p_y = 1 exactly (third row): torch's gradient is 0 * inf = NaN for
        # gamma < 1; ours is the limit, 0
        assert (grad[2] == 0).all()
        assert np.isnan(want_grad[2]).all() == (gamma < 1)


def test_large_logits():
    x = np.array([[1e20, 1e20, 0.0], [3e38, -3e38, 1.0], [1e15, 1e15 - 1.0, 0.0]])
    y = np.array([0, 1, 1])
    for dt in (np.float64, np.float32):
        xa = x.astype(dt)
        loss, grad = fs.focal_loss_and_grad(xa, y, reduction="none")
        want = slow.focal_loss_and_grad(xa, y, reduction="none")
        rtol = 1e-12 if dt == np.float64 else 2e-6
        for g, w in zip((loss, grad), want):
            assert_matches_reference(g, w, rtol=rtol, atol=1e-30)
    np.testing.assert_allclose(fs.focal_loss(x[:1], y[:1], reduction="none"),
                               [0.25 * np.log(2)], rtol=1e-15)


def test_alpha_shapes():
    x, y = make((6, 5))
    for alpha in (np.ones(5), [1.0] * 5, np.arange(1, 6)):
        fs.focal_loss(x, y, alpha=alpha)
    assert_same(fs.focal_loss(x, y, alpha=np.ones(5)), fs.focal_loss(x, y))
    for bad in (np.ones(4), np.ones((5, 1)), 2.0, np.ones(6)):
        with pytest.raises(ValueError, match=r"alpha must have shape \(5,\)"):
            fs.focal_loss(x, y, alpha=bad)
    with pytest.raises(TypeError, match="alpha must be real numbers"):
        fs.focal_loss(x, y, alpha=np.array(list("abcde")))


def test_gamma_validation():
    x, y = make((6, 5))
    for bad in (-0.5, nan, inf):
        with pytest.raises(ValueError, match="gamma must be finite and >= 0"):
            fs.focal_loss(x, y, gamma=bad)
    with pytest.raises(TypeError, match="gamma must be a real number"):
        fs.focal_loss(x, y, gamma="2")


# ------------------------------------------------------------ layouts and threads

@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_layouts_bitwise(layout, dtype):
    x, y = make((30, 9), dtype=dtype, seed=7)
    want = fs.focal_loss_and_grad(x, y, reduction="none", alpha=np.linspace(0.5, 2, 9))
    got = fs.focal_loss_and_grad(with_layout(x, layout), with_layout(y, layout),
                                 reduction="none", alpha=np.linspace(0.5, 2, 9))
    for g, w in zip(got, want):
        assert_same(g, w)


def test_axis0_fortran_bitwise():
    x, y = make((9, 30), axis=0, seed=8)
    got = fs.focal_loss_and_grad(np.asfortranarray(x), y, axis=0, reduction="none")
    want = fs.focal_loss_and_grad(np.ascontiguousarray(x.T), y, reduction="none")
    assert_same(got[0], want[0])
    assert_same(got[1], want[1].T)


@pytest.mark.parametrize("shape", [(40000, 10), (700, 301), (3, 40000)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_thread_counts_bitwise(shape, dtype):
    x, y = make(shape, dtype=dtype, seed=9, n_ignored=50)
    x.reshape(-1)[::997] = -inf
    results = [fs.focal_loss_and_grad(x, y, gamma=1.5, num_threads=n, reduction=r)
               for n in (1, 2, 3) for r in ("mean", "none")]
    for k in range(2, len(results)):
        for g, w in zip(results[k], results[k % 2]):
            assert_same(g, w)


def test_short_rows_with_specials_take_the_general_path():
    # a chunk of short rows holding an inf goes row by row: same answers as
    # the same rows on their own
    x, y = make((200, 6), seed=10, n_ignored=0)
    x[150, 2] = inf
    loss = fs.focal_loss(x, y, reduction="none")
    for i in (0, 149, 151, 199):
        assert_same(loss[i:i + 1], fs.focal_loss(x[i:i + 1], y[i:i + 1], reduction="none"))
    assert np.isnan(loss[150])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_the_reference_itself_is_torchs(reduction):
    x, y = make((25, 6), seed=11)
    alpha = _rng("a4").uniform(0.2, 2.0, 6)
    for gamma in (0.0, 0.7, 2.0):
        want = torch_focal(x, y, gamma, alpha, reduction=reduction)
        got = slow.focal_loss_and_grad(x, y, gamma=gamma, alpha=alpha, reduction=reduction)
        for g, w in zip(got, want):
            assert_matches_reference(g, w, rtol=1e-12, atol=1e-15)
