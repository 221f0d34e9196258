"""softmax / log_softmax with ``where=`` (a boolean mask) and ``temperature=``:
against ``fastsoftmax.slow``, special values, layouts, chunking, torch."""
from __future__ import annotations

import importlib
import zlib

import numpy as np
import pytest

import fastsoftmax as fs
from fastsoftmax import slow

# (the package's ``softmax`` attribute is the function, not the module)
softmax_mod = importlib.import_module("fastsoftmax.softmax")

FUNCS = {"softmax": (fs.softmax, slow.softmax, 0.0),
         "log_softmax": (fs.log_softmax, slow.log_softmax, -np.inf)}


def _rng(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def make(shape, dtype=np.float64, seed=0, p_true=0.7, mask_shape=None):
    rng = _rng("masked", shape, seed, mask_shape)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    m = rng.random(shape if mask_shape is None else mask_shape) < p_true
    return x, m


def assert_close(got, expect, dtype, what=""):
    got = np.asarray(got, dtype=np.float64)
    expect = np.asarray(expect, dtype=np.float64)
    rtol = {np.dtype(np.float64): 1e-13, np.dtype(np.float32): 2e-6,
            np.dtype(np.float16): 2e-3}[np.dtype(dtype)]
    # same -inf / NaN pattern, close elsewhere
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expect), err_msg=what)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expect), err_msg=what)
    fin = np.isfinite(expect)
    np.testing.assert_allclose(got[fin], expect[fin], rtol=rtol, atol=rtol, err_msg=what)


SHAPES_AXES = [((37,), -1), ((37,), None), ((20, 31), -1), ((20, 31), 0), ((20, 31), None),
               ((3, 4, 17), 1), ((3, 4, 17), -1), ((2, 3, 5, 6), 2), ((1, 1), -1)]


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("shape,axis", SHAPES_AXES, ids=str)
def test_vs_reference(name, shape, axis, dtype):
    f, reference, _ = FUNCS[name]
    x, m = make(shape, dtype)
    for where, temperature in [(m, None), (None, 0.5), (m, 2.5), (m, 1.0)]:
        got = f(x, axis=axis, where=where, temperature=temperature)
        assert got.shape == x.shape and got.dtype == dtype
        expect = reference(x, axis=axis, where=where, temperature=temperature)
        assert_close(got, expect, dtype, f"where={where is not None} T={temperature}")


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("mask_shape", [(31,), (20, 1), (1, 31), (), (1,), (1, 1)], ids=str)
@pytest.mark.parametrize("axis", [-1, 0, None], ids=str)
def test_broadcast_masks(name, mask_shape, axis):
    f, reference, _ = FUNCS[name]
    x, m = make((20, 31), mask_shape=mask_shape)
    got = f(x, axis=axis, where=m)
    assert_close(got, reference(x, axis=axis, where=m), np.float64, str(mask_shape))


@pytest.mark.parametrize("name", FUNCS)
def test_broadcast_mask_needing_gather(name, monkeypatch):
    # a mask whose moved, broadcast view cannot be flattened into rows without a
    # copy: gathered chunk by chunk (chunks of a few rows)
    monkeypatch.setattr(softmax_mod, "_PREP_CHUNK_BYTES", 64)
    f, reference, _ = FUNCS[name]
    x, m = make((3, 4, 5), mask_shape=(3, 1, 5))
    for axis in (0, 1, 2):
        got = f(x, axis=axis, where=m)
        assert_close(got, reference(x, axis=axis, where=m), np.float64, f"axis={axis}")


@pytest.mark.parametrize("name", FUNCS)
def test_fully_masked_rows(name):
    f, _, fill = FUNCS[name]
    x, m = make((6, 9))
    m[2] = False
    m[4] = False
    m[4, 7] = True
    got = f(x, where=m)
    assert np.all(got[2] == fill)
    assert not np.isnan(got).any()
    if name == "softmax":
        np.testing.assert_allclose(np.delete(got, 2, axis=0).sum(axis=1), 1.0, rtol=1e-14)
        assert got[4, 7] == 1.0
        assert np.all(got[~m] == 0)
    else:
        assert got[4, 7] == 0.0
        assert np.all(np.isneginf(got[~m]))
    # a fully masked input with axis=None
    assert np.all(f(x, axis=None, where=np.zeros_like(m)) == fill)
    # and with a scalar False mask
    assert np.all(f(x, where=False) == fill)


@pytest.mark.parametrize("name", FUNCS)
def test_masked_entries_may_hold_anything(name):
    f, reference, _ = FUNCS[name]
    x, m = make((5, 8))
    x[~m] = np.nan
    x[0, ~m[0]] = np.inf
    got = f(x, where=m)
    expect = reference(np.where(m, x, 0.0), where=m)
    assert_close(got, expect, np.float64)
    # an unmasked NaN / +inf still poisons its row (SciPy's rule)
    m[1, 0] = True
    x[1, 0] = np.nan
    got = f(x, where=m)
    assert np.isnan(got[1]).all() and not np.isnan(np.delete(got, 1, axis=0)).any()


@pytest.mark.parametrize("name", FUNCS)
def test_temperature(name):
    f, _, _ = FUNCS[name]
    x, _ = make((7, 50))
    for t in (1e-3, 0.3, 1.0, 4.0, 1e3):
        np.testing.assert_allclose(f(x, temperature=t), f(x / t), rtol=1e-14, atol=1e-300)
    # temperature 1 and an all-True mask give exactly the plain result
    np.testing.assert_array_equal(f(x, temperature=1.0), f(x))
    np.testing.assert_array_equal(f(x, where=np.ones(x.shape, bool)), f(x))
    np.testing.assert_array_equal(f(x, where=True), f(x))
    # a low temperature tends to the argmax
    p = fs.softmax(x, temperature=1e-6)
    np.testing.assert_array_equal(np.argmax(p, axis=1), np.argmax(x, axis=1))


