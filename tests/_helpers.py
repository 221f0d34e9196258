"""Shared array generators, special-value rows and comparisons.

The reference every test compares against is ``fastsoftmax.slow``; here are
SciPy's functions (``scipy_ref``) and the comparisons (bitwise, and against a
reference answer).

Imported by the test modules as ``from _helpers import ...`` (pytest puts this
directory on ``sys.path``: tests/ has no ``__init__.py``; conftest.py makes it
explicit).
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest
import scipy.special

import fastsoftmax as fs

inf, nan = np.inf, np.nan

# --------------------------------------------------------------- constants

FUNCS = {"softmax": fs.softmax, "log_softmax": fs.log_softmax, "logsumexp": fs.logsumexp}
FUNC_NAMES = tuple(FUNCS)
SCIPY_FUNCS = {"softmax": scipy.special.softmax,
               "log_softmax": scipy.special.log_softmax,
               "logsumexp": scipy.special.logsumexp}

FLOAT_DTYPES = (np.float32, np.float64)

# Shapes of the accuracy tests: single element, tails shorter than a SIMD
# vector, several vectors, many rows, long rows spanning several online
# blocks (2048 elements), and an odd row length well past one block.
ACCURACY_SHAPES = [(1, 1), (3, 7), (8, 10), (257, 33), (64, 1000), (4, 32000), (2, 100003)]

# Rows whose NaN / inf pattern must be exactly SciPy's.
SPECIAL_ROWS = [
    [1.0, inf], [inf, inf], [-inf, -inf], [1.0, -inf], [inf, -inf], [nan, 1.0],
    [-inf], [inf], [nan], [-inf, -inf, 3.0], [0.0, -40.0],
    [-inf, inf], [inf, nan], [nan, inf], [-inf, nan], [nan, nan], [1.0, nan],
    [1.0, 2.0, -inf, 3.0], [-inf, 0.0], [0.0, 0.0], [-inf, -inf, -inf],
]
# (function name, row) pairs where SciPy's float64 arithmetic loses accuracy
# that we keep (log_softmax's "x - m - log1p(others)" form): not compared
# bitwise with SciPy but with the exact value.
MORE_ACCURATE_THAN_SCIPY = {("log_softmax", (0.0, -40.0))}

# The layouts make_array can produce; all hold the same values as the
# C-contiguous base array.
LAYOUTS = ("C", "F", "strided", "negative", "readonly", "byteswapped", "unaligned")
# Layouts usable as a writable out= / in-place buffer.
WRITABLE_LAYOUTS = ("C", "F", "strided", "negative", "unaligned")

LONGDOUBLE_IS_WIDER = np.finfo(np.longdouble).nmant > np.finfo(np.float64).nmant

# Package modules that need an optional peer (not in the ``test`` extra): their
# tests skip when the peer is missing, and fail on any other import error.
OPTIONAL_PEERS = {"fastsoftmax.dask": ("dask.array",), "fastsoftmax.torch": ("torch",)}

F32_SUBNORMAL_ULP = 2.0 ** -149
F64_SUBNORMAL_ULP = 2.0 ** -1074


# --------------------------------------------------------------- generators

def make_base(shape, dtype=np.float64, seed=0, scale=1.0):
    """A C-contiguous array of ``shape`` and ``dtype`` with seeded values.

    Floating dtypes: standard normal times ``scale``; integers: values in a
    range the dtype can hold; bool: random booleans."""
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return np.ascontiguousarray((rng.standard_normal(shape) * scale).astype(dt))
    if dt.kind == "b":
        return rng.integers(0, 2, size=shape).astype(dt)
    if dt.kind == "u":
        return rng.integers(0, 100, size=shape).astype(dt)
    if dt.kind == "i":
        return rng.integers(-50, 50, size=shape).astype(dt)
    raise ValueError(f"no generator for {dt}")


def with_layout(base, layout):
    """A new array equal to ``base`` (same values and shape) in ``layout``.

    C: contiguous copy.  F: Fortran order.  strided: every other element of a
    larger array along every axis, the gaps filled with NaN (or a large value
    for integers) so that reading them is visible.  negative: reversed along
    every axis, i.e. all strides negative.  readonly: writeable=False.
    byteswapped: non-native byte order.  unaligned: data pointer offset by one
    byte from the natural alignment.
    """
    base = np.asarray(base)
    if layout == "C":
        return base.copy(order="C")
    if layout == "F":
        return np.asfortranarray(base.copy())
    if layout == "strided":
        fill = np.nan if base.dtype.kind == "f" else (True if base.dtype.kind == "b" else 99)
        big = np.full(tuple(2 * s for s in base.shape), fill, dtype=base.dtype)
        view = big[tuple(slice(None, None, 2) for _ in base.shape) + (Ellipsis,)]
        view[...] = base
        return view
    if layout == "negative":
        rev = tuple(slice(None, None, -1) for _ in base.shape) + (Ellipsis,)
        return base[rev].copy()[rev]
    if layout == "readonly":
        a = base.copy()
        a.flags.writeable = False
        return a
    if layout == "byteswapped":
        if base.dtype.itemsize == 1:
            return base.copy()
        return base.astype(base.dtype.newbyteorder())
    if layout == "unaligned":
        if base.dtype.itemsize == 1:
            return base.copy()
        buf = bytearray(base.nbytes + 1)
        a = np.ndarray(base.shape, dtype=base.dtype, buffer=buf, offset=1)
        a[...] = base
        return a
    raise ValueError(f"unknown layout {layout!r}")


def make_array(shape, dtype=np.float64, layout="C", seed=0, scale=1.0):
    """``with_layout(make_base(shape, dtype, seed, scale), layout)``."""
    return with_layout(make_base(shape, dtype, seed, scale), layout)


def check_layout(a, layout):
    """Assert that ``with_layout`` really produced the requested layout."""
    if layout == "F" and a.ndim > 1 and a.size > 1:
        assert a.flags.f_contiguous and not a.flags.c_contiguous
    if layout in ("strided", "negative") and a.size > 1:
        assert not a.flags.c_contiguous and not a.flags.f_contiguous
    if layout == "negative" and a.size > 1:
        assert all(s < 0 for s, n in zip(a.strides, a.shape) if n > 1)
    if layout == "readonly":
        assert not a.flags.writeable
    if layout == "byteswapped" and a.dtype.itemsize > 1:
        assert not a.dtype.isnative
    if layout == "unaligned" and a.dtype.itemsize > 1:
        assert not a.flags.aligned


# --------------------------------------------------------------- SciPy and comparisons

def scipy_ref(name, x, axis=-1, **kw):
    """scipy.special's function, warnings silenced (special values)."""
    with np.errstate(all="ignore"):
        return SCIPY_FUNCS[name](x, axis=axis, **kw)


