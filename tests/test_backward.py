"""softmax_backward and log_softmax_backward against torch's
_softmax_backward_data / _log_softmax_backward_data and autograd (skipped
without torch) and the reference ``fastsoftmax.slow``: dtypes, axes,
layouts, in place, NaN propagation and thread counts (bitwise)."""
from __future__ import annotations

import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow
from _helpers import LAYOUTS, WRITABLE_LAYOUTS, assert_matches_reference, assert_same, \
    with_layout

inf, nan = np.inf, np.nan
FLOATS = (np.float64, np.float32)
NAMES = ("softmax_backward", "log_softmax_backward")
FORWARD = {"softmax_backward": "softmax", "log_softmax_backward": "log_softmax"}
SHAPES = [(1, 1), (7, 3), (9, 16), (5, 17), (4, 1000), (2, 40000), (3, 4, 6), (6,)]
TOL = {np.dtype(np.float64): (1e-12, 1e-15), np.dtype(np.float32): (1e-5, 1e-6)}


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def _inputs(name, shape, dtype, seed=0, axis=-1):
    rng = _rng(name, shape, np.dtype(dtype).name, seed, axis)
    x = (3 * rng.standard_normal(shape)).astype(dtype)
    y = getattr(fs, FORWARD[name])(x, axis=axis)
    g = rng.standard_normal(shape).astype(dtype)
    return g, y


def _torch():
    return pytest.importorskip("torch")


def _torch_backward(torch, name, g, y, dim):
    f = torch._softmax_backward_data if name == "softmax_backward" else \
        torch._log_softmax_backward_data
    gt = torch.from_numpy(np.ascontiguousarray(g))
    return f(gt, torch.from_numpy(np.ascontiguousarray(y)), dim, gt.dtype).numpy()


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_matches_torch(name, shape, dtype):
    torch = _torch()
    for axis in range(-len(shape), 0):
        g, y = _inputs(name, shape, dtype, axis=axis)
        got = getattr(fs, name)(g, y, axis=axis)
        want = _torch_backward(torch, name, g, y, axis)
        rtol, atol = TOL[np.dtype(dtype)]
        assert_matches_reference(got, getattr(slow, name)(g, y, axis=axis), rtol=rtol,
                                 atol=atol)
        # torch sums a float32 row in float32: an error growing with the row
        wide = np.sqrt(shape[axis]) if np.dtype(dtype) == np.float32 else 1.0
        assert_matches_reference(got, want, rtol=rtol, atol=atol * wide)


@pytest.mark.parametrize("name", NAMES)
def test_matches_autograd_of_the_forward(name):
    torch = _torch()
    rng = _rng("autograd", name)
    x = 2 * rng.standard_normal((6, 9))
    g = rng.standard_normal((6, 9))
    for dim in (0, 1):
        xt = torch.tensor(x, requires_grad=True)
        getattr(torch, FORWARD[name])(xt, dim=dim).backward(torch.tensor(g))
        y = getattr(fs, FORWARD[name])(x, axis=dim)
        got = getattr(fs, name)(g, y, axis=dim)
        assert_matches_reference(got, xt.grad.numpy(), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_nan_and_inf_propagate_as_torch(name):
    torch = _torch()
    y = fs.softmax(np.array([[0.0, 1.0, 2.0]] * 5))
    if name == "log_softmax_backward":
        y = np.log(y)
    g = np.array([[0.1, 0.2, 0.3], [nan, 0.2, 0.3], [inf, 0.2, 0.3], [-inf, inf, 0.0],
                  [1e308, 1e308, 0.0]])
    yy = y.copy()
    yy[4, 2] = nan
    with np.errstate(all="ignore"):
        for yv in (y, yy):
            got = getattr(fs, name)(g, yv)
            want = _torch_backward(torch, name, g, yv, -1)
            assert_matches_reference(got, want, rtol=1e-14, atol=1e-300)
            got32 = getattr(fs, name)(g.astype(np.float32), yv.astype(np.float32))
            want32 = _torch_backward(torch, name, g.astype(np.float32),
                                     yv.astype(np.float32), -1)
            assert_matches_reference(got32, want32, rtol=1e-5, atol=1e-30)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", NAMES)
def test_layouts_are_bitwise_the_contiguous_answer(name, layout):
    g, y = _inputs(name, (9, 37), np.float32, 1)
    want = getattr(fs, name)(g, y)
    got = getattr(fs, name)(with_layout(g, layout), with_layout(y, layout))
    assert_same(got, want.astype(got.dtype))
    got = getattr(fs, name)(with_layout(g, layout).T, with_layout(y, layout).T, axis=0)
    assert_same(got, want.T)


@pytest.mark.parametrize("layout", WRITABLE_LAYOUTS)
@pytest.mark.parametrize("name", NAMES)
def test_out_and_in_place(name, layout):
    g, y = _inputs(name, (9, 37), np.float64, 2)
    want = getattr(fs, name)(g, y)
    out = with_layout(np.zeros_like(g), layout)
    assert getattr(fs, name)(g, y, out=out) is out
    assert_same(out, want)
    for which in ("grad_output", "output"):   # out aliasing an input: in place
        gg, yy = with_layout(g, layout), with_layout(y, layout)
        target = gg if which == "grad_output" else yy
        assert getattr(fs, name)(gg, yy, out=target) is target
        assert_same(target, want)
    # a partially overlapping out is computed through a temporary
    buf = np.concatenate([g, g[:1]])
    got = getattr(fs, name)(buf[:-1], y, out=buf[1:])
    assert_same(got, want)


@pytest.mark.parametrize("name", NAMES)
def test_dtypes(name):
    g, y = _inputs(name, (5, 8), np.float32, 3)
    h = getattr(fs, name)(g.astype(np.float16), y.astype(np.float16))
    assert h.dtype == np.float16
    assert_same(h, getattr(fs, name)(g.astype(np.float16).astype(np.float32),
                                     y.astype(np.float16).astype(np.float32)
                                     ).astype(np.float16))
    mixed = getattr(fs, name)(g, y.astype(np.float64))
    assert mixed.dtype == np.float64
    ints = getattr(fs, name)(np.arange(6).reshape(2, 3), np.ones((2, 3)) / 3)
    assert ints.dtype == np.float64


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", [(40000, 10), (3000, 257), (7, 100003)], ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_thread_counts_give_bitwise_the_same_answer(name, shape, dtype):
    g, y = _inputs(name, shape, dtype, 4)
    want = getattr(fs, name)(g, y, num_threads=1)
    for n in (2, 3):
        assert_same(getattr(fs, name)(g, y, num_threads=n), want)


@pytest.mark.parametrize("name", NAMES)
def test_empty_and_scalar(name):
    assert getattr(fs, name)(np.zeros((0, 3)), np.zeros((0, 3))).shape == (0, 3)
    assert getattr(fs, name)(np.zeros((3, 0)), np.zeros((3, 0))).shape == (3, 0)
    r = getattr(fs, name)(np.float64(0.5), np.float64(0.0 if "log" in name else 1.0))
    assert r == getattr(slow, name)(np.float64(0.5), np.float64(0.0 if "log" in name else 1.0))
