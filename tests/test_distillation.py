"""distillation_loss(_and_grad): the torch expression
``alpha * CE(s, y) + (1 - alpha) * T**2 * kl_div(log_softmax(s / T),
softmax(t / T), "batchmean")`` (without targets ``T**2 * kl_div(...)``),
loss and gradient from one fused pass.

Against torch autograd (skipped without it) for every option, special
values included; against the float64 reference (``fastsoftmax.slow``) and
finite differences; float32 against float64; axes, layouts and thread
counts never change a bit.
"""
from __future__ import annotations

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import LAYOUTS, assert_matches_reference, assert_same, with_layout

inf, nan = np.inf, np.nan


def _torch():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


def torch_distillation(s, t, temperature=1.0, target=None, alpha=0.5, ignore_index=-100):
    """(loss, dloss/ds) of the torch expression on (N, C) float64 logits."""
    torch, F = _torch()
    st = torch.tensor(np.asarray(s, dtype=np.float64), requires_grad=True)
    tt = torch.tensor(np.asarray(t, dtype=np.float64))
    T = temperature
    kl = F.kl_div(F.log_softmax(st / T, dim=1), F.softmax(tt / T, dim=1), reduction="batchmean")
    if target is None:
        loss = T ** 2 * kl
    else:
        ce = F.cross_entropy(st, torch.tensor(np.asarray(target, dtype=np.int64)),
                             ignore_index=ignore_index)
        loss = alpha * ce + (1 - alpha) * T ** 2 * kl
    loss.backward()
    return loss.item(), st.grad.numpy()


def _logits(shape, seed, scale=3.0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) * scale, rng.standard_normal(shape) * scale


def _labels(n, c, seed, ignore=0.2, ignore_index=-100):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    y[rng.random(n) < ignore] = ignore_index
    return y


def _check(s, t, rtol=1e-11, atol=1e-13, **kw):
    want_l, want_g = torch_distillation(s, t, **kw)
    loss, grad = fs.distillation_loss_and_grad(s, t, **kw)
    assert_matches_reference(loss, np.float64(want_l), rtol=rtol, atol=atol, what=f"loss {kw}")
    assert_matches_reference(grad, want_g, rtol=rtol, atol=atol, what=f"grad {kw}")
    assert_same(fs.distillation_loss(s, t, **kw), loss)


# ------------------------------------------------------------------ torch parity

@pytest.mark.parametrize("with_target", [False, True])
@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0, 1.7])
@pytest.mark.parametrize("temperature", [1.0, 2.0, 1e-3, 1e3])
@pytest.mark.parametrize("shape", [(9, 7), (40, 3000), (3, 70000)])
def test_float64_is_torchs(shape, temperature, alpha, with_target):
    s, t = _logits(shape, seed=sum(shape))
    y = _labels(shape[0], shape[1], seed=1) if with_target else None
    # extreme temperatures multiply the loss's magnitude (T**2, 1/T)
    atol = 1e-13 * max(1.0, temperature ** 2, 1 / temperature)
    _check(s, t, temperature=temperature, target=y, alpha=alpha, atol=atol)


def test_ignore_index_and_all_ignored():
    s, t = _logits((8, 6), seed=2)
    y = _labels(8, 6, seed=3, ignore=0.5, ignore_index=4)
    _check(s, t, target=y, ignore_index=4, temperature=2.0)
    # every target ignored: the cross-entropy is 0 / 0 (NaN), its gradient 0
    y = np.full(8, -100)
    loss, grad = fs.distillation_loss_and_grad(s, t, target=y, temperature=2.0)
    assert np.isnan(loss)
    _, soft_grad = fs.distillation_loss_and_grad(s, t, temperature=2.0)
    np.testing.assert_allclose(grad, 0.5 * soft_grad, rtol=1e-14, atol=1e-18)
    _check(s, t, target=y, temperature=2.0)


def test_target_none_ignores_alpha():
    s, t = _logits((5, 4), seed=4)
    a = fs.distillation_loss_and_grad(s, t, temperature=3.0, alpha=0.0)
    b = fs.distillation_loss_and_grad(s, t, temperature=3.0, alpha=0.9)
    assert_same(a[0], b[0])
    assert_same(a[1], b[1])


@pytest.mark.parametrize("alpha", [0.0, 0.5, 1.0])
@pytest.mark.parametrize("case", ["s_-inf", "s_-inf_t_-inf", "t_-inf", "y_at_-inf", "s_nan",
                                  "s_+inf", "s_all_-inf", "t_all_-inf", "t_nan", "t_+inf",
                                  "ignored_nan_row"])