def assert_same(a, b):
    """Bitwise equality of values (NaN == NaN, -0.0 != 0.0), shape and dtype."""
    a, b = np.asarray(a), np.asarray(b)
    assert a.shape == b.shape, (a.shape, b.shape)
    assert a.dtype == b.dtype, (a.dtype, b.dtype)
    av = a.astype(a.dtype.newbyteorder("="))
    bv = b.astype(b.dtype.newbyteorder("="))
    same = (av.view(f"u{a.dtype.itemsize}") == bv.view(f"u{b.dtype.itemsize}"))
    # every NaN counts as the same NaN
    if a.dtype.kind == "f":
        same |= np.isnan(av) & np.isnan(bv)
    if not np.all(same):
        bad = np.argwhere(~same)[:5]
        raise AssertionError(f"arrays differ at {bad.tolist()}: "
                             f"{av[tuple(bad.T)]} vs {bv[tuple(bad.T)]}")


def assert_matches_reference(got, want, rtol, atol, what="result"):
    """``got`` against a reference answer ``want`` (``fastsoftmax.slow``,
    SciPy or torch): the same dtype and shape, the same NaN / +inf / -inf
    pattern, and the finite values within ``rtol`` and ``atol``."""
    got, want = np.asarray(got), np.asarray(want)
    assert got.dtype == want.dtype, f"{what}: dtype {got.dtype}, expected {want.dtype}"
    assert got.shape == want.shape, f"{what}: shape {got.shape}, expected {want.shape}"
    g, w = got.astype(np.float64), want.astype(np.float64)
    for name, f in (("NaN", np.isnan), ("+inf", np.isposinf), ("-inf", np.isneginf)):
        bad = f(g) != f(w)
        assert not bad.any(), (f"{what}: {name} pattern differs at "
                               f"{np.argwhere(bad)[:5].tolist()}: got {g[bad][:5]}, "
                               f"expected {w[bad][:5]}")
    fin = np.isfinite(w)
    np.testing.assert_allclose(g[fin], w[fin], rtol=rtol, atol=atol, err_msg=what)


def import_or_skip(modname):
    """Import a fastsoftmax module; skip the test if an optional peer it needs
    (``OPTIONAL_PEERS``) is not installed.  Any other ImportError fails."""
    for peer in OPTIONAL_PEERS.get(modname, ()):
        pytest.importorskip(peer, reason=f"{modname} needs {peer}")
    return importlib.import_module(modname)


# ------------------------------------------------------------ the public API

#: The public functions that configure rather than compute (no reference in
#: fastsoftmax.slow, no place in the coverage lists of computing functions).
NOT_COMPUTING = frozenset({
    "get_num_threads", "set_num_threads", "num_threads", "openmp_enabled", "show_config",
    "set_output_pool", "get_output_pool", "release_output_pool"})


def computing_functions() -> set[str]:
    """The names of the public computing functions of ``fastsoftmax``."""
    import fastsoftmax as fs
    return {n for n in fs.__all__ if callable(getattr(fs, n))} - NOT_COMPUTING
