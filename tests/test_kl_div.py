"""kl_div: torch.nn.functional.kl_div's answers, from one fused compiled pass.

Against torch (skipped without it) for every reduction and both target
forms, special values included; against the float64 reference
(``fastsoftmax.slow``) for float32 / float16, axes and the N-D batchmean
rule; memory layouts and thread counts never change a bit.
"""
from __future__ import annotations

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import LAYOUTS, assert_matches_reference, assert_same, with_layout

inf, nan = np.inf, np.nan
REDUCTIONS = ("none", "sum", "mean", "batchmean")


def _torch():
    torch = pytest.importorskip("torch")
    return torch, torch.nn.functional


def _inputs(shape, seed=0, axis=-1, log_target=False, zeros=0.2):
    """log-probabilities and (log-)probability targets along ``axis``."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2
    lp = np.moveaxis(slow.log_softmax(np.moveaxis(x, axis, -1)), -1, axis)
    t = rng.random(shape)
    t[rng.random(shape) < zeros] = 0.0
    t /= np.maximum(t.sum(axis=axis, keepdims=True), 1e-300)
    if log_target:
        with np.errstate(divide="ignore"):
            t = np.log(t)
    return lp, t


def _torch_kl(x, t, reduction, log_target):
    torch, F = _torch()
    with np.errstate(all="ignore"):
        return F.kl_div(torch.tensor(x), torch.tensor(t), reduction=reduction,
                        log_target=log_target).numpy()


# ------------------------------------------------------------------ torch parity

@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(7, 5), (64, 1000), (3, 1), (1, 40000)])
def test_float64_is_torchs(shape, reduction, log_target):
    x, t = _inputs(shape, seed=sum(shape), log_target=log_target, zeros=0.0 if log_target else 0.2)
    got = fs.kl_div(x, t, reduction=reduction, log_target=log_target)
    want = _torch_kl(x, t, reduction, log_target)
    assert_matches_reference(got, want, rtol=1e-12, atol=1e-14)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_special_values_are_torchs(reduction, log_target):
    """0 targets at finite and infinite inputs, negative, NaN and infinite
    targets, -inf and NaN inputs: torch's NaN / inf pattern, element by
    element (and the reductions it gives)."""
    xs = [-inf, -1.0, 0.0, -inf, 2.0, nan, -1.0, inf, 3.0, -2.0, 0.5, -inf]
    ts = [0.0, 0.0, -1.0, 0.5, nan, 0.3, inf, 0.0, 1e-310, -inf, 700.0, -inf]
    for i in range(len(xs)):
        x = np.array([[xs[i], -0.5]])
        t = np.array([[ts[i], 0.25]])
        for dtype in (np.float64, np.float32):
            xd, td = x.astype(dtype), t.astype(dtype)
            with np.errstate(all="ignore"):
                got = fs.kl_div(xd, td, reduction=reduction, log_target=log_target)
            want = _torch_kl(xd, td, reduction, log_target)
            assert_matches_reference(got, want, rtol=1e-6, atol=1e-300,
                                     what=f"{dtype.__name__} x={xs[i]} t={ts[i]}")


def test_zero_target_is_zero_at_finite_input_and_nan_at_infinite_input():
    got = fs.kl_div(np.array([-3.0, -inf, inf]), np.array([0.0, 0.0, 0.0]), reduction="none")
    assert got[0] == 0 and np.isnan(got[1]) and np.isnan(got[2])
    assert np.isnan(fs.kl_div(np.array([-1.0, -1.0]), np.array([-0.5, 1.0]), reduction="none")[0])


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_float32_against_float64(reduction, log_target):
    """float32 terms are computed in double and rounded once; the sum is in double."""
    x, t = _inputs((300, 257), seed=3, log_target=log_target, zeros=0.0 if log_target else 0.2)
    x32, t32 = x.astype(np.float32), t.astype(np.float32)
    got = fs.kl_div(x32, t32, reduction=reduction, log_target=log_target)
    want = slow.kl_div(x32.astype(np.float64), t32.astype(np.float64), reduction=reduction,
                       log_target=log_target)
    assert got.dtype == np.float32
    if reduction == "none":
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)
    else:
        np.testing.assert_allclose(got, want, rtol=1e-6)
    torch_ = _torch_kl(x32, t32, reduction, log_target)
    np.testing.assert_allclose(got, torch_, rtol=1e-4, atol=1e-6)


def test_float16_computes_in_float32():
    x, t = _inputs((20, 30), seed=4)
    x16, t16 = x.astype(np.float16), t.astype(np.float16)
    got = fs.kl_div(x16, t16, reduction="none")
    assert got.dtype == np.float16
    want = fs.kl_div(x16.astype(np.float32), t16.astype(np.float32), reduction="none")
    assert_same(got, want.astype(np.float16))
    s = fs.kl_div(x16, t16, reduction="sum")
    assert s.dtype == np.float16


def test_integer_input_and_lists():
    got = fs.kl_div([[0, -1], [-2, 0]], [[0.5, 0.5], [1, 0]], reduction="sum")
    assert got.dtype == np.float64
    want = slow.kl_div(np.array([[0, -1], [-2, 0]]), np.array([[0.5, 0.5], [1, 0]]),
                       reduction="sum")
    np.testing.assert_allclose(got, want, rtol=1e-15)


# ------------------------------------------------------------------ reductions and axes

def test_batchmean_counts_distributions():
    """2-D with classes last: divided by shape[0] (torch); N-D: by the
    product of the dimensions other than ``axis``."""
    x, t = _inputs((4, 6, 9), seed=5)
    total = fs.kl_div(x, t, reduction="sum")
    np.testing.assert_allclose(fs.kl_div(x, t, reduction="batchmean"), total / 24, rtol=1e-15)
    np.testing.assert_allclose(fs.kl_div(x, t, axis=1, reduction="batchmean"), total / 36,
                               rtol=1e-15)
    np.testing.assert_allclose(fs.kl_div(x, t, axis=0, reduction="batchmean"), total / 54,
                               rtol=1e-15)
    np.testing.assert_allclose(fs.kl_div(x, t, reduction="mean"), total / x.size, rtol=1e-15)
    x2, t2 = _inputs((5, 8), seed=6)
    np.testing.assert_allclose(fs.kl_div(x2, t2, reduction="batchmean"),
                               fs.kl_div(x2, t2, reduction="sum") / 5, rtol=1e-15)
    # classes along axis 0 of a 2-D array: the batch is shape[1]
    np.testing.assert_allclose(fs.kl_div(x2.T, t2.T, axis=0, reduction="batchmean"),
                               fs.kl_div(x2, t2, reduction="batchmean"), rtol=1e-15)


@pytest.mark.filterwarnings("ignore:reduction. 'mean' divides")
def test_batchmean_2d_and_1d_shapes_match_torch_where_torch_agrees():
    x, t = _inputs((9, 4), seed=7)
    for reduction in REDUCTIONS:
        assert_matches_reference(fs.kl_div(x, t, reduction=reduction),
                                 _torch_kl(x, t, reduction, False), rtol=1e-13, atol=1e-15)


def test_empty_and_zero_dimensional():
    e = np.zeros((0, 4))
    assert np.isnan(fs.kl_div(e, e, reduction="batchmean"))
    assert np.isnan(fs.kl_div(e, e, reduction="mean"))
    assert fs.kl_div(e, e, reduction="sum") == 0
    assert fs.kl_div(e, e, reduction="none").shape == (0, 4)
    c0 = np.zeros((3, 0))
    assert fs.kl_div(c0, c0, reduction="batchmean") == 0
    x, t = np.float64(-0.5), np.float64(0.25)
    want = 0.25 * np.log(0.25) + 0.125
    for reduction in ("sum", "mean", "batchmean"):
        np.testing.assert_allclose(fs.kl_div(x, t, reduction=reduction), want, rtol=1e-15)
    assert fs.kl_div(x, t, reduction="none").shape == ()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_layouts_do_not_change_a_bit(layout):
    x, t = _inputs((33, 47), seed=8)
    for dtype in (np.float64, np.float32):
        xd, td = x.astype(dtype), t.astype(dtype)
        for reduction in REDUCTIONS:
            plain = fs.kl_div(xd, td, reduction=reduction)
            got = fs.kl_div(with_layout(xd, layout), with_layout(td, layout), reduction=reduction)
            assert_same(got, plain)


@pytest.mark.parametrize("log_target", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thread_counts_are_bitwise_identical(dtype, log_target):
    x, t = _inputs((1000, 301), seed=9, log_target=log_target, zeros=0.0 if log_target else 0.2)
    x, t = x.astype(dtype), t.astype(dtype)
    for reduction in REDUCTIONS:
        results = [fs.kl_div(x, t, reduction=reduction, log_target=log_target, num_threads=n)
                   for n in (1, 2, 3)]
        for r in results[1:]:
            assert_same(r, results[0])
    want = slow.kl_div(x, t, reduction="sum", log_target=log_target)
    np.testing.assert_allclose(fs.kl_div(x, t, reduction="sum", log_target=log_target), want,
                               rtol=1e-5 if dtype == np.float32 else 1e-12)


def test_many_chunks_sum_in_double():
    """Far more elements than one chunk; terms of both signs."""
    x, t = _inputs((50, 40001), seed=10)
    got = fs.kl_div(x, t, reduction="sum")
    want = slow.kl_div(x, t, reduction="sum")
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_subnormal_targets():
    tiny = np.array([5e-324, 1e-310, 2.2250738585072014e-308, 1e-300])
    got = fs.kl_div(np.full(4, -1.0), tiny, reduction="none")
    want = tiny * np.log(tiny) + tiny
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=0)
