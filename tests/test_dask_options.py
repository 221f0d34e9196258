"""The options every front end has, on the Dask front end: ``where`` and
``temperature`` of softmax / log_softmax, ``z_loss`` and ``softcap`` of the
cross-entropy, against the in-memory functions (bitwise wherever the
in-memory result is computed on the same rows)."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

import fastsoftmax as fs  # noqa: E402
from fastsoftmax import dask as fsd  # noqa: E402

SYNC = dict(scheduler="sync")
REDUCTIONS = ("mean", "sum", "none")


def _logits(shape, dtype=np.float64, seed=0, scale=4.0):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(dtype)


def _mask(shape, seed=1, p=0.7):
    return np.random.default_rng(seed).random(shape) < p


def assert_bitwise(got, want):
    got = np.asarray(got)
    want = np.asarray(want)
    assert got.dtype == want.dtype and got.shape == want.shape
    assert got.tobytes() == want.tobytes()


# ------------------------------------------------------------ where / temperature

@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16])
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_where_and_temperature_bitwise(name, dtype):
    x = _logits((300, 37), dtype, seed=2)
    m = _mask(x.shape)
    m[[3, 77]] = False                          # rows with no True entry
    dx = da.from_array(x, chunks=(64, 37))
    f, g = getattr(fsd, name), getattr(fs, name)
    for kw in (dict(temperature=0.6), dict(where=m), dict(where=m, temperature=1.7)):
        want = g(x, **kw)
        got = f(dx, **kw)
        assert isinstance(got, da.Array) and got.chunks == dx.chunks
        assert_bitwise(got.compute(**SYNC), want)
        if "where" in kw:                       # the mask as a Dask array
            dm = da.from_array(m, chunks=(100, 10))
            assert_bitwise(f(dx, **dict(kw, where=dm)).compute(**SYNC), want)


@pytest.mark.parametrize("mask_shape", [(37,), (300, 1), (1, 37), (), (1, 1)], ids=str)
@pytest.mark.parametrize("axis", [-1, 0, None], ids=str)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_broadcast_masks(name, axis, mask_shape):
    x = _logits((300, 37), seed=3)
    m = _mask(mask_shape, seed=4) if mask_shape else np.bool_(True)
    dx = da.from_array(x, chunks=(64, 37) if axis != 0 else (300, 8))
    want = getattr(fs, name)(x, axis=axis, where=m, temperature=0.9)
    for where in (m, da.from_array(np.asarray(m))):
        if axis is None:
            with pytest.warns(fsd.RechunkWarning):
                got = getattr(fsd, name)(dx, axis=axis, where=where, temperature=0.9)
        else:
            got = getattr(fsd, name)(dx, axis=axis, where=where, temperature=0.9)
        assert_bitwise(got.compute(**SYNC), want)


def test_mask_in_the_middle_axis_and_numpy_input():
    x = _logits((6, 7, 8), seed=5)
    m = _mask((7, 1), seed=6)
    for axis in (0, 1, 2):
        want = fs.log_softmax(x, axis=axis, where=m)
        assert_bitwise(fsd.log_softmax(x, axis=axis, where=m).compute(**SYNC), want)
        chunks = [3, 4, 5]
        chunks[axis] = -1
        dx = da.from_array(x, chunks=tuple(chunks))
        assert_bitwise(fsd.log_softmax(dx, axis=axis, where=m).compute(**SYNC), want)


def test_0d_input():
    for f, g in ((fsd.softmax, fs.softmax), (fsd.log_softmax, fs.log_softmax)):
        got = f(da.from_array(np.float32(3.0)), where=True, temperature=2.0).compute(**SYNC)
        want = g(np.float32(3.0), where=True, temperature=2.0)
        assert got == want and got.dtype == want.dtype


def test_mask_rechunked_with_a_split_class_axis():
    x = _logits((40, 30), seed=7)
    m = _mask(x.shape, seed=8)
    dx = da.from_array(x, chunks=(10, 7))       # class axis split: rechunked
    with pytest.warns(fsd.RechunkWarning):
        got = fsd.softmax(dx, where=da.from_array(m, chunks=(13, 11)))
    assert_bitwise(got.compute(**SYNC), fs.softmax(x, where=m))


def test_where_temperature_errors_at_call_time():
    dx = da.from_array(_logits((20, 4)), chunks=(5, 4))
    m = np.ones((20, 4), bool)
    for f in (fsd.softmax, fsd.log_softmax):
        with pytest.raises(TypeError, match="where must be a boolean array, got dtype int64"):
            f(dx, where=m.astype(np.int64))
        with pytest.raises(TypeError, match="where must be a boolean array"):
            f(dx, where=da.from_array(m.astype(float)))
        with pytest.raises(ValueError, match=r"where of shape \(20, 3\) does not broadcast "
                                             r"to the input's shape \(20, 4\)"):
            f(dx, where=m[:, :3])
        with pytest.raises(ValueError, match="broadcast"):
            f(dx, where=da.ones((2, 20, 4), dtype=bool))   # would enlarge the result
        for bad in (0.0, -1.0, np.inf, np.nan):
            with pytest.raises(ValueError, match="temperature must be finite and > 0"):
                f(dx, temperature=bad)
        for bad in ("2", True, [1.0]):
            with pytest.raises(TypeError, match="temperature must be a positive real number"):
                f(dx, temperature=bad)
        with pytest.raises(TypeError, match="masked"):
            f(dx, where=np.ma.masked_array(m, ~m))


# ------------------------------------------------------------ z_loss / softcap

def _ce_case(n=500, c=23, dtype=np.float64, seed=9):
    rng = np.random.default_rng(seed)
    x = _logits((n, c), dtype, seed)
    y = rng.integers(0, c, n)
    y[::7] = -100
    w = (rng.random(c) + 0.1).astype(dtype)
    t = fs.softmax(rng.standard_normal((n, c)) * 2).astype(dtype)
    return x, y, w, t


EXTRAS = [dict(z_loss=1e-2), dict(softcap=3.0), dict(z_loss=0.1, softcap=2.0),
          dict(z_loss=1e-3, softcap=5.0, weight=True, label_smoothing=0.1)]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("kind", ["index", "prob"])
@pytest.mark.parametrize("extra", EXTRAS, ids=str)
def test_z_loss_and_softcap(extra, kind, dtype, reduction):
    x, y, w, t = _ce_case(dtype=dtype)
    target = y if kind == "index" else t
    kw = dict(extra, weight=w if extra.get("weight") else None, reduction=reduction)
    dx = da.from_array(x, chunks=(90, 23))
    want_loss, want_grad = fs.cross_entropy_and_grad(x, target, **kw)
    got = fsd.cross_entropy(dx, target, **kw).compute(**SYNC)
    got_loss, got_grad = dask.compute(*fsd.cross_entropy_and_grad(dx, target, **kw), **SYNC)
    if reduction == "none":
        # per-sample losses of the same rows: bitwise
        assert_bitwise(got, want_loss)
        assert_bitwise(got_loss, want_loss)
    else:
        # block sums added in another order
        rtol = 1e-12 if dtype == np.float64 else 2e-6
        assert type(got) is type(want_loss) and type(got_loss) is type(want_loss)
        assert_allclose(got, want_loss, rtol=rtol)
        assert_allclose(got_loss, want_loss, rtol=rtol)
    if reduction == "mean":
        # the block's gradient is scaled by 1 / (global denominator) afterwards
        rtol = 1e-13 if dtype == np.float64 else 1e-6
        assert_allclose(got_grad, want_grad, rtol=rtol, atol=rtol * np.abs(want_grad).max())
    else:
        assert_bitwise(got_grad, want_grad)


def test_class_axis_in_the_middle():
    rng = np.random.default_rng(10)
    x = _logits((6, 5, 8), seed=10)
    y = rng.integers(0, 5, (6, 8))
    dx = da.from_array(x, chunks=(4, 5, 3))
    kw = dict(axis=1, z_loss=1e-2, softcap=2.5, reduction="none")
    got_loss, got_grad = dask.compute(*fsd.cross_entropy_and_grad(dx, y, **kw), **SYNC)
    want_loss, want_grad = fs.cross_entropy_and_grad(x, y, **kw)
    assert_bitwise(got_loss, want_loss)
    assert_bitwise(got_grad, want_grad)


def test_all_ignored_with_z_loss_and_softcap():
    x = _logits((30, 5), seed=11)
    y = np.full(30, -100)
    dx = da.from_array(x, chunks=(10, 5))
    loss, grad = dask.compute(*fsd.cross_entropy_and_grad(dx, y, z_loss=0.1, softcap=2.0),
                              **SYNC)
    assert np.isnan(loss) and np.isnan(fs.cross_entropy(x, y, z_loss=0.1, softcap=2.0))
    assert_array_equal(grad, np.zeros_like(x))


def test_z_loss_softcap_errors_at_call_time():
    dx = da.from_array(_logits((20, 4)), chunks=(5, 4))
    y = np.zeros(20, dtype=np.int64)
    for f in (fsd.cross_entropy, fsd.cross_entropy_and_grad):
        with pytest.raises(ValueError, match="z_loss must be finite and >= 0, got -1.0"):
            f(dx, y, z_loss=-1.0)
        with pytest.raises(TypeError, match="z_loss must be a real number"):
            f(dx, y, z_loss="x")
        with pytest.raises(ValueError, match="softcap must be finite and > 0"):
            f(dx, y, softcap=0)
        with pytest.raises(TypeError, match="softcap must be None or a real number"):
            f(dx, y, softcap="big")


def test_blocks_get_the_options(monkeypatch):
    seen = []
    real = fsd._cross_entropy

    def spy(*args, **kwargs):
        seen.append((kwargs["z_loss"], kwargs["softcap"]))
        return real(*args, **kwargs)

    monkeypatch.setattr(fsd, "_cross_entropy", spy)
    x, y, _, _ = _ce_case(n=300, c=6)
    fsd.cross_entropy(da.from_array(x, chunks=(100, 6)), y, z_loss=0.5,
                      softcap=7).compute(**SYNC)
    assert seen == [(0.5, 7.0)] * 3
