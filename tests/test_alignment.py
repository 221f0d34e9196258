"""Unaligned arrays in every array argument of every public function.

The compiled drivers read and write through raw pointers and require aligned
buffers (misaligned scalar accesses are undefined behaviour in C, reported by
UBSan); the front ends hand them aligned copies.  Each case here passes an
unaligned array (data pointer one byte off) in one argument position at a
time -- inputs, targets, weights, masks, ``out=`` and ``grad_out=`` -- and
checks that the result, and what was written into the output arrays, are
bitwise those of the same call with aligned arrays.  Every argument is
passed by keyword, so a case is a function and a dict of arrays.
"""
from __future__ import annotations

import numpy as np
import pytest
from _helpers import with_layout

import fastsoftmax as fs
from fastsoftmax import scipy as fss

from fastsoftmax._driver import core

# arguments the functions write into: compared after the call
OUTPUTS = ("out", "grad_out")
DRIVERS = ("softmax", "log_softmax", "logsumexp", "small_rows", "sigmoid", "log_sigmoid",
           "cross_entropy_index", "cross_entropy_prob")


@pytest.fixture(autouse=True)
def drivers_check_their_preconditions(monkeypatch):
    """Every array any driver receives is C-contiguous, aligned and
    native-endian: checked on the way in (x86 itself tolerates misaligned
    accesses, so the results alone would not show a violation)."""
    calls = []

    def checked(name, fn):
        def wrapper(*args, **kwargs):
            for i, a in enumerate(list(args) + list(kwargs.values())):
                if isinstance(a, np.ndarray):
                    assert a.flags.c_contiguous and a.flags.aligned and a.dtype.isnative, (
                        f"{name}: array argument {i} ({a.dtype}, {a.shape}) is not a "
                        f"kernel array: {a.flags}")
            calls.append(name)
            return fn(*args, **kwargs)
        return wrapper

    for name in DRIVERS:
        monkeypatch.setattr(core, name, checked(name, getattr(core, name)))
    yield calls


def unaligned(a):
    u = with_layout(np.asarray(a), "unaligned")
    assert u.dtype.itemsize == 1 or not u.flags.aligned
    return u


def _as_numpy(value):
    if hasattr(value, "compute") and hasattr(value, "dask"):
        return np.asarray(value.compute(scheduler="sync"))
    return value


def assert_bitwise(got, want, what):
    got, want = _as_numpy(got), _as_numpy(want)
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == len(want), what
        for g, w in zip(got, want):
            assert_bitwise(g, w, what)
        return
    assert type(got) is type(want), (what, type(got), type(want))
    g, w = np.asarray(got), np.asarray(want)
    assert g.dtype == w.dtype and g.shape == w.shape, (what, g.dtype, w.dtype)
    assert g.tobytes() == w.tobytes(), what


def check_every_position(fn, arrays, **options):
    """fn(**arrays, **options) with each array in turn unaligned (the others
    aligned copies) gives bitwise the aligned call's result and outputs."""
    def run(arrs):
        res = fn(**arrs, **options)
        return res, tuple(arrs[k] for k in OUTPUTS if k in arrs)

    want = run({k: v.copy() for k, v in arrays.items()})
    for name in arrays:
        arrs = {k: (unaligned(v) if k == name else v.copy()) for k, v in arrays.items()}
        assert_bitwise(run(arrs), want, f"{getattr(fn, '__name__', fn)}: {name} unaligned")


RNG = np.random.default_rng(20240601)
# small (the small-input fast paths) and large enough for several threads
SHAPES = [(3, 5), (300, 257)]
DTYPES = [np.float32, np.float64]


def logits(shape, dtype):
    return (RNG.standard_normal(shape) * 3).astype(dtype)


def index_target(shape, ignored=True):
    t = RNG.integers(0, shape[-1], shape[:-1])
    if ignored:
        t.reshape(-1)[::5] = -100
    return t


def prob_target(shape, dtype):
    p = RNG.random(shape).astype(dtype)
    return p / p.sum(axis=-1, keepdims=True)


# ------------------------------------------------------------ the smallest cases

def test_smallest_cases():
    def U(shape, dt):
        dt = np.dtype(dt)
        buf = np.zeros(int(np.prod(shape)) * dt.itemsize + 1, np.uint8)[1:]
        return buf.view(dt).reshape(shape)

    out = U((2,), np.float64)
    fs.logsumexp(np.zeros((2, 3)), out=out)
    assert_bitwise(out, fs.logsumexp(np.zeros((2, 3))), "logsumexp out")
    assert_bitwise(fs.cross_entropy(np.zeros((2, 3)), U((2,), np.int64)),
                   fs.cross_entropy(np.zeros((2, 3)), np.zeros(2, np.int64)), "target")
    u = U((1, 3), np.float64)
    u[:] = [0, np.nan, 1]
    assert_bitwise(fs.softmax(u), fs.softmax(u.copy()), "softmax x")


# ------------------------------------------------------------ softmax family

@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_softmax_family(name, shape, dtype):
    f = getattr(fs, name)
    x = logits(shape, dtype)
    for axis in (-1, 0, None):
        check_every_position(f, dict(x=x), axis=axis)
        check_every_position(f, dict(x=x, out=np.empty_like(x)), axis=axis)
        check_every_position(f, dict(x=x, where=x > -1, out=np.empty_like(x)), axis=axis,
                             temperature=0.7)
        check_every_position(f, dict(x=x, where=x > -1), axis=axis)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_logsumexp(shape, dtype):
    x = logits(shape, dtype)
    check_every_position(fs.logsumexp, dict(x=x))
    check_every_position(fs.logsumexp, dict(x=x, out=np.empty(shape[0], dtype)))
    check_every_position(fs.logsumexp, dict(x=x, out=np.empty((1, shape[1]), dtype)),
                         axis=0, keepdims=True)
    check_every_position(fs.logsumexp, dict(x=x, out=np.empty((), dtype)), axis=None)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", ["sigmoid", "log_sigmoid"])
