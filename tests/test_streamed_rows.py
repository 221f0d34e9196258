"""Rows long enough (64 KiB and more) that the kernels write them with
non-temporal stores: log_softmax, the cross-entropy gradient and the softmax
backward passes.  The streamed part starts at the output's first vector
boundary, so every alignment of the output must give the same bits as an
aligned output, in place too, and the values must match the references."""
from __future__ import annotations

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow

# float32 rows of 16384 (64 KiB, the first streamed length) and longer;
# float64 rows of 8192
LENGTHS = {np.float32: (16383, 16384, 16385, 40001), np.float64: (8191, 8192, 20003)}
CASES = [(dt, n) for dt, ns in LENGTHS.items() for n in ns]
OFFSETS = (0, 1, 3, 7, 16)   # elements between the buffer's start and the output


def _misaligned(shape, dtype, offset):
    buf = np.empty(int(np.prod(shape)) + offset, dtype)
    return buf[offset:].reshape(shape)


def _inputs(dtype, n, seed=0):
    rng = np.random.default_rng([seed, n, np.dtype(dtype).itemsize])
    x = (3 * rng.standard_normal((3, n))).astype(dtype)
    g = rng.standard_normal((3, n)).astype(dtype)
    return x, g


@pytest.mark.parametrize("dtype, n", CASES, ids=str)
def test_log_softmax_every_alignment_and_in_place(dtype, n):
    x, _ = _inputs(dtype, n)
    ref = fs.log_softmax(x)
    rtol = 2e-6 if dtype == np.float32 else 1e-13
    np.testing.assert_allclose(ref, slow.log_softmax(x), rtol=rtol, atol=0)
    for off in OFFSETS:
        out = _misaligned(x.shape, dtype, off)
        for nt in (1, 2):
            fs.log_softmax(x, out=out, num_threads=nt)
            np.testing.assert_array_equal(out, ref)
    y = x.copy()
    fs.log_softmax(y, out=y)
    np.testing.assert_array_equal(y, ref)


@pytest.mark.parametrize("name", ["softmax_backward", "log_softmax_backward"])
@pytest.mark.parametrize("dtype, n", CASES, ids=str)
def test_backward_every_alignment_and_in_place(name, dtype, n):
    x, g = _inputs(dtype, n)
    y = (fs.log_softmax if name.startswith("log") else fs.softmax)(x)
    f = getattr(fs, name)
    ref = f(g, y)
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(ref, getattr(slow, name)(g, y), rtol=rtol, atol=1e-7)
    for off in OFFSETS:
        out = _misaligned(g.shape, dtype, off)
        f(g, y, out=out, num_threads=2)
        np.testing.assert_array_equal(out, ref)
    for which in ("g", "y"):
        gg, yy = g.copy(), y.copy()
        f(gg, yy, out=gg if which == "g" else yy)
        np.testing.assert_array_equal(gg if which == "g" else yy, ref)


@pytest.mark.parametrize("options", [{}, {"label_smoothing": 0.1}, {"weight": True},
                                     {"reduction": "sum", "ignore": True}], ids=str)
@pytest.mark.parametrize("dtype, n", CASES, ids=str)
def test_cross_entropy_gradient_matches_reference(dtype, n, options):
    x, _ = _inputs(dtype, n, seed=1)
    target = np.array([0, n - 1, n // 2])
    kw = {k: v for k, v in options.items() if k not in ("weight", "ignore")}
    if options.get("weight"):
        kw["weight"] = np.linspace(0.5, 2.0, n).astype(dtype)
    if options.get("ignore"):
        target[1] = -100
    loss, grad = fs.cross_entropy_and_grad(x, target, **kw)
    ref_loss, ref_grad = slow.cross_entropy_and_grad(x, target, **kw)
    rtol, atol = (2e-5, 1e-9) if dtype == np.float32 else (1e-12, 1e-16)
    np.testing.assert_allclose(grad, ref_grad, rtol=rtol, atol=atol)
    np.testing.assert_allclose(loss, ref_loss, rtol=rtol)
    # the target elements, written back after the streamed row, are right
    rows = np.flatnonzero(target != -100)
    np.testing.assert_allclose(grad[rows, target[rows]], ref_grad[rows, target[rows]], rtol=rtol)
    # two threads give the same bits
    np.testing.assert_array_equal(fs.cross_entropy_and_grad(x, target, num_threads=2, **kw)[1],
                                  fs.cross_entropy_and_grad(x, target, num_threads=1, **kw)[1])
