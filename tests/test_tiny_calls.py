"""The plain cross-entropy call's shortcut and the drivers' partial sums.

``cross_entropy`` / ``cross_entropy_and_grad`` with int64 class indices and
no class weight, smoothing, z-loss or softcap go straight to the driver that
checks the targets and counts the mean's denominator itself
(``_crossentropy.PLAIN_CALLS``).  Here: it is taken, it gives bitwise the
answers of the prepared-problem path for any shape, chunk count, ignored
rows and thread count, and the same IndexError for every bad target (for
the int64 targets it sees and every other integer dtype, which it leaves to
the problem path).  The drivers sum their partials in NumPy's pairwise order
(``fsm_pairwise.h``), checked against ``numpy.sum`` bit for bit.

Small softmax, log_softmax and logsumexp calls go to ``_core.small_rows``,
which reads the arrays' buffers itself: it is taken, gives the bits of the
general path and the reference's values, and refuses any pair of arrays
it cannot run on with a ValueError.
"""
from __future__ import annotations

import re
import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import _core, _crossentropy, _testing, slow

INT_DTYPES = [np.int8, np.int16, np.int32, np.int64, np.intp,
              np.uint8, np.uint16, np.uint32, np.uint64]


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


@pytest.fixture
def problem_path(monkeypatch):
    """Every call through CrossEntropyProblem (the shortcut off)."""
    monkeypatch.setattr(_crossentropy, "PLAIN_CALLS", False)


def _both(fn, *args, **kw):
    """(result with the shortcut, result through the problem), or the two
    exceptions raised."""
    out = []
    for plain in (True, False):
        _crossentropy.PLAIN_CALLS = plain
        try:
            out.append(fn(*args, **kw))
        except Exception as exc:  # compared by the caller
            out.append(exc)
        finally:
            _crossentropy.PLAIN_CALLS = True
    return out


def _bits(a):
    a = np.asarray(a)
    return a.dtype, a.shape, a.tobytes()


def _same(a, b):
    if isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b)
        for u, v in zip(a, b):
            _same(u, v)
        return
    assert type(a) is type(b)
    assert _bits(a) == _bits(b)


# ---------------------------------------------------------------- the shortcut is taken

def test_plain_call_takes_the_shortcut(monkeypatch):
    calls = []
    real = _crossentropy._plain_index
    monkeypatch.setattr(_crossentropy, "_plain_index",
                        lambda *a: calls.append(a[3]) or real(*a))
    x = np.zeros((8, 10), np.float32)
    y = np.arange(8, dtype=np.int64)
    fs.cross_entropy(x, y)
    fs.cross_entropy_and_grad(x, y, reduction="sum", axis=1, num_threads=2)
    assert calls == [True, False]
    # options the shortcut leaves to the problem
    for kw in (dict(weight=np.ones(10)), dict(label_smoothing=0.1), dict(z_loss=1e-4),
               dict(softcap=5.0), dict(reduction="none"), dict(axis=np.int64(-1)),
               dict(label_smoothing=0), dict(ignore_index=np.int64(-100))):
        fs.cross_entropy(x, y, **kw)
    fs.cross_entropy(x, y.astype(np.int32))
    fs.cross_entropy(np.asfortranarray(x), y)
    fs.cross_entropy(x[:, ::2], y % 5)
    fs.cross_entropy(x.astype(np.float16), y)
    fs.cross_entropy(x.tolist(), y)
    fs.cross_entropy_and_grad(x, y, grad_out=np.empty_like(x))
    assert calls == [True, False]


# ---------------------------------------------------------------- same answers

CASES = [((8, 10), 1), ((1, 1), 1), ((3, 1), 1), ((64, 100), 1), ((5000, 37), 3),
         ((3000, 100), 2), ((40, 20000), 3), ((17, 16384), 2), ((100000, 2), 2)]


