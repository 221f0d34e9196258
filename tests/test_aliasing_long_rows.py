"""Long rows whose blocks lie far below the row maximum, computed in place.

The softmax kernel stores each block's exponentials in the output and
rescales them in a second pass; a block far below the row maximum takes a
different rescaling branch.  When the output is the input (``out=x``, and
every ``where=`` / ``temperature=`` call, which normalises a staged copy in
place) the second pass must not read the input again.  These tests place
blocks 40 to 1000 units below the maximum in rows of every length around the
kernel's block sizes and compare every way of calling with SciPy in float64.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special

import fastsoftmax as fs

# Around the short-row limit, the online block (2048 elements), several
# blocks, and a row far past them.
LENGTHS = (2047, 2048, 2049, 4095, 4096, 4097, 6145, 12289, 100_000)
# How far below the row maximum the low blocks sit.
DROPS = (40.0, 70.0, 90.0, 110.0, 300.0, 1000.0)
DTYPES = (np.float32, np.float64)
BLOCK = 2048


def _rows(n, drop, dtype, seed=0):
    """Three rows of n values; in row 0 the first block and every third block
    after it are ``drop`` below the rest, in row 1 the low blocks come after
    the maximum (the running maximum grows early, then late).  Row 2 lies
    wholly below the probabilities' range [0, 1]: an overwritten earlier block
    read again (the last block's tail vector reaches back into it) would
    raise its running maximum."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((3, n))
    for b in range(0, n, BLOCK):
        if (b // BLOCK) % 3 == 0:
            x[0, b:b + BLOCK] -= drop
        if (b // BLOCK) % 3 == 1:
            x[1, b:b + BLOCK] -= drop
    x[2] -= drop
    return x.astype(dtype)


def _check(got, x, name, dtype):
    ref = getattr(scipy.special, name)(x.astype(np.float64), axis=-1)
    if name == "softmax":
        # relative in the normal range, absolute near and below the
        # smallest normal number of the dtype
        tiny = np.finfo(dtype).tiny
        rtol = 1e-6 if dtype == np.float32 else 1e-13
        np.testing.assert_allclose(got, ref, rtol=rtol, atol=16 * tiny)
        np.testing.assert_allclose(got.sum(axis=-1, dtype=np.float64), 1.0,
                                   rtol=1e-5 if dtype == np.float32 else 1e-12)
    else:
        atol = 1e-6 if dtype == np.float32 else 1e-12
        np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == np.float32 else 1e-13,
                                   atol=atol)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("drop", DROPS)
@pytest.mark.parametrize("n", LENGTHS)
@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
def test_every_call_form_matches_scipy(name, n, drop, dtype):
    f = getattr(fs, name)
    x = _rows(n, drop, dtype)
    out_of_place = f(x)
    _check(out_of_place, x, name, dtype)

    forms = {}
    y = x.copy()
    assert f(y, out=y) is y
    forms["out=x"] = y
    forms["where=all"] = f(x, where=np.ones(x.shape, bool))
    forms["temperature=1"] = f(x, temperature=1.0)
    xf = np.asfortranarray(x)
    forms["fortran"] = f(xf)
    yf = xf.copy(order="F")
    f(yf, out=yf)
    forms["fortran out=x"] = yf
    xt = np.ascontiguousarray(x.T)
    forms["axis=0 out=x"] = f(xt, axis=0, out=xt).T
    for form, got in forms.items():
        # every form runs the same kernel on the same rows: the same bits
        np.testing.assert_array_equal(got, out_of_place, err_msg=form)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", (4097, 12289))
def test_tempered_matches_scipy(n, dtype):
    x = _rows(n, 90.0, dtype)
    got = fs.softmax(x, temperature=0.5)
    _check(got, (x.astype(np.float64) / 0.5), "softmax", dtype)
    got = fs.softmax(x, where=np.ones(x.shape, bool), temperature=2.0)
    _check(got, (x.astype(np.float64) / 2.0), "softmax", dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", (4096, 10_000))
def test_leading_minus_inf_blocks(n, dtype):
    # the running maximum is still -inf after the first block(s): those
    # blocks hold nothing to rescale and must come out as exact zeros
    x = np.random.default_rng(1).standard_normal((3, n)).astype(dtype)
    x[0, :BLOCK] = -np.inf
    x[1, :min(2 * BLOCK, n - 1)] = -np.inf
    x[2, :BLOCK + 5] = -np.inf
    ref = scipy.special.softmax(x.astype(np.float64), axis=-1)
    for got in (fs.softmax(x), fs.softmax(x.copy(), out=None),
                fs.softmax(x, where=np.ones(x.shape, bool))):
        assert np.all(got[np.isneginf(x)] == 0)
        np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == np.float32 else 1e-13,
                                   atol=1e-30)
    y = x.copy()
    fs.softmax(y, out=y)
    np.testing.assert_array_equal(y, fs.softmax(x))


@pytest.mark.parametrize("dtype", DTYPES)
def test_masked_low_blocks(dtype):
    # the mask removes the maximum's block: the row's new maximum is far
    # above the other low blocks
    n = 4 * BLOCK + 3
    x = _rows(n, 200.0, dtype)
    keep = np.ones(x.shape, bool)
    keep[:, BLOCK:2 * BLOCK] = False
    got = fs.softmax(x, where=keep)
    ref = scipy.special.softmax(np.where(keep, x.astype(np.float64), -np.inf), axis=-1)
    np.testing.assert_allclose(got, ref, rtol=1e-6 if dtype == np.float32 else 1e-13,
                               atol=16 * np.finfo(dtype).tiny)