@pytest.mark.parametrize("name", FUNCS)
@pytest.mark.parametrize("dtype", [np.float16, np.int32, np.bool_],
                         ids=lambda d: np.dtype(d).name)
def test_other_dtypes(name, dtype):
    f, reference, _ = FUNCS[name]
    x, m = make((9, 13))
    xx = (x * 4).astype(dtype)
    got = f(xx, where=m, temperature=2.0)
    result = np.float16 if dtype == np.float16 else np.float64
    assert got.dtype == result
    assert_close(got, reference(xx, where=m, temperature=2.0), result)


@pytest.mark.parametrize("name", FUNCS)
def test_out_and_in_place(name):
    f, reference, _ = FUNCS[name]
    x, m = make((12, 40))
    expect = reference(x, where=m, temperature=0.7)
    out = np.empty_like(x)
    assert f(x, where=m, temperature=0.7, out=out) is out
    assert_close(out, expect, np.float64)
    y = x.copy()
    assert f(y, where=m, temperature=0.7, out=y) is y
    assert_close(y, expect, np.float64)
    # other layouts of out (written through a temporary) and of the input
    for out in (np.empty(x.shape, order="F"), np.empty((24, 80))[::2, ::2]):
        f(x, where=m, temperature=0.7, out=out)
        assert_close(out, expect, np.float64)
    for xx in (np.asfortranarray(x), x.astype(x.dtype.newbyteorder())):
        assert_close(f(xx, where=m, temperature=0.7), expect, np.float64)
    # axis 0 in place (a transposed view)
    expect0 = reference(x, axis=0, where=m)
    y = x.copy()
    f(y, axis=0, where=m, out=y)
    assert_close(y, expect0, np.float64)
    # the input is never modified
    x0 = x.copy()
    f(x, where=m, temperature=3.0)
    np.testing.assert_array_equal(x, x0)


@pytest.mark.parametrize("name", FUNCS)
def test_many_chunks(name, monkeypatch):
    monkeypatch.setattr(softmax_mod, "_PREP_CHUNK_BYTES", 3 * 40 * 8)
    f, reference, _ = FUNCS[name]
    x, m = make((100, 40))
    m[[5, 50, 99]] = False
    for axis in (-1, 0):
        got = f(x, axis=axis, where=m, temperature=1.5)
        assert_close(got, reference(x, axis=axis, where=m, temperature=1.5), np.float64)


@pytest.mark.parametrize("name", FUNCS)
def test_long_rows_in_column_blocks(name, monkeypatch):
    monkeypatch.setattr(softmax_mod, "_PREP_CHUNK_BYTES", 7 * 8)
    f, reference, _ = FUNCS[name]
    x, m = make((3, 50))
    for axis in (-1, None):
        assert_close(f(x, axis=axis, where=m, temperature=1.5),
                     reference(x, axis=axis, where=m, temperature=1.5), np.float64)
    x1, m1 = x[0].astype(np.float32), m[0]
    assert_close(f(x1, where=m1), reference(x1, where=m1), np.float32)


def test_threads_bitwise():
    x, m = make((400, 300), dtype=np.float32)
    for f in (fs.softmax, fs.log_softmax):
        np.testing.assert_array_equal(f(x, where=m, temperature=0.9, num_threads=1),
                                      f(x, where=m, temperature=0.9, num_threads=2))


def test_empty():
    for f in (fs.softmax, fs.log_softmax):
        assert f(np.zeros((0, 3)), where=np.zeros((0, 3), bool)).shape == (0, 3)
        assert f(np.zeros((3, 0)), temperature=2.0).shape == (3, 0)
        assert float(f(np.float64(2.0), where=True)) == (1.0 if f is fs.softmax else 0.0)


def test_errors():
    x, m = make((4, 5))
    for f in (fs.softmax, fs.log_softmax):
        with pytest.raises(TypeError, match="boolean"):
            f(x, where=m.astype(int))
        with pytest.raises(ValueError, match="broadcast"):
            f(x, where=m[:, :3])
        with pytest.raises(ValueError, match="broadcast"):
            f(x, where=np.ones((2, 4, 5), bool))  # would enlarge the result
        for bad in (0.0, -1.0, np.inf, np.nan):
            with pytest.raises(ValueError, match="temperature"):
                f(x, temperature=bad)
        for bad in ("2", True, [1.0]):
            with pytest.raises(TypeError, match="temperature"):
                f(x, temperature=bad)
        with pytest.raises(TypeError, match="masked"):
            f(np.ma.masked_array(x, ~m), where=m)


def test_docstring_examples():
    import doctest
    import importlib
    mod = importlib.import_module("fastsoftmax.softmax")
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert res.attempted > 0 and res.failed == 0


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_torch(dtype):
    torch = pytest.importorskip("torch")
    x, m = make((16, 33), dtype=dtype)
    m[3] = False
    tx = torch.from_numpy(x)
    masked = tx.masked_fill(~torch.from_numpy(m), float("-inf")) / 0.8
    tsm = torch.softmax(masked, dim=-1).nan_to_num(0.0)  # torch: NaN for a full mask
    tlsm = torch.log_softmax(masked, dim=-1)
    tlsm[3] = float("-inf")
    assert_close(fs.softmax(x, where=m, temperature=0.8), tsm.numpy(), dtype)
    assert_close(fs.log_softmax(x, where=m, temperature=0.8), tlsm.numpy(), dtype)