def test_special_values_are_torchs(case, alpha):
    """-inf student logits: +inf where the teacher's probability is > 0, NaN
    where it is 0; rows without a distribution: NaN loss and gradient row."""
    s, t = _logits((4, 5), seed=5)
    y = np.array([0, 1, 2, 3])
    if case == "s_-inf":
        s[1, 2] = -inf
    elif case == "s_-inf_t_-inf":
        s[1, 2] = t[1, 2] = -inf
    elif case == "t_-inf":
        t[2, 1] = -inf
    elif case == "y_at_-inf":
        s[1, 1] = -inf
    elif case == "s_nan":
        s[0, 3] = nan
    elif case == "s_+inf":
        s[0, 3] = inf
    elif case == "s_all_-inf":
        s[2] = -inf
    elif case == "t_all_-inf":
        t[2] = -inf
    elif case == "t_nan":
        t[3, 0] = nan
    elif case == "t_+inf":
        t[3, 0] = inf
    elif case == "ignored_nan_row":
        s[0, 0] = nan
        y[0] = -100
    for target in (None, y):
        with np.errstate(all="ignore"):
            _check(s, t, temperature=2.0, target=target, alpha=alpha)


def test_underflowing_teacher_probability_with_minus_inf_student_logit():
    """p = exp(-1000 / T) underflows to 0 in float64 and float32: 0 * log 0 is
    NaN in torch's product; with a larger T it does not underflow: +inf.
    The maximum of the teacher row comes late (the sums are rescaled)."""
    n = 5000
    s = np.zeros((1, n))
    t = np.zeros((1, n))
    s[0, 10] = -inf
    t[0, 10] = -1000.0
    t[0, n - 1] = 5.0
    for T, want in ((1.0, "nan"), (100.0, "inf")):
        for dtype in (np.float64, np.float32):
            loss = fs.distillation_loss(s.astype(dtype), t.astype(dtype), temperature=T)
            assert (np.isnan(loss) if want == "nan" else np.isposinf(loss)), (T, dtype, loss)
        _check(s, t, temperature=T)


# ------------------------------------------------------------------ precision

@pytest.mark.parametrize("with_target", [False, True])
@pytest.mark.parametrize("temperature", [1.0, 4.0, 1e-3, 1e3])
def test_float32_against_float64(temperature, with_target):
    s, t = _logits((200, 1001), seed=6)
    s32, t32 = s.astype(np.float32), t.astype(np.float32)
    y = _labels(200, 1001, seed=7) if with_target else None
    loss, grad = fs.distillation_loss_and_grad(s32, t32, temperature=temperature, target=y)
    wl, wg = slow.distillation_loss_and_grad(s32.astype(np.float64), t32.astype(np.float64),
                                             temperature=temperature, target=y)
    assert loss.dtype == np.float32 and grad.dtype == np.float32
    # T >> 1: the KL of nearly uniform distributions is a small difference of
    # O(1/T) terms (torch's float32 loses 2e-3 of it at T = 1e3)
    np.testing.assert_allclose(loss, wl, rtol=2e-6 if temperature <= 100 else 2e-5)
    # q - p of nearly equal float32 probabilities, likewise (torch's float32
    # gradient is 4x further from float64 than this at every temperature)
    np.testing.assert_allclose(grad, wg, rtol=1e-5,
                               atol=2e-6 * max(1.0, temperature / 100) * np.abs(wg).max())


def test_float16_computes_in_float32():
    s, t = _logits((6, 9), seed=8)
    s16, t16 = s.astype(np.float16), t.astype(np.float16)
    loss, grad = fs.distillation_loss_and_grad(s16, t16, temperature=2.0)
    l32, g32 = fs.distillation_loss_and_grad(s16.astype(np.float32), t16.astype(np.float32),
                                             temperature=2.0)
    assert loss.dtype == np.float16 and grad.dtype == np.float16
    assert_same(loss, l32.astype(np.float16))
    assert_same(grad, g32.astype(np.float16))


def test_teacher_dtype_follows_the_student():
    s, t = _logits((6, 9), seed=9)
    loss = fs.distillation_loss(s.astype(np.float32), t, temperature=2.0)
    assert loss.dtype == np.float32
    assert_same(loss, fs.distillation_loss(s.astype(np.float32), t.astype(np.float32),
                                           temperature=2.0))


def test_large_offsets():
    """Logits around 1e4: the sums are taken against the rows' maxima."""
    s, t = _logits((20, 300), seed=10)
    _check(s + 1e4, t - 1e4, temperature=2.0, target=_labels(20, 300, seed=11), rtol=1e-9,
           atol=1e-11)


def test_gradient_is_the_finite_difference():
    rng = np.random.default_rng(12)
    s, t = rng.standard_normal((3, 5)), rng.standard_normal((3, 5))
    y = np.array([1, -100, 4])
    kw = dict(temperature=1.7, target=y, alpha=0.4)
    _, grad = fs.distillation_loss_and_grad(s, t, **kw)
    h = 1e-6
    fd = np.empty_like(s)
    for idx in np.ndindex(s.shape):
        sp, sm = s.copy(), s.copy()
        sp[idx] += h
        sm[idx] -= h
        fd[idx] = (fs.distillation_loss(sp, t, **kw) - fs.distillation_loss(sm, t, **kw)) / (2 * h)
    np.testing.assert_allclose(grad, fd, rtol=1e-6, atol=1e-9)