def test_sigmoid(name, shape, dtype):
    x = logits(shape, dtype)
    check_every_position(getattr(fs, name), dict(x=x))
    check_every_position(getattr(fs, name), dict(x=x, out=np.empty_like(x)))


# ------------------------------------------------------------ losses

CE_OPTIONS = [dict(), dict(label_smoothing=0.1, reduction="sum"),
              dict(z_loss=1e-3, softcap=4.0, reduction="none")]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("opts", CE_OPTIONS, ids=str)
def test_cross_entropy(opts, shape, dtype):
    x = logits(shape, dtype)
    w = RNG.random(shape[-1]).astype(dtype) + 0.5
    for t in (index_target(shape), prob_target(shape, dtype)):
        check_every_position(fs.cross_entropy, dict(logits=x, target=t, weight=w), **opts)
        check_every_position(fs.cross_entropy_and_grad,
                             dict(logits=x, target=t, weight=w, grad_out=np.empty_like(x)),
                             **opts)
        if t.ndim == 2:  # probabilities, classes along axis 0
            check_every_position(fs.cross_entropy_and_grad, dict(logits=x, target=t),
                                 axis=0, **opts)


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_losses(dtype):
    shape = (40, 7)
    x = logits(shape, dtype)
    y = index_target(shape)
    w = RNG.random(7).astype(dtype) + 0.5
    p = fs.softmax(x)
    b = (RNG.random(shape) > 0.5).astype(dtype)
    check_every_position(fs.nll_loss, dict(log_probs=fs.log_softmax(x), target=y, weight=w))
    check_every_position(fs.categorical_cross_entropy,
                         dict(probs=p, target=index_target(shape, ignored=False)))
    check_every_position(fs.categorical_cross_entropy, dict(probs=p, target=b))
    for f in (fs.binary_cross_entropy, fs.binary_cross_entropy_and_grad):
        check_every_position(f, dict(probs=fs.sigmoid(x), target=b, weight=x > 0))
        check_every_position(f, dict(probs=fs.sigmoid(x), target=b, weight=x[0] ** 2))
    for f in (fs.binary_cross_entropy_with_logits, fs.binary_cross_entropy_with_logits_and_grad):
        check_every_position(f, dict(logits=x, target=b, weight=x[0] ** 2,
                                     pos_weight=np.abs(x[1])), reduction="sum")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", [dict(), dict(chunk_size=5),
                                  dict(label_smoothing=0.1, z_loss=1e-3, softcap=4.0),
                                  dict(label_smoothing=0.1, z_loss=1e-3, softcap=4.0,
                                       chunk_size=7, reduction="none")], ids=str)
def test_linear_cross_entropy(opts, dtype):
    n, d, v = 50, 8, 23
    h = RNG.standard_normal((n, d)).astype(dtype)
    wt = RNG.standard_normal((v, d)).astype(dtype)
    bias = RNG.standard_normal(v).astype(dtype)
    y = index_target((n, v))
    arrays = dict(hidden=h, weight=wt, target=y, bias=bias)
    check_every_position(fs.linear_cross_entropy, arrays, **opts)
    check_every_position(fs.linear_cross_entropy_and_grad, arrays, **opts)


# ------------------------------------------------------------ scipy drop-in

@pytest.mark.parametrize("dtype", DTYPES)
def test_scipy(dtype):
    x = logits((6, 5, 7), dtype)
    for name in ("softmax", "log_softmax"):
        f = getattr(fss, name)
        for axis in (None, 1, (0, 2), (2, 0)):
            check_every_position(lambda x, f=f, axis=axis: f(x, axis=axis), dict(x=x))
    for axis in (None, 1, (0, 2)):
        check_every_position(fss.logsumexp, dict(a=x), axis=axis, keepdims=True)
        check_every_position(fss.logsumexp, dict(a=x), axis=axis, return_sign=True)
    for f in (fss.expit, fss.log_expit):
        check_every_position(lambda x, out=None, f=f: f(x, out=out), dict(x=x))
        check_every_position(lambda x, out, f=f: f(x, out=out),
                             dict(x=x, out=np.empty_like(x)))


# ------------------------------------------------------------ Dask front end

@pytest.mark.parametrize("dtype", DTYPES)
def test_dask(dtype):
    # the peer first: fastsoftmax.dask raises ImportError (not
    # ModuleNotFoundError) without it, which importorskip does not skip
    da = pytest.importorskip("dask.array")
    fsd = pytest.importorskip("fastsoftmax.dask")
    x = logits((60, 9), dtype)
    w = RNG.random(9).astype(dtype) + 0.5
    for name in ("softmax", "log_softmax"):
        f = getattr(fsd, name)
        check_every_position(f, dict(x=x, where=x > 0), temperature=0.8)
        # blocks of an unaligned array are unaligned views
        check_every_position(lambda x, f=f: f(da.from_array(x, chunks=(16, 9))), dict(x=x))
    check_every_position(fsd.logsumexp, dict(x=x), axis=None)
    for t in (index_target(x.shape), prob_target(x.shape, dtype)):
        for f in (fsd.cross_entropy, fsd.cross_entropy_and_grad):
            check_every_position(f, dict(logits=x, target=t, weight=w), softcap=3.0,
                                 z_loss=1e-3)
            check_every_position(
                lambda logits, target, f=f, **kw: f(da.from_array(logits, chunks=(16, 9)),
                                                    da.from_array(target, chunks=16), **kw),
                dict(logits=x, target=t), reduction="none")