@pytest.mark.parametrize("shape,threads", CASES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_bits_as_the_problem_path(shape, threads, dtype):
    rng = _rng(shape, threads, dtype)
    for trial in range(4):
        x = (3 * rng.standard_normal(shape)).astype(dtype)
        n, c = shape
        ignore_index = int(rng.choice([-100, -1, 0, c - 1, 7]))
        y = rng.integers(0, c, n).astype(np.int64)
        frac = rng.choice([0.0, 0.3, 1.0]) if trial else 0.0
        y[rng.random(n) < frac] = ignore_index
        if trial == 3:
            x[rng.integers(0, n, 2), rng.integers(0, c, 2)] = rng.choice([np.nan, np.inf,
                                                                         -np.inf])
        for reduction in ("mean", "sum"):
            for axis in (-1, 1):
                kw = dict(reduction=reduction, axis=axis, ignore_index=ignore_index)
                for nt in {None, 1, threads}:
                    a, b = _both(fs.cross_entropy, x, y, num_threads=nt, **kw)
                    _same(a, b)
                    a, b = _both(fs.cross_entropy_and_grad, x, y, num_threads=nt, **kw)
                    _same(a, b)


def test_thread_counts_give_the_same_bits():
    rng = _rng("threads")
    x = rng.standard_normal((3000, 100)).astype(np.float32)
    y = rng.integers(0, 100, 3000)
    y[::7] = -100
    ref = fs.cross_entropy_and_grad(x, y, num_threads=1)
    for nt in (2, 3):
        _same(fs.cross_entropy_and_grad(x, y, num_threads=nt), ref)


def test_every_target_ignored():
    x = np.ones((4, 3), np.float32)
    y = np.full(4, -100, np.int64)
    loss, grad = fs.cross_entropy_and_grad(x, y)
    assert np.isnan(loss) and loss.dtype == np.float32
    assert not grad.any()
    assert fs.cross_entropy(x, y, reduction="sum") == 0
    for fn in (fs.cross_entropy, fs.cross_entropy_and_grad):
        _same(*_both(fn, x, y))


def test_matches_the_reference():
    from fastsoftmax import slow
    rng = _rng("ref")
    x = rng.standard_normal((50, 7))
    y = rng.integers(0, 7, 50)
    y[3] = -100
    for reduction in ("mean", "sum"):
        loss, grad = fs.cross_entropy_and_grad(x, y, reduction=reduction)
        rloss, rgrad = slow.cross_entropy_and_grad(x, y, reduction=reduction)
        np.testing.assert_allclose(loss, rloss, rtol=1e-13)
        np.testing.assert_allclose(grad, rgrad, rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- same errors

def _message(c, pos, value, ignore_index):
    return (f"target[{pos}] = {value} is not a class index in [0, {c}) "
            f"and not ignore_index ({ignore_index})")


BAD = [  # (targets, ignore_index, position of the first bad one)
    ([10, 0, 1, 2, 3, 4, 5, 6], -100, 0),
    ([0, 1, 2, 3, 11, 4, 5, 6], -100, 4),
    ([0, 1, 2, 3, 4, 5, 6, 10], -100, 7),
    ([0, 1, -1, 3, 4, 5, 6, 7], -100, 2),
    ([0, -100, -1, 3, 4, 99, -100, 7], -100, 2),
    ([-1, -1, -1, -2, 4, 10, -1, 7], -1, 3),
    ([-100, -100, -100, -100, -100, -100, -100, 12], -100, 7),
    ([5, 10, 5, 5, 5, 5, 5, 5], 5, 1),
    ([0, 1, 2, 3, 127, 4, 5, 6], 127, 8),  # none: 127 is ignore_index
    ([0, 1, 2, 3, 4, 5, 6, 100], 9, 7),
]


@pytest.mark.parametrize("dtype", INT_DTYPES)
@pytest.mark.parametrize("targets,ignore_index,pos", BAD)
@pytest.mark.parametrize("fn", [fs.cross_entropy, fs.cross_entropy_and_grad])
def test_same_index_errors(fn, dtype, targets, ignore_index, pos):
    x = np.zeros((8, 10), np.float32)
    info = np.iinfo(dtype)
    if any(not info.min <= v <= info.max for v in targets):
        pytest.skip("not representable in this dtype")
    y = np.array(targets, dtype=dtype)
    a, b = _both(fn, x, y, ignore_index=ignore_index)
    if pos == len(targets):
        _same(a, b)
        return
    assert isinstance(a, IndexError) and isinstance(b, IndexError)
    assert str(a) == str(b) == _message(10, pos, targets[pos], ignore_index)


@pytest.mark.parametrize("n", [1, 2, 1000, 100001])
def test_first_bad_target_of_many(n):
    rng = _rng("many", n)
    x = np.zeros((n, 3), np.float64)
    y = rng.integers(0, 3, n)
    for pos in sorted({0, n // 2, n - 1}):
        yy = y.copy()
        yy[pos] = 3
        yy[min(pos + 1, n - 1)] = -5 if pos + 1 < n else 3
        for fn in (fs.cross_entropy, fs.cross_entropy_and_grad):
            a, b = _both(fn, x, yy)
            assert str(a) == str(b) == _message(3, pos, 3, -100)


def test_extreme_targets_and_ignore_index():
    x = np.zeros((3, 4), np.float32)
    lo, hi = -2**63, 2**63 - 1
    for y, ii, pos, value in (([0, hi, 1], -100, 1, hi), ([lo, 0, lo], lo, None, None),
                              ([lo, hi, 1], lo, 1, hi), ([1, 2, lo], hi, 2, lo)):
        a, b = _both(fs.cross_entropy, x, np.array(y, np.int64), ignore_index=ii)
        if pos is None:
            _same(a, b)
        else:
            assert str(a) == str(b) == _message(4, pos, value, ii)
    # an ignore_index outside int64: the problem's ValueError
    with pytest.raises(ValueError, match="ignore_index must fit in a 64-bit integer"):
        fs.cross_entropy(x, np.zeros(3, np.int64), ignore_index=2**63)


def test_index_targets_of_the_problem_path(problem_path):
    # int64 targets of any layout are scanned by the compiled pass there too
    x = np.zeros((4, 6, 5), np.float32)
    y = np.zeros((6, 4), np.int64).T  # Fortran-ordered (4, 6)
    y[2, 3] = 5
    with pytest.raises(IndexError, match=re.escape(_message(5, "2, 3", 5, -100))):
        fs.cross_entropy(x, y)
    y[2, 3] = -100
    y[1, 1] = -100
    y[0, 5] = -100
    np.testing.assert_allclose(fs.cross_entropy(x, y), np.log(5), rtol=1e-6)  # 21 rows kept
    np.testing.assert_allclose(fs.cross_entropy(x, y, reduction="sum"), 21 * np.log(5),
                               rtol=1e-6)


# ---------------------------------------------------------------- partial sums

@pytest.mark.parametrize("n", list(range(0, 40)) + [63, 64, 127, 128, 129, 130, 255, 256,
                                                     257, 1000, 1023, 1024, 4097, 100003])
def test_pairwise_sum_is_numpys(n):
    rng = _rng("pairwise", n)
    for kind in range(4):
        if kind == 0:
            a = rng.standard_normal(n)
        elif kind == 1:  # wide range: the order of additions shows
            a = rng.standard_normal(n) * 10.0 ** rng.integers(-20, 20, n)
        elif kind == 2:  # cancellations
            a = np.repeat(rng.standard_normal((n + 1) // 2) * 1e16, 2)[:n]
            a[1::2] *= -1
            a += rng.standard_normal(n)
        else:  # signed zeros, infinities and NaN
            a = rng.choice([0.0, -0.0, 1.0, -1e300, 1e300, np.inf], n)
        with np.errstate(invalid="ignore", over="ignore"):
            want = np.sum(a)
        got = _testing.pairwise_sum(np.ascontiguousarray(a))
        assert np.float64(got).tobytes() == want.tobytes()


def test_pairwise_sum_of_negative_zeros():
    assert np.float64(_testing.pairwise_sum(np.array([-0.0]))).tobytes() == \
        np.sum(np.array([-0.0])).tobytes()
    assert np.float64(_testing.pairwise_sum(np.full(9, -0.0))).tobytes() == \
        np.sum(np.full(9, -0.0)).tobytes()


def test_sample_weight_is_never_dropped_by_the_shortcut():
    """A plain call with sample_weight= goes through the problem object: the
    shortcut would silently ignore the weights."""
    x = np.random.default_rng(0).standard_normal((8, 10)).astype(np.float32)
    y = np.arange(8, dtype=np.int64)
    s = np.arange(8, dtype=np.float64)
    want = (fs.cross_entropy(x, y, reduction="none") * s).sum() / s.sum()
    np.testing.assert_allclose(fs.cross_entropy(x, y, sample_weight=s), want, rtol=1e-6)
    loss, grad = fs.cross_entropy_and_grad(x, y, sample_weight=s, reduction="sum")
    np.testing.assert_allclose(loss, (fs.cross_entropy(x, y, reduction="none") * s).sum(),
                               rtol=1e-6)
    assert not grad[0].any()   # the first sample has weight 0


# ------------------------------------------------------------ small row calls

ROW_FNS = {"softmax": fs.softmax, "log_softmax": fs.log_softmax, "logsumexp": fs.logsumexp}


@pytest.mark.parametrize("name", sorted(ROW_FNS))
def test_small_row_call_takes_small_rows(monkeypatch, name):
    seen = []
    real = _core.small_rows
    monkeypatch.setattr(_core, "small_rows", lambda op, x, out: seen.append(op) or real(op, x, out))
    ROW_FNS[name](np.ones((8, 10), np.float32))
    assert seen == [getattr(_core, "ROW_" + name.upper())]
    assert sorted({_core.ROW_SOFTMAX, _core.ROW_LOG_SOFTMAX, _core.ROW_LOGSUMEXP}) == [0, 1, 2]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(1,), (7,), (8, 10), (2, 3, 5), (100, 33), (1, 1, 1)])
@pytest.mark.parametrize("name", sorted(ROW_FNS))
def test_small_row_calls_match(name, shape, dtype):
    x = (_rng(name, shape) .standard_normal(shape) * 5).astype(dtype)
    if x.size > 4:
        x.flat[1], x.flat[3] = np.nan, np.inf
    fn = ROW_FNS[name]
    got = fn(x)
    # the general path: an output passed in (logsumexp: a 2-D view, so that
    # the shapes differ from the fast path's)
    if name == "logsumexp":
        general = fn(x.reshape(-1, shape[-1]), axis=1, keepdims=True).reshape(shape[:-1])
    else:
        general = fn(x, out=np.empty_like(x))
    assert np.asarray(got).dtype == dtype and np.shape(got) == np.shape(general)
    assert np.asarray(got).tobytes() == np.asarray(general).tobytes()
    want = getattr(slow, name)(x.astype(np.float64), axis=-1)
    np.testing.assert_allclose(got, want, rtol=2e-6 if dtype == np.float32 else 1e-13,
                               atol=1e-30, equal_nan=True)


def _small_rows_bad_args():
    sm, lsm, lse = _core.ROW_SOFTMAX, _core.ROW_LOG_SOFTMAX, _core.ROW_LOGSUMEXP
    f32 = np.ones((4, 4), np.float32)
    buf = np.ones(20, np.float32)
    unaligned = np.frombuffer(b"\0" * 68, np.float32, count=16, offset=2).reshape(4, 4)
    return {
        "op": (max(sm, lsm, lse) + 1, f32, f32.copy()),
        "negative op": (-1, f32, f32.copy()),
        "mixed types": (sm, f32, np.ones((4, 4))),
        "integers": (sm, np.ones(4, np.int32), np.ones(4, np.int32)),
        "swapped bytes": (sm, f32.astype(">f4"), f32.astype(">f4")),
        "out too small": (sm, f32, np.ones((4, 3), np.float32)),
        "out too large": (lsm, f32, np.ones((4, 5), np.float32)),
        "logsumexp out": (lse, f32, np.ones(3, np.float32)),
        "strided out": (sm, f32, np.ones((4, 8), np.float32)[:, ::2]),
        "strided x": (sm, np.ones((4, 8), np.float32)[:, ::2], f32.copy()),
        "0-d": (sm, np.ones((), np.float32), np.ones((), np.float32)),
        "unaligned": (sm, unaligned, f32.copy()),
        "read-only out": (sm, f32, np.broadcast_to(np.float32(1), (4, 4))),
        "overlap": (sm, buf[:16].reshape(4, 4), buf[2:18].reshape(4, 4)),
        "not a buffer": (sm, [[1.0, 2.0]], np.ones((1, 2), np.float32)),
    }


@pytest.mark.parametrize("case", sorted(_small_rows_bad_args()))
def test_small_rows_refuses_what_it_cannot_run(case):
    op, x, out = _small_rows_bad_args()[case]
    before = np.array(out, copy=True)
    with pytest.raises((ValueError, TypeError, BufferError)):
        _core.small_rows(op, x, out)
    assert np.array_equal(np.asarray(out), before)


def test_small_rows_in_place():
    x = _rng("in place").standard_normal((8, 10)).astype(np.float32)
    y = x.copy()
    _core.small_rows(_core.ROW_SOFTMAX, y, y)
    assert y.tobytes() == fs.softmax(x, out=np.empty_like(x)).tobytes()