def test_against_the_reference_without_torch():
    s, t = _logits((30, 77), seed=13)
    y = _labels(30, 77, seed=14)
    for kw in (dict(temperature=2.0), dict(temperature=0.5, target=y, alpha=0.25)):
        got = fs.distillation_loss_and_grad(s, t, **kw)
        want = slow.distillation_loss_and_grad(s, t, **kw)
        assert_matches_reference(got[0], want[0], rtol=1e-12, atol=1e-14)
        assert_matches_reference(got[1], want[1], rtol=1e-11, atol=1e-15)


# ------------------------------------------------------------------ shapes, axes, layouts

def test_axis_and_leading_dimensions():
    """(B, T, C) logits are B * T samples; classes along another axis give
    the same answer as moving them last."""
    s, t = _logits((3, 4, 11), seed=15)
    y = _labels(12, 11, seed=16).reshape(3, 4)
    kw = dict(temperature=2.0, alpha=0.3)
    l0, g0 = fs.distillation_loss_and_grad(s, t, target=y, **kw)
    wl, wg = torch_distillation(s.reshape(12, 11), t.reshape(12, 11), target=y.reshape(-1), **kw)
    np.testing.assert_allclose(l0, wl, rtol=1e-12)
    np.testing.assert_allclose(g0, wg.reshape(s.shape), rtol=1e-11, atol=1e-15)
    l1, g1 = fs.distillation_loss_and_grad(np.moveaxis(s, -1, 1), np.moveaxis(t, -1, 1),
                                           target=y, axis=1, **kw)
    assert_same(l1, l0)
    assert_same(g1, np.moveaxis(g0, -1, 1))


def test_one_dimensional_input_is_one_sample():
    s, t = _logits((7,), seed=17)
    loss, grad = fs.distillation_loss_and_grad(s, t, temperature=2.0, target=np.int64(3))
    l2, g2 = fs.distillation_loss_and_grad(s[None], t[None], temperature=2.0,
                                           target=np.array([3]))
    assert_same(loss, l2)
    assert_same(grad, g2[0])


def test_empty_batches_and_no_classes():
    e = np.zeros((0, 5))
    loss, grad = fs.distillation_loss_and_grad(e, e, temperature=2.0)
    assert np.isnan(loss) and grad.shape == (0, 5)
    loss = fs.distillation_loss(e, e, target=np.zeros(0, dtype=np.int64))
    assert np.isnan(loss)
    c0 = np.zeros((3, 0))
    loss, grad = fs.distillation_loss_and_grad(c0, c0)
    assert loss == 0 and grad.shape == (3, 0)


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_do_not_change_a_bit(layout):
    s, t = _logits((17, 40), seed=18)
    y = _labels(17, 40, seed=19)
    for dtype in (np.float64, np.float32):
        sd, td = s.astype(dtype), t.astype(dtype)
        plain = fs.distillation_loss_and_grad(sd, td, temperature=2.0, target=y)
        got = fs.distillation_loss_and_grad(with_layout(sd, layout), with_layout(td, layout),
                                            temperature=2.0, target=with_layout(y, "strided")
                                            if layout == "strided" else y)
        assert_same(got[0], plain[0])
        assert_same(got[1], plain[1])


def test_grad_out_is_honoured_in_any_layout():
    s, t = _logits((6, 8), seed=20)
    want = fs.distillation_loss_and_grad(s, t, temperature=2.0)[1]
    for out in (np.empty_like(s), np.empty_like(s, order="F"), np.empty((6, 16))[:, ::2]):
        loss, grad = fs.distillation_loss_and_grad(s, t, temperature=2.0, grad_out=out)
        assert grad is out
        assert_same(grad, want)
    # grad_out may not be an input: it would be overwritten while read
    loss, grad = fs.distillation_loss_and_grad(s.copy(), t, temperature=2.0, grad_out=t.copy())
    assert_same(grad, want)


@pytest.mark.parametrize("with_target", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("shape", [(3000, 40), (40, 20000)])
def test_thread_counts_are_bitwise_identical(shape, dtype, with_target):
    s, t = _logits(shape, seed=21)
    s, t = s.astype(dtype), t.astype(dtype)
    y = _labels(shape[0], shape[1], seed=22) if with_target else None
    results = [fs.distillation_loss_and_grad(s, t, temperature=2.0, target=y, num_threads=n)
               for n in (1, 2, 3)]
    for loss, grad in results[1:]:
        assert_same(loss, results[0][0])
        assert_same(grad, results[0][1])
    assert_same(fs.distillation_loss(s, t, temperature=2.0, target=y, num_threads=2),
                results[0][0])
